// SPDX-License-Identifier: Apache-2.0
#pragma once

// The two listeners of hf-hubd: the API (the Hub's origin) and the CDN (another origin, serving
// signed blob URLs). Each runs the HTTP library's accept loop on its own thread with a worker
// pool large enough that keep-alive connections, which hold a worker each, do not starve others.

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"
#include "hf-hubd/hub_service.h"

namespace hfm::hubd {

struct ListenAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0 picks a free port
};

common::Result<ListenAddress> parseListenAddress(const std::string& text);

// Thread-safe: stop() may be called from any thread, once.
class HttpServer {
 public:
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();

  // Binds both listeners (after which connections queue in the kernel) and starts serving.
  static common::Result<std::unique_ptr<HttpServer>> start(HubService* service,
                                                           const ListenAddress& api,
                                                           const ListenAddress& cdn,
                                                           std::size_t workers);
  std::uint16_t apiPort() const { return api_port_; }
  std::uint16_t cdnPort() const { return cdn_port_; }
  void stop();

 private:
  HttpServer() = default;
  httplib::Server api_;
  httplib::Server cdn_;
  std::uint16_t api_port_ = 0;
  std::uint16_t cdn_port_ = 0;
  std::jthread api_thread_;
  std::jthread cdn_thread_;
};

}  // namespace hfm::hubd
