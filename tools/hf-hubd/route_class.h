// SPDX-License-Identifier: Apache-2.0
#pragma once

// The classes of route that hf-hubd counts and injects faults into.

#include <array>
#include <optional>
#include <string_view>

namespace hfm::hubd {

enum class RouteClass { kApi, kResolve, kCdn, kUpload, kCas };

inline constexpr std::array<RouteClass, 5> kAllRouteClasses = {
    RouteClass::kApi, RouteClass::kResolve, RouteClass::kCdn, RouteClass::kUpload, RouteClass::kCas};

constexpr std::string_view routeClassName(RouteClass cls) {
  switch (cls) {
    case RouteClass::kApi:
      return "api";
    case RouteClass::kResolve:
      return "resolve";
    case RouteClass::kCdn:
      return "cdn";
    case RouteClass::kUpload:
      return "upload";
    case RouteClass::kCas:
      return "cas";
  }
  return "api";
}

constexpr std::optional<RouteClass> parseRouteClass(std::string_view name) {
  for (RouteClass cls : kAllRouteClasses) {
    if (routeClassName(cls) == name) {
      return cls;
    }
  }
  return std::nullopt;
}

}  // namespace hfm::hubd
