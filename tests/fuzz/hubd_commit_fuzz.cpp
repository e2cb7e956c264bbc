// SPDX-License-Identifier: Apache-2.0
// A commit body (NDJSON) split into lines the way hf-hubd's commit handler does, each line
// through its parser. What it accepts is then written again by the client's encoder
// (hub::detail::commitNdjson) and must read back the same: client and server agree on the format.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/repo_path.h"
#include "fuzz_check.h"
#include "hf-hubd/upload_requests.h"
#include "hub/hub_json.h"

namespace {

using hfm::fuzz::isLowerHex;

using hfm::hubd::CommitLine;
using hfm::hubd::parseCommitLine;

// The lines the client writes for `request`: the header, then one per operation.
std::string encode(const hfm::hub::CommitRequest& request) {
  auto body = hfm::hub::detail::commitNdjson(request);
  HFM_FUZZ_CHECK(body.has_value());
  return *body;
}

CommitLine readBack(std::string_view body, std::size_t index) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < index; ++i) {
    start = body.find('\n', start) + 1;
  }
  auto parsed = parseCommitLine(body.substr(start, body.find('\n', start) - start));
  HFM_FUZZ_CHECK(parsed.has_value());
  return *parsed;
}

void checkLine(const CommitLine& line) {
  using Kind = CommitLine::Kind;
  hfm::hub::CommitRequest request;
  if (line.kind == Kind::kHeader) {
    HFM_FUZZ_CHECK(!line.parent_commit || (line.parent_commit->size() >= 5 &&
                                           isLowerHex(*line.parent_commit, line.parent_commit->size())));
    request.summary = line.summary;
    request.description = line.description;
    request.parent_commit = line.parent_commit.value_or("");
    CommitLine back = readBack(encode(request), 0);
    HFM_FUZZ_CHECK(back.kind == Kind::kHeader && back.summary == line.summary &&
                   back.description == line.description &&
                   back.parent_commit == line.parent_commit);
    return;
  }
  if (line.kind == Kind::kLfsFile) {
    HFM_FUZZ_CHECK(line.old_path ? line.oid.empty() : isLowerHex(line.oid, 64));
  }
  std::string path = line.path;
  if (line.kind == Kind::kDeletedFolder) {
    while (!path.empty() && path.back() == '/') {
      path.pop_back();  // the client sends folders without their trailing '/'
    }
  }
  if (line.old_path || !hfm::common::isValidRepoPath(path)) {
    return;  // the client neither copies by oldPath nor sends invalid paths
  }
  hfm::hub::CommitOperation op;
  op.path = path;
  switch (line.kind) {
    case Kind::kFile:
      op.kind = hfm::hub::CommitOperation::Kind::kFile;
      op.content = line.content;
      break;
    case Kind::kLfsFile:
      op.kind = hfm::hub::CommitOperation::Kind::kLfsFile;
      op.sha256 = line.oid;
      op.size = line.size.value_or(0);
      break;
    case Kind::kDeletedFile:
      op.kind = hfm::hub::CommitOperation::Kind::kDeletedFile;
      break;
    case Kind::kDeletedFolder:
      op.kind = hfm::hub::CommitOperation::Kind::kDeletedFolder;
      break;
    case Kind::kHeader:
      return;
  }
  request.operations.push_back(op);
  CommitLine back = readBack(encode(request), 1);
  HFM_FUZZ_CHECK(back.kind == line.kind && back.path == path && back.content == line.content &&
                 back.oid == line.oid);
  HFM_FUZZ_CHECK(line.kind != Kind::kLfsFile || back.size == line.size.value_or(0));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  std::size_t start = 0;
  while (start <= body.size()) {
    auto nl = body.find('\n', start);
    std::string_view text = body.substr(start, nl == std::string_view::npos ? nl : nl - start);
    if (text.find_first_not_of(" \t\r") != std::string_view::npos) {
      auto line = parseCommitLine(text);
      if (line) {
        checkLine(*line);
      } else {
        HFM_FUZZ_CHECK(line.error().status == 400);
      }
    }
    if (nl == std::string_view::npos) {
      break;
    }
    start = nl + 1;
  }
  return 0;
}
