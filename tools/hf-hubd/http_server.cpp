// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/http_server.h"

#include <chrono>

namespace hfm::hubd {

using common::ErrorKind;
using common::makeError;

common::Result<ListenAddress> parseListenAddress(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return makeError(ErrorKind::kInvalidArgument, "listen address must be HOST:PORT: '" + text + "'");
  }
  ListenAddress out;
  out.host = text.substr(0, colon);
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  unsigned long port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) {
      return makeError(ErrorKind::kInvalidArgument, "bad port in '" + text + "'");
    }
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port > 65535) {
    return makeError(ErrorKind::kInvalidArgument, "bad port in '" + text + "'");
  }
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

namespace {

void configure(httplib::Server& server, HubService* service, HubService::Listener listener,
               std::size_t workers) {
  server.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(100000);
  // Idle keep-alive connections hold a worker until this runs out, and stop() waits for them.
  server.set_keep_alive_timeout(5);
  server.set_read_timeout(120);
  server.set_write_timeout(120);
  server.set_payload_max_length(std::numeric_limits<std::size_t>::max());
  auto plain = [service, listener](const httplib::Request& req, httplib::Response& res) {
    service->handle(listener, req, res, nullptr);
  };
  auto with_body = [service, listener](const httplib::Request& req, httplib::Response& res,
                                       const httplib::ContentReader& reader) {
    service->handle(listener, req, res, &reader);
  };
  server.Get(".*", plain);
  server.Post(".*", with_body);
  server.Put(".*", with_body);
  server.Delete(".*", with_body);
  // Errors the library answers itself (a malformed request line or Range header, say) get the
  // same headers and body shape as ours.
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.has_header("X-Error-Code")) {
      res.set_header("X-Error-Code", defaultErrorCode(res.status));
    }
    if (!res.has_header("X-Error-Message")) {
      res.set_header("X-Error-Message", defaultErrorCode(res.status));
    }
    if (res.body.empty() && !res.content_provider_) {
      res.set_content(std::string("{\"error\":\"") + defaultErrorCode(res.status) +
                          "\"}",
                      "application/json");
    }
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          if (ep) {
            std::rethrow_exception(ep);
          }
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        res.status = 500;
        res.set_header("X-Error-Message", "internal error");
        res.set_content(std::string("{\"error\":\"internal error: ") + "see server log\"}",
                        "application/json");
        std::fprintf(stderr, "hf-hubd: request failed: %s\n", what.c_str());
      });
}

int bind(httplib::Server& server, const ListenAddress& address) {
  if (address.port == 0) {
    return server.bind_to_any_port(address.host);
  }
  return server.bind_to_port(address.host, address.port) ? address.port : -1;
}

}  // namespace

common::Result<std::unique_ptr<HttpServer>> HttpServer::start(HubService* service,
                                                              const ListenAddress& api,
                                                              const ListenAddress& cdn,
                                                              std::size_t workers) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  configure(server->api_, service, HubService::Listener::kApi, workers);
  configure(server->cdn_, service, HubService::Listener::kCdn, workers);
  int api_port = bind(server->api_, api);
  if (api_port <= 0) {
    return makeError(ErrorKind::kIo, "cannot listen on " + api.host + ":" + std::to_string(api.port));
  }
  int cdn_port = bind(server->cdn_, cdn);
  if (cdn_port <= 0) {
    return makeError(ErrorKind::kIo, "cannot listen on " + cdn.host + ":" + std::to_string(cdn.port));
  }
  server->api_port_ = static_cast<std::uint16_t>(api_port);
  server->cdn_port_ = static_cast<std::uint16_t>(cdn_port);
  service->options().api_port = server->api_port_;
  service->options().cdn_port = server->cdn_port_;
  server->api_thread_ = std::jthread([s = server.get()] { s->api_.listen_after_bind(); });
  server->cdn_thread_ = std::jthread([s = server.get()] { s->cdn_.listen_after_bind(); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(server->api_.is_running() && server->cdn_.is_running())) {
    if (std::chrono::steady_clock::now() > deadline) {
      return makeError(ErrorKind::kIo, "listeners did not start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return server;
}

void HttpServer::stop() {
  api_.stop();
  cdn_.stop();
}

HttpServer::~HttpServer() {
  stop();
  if (api_thread_.joinable()) {
    api_thread_.join();
  }
  if (cdn_thread_.joinable()) {
    cdn_thread_.join();
  }
}

}  // namespace hfm::hubd
