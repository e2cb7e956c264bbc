// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/stats.h"

#include <nlohmann/json.hpp>

namespace hfm::hubd {

std::string Stats::toJson() const {
  nlohmann::json out;
  auto dump = [](const Counters& counters) {
    nlohmann::json obj = nlohmann::json::object();
    for (RouteClass cls : kAllRouteClasses) {
      obj[std::string(routeClassName(cls))] =
          counters[static_cast<std::size_t>(cls)].load(std::memory_order_relaxed);
    }
    return obj;
  };
  out["requests"] = dump(requests_);
  out["bytes_sent"] = dump(bytes_sent_);
  out["bytes_received"] = dump(bytes_received_);
  out["cdn_requests_with_authorization"] = cdn_with_authorization_.load(std::memory_order_relaxed);
  out["faults_injected"] = faults_injected_.load(std::memory_order_relaxed);
  return out.dump();
}

}  // namespace hfm::hubd
