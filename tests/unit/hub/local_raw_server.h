// SPDX-License-Identifier: Apache-2.0
#pragma once

// LocalRawServer: a loopback HTTP/1.1 server for tests whose handler writes raw response bytes,
// so a test can send what a real server library never would: lying Content-Length or
// Content-Range, truncated bodies, dropped connections, stalls, bad JSON.
//
// Thread-safe: the handler runs on one thread per connection and may be called concurrently;
// requests() may be called from any thread.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hfm::hub::testing {

struct RawRequest {
  std::string method;
  std::string target;                         // raw, still percent-encoded
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool has(const std::string& name) const { return headers.count(name) != 0; }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct RawReply {
  std::string bytes;                      // written as is
  bool close = false;                     // close the connection after writing
  std::chrono::milliseconds stall_after{0};  // sleep after writing, before closing/continuing
};

// A well-formed response with Content-Length (unless `headers` already has one).
inline RawReply httpReply(int status, const std::string& body,
                          std::vector<std::string> headers = {}) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
  bool has_length = false;
  for (const auto& h : headers) {
    out += h + "\r\n";
    has_length = has_length || h.rfind("Content-Length:", 0) == 0;
  }
  if (!has_length) {
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  out += "\r\n" + body;
  return RawReply{out, false, {}};
}

class LocalRawServer {
 public:
  using Handler = std::function<RawReply(const RawRequest&)>;

  explicit LocalRawServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 64);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { acceptLoop(); });
  }
  ~LocalRawServer() {
    stopping_ = true;
    accept_thread_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : open_fds_) {
        ::shutdown(fd, SHUT_RDWR);
      }
    }
    for (auto& t : connection_threads_) {
      t.join();
    }
    ::close(listen_fd_);
  }
  LocalRawServer(const LocalRawServer&) = delete;
  LocalRawServer& operator=(const LocalRawServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<RawRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::size_t connections() const { return connections_.load(); }

 private:
  void acceptLoop() {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) {
        continue;
      }
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) {
        continue;
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      connections_.fetch_add(1);
      std::lock_guard lock(mu_);
      open_fds_.push_back(fd);
      connection_threads_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string buffer;
    char chunk[65536];
    while (!stopping_) {
      auto end = buffer.find("\r\n\r\n");
      if (end == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) {
          continue;
        }
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
          break;
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      RawRequest req;
      std::string head = buffer.substr(0, end);
      buffer.erase(0, end + 4);
      auto line_end = head.find("\r\n");
      std::string first = head.substr(0, line_end);
      auto s1 = first.find(' ');
      auto s2 = first.find(' ', s1 + 1);
      req.method = first.substr(0, s1);
      req.target = first.substr(s1 + 1, s2 - s1 - 1);
      std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        auto next = head.find("\r\n", pos);
        std::string line = head.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
        auto colon = line.find(':');
        if (colon != std::string::npos) {
          std::string name = line.substr(0, colon);
          for (auto& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          }
          std::string value = line.substr(colon + 1);
          while (!value.empty() && value.front() == ' ') {
            value.erase(0, 1);
          }
          req.headers[name] = value;
        }
        if (next == std::string::npos) {
          break;
        }
        pos = next + 2;
      }
      std::size_t length = req.has("content-length") ? std::stoul(req.header("content-length")) : 0;
      while (buffer.size() < length) {
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
          break;
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      req.body = buffer.substr(0, length);
      buffer.erase(0, std::min(length, buffer.size()));
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
      }
      RawReply reply = handler_(req);
      std::size_t sent = 0;
      while (sent < reply.bytes.size()) {
        ssize_t n = ::send(fd, reply.bytes.data() + sent, reply.bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
          break;
        }
        sent += static_cast<std::size_t>(n);
      }
      if (reply.stall_after.count() > 0) {
        auto until = std::chrono::steady_clock::now() + reply.stall_after;
        while (!stopping_ && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
      if (reply.close) {
        break;
      }
    }
    std::lock_guard lock(mu_);
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    std::erase(open_fds_, fd);
  }

  Handler handler_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> connections_{0};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::vector<int> open_fds_;                    // guarded by mu_
  std::vector<std::thread> connection_threads_;  // guarded by mu_ (joined after accept stops)
  std::vector<RawRequest> requests_;             // guarded by mu_
};

}  // namespace hfm::hub::testing
