// SPDX-License-Identifier: Apache-2.0
#include "hub/hub_error.h"

namespace hfm::hub {

std::string_view toString(HubErrorKind kind) {
  switch (kind) {
    case HubErrorKind::kNotFound:
      return "not found";
    case HubErrorKind::kRevisionNotFound:
      return "revision not found";
    case HubErrorKind::kEntryNotFound:
      return "entry not found";
    case HubErrorKind::kUnauthorized:
      return "unauthorized";
    case HubErrorKind::kForbidden:
      return "forbidden";
    case HubErrorKind::kGated:
      return "gated";
    case HubErrorKind::kConflict:
      return "conflict";
    case HubErrorKind::kRateLimited:
      return "rate limited";
    case HubErrorKind::kServerError:
      return "server error";
    case HubErrorKind::kNetwork:
      return "network error";
    case HubErrorKind::kTimeout:
      return "timeout";
    case HubErrorKind::kBadResponse:
      return "bad response";
    case HubErrorKind::kCanceled:
      return "canceled";
    case HubErrorKind::kRangeNotSatisfiable:
      return "range not satisfiable";
    case HubErrorKind::kInvalidArgument:
      return "invalid argument";
    case HubErrorKind::kLocalIo:
      return "local I/O error";
  }
  return "unknown";
}

}  // namespace hfm::hub
