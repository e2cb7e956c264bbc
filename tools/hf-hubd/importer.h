// SPDX-License-Identifier: Apache-2.0
#pragma once

// `hf-hubd import`: seeds a repository from a local folder as one commit, offline. Files larger
// than the LFS threshold or with a NUL byte in their first 8000 bytes become LFS files, as on the
// Hub. Content is streamed, so multi-GiB files never sit in memory.

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/repo_id.h"
#include "hf-hubd/api_error.h"
#include "hf-hubd/repo_store.h"
#include "hf-hubd/xet_store.h"

namespace hfm::hubd {

struct ImportOptions {
  bool is_private = false;
  bool is_gated = false;
  std::string branch = "main";
  std::string message;
  std::string author = "hf-hubd";
  std::uint64_t lfs_threshold = 10ull << 20;
  // When set, a new repository is Xet-enabled and its LFS files are stored in the CAS.
  XetStore* xet = nullptr;
};

struct ImportResult {
  std::string commit;
  std::size_t files = 0;
  std::size_t lfs_files = 0;
  std::uint64_t bytes = 0;
};

ApiResult<ImportResult> importFolder(RepoStore& repos, const common::RepoId& id,
                                     const std::filesystem::path& source,
                                     const ImportOptions& options);

}  // namespace hfm::hubd
