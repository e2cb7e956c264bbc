// SPDX-License-Identifier: Apache-2.0
// The only place where errors become errno values.

#include <cerrno>

#include "fs/fs_error.h"

namespace hfm::fs {

FsError fromHubError(const hub::HubError& error, const std::string& what) {
  using K = hub::HubErrorKind;
  switch (error.kind) {
    case K::kNotFound:
      return {FsErrorKind::kNotFound,
              error.maybe_private
                  ? what + ": repository not found; if it is private, set HF_TOKEN or run "
                           "`hf-mount login` with a token that can read it"
                  : std::string()};
    case K::kRevisionNotFound:
    case K::kEntryNotFound:
      return {FsErrorKind::kNotFound, {}};
    case K::kUnauthorized:
      return {FsErrorKind::kAccess, what + ": the token was refused (" + error.message +
                                        "); check HF_TOKEN or run `hf-mount login`"};
    case K::kForbidden:
      return {FsErrorKind::kAccess, what + ": access denied (" + error.message + ")"};
    case K::kGated:
      return {FsErrorKind::kAccess, what + ": gated repository; request access on its Hub page "
                                           "and use a token of an account that was granted it"};
    case K::kTimeout:
      return {FsErrorKind::kIo, what + ": timed out: " + error.message};
    case K::kCanceled:
      return {FsErrorKind::kIo, what + ": canceled"};
    default:
      return {FsErrorKind::kIo, what + ": " + error.message};
  }
}

int toErrno(FsErrorKind kind) {
  switch (kind) {
    case FsErrorKind::kNotFound:
      return ENOENT;
    case FsErrorKind::kAccess:
      return EACCES;
    case FsErrorKind::kReadOnly:
      return EROFS;
    case FsErrorKind::kNotDir:
      return ENOTDIR;
    case FsErrorKind::kIsDir:
      return EISDIR;
    case FsErrorKind::kNameTooLong:
      return ENAMETOOLONG;
    case FsErrorKind::kNoData:
      return ENODATA;
    case FsErrorKind::kTimeout:
      return ETIMEDOUT;
    case FsErrorKind::kInvalid:
      return EINVAL;
    case FsErrorKind::kBadHandle:
      return EBADF;
    case FsErrorKind::kExists:
      return EEXIST;
    case FsErrorKind::kNotEmpty:
      return ENOTEMPTY;
    case FsErrorKind::kNotPermitted:
      return EPERM;
    case FsErrorKind::kNoSpace:
      return ENOSPC;
    case FsErrorKind::kNotSupported:
      return EOPNOTSUPP;
    case FsErrorKind::kCrossDevice:
      return EXDEV;
    case FsErrorKind::kIo:
      return EIO;
  }
  return EIO;
}

}  // namespace hfm::fs
