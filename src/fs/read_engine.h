// SPDX-License-Identifier: Apache-2.0
#pragma once

// The read engine: the one place that sees both the Hub client and the block cache. A read is
// mapped to fixed-size blocks; hits are copied out of memory or LMDB, misses are fetched with
// ranged GETs (adjacent misses coalesced into one request), and concurrent readers of a block wait
// on a single fetch. A handle that reads sequentially grows a prefetch window, fetched ahead by a
// bounded pool as parallel requests; a handle that reads randomly fetches only what it touches.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/block_store.h"
#include "common/repo_id.h"
#include "common/stop_generation.h"
#include "fs/buffer_pool.h"
#include "fs/thread_pool.h"
#include "hub/hub_client.h"

namespace hfm::fs {

// What to read: a file at a commit, named by its content id for the cache.
struct FileRef {
  common::RepoId repo;
  std::string commit;
  std::string path;
  std::string content_id;
  std::uint64_t size = 0;
  std::string xet_hash;  // empty unless the file is stored in Xet
};

struct ReadOptions {
  std::size_t max_request_bytes = 16u << 20;   // largest single ranged GET
  std::size_t prefetch_chunk_bytes = 4u << 20;  // one prefetch request
  std::size_t prefetch_max_bytes = 64u << 20;  // largest read-ahead window of one handle
  std::uint64_t memory_limit = 256ull << 20;   // request buffers (held blocks, fetches in flight)
  std::size_t prefetch_threads = 8;
};

// Where missing bytes come from: the Hub in production, a fake in tests. Thread-safe.
class RangeSource {
 public:
  virtual ~RangeSource() = default;
  virtual hub::HubResult<std::size_t> readRange(const FileRef& file, std::uint64_t offset,
                                                std::span<char> out,
                                                const std::stop_token& stop) = 0;
};

// Reads through the Hub client's resolve URLs.
class HubRangeSource final : public RangeSource {
 public:
  explicit HubRangeSource(hub::HubClient* hub) : hub_(hub) {}
  hub::HubResult<std::size_t> readRange(const FileRef& file, std::uint64_t offset,
                                        std::span<char> out, const std::stop_token& stop) override {
    return hub_->readRange(file.repo, file.commit, file.path, offset, out, stop);
  }

 private:
  hub::HubClient* hub_;
};

// Per open handle: where the last read ended and how far ahead it has been fetched. Confined to
// the engine, which locks it.
struct ReadState {
  std::mutex mu;
  std::uint64_t next_offset = 0;       // guarded by mu
  std::uint64_t window = 0;            // guarded by mu
  std::uint64_t prefetched_until = 0;  // guarded by mu
  // Safetensors files: tensor boundaries, and how many of them the current sequential streak has
  // crossed. Until it has crossed a few, prefetch stops at the end of the tensor being read.
  bool header_checked = false;                          // guarded by mu
  std::optional<std::vector<std::uint64_t>> boundaries;  // guarded by mu
  std::uint64_t counted_until = 0;                      // guarded by mu
  unsigned crossings = 0;                               // guarded by mu
  std::uint64_t home_end = 0;  // guarded by mu: end of the tensor the streak started in
};

struct ReadStats {
  std::uint64_t blocks_from_memory = 0;
  std::uint64_t blocks_from_cache = 0;
  std::uint64_t blocks_fetched = 0;
  std::uint64_t bytes_fetched = 0;
  std::uint64_t prefetch_requests = 0;
  std::uint64_t waits_on_other_fetch = 0;
};

// Part of a read's answer. Bytes already in memory are handed out in place (the FUSE reply
// writes them to the kernel straight from the fetched buffer), kept alive by `keep`; other bytes
// are copied into the caller's buffer and `keep` is empty.
struct ReadPiece {
  const char* data = nullptr;
  std::size_t size = 0;
  std::shared_ptr<const char[]> keep;
};

// Thread-safe. Lock order: ReadState::mu, then mu_, then the buffer pool's; none is held across
// network or LMDB I/O.
class ReadEngine {
 public:
  ReadEngine(RangeSource* source, cache::BlockStore* cache, std::uint32_t block_size,
             ReadOptions options);
  ~ReadEngine();
  ReadEngine(const ReadEngine&) = delete;
  ReadEngine& operator=(const ReadEngine&) = delete;

