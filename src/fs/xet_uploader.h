// SPDX-License-Identifier: Apache-2.0
#pragma once

// Uploads a staged file for a commit. When the server offers Xet for it (the LFS batch answer),
// the file is chunked and only chunks the server does not already hold are sent: chunks this
// machine has seen (uploaded or read) are found in the local index, others through the CAS's
// global dedup query; the rest are packed into xorbs, uploaded, then registered with one shard.
// Otherwise it is a plain LFS upload, and later files of that repo skip the question (until the
// daemon restarts).
// The uploaded chunks go into the local index (fs/xet_chunk_index.h), so a later read of the
// file checks every chunk it fetches against the hash computed here.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "cache/block_store.h"
#include "common/repo_id.h"
#include "fs/xet_chunk_index.h"
#include "hub/hub_client.h"
#include "xet/file_packer.h"

namespace hfm::fs {

struct XetUploadStats {
  std::uint64_t files = 0;
  std::uint64_t chunks = 0;
  std::uint64_t chunks_known_locally = 0;
  std::uint64_t chunks_found_by_query = 0;
  std::uint64_t dedup_queries = 0;
  std::uint64_t xorbs_sent = 0;
  std::uint64_t xorb_bytes_sent = 0;
};

// Thread-safe: every upload keeps its state on its own stack; counters are atomics; the repos
// known to be without Xet are behind a mutex.
class XetUploader {
 public:
  // `xorb_bytes` caps the xorbs built, which are held in memory while they are sent.
  XetUploader(hub::HubClient* hub, cache::BlockStore* cache,
              std::size_t xorb_bytes = xet::kMaxXorbBytes)
      : hub_(hub), index_(cache, hub->options().endpoint), xorb_bytes_(xorb_bytes) {}

  hub::HubResult<void> upload(const common::RepoId& repo, const std::string& revision,
                              const std::string& sha256, std::uint64_t size,
                              const std::filesystem::path& path);
  XetUploadStats stats() const;

 private:
  hub::HubResult<void> uploadXet(const hub::XetWriteAccess& access, const std::string& sha256,
                                 const std::filesystem::path& path, bool use_local);

  hub::HubClient* hub_;
  XetChunkIndex index_;
  std::size_t xorb_bytes_;
  static constexpr std::size_t kMaxReposRemembered = 1024;
  std::mutex mu_;
  std::set<std::string> without_xet_;  // guarded by mu_: repos whose server picked plain LFS
  std::atomic<std::uint64_t> files_{0};
  std::atomic<std::uint64_t> chunks_{0};
  std::atomic<std::uint64_t> chunks_known_locally_{0};
  std::atomic<std::uint64_t> chunks_found_by_query_{0};
  std::atomic<std::uint64_t> dedup_queries_{0};
  std::atomic<std::uint64_t> xorbs_sent_{0};
  std::atomic<std::uint64_t> xorb_bytes_sent_{0};
};

}  // namespace hfm::fs
