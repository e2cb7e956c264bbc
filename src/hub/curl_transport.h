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

struct HttpRequest {
  std::string_view method = "GET";  // "GET" or "POST"
  std::string url;
  std::vector<std::string> headers;  // complete "Name: value" lines
  std::string_view body;             // POST body; must outlive perform()
  bool accept_compressed = false;    // only for JSON: ranged reads must see raw bytes
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
  kComplete,           // the whole response arrived
  kAbortedByHandler,   // a handler callback returned false
  kCanceled,           // the stop token fired
  kTimedOut,           // connect timeout or no progress for stall_timeout
  kConnectFailed,      // refused, unreachable, DNS: nothing was sent
  kBroken,             // the connection failed mid-exchange (reset, short body, ...)
  kBadReply,           // not HTTP, or a malformed response
  kFailed,             // will not work on retry (TLS verification, unsupported URL, ...)
};

struct TransferResult {
  TransferOutcome outcome = TransferOutcome::kFailed;
  int status = 0;       // 0 when no status line arrived
  std::string error;    // libcurl's explanation, empty on kComplete
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
