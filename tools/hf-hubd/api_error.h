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
