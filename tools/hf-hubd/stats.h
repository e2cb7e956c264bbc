// SPDX-License-Identifier: Apache-2.0
#pragma once

// Request and byte counters per route class, read by tests through GET /_hubd/stats to measure
// what a client really fetched or sent.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "hf-hubd/route_class.h"

namespace hfm::hubd {

// Thread-safe: relaxed atomics, since each counter is independent and read only for reporting.
class Stats {
 public:
  void countRequest(RouteClass cls) { at(requests_, cls).fetch_add(1, std::memory_order_relaxed); }
  void countSent(RouteClass cls, std::uint64_t n) {
    at(bytes_sent_, cls).fetch_add(n, std::memory_order_relaxed);
  }
  void countReceived(RouteClass cls, std::uint64_t n) {
    at(bytes_received_, cls).fetch_add(n, std::memory_order_relaxed);
  }
  void countCdnAuthorization() { cdn_with_authorization_.fetch_add(1, std::memory_order_relaxed); }
  void countInjectedFault() { faults_injected_.fetch_add(1, std::memory_order_relaxed); }

  std::string toJson() const;

 private:
  using Counters = std::array<std::atomic<std::uint64_t>, kAllRouteClasses.size()>;
  static std::atomic<std::uint64_t>& at(Counters& c, RouteClass cls) {
    return c[static_cast<std::size_t>(cls)];
  }
  Counters requests_{};
  Counters bytes_sent_{};
  Counters bytes_received_{};
  std::atomic<std::uint64_t> cdn_with_authorization_{0};
  std::atomic<std::uint64_t> faults_injected_{0};
};

}  // namespace hfm::hubd