  // Fills `out` from `offset`; returns the bytes read (fewer only at the end of the file).
  // With `pieces`, bytes held in memory are not copied into `out`: `pieces` then lists, in order,
  // where every byte read is (in `out` or in a shared block buffer).
  hub::HubResult<std::size_t> read(const FileRef& file, std::uint64_t offset, std::span<char> out,
                                   ReadState* state, std::vector<ReadPiece>* pieces = nullptr);
  ReadStats stats() const;
  std::uint32_t blockSize() const { return block_size_; }
  // Fetches in flight fail with kCanceled (their readers get EIO); later fetches go ahead.
  void cancelFetches() { fetches_stop_.cancel(); }

 private:
  // One block's bytes inside the buffer of the request that fetched it (no copy per block).
  struct BlockView {
    std::shared_ptr<const char[]> buffer;
    std::size_t offset = 0;
    std::size_t length = 0;
    std::size_t buffer_length = 0;  // the whole request's bytes, which this view keeps alive
    const char* data() const { return buffer.get() + offset; }
    std::string_view view() const { return {data(), length}; }
  };
  struct Flight {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;                   // guarded by mu
    bool abandoned = false;              // guarded by mu: nobody fetched it; ask again
    std::optional<hub::HubError> error;  // guarded by mu
    BlockView data;                      // guarded by mu
  };
  using FlightPtr = std::shared_ptr<Flight>;
  using Claimed = std::vector<std::pair<std::uint64_t, FlightPtr>>;

  std::optional<BlockView> fromMemory(const std::string& key);
  void remember(const std::string& key, const BlockView& data);
  // Fetches blocks [first, last] of `file` (all owned by the caller's flights), completes the
  // flights, then stores the blocks in the cache.
  void fetchRun(const FileRef& file, std::uint64_t first, std::uint64_t last,
                const std::vector<FlightPtr>& flights);
  // Claims the blocks of [first, last] that are neither in memory, in the cache nor in flight.
  Claimed claim(const FileRef& file, std::uint64_t first, std::uint64_t last);
  void fetchClaimed(const FileRef& file, const Claimed& claimed);
  void abandon(const FileRef& file, const Claimed& claimed);
  hub::HubResult<std::size_t> readOnce(const FileRef& file, std::uint64_t offset,
                                       std::span<char> out, bool& retry,
                                       std::vector<ReadPiece>* pieces = nullptr);
  void maybePrefetch(const FileRef& file, std::uint64_t offset, std::uint64_t end, ReadState* state);
  // Reads the safetensors header the first time a handle reads the start of such a file.
  void learnTensors(const FileRef& file, std::span<const char> first_bytes, ReadState* state);
  std::uint64_t blockLength(const FileRef& file, std::uint64_t index) const;
  std::string key(const std::string& content_id, std::uint64_t index) const;

  RangeSource* source_;
  cache::BlockStore* cache_;  // may be null: everything is then fetched
  std::uint32_t block_size_;
  ReadOptions options_;

  std::mutex mu_;
  std::unordered_map<std::string, FlightPtr> in_flight_;  // guarded by mu_
  // Fetched blocks kept for their readers, least recently used first; with the fetches in flight
  // bounded by options_.memory_limit.
  std::list<std::pair<std::string, BlockView>> lru_;  // guarded by mu_
  std::unordered_map<std::string, decltype(lru_)::iterator> memory_;        // guarded by mu_
  // How many of lru_'s blocks share each request buffer: a buffer counts against the limit,
  // whole, for as long as one of its blocks is held.
  std::unordered_map<const char*, std::size_t> held_buffers_;              // guarded by mu_
  std::uint64_t memory_bytes_ = 0;                                          // guarded by mu_

  std::atomic<std::uint64_t> blocks_from_memory_{0};
  std::atomic<std::uint64_t> blocks_from_cache_{0};
  std::atomic<std::uint64_t> blocks_fetched_{0};
  std::atomic<std::uint64_t> bytes_fetched_{0};
  std::atomic<std::uint64_t> prefetch_requests_{0};
  std::atomic<std::uint64_t> waits_{0};
  common::StopGeneration fetches_stop_;
  std::shared_ptr<BufferPool> buffers_;

  std::unique_ptr<ThreadPool> pool_;  // last: its workers use everything above
};

}  // namespace hfm::fs
