// SPDX-License-Identifier: Apache-2.0
#pragma once

// The errors of filesystem operations. They become errno values in exactly one place
// (errno_map.cpp), at the FUSE boundary.

#include <string>

#include "common/result.h"
#include "hub/hub_client.h"

namespace hfm::fs {

enum class FsErrorKind {
  kNotFound,
  kAccess,
  kReadOnly,
  kNotDir,
  kIsDir,
  kNameTooLong,
  kNoData,
  kTimeout,
  kIo,
  kInvalid,
  kBadHandle,
  kExists,
  kNotEmpty,
  kNotPermitted,
  kNoSpace,
  kNotSupported,
  kCrossDevice,
};

struct FsError {
  FsErrorKind kind = FsErrorKind::kIo;
  std::string message;  // for the log; empty when the error is routine (a missing name)
};

template <class T>
using FsResult = common::Result<T, FsError>;

inline common::Unexpected<FsError> fsError(FsErrorKind kind, std::string message = {}) {
  return common::Unexpected<FsError>(FsError{kind, std::move(message)});
}

// How a Hub failure looks to a filesystem caller, with a log message that says what to do.
FsError fromHubError(const hub::HubError& error, const std::string& what);

// errno for the FUSE reply.
int toErrno(FsErrorKind kind);

}  // namespace hfm::fs
