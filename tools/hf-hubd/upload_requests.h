// SPDX-License-Identifier: Apache-2.0
#pragma once

// The bodies of upload requests (commit NDJSON lines, git-lfs batch requests) checked for shape
// and turned into plain values, before any store is consulted; the handlers in
// upload_handlers.cpp then check them against the stores. Errors are 400 BadRequest.
// All functions are thread-safe (pure).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hf-hubd/api_error.h"

namespace hfm::hubd {

// One line of a commit body: {"key": ..., "value": {...}}.
struct CommitLine {
  enum class Kind { kHeader, kFile, kLfsFile, kDeletedFile, kDeletedFolder };
  Kind kind = Kind::kHeader;
  // kHeader
  std::string summary;
  std::string description;
  std::optional<std::string> parent_commit;  // 5 to 40 lower-case hex digits
  // Every other kind: the path as sent (the repo store validates it).
  std::string path;
  std::string content;                  // kFile: the decoded bytes
  std::string oid;                      // kLfsFile: 64 lower-case hex digits, or empty with old_path
  std::optional<std::uint64_t> size;    // kLfsFile, when sent
  std::optional<std::string> old_path;  // kLfsFile without an oid: the head's file to copy
};

// Parses one line that is not blank.
ApiResult<CommitLine> parseCommitLine(std::string_view text);

struct LfsBatchObject {
  std::string oid;  // lower-cased when valid, else as sent ("" when not a string)
  std::uint64_t size = 0;
  bool is_valid = false;  // a sha256 oid and a non-negative integer size
};

struct LfsBatchRequest {
  bool is_upload = false;  // else a download
  bool accepts_multipart = false;
  bool accepts_xet = false;
  std::string ref;  // the branch named in "ref", "" when absent
  std::vector<LfsBatchObject> objects;  // invalid ones are answered with a per-object error
};

// POST .git/info/lfs/objects/batch; an empty body reads as {}.
ApiResult<LfsBatchRequest> parseLfsBatchRequest(std::string_view body);

}  // namespace hfm::hubd
