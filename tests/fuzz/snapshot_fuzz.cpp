// SPDX-License-Identifier: Apache-2.0
// The metadata cache's text form of a snapshot, read back as a mount does after a restart. An
// accepted text must give a consistent tree that reads back the same once serialized.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/repo_path.h"
#include "fs/snapshot.h"
#include "fuzz_check.h"

namespace {

std::vector<std::string_view> sortedLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using hfm::fs::Snapshot;
  auto snapshot = Snapshot::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!snapshot) {
    return 0;
  }
  const auto& entries = snapshot->entries();
  HFM_FUZZ_CHECK(!entries.empty() && entries[0].is_dir && entries[0].path.empty());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& entry = entries[i];
    HFM_FUZZ_CHECK(i == 0 || hfm::common::isValidRepoPath(entry.path));
    HFM_FUZZ_CHECK(snapshot->find(entry.path) == i);
    HFM_FUZZ_CHECK(entry.is_dir || entry.children.empty());
    for (std::size_t child : entry.children) {
      HFM_FUZZ_CHECK(child < entries.size());
      HFM_FUZZ_CHECK(snapshot->child(i, hfm::fs::baseName(entries[child].path)) == child);
    }
  }
  // Written and read again, it is the same tree (entries may come back in another order: parse
  // puts folders first).
  auto again = Snapshot::parse(snapshot->serialize());
  HFM_FUZZ_CHECK(again && again->dropped() == 0 && again->commit() == snapshot->commit() &&
                 again->date() == snapshot->date());
  HFM_FUZZ_CHECK(sortedLines(again->serialize()) == sortedLines(snapshot->serialize()));
  return 0;
}
