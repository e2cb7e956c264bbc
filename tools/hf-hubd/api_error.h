// SPDX-License-Identifier: Apache-2.0
#pragma once

// The error an hf-hubd operation answers with: an HTTP status, the Hub's X-Error-Code (empty
// when the Hub sends none) and a message for X-Error-Message and the JSON body.

#include <string>

#include "common/result.h"

namespace hfm::hubd {

struct ApiError {
  int status = 500;
  std::string code;
  std::string message;
  std::string repo_commit;  // set on EntryNotFound: clients read X-Repo-Commit from the 404
};

// The X-Error-Code sent when an error has no Hub-specific one, so that every 4xx carries a code.
inline std::string defaultErrorCode(int status) {
  switch (status) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 412:
      return "PreconditionFailed";
    case 413:
      return "PayloadTooLarge";
    case 416:
      return "RangeNotSatisfiable";
    case 422:
      return "UnprocessableEntity";
    case 429:
      return "TooManyRequests";
    default:
      return status >= 500 ? "ServerError" : "Error";
  }
}

template <class T>
using ApiResult = common::Result<T, ApiError>;
using ApiStatus = common::Result<void, ApiError>;

inline common::Unexpected<ApiError> apiError(int status, std::string code, std::string message) {
  return common::Unexpected<ApiError>(ApiError{status, std::move(code), std::move(message), {}});
}
inline common::Unexpected<ApiError> badRequest(std::string message) {
  return apiError(400, "BadRequest", std::move(message));
}
inline common::Unexpected<ApiError> repoNotFound(const std::string& name) {
  return apiError(404, "RepoNotFound", "Repository not found: " + name);
}
inline common::Unexpected<ApiError> revisionNotFound(const std::string& rev) {
  return apiError(404, "RevisionNotFound", "Invalid rev id: " + rev);
}
inline common::Unexpected<ApiError> entryNotFound(const std::string& path, std::string commit) {
  return common::Unexpected<ApiError>(
      ApiError{404, "EntryNotFound", "Entry not found: " + path, std::move(commit)});
}
inline common::Unexpected<ApiError> internalError(const common::Error& error) {
  return apiError(500, "InternalError", error.message);
}

}  // namespace hfm::hubd
