// SPDX-License-Identifier: Apache-2.0
// A journal entry of pending changes (key, NUL, value) read back as a mount does after a crash.
// Records that need no staging file (moved, folder, deleted) must encode back to an entry that
// reads the same; staged records point into a staging directory that does not exist here.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/repo_path.h"
#include "fs/change_record.h"
#include "fuzz_check.h"

namespace {

using hfm::fs::Change;

bool sameRecord(const Change& a, const Change& b) {
  if (a.kind != b.kind || a.hides_base != b.hides_base || a.remote.has_value() != b.remote.has_value()) {
    return false;
  }
  if (!a.remote) {
    return true;
  }
  const auto& x = *a.remote;
  const auto& y = *b.remote;
  return x.commit == y.commit && x.path == y.path && x.size == y.size && x.oid == y.oid &&
         x.lfs_sha256 == y.lfs_sha256 && x.xet_hash == y.xet_hash;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto nul = input.find('\0');
  std::string_view key = input.substr(0, nul);
  std::string_view value = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  // Whatever valid path the key names, a deletion recorded for it reads back.
  if (key.substr(0, 2) == "c/" && hfm::common::isValidRepoPath(key.substr(2))) {
    std::string path(key.substr(2));
    Change deleted;
    deleted.kind = Change::Kind::kDeleted;
    auto back = hfm::fs::splitChangeEntry(hfm::fs::changeKey(path),
                                          hfm::fs::keyedChange(path, deleted));
    HFM_FUZZ_CHECK(back && back->first == path && back->second == "X");
  }
  auto entry = hfm::fs::splitChangeEntry(key, value);
  if (!entry) {
    return 0;
  }
  // Long plain keys (from journals written before paths were hashed) are still read.
  HFM_FUZZ_CHECK(key.substr(0, 3) != "c/#" || hfm::fs::changeKey(entry->first) == key);
  std::string error;
  auto change = hfm::fs::decodeChange(entry->second, "/nonexistent/hfm-fuzz-staging", error);
  if (!change) {
    HFM_FUZZ_CHECK(!error.empty());
    return 0;
  }
  HFM_FUZZ_CHECK(!change->staged);
  if (!hfm::common::isValidRepoPath(entry->first)) {
    return 0;  // the journal is only written for valid paths
  }
  std::string again_key = hfm::fs::changeKey(entry->first);
  auto again = hfm::fs::splitChangeEntry(again_key, hfm::fs::keyedChange(entry->first, *change));
  HFM_FUZZ_CHECK(again && again->first == entry->first);
  std::string again_error;
  auto decoded = hfm::fs::decodeChange(again->second, "/nonexistent/hfm-fuzz-staging", again_error);
  HFM_FUZZ_CHECK(decoded && sameRecord(*decoded, *change));
  return 0;
}
