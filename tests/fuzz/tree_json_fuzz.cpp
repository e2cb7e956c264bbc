// SPDX-License-Identifier: Apache-2.0
// A tree or paths-info page as the server sends it, through the client's parser. Whatever is
// accepted must satisfy what TreeEntry promises to the rest of the client.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/repo_path.h"
#include "fuzz_check.h"
#include "hub/hub_json.h"

using hfm::fuzz::isLowerHex;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hfm::hub;
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto entries = detail::parseTreeEntries(body);
  if (!entries) {
    HFM_FUZZ_CHECK(entries.error().kind == HubErrorKind::kBadResponse);
    return 0;
  }
  for (const TreeEntry& entry : *entries) {
    HFM_FUZZ_CHECK(hfm::common::isValidRepoPath(entry.path));
    HFM_FUZZ_CHECK(entry.size <= detail::kMaxJsonSize);
    if (!entry.is_dir) {
      HFM_FUZZ_CHECK(isLowerHex(entry.oid, 40) || isLowerHex(entry.oid, 64));
    } else {
      HFM_FUZZ_CHECK(entry.oid.empty() || isLowerHex(entry.oid, 40) || isLowerHex(entry.oid, 64));
      HFM_FUZZ_CHECK(!entry.lfs_sha256 && !entry.xet_hash);
    }
    HFM_FUZZ_CHECK(!entry.lfs_sha256 || isLowerHex(*entry.lfs_sha256, 64));
    HFM_FUZZ_CHECK(!entry.xet_hash || isLowerHex(*entry.xet_hash, 64));
    // Every valid path sits in the root of a recursive listing; the listed folder of a
    // non-recursive listing must be exactly its parent.
    HFM_FUZZ_CHECK(!detail::misplacedEntry(entry, "", true));
    auto slash = entry.path.rfind('/');
    std::string_view parent =
        slash == std::string::npos ? std::string_view() : std::string_view(entry.path).substr(0, slash);
    HFM_FUZZ_CHECK(!detail::misplacedEntry(entry, parent, false));
    HFM_FUZZ_CHECK(detail::misplacedEntry(entry, entry.path, true).has_value());
  }
  return 0;
}
