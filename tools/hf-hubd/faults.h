// SPDX-License-Identifier: Apache-2.0
#pragma once

// Fault injection for hf-hubd: a FaultPlan parsed from a fault SPEC decides, per request,
// whether to answer with an error status, add latency, or damage the response body. The SPEC syntax
// is documented in docs/hubd-faults.md.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "hf-hubd/route_class.h"

namespace hfm::hubd {

// What to do to one request. A default-constructed decision injects nothing.
struct FaultDecision {
  // 0: no injected status; else answer with it (no handler runs).
  int status = 0;
  // > 0: send `Retry-After: N` with the injected status.
  int retry_after_s = 0;
  // Sleep before answering.
  std::chrono::milliseconds latency{0};
  // Sleep in the middle of the body (after the first chunk is sent).
  std::chrono::milliseconds stall{0};
  // Close the connection after this many body bytes.
  std::optional<uint64_t> cut_after_bytes;
  // Declare the full Content-Length, send less, then close.
  bool short_body = false;

  // True when anything is injected.
  bool any() const;
};

namespace detail {

struct StatusFault {
  int status = 0;
  double probability = 0.0;
};

// The merged settings of every rule naming one route class.
struct ClassFaults {
  std::vector<StatusFault> statuses;  // one entry per status code; probabilities add
  std::optional<int> retry_after_s;   // unset: 1 for 429, no header otherwise
  std::chrono::milliseconds latency{0};
  double latency_probability = 1.0;
  double stall_probability = 0.0;
  std::chrono::milliseconds stall{0};
  double cut_probability = 0.0;
  uint64_t cut_after_bytes = 0;
  double short_probability = 0.0;
  bool injects = false;  // false lets decide() skip the class without counting
};

struct FaultState {
  uint64_t seed = 0;
  std::array<ClassFaults, kAllRouteClasses.size()> classes;
  // Relaxed increments: the counter only hands out distinct request numbers; it publishes no other
  // memory, so no ordering with other operations is needed.
  std::array<std::atomic<uint64_t>, kAllRouteClasses.size()> counters{};
};

}  // namespace detail

// FaultPlan: per-route-class fault probabilities, deterministic under a seed.
//
// Thread safety: thread-safe. decide() may be called concurrently from any number of threads; each
// route class has its own atomic request counter, and the decision for the n-th request of a class
// is a pure function of (seed, class, n). A run with the same seed and the same per-class request
// order therefore makes the same decisions; under concurrency the multiset of decisions for the
// first N requests of a class is still exactly that of a sequential run.
//
// Ownership: a plan owns its settings and counters. It is movable but not copyable (copying would
// fork the counters); a moved-from plan is empty and injects nothing.
//
// Errors: parse() returns ErrorKind::kInvalidArgument with a message naming the offending text for
// any malformed SPEC. decide() cannot fail.
class FaultPlan {
 public:
  FaultPlan() = default;  // injects nothing
  FaultPlan(FaultPlan&&) noexcept = default;
  FaultPlan& operator=(FaultPlan&&) noexcept = default;
  FaultPlan(const FaultPlan&) = delete;
  FaultPlan& operator=(const FaultPlan&) = delete;
  ~FaultPlan() = default;

  // An empty or all-whitespace spec is valid and yields an empty plan.
  static common::Result<FaultPlan> parse(std::string_view spec, uint64_t seed);

  // Takes the next request number of `cls` (only when the class has anything configured) and
  // returns what to inject into that request.
  FaultDecision decide(RouteClass cls);

  // True when no request of any class can be affected (e.g. default-constructed, empty spec, or
  // every probability and latency is zero).
  bool empty() const;

 private:
  explicit FaultPlan(std::unique_ptr<detail::FaultState> state) : state_(std::move(state)) {}

  std::unique_ptr<detail::FaultState> state_;  // null when the plan injects nothing
};

}  // namespace hfm::hubd
