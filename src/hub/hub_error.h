// SPDX-License-Identifier: Apache-2.0
#pragma once

// The hub layer's error: a small enum the fs layer maps to errno (only fs knows errno), plus the
// HTTP status and a message with enough context to act on (method, URL path without its query,
// status, the server's X-Error-Message, the transport error). A message never holds a token.

#include <string>
#include <string_view>

#include "common/result.h"

namespace hfm::hub {

enum class HubErrorKind {
  kNotFound,             // repository (or another resource) does not exist, or is private
  kRevisionNotFound,     // the repository exists, the branch/tag/commit does not
  kEntryNotFound,        // the revision exists, the path does not
  kUnauthorized,         // 401: the token is missing, invalid or expired
  kForbidden,            // 403: the token is valid but lacks the permission
  kGated,                // gated repository: access must be requested on the Hub
  kConflict,             // 409/412: already exists, or the branch moved
  kRateLimited,          // 429 after retries
  kServerError,          // 5xx after retries
  kNetwork,              // connection refused/reset, DNS, TLS: after retries
  kTimeout,              // connect timeout, stalled transfer, 408, or the retry deadline
  kBadResponse,          // the server sent something malformed, inconsistent or unsafe
  kCanceled,             // the caller's stop_token fired
  kRangeNotSatisfiable,  // 416 for a range that does not start past the end of the file
  kInvalidArgument,      // the caller's request cannot be sent (bad path, sha256, parent commit)
  kLocalIo,              // the local file to upload cannot be read or has the wrong size
};

struct HubError {
  HubErrorKind kind = HubErrorKind::kBadResponse;
  int http_status = 0;  // 0 when no HTTP response was received
  std::string message;
  // A 401 RepoNotFound: the Hub answers an anonymous request for a private repository exactly
  // as for a missing one, so the caller may suggest a token.
  bool maybe_private = false;
};

template <class T>
using HubResult = common::Result<T, HubError>;

std::string_view toString(HubErrorKind kind);

inline common::Unexpected<HubError> hubError(HubErrorKind kind, std::string message,
                                             int http_status = 0) {
  return common::Unexpected<HubError>(HubError{kind, http_status, std::move(message), false});
}

}  // namespace hfm::hub
