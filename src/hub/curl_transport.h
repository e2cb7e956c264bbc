// SPDX-License-Identifier: Apache-2.0
#pragma once

// CurlTransport: one HTTP exchange at a time per call, over a pool of reused libcurl easy
// handles (keep-alive connections stay with their handle) that share DNS and TLS sessions.
// It follows no redirects, sends no credentials of its own and never retries: HubClient decides
// all of that. CURL types stay in curl_transport.cpp. Internal to src/hub.
//
// Thread-safe: perform() may be called from any number of threads; at most `max_connections`
// exchanges run at once (a counting semaphore), further callers wait for a slot.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hub/hub_error.h"

namespace hfm::hub::detail {

// Response headers with lower-cased names, in arrival order.
class HttpHeaders {
 public:
  void add(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }
  void clear() { items_.clear(); }
  // The last value of `lower_name`, nullptr when absent.
  const std::string* find(std::string_view lower_name) const;
  std::string get(std::string_view lower_name) const {
    const std::string* v = find(lower_name);
    return v == nullptr ? std::string() : *v;
  }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// A PUT body produced piece by piece (an upload streamed from a file). libcurl may rewind it (a
// reused connection that turned out dead is retried), hence reads by offset.
// Not thread-safe: one exchange at a time reads it.
class BodySource {
 public:
  virtual ~BodySource() = default;
  virtual std::uint64_t size() const = 0;
  // Copies up to `max` bytes from byte `offset` of the body to `out`: how many (0 only at the
  // end), or nullopt when the data cannot be read (the exchange is aborted).
  virtual std::optional<std::size_t> read(std::uint64_t offset, char* out, std::size_t max) = 0;
};

struct HttpRequest {
  std::string_view method = "GET";  // "GET", "POST" or "PUT"
  std::string url;
  std::vector<std::string> headers;  // complete "Name: value" lines
  std::string_view body;             // POST body; must outlive perform()
  // PUT body, required for a PUT (Content-Length is its size); must outlive perform().
  BodySource* body_source = nullptr;
  bool accept_compressed = false;    // only for JSON: ranged reads must see raw bytes
  // A new connection, not a kept-alive one: libcurl silently sends a request again when a reused
  // connection closes before any answer, which must not happen to a request that changes state.
  bool is_fresh_connection = false;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds stall_timeout{30000};
  std::stop_token stop;
};

// Receives one response as it arrives, on the thread running perform().
class ResponseHandler {
 public:
  virtual ~ResponseHandler() = default;
  // The final status and headers, before any body byte. false aborts the exchange.
  virtual bool onHeaders(int status, const HttpHeaders& headers) = 0;
  // A piece of the body. false aborts the exchange.
  virtual bool onBody(const char* data, std::size_t size) = 0;
};

enum class TransferOutcome {
  kComplete,          // the whole response arrived
  kAbortedByHandler,  // a handler callback returned false
  kCanceled,          // the stop token fired
  kTimedOut,          // connect timeout or no progress for stall_timeout
  kConnectFailed,     // refused, unreachable, DNS: nothing was sent
  kBroken,            // the connection failed mid-exchange (reset, short body, ...)
  kBadReply,          // not HTTP, or a malformed response
  kFailed,            // will not work on retry (TLS verification, unsupported URL, ...)
  kBodySourceFailed,  // the BodySource could not be read
};

struct TransferResult {
  TransferOutcome outcome = TransferOutcome::kFailed;
  int status = 0;       // 0 when no status line arrived
  std::string error;    // libcurl's explanation, empty on kComplete
  // Whether any byte of the request was written to a connection, i.e. the server may have acted
  // on it. False for a connection that could not be established.
  bool request_sent = false;
};

class CurlTransport {
 public:
  struct Options {
    std::string user_agent;
    unsigned max_connections = 16;
  };
  static HubResult<std::unique_ptr<CurlTransport>> create(Options options);
  ~CurlTransport();
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  TransferResult perform(const HttpRequest& request, ResponseHandler& handler);

 private:
  struct Impl;
  explicit CurlTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hfm::hub::detail
