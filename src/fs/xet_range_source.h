// SPDX-License-Identifier: Apache-2.0
#pragma once

// Reads Xet-backed files natively: a range is planned with the CAS reconstruction API (the CAS
// signs exactly the xorb ranges it lists, so each engine fetch asks for its own plan), only the
// chunks this machine cannot find are fetched (xorb byte ranges), decoded and hashed, and the
// chunks' places are recorded, so a chunk shared by files, revisions or repos is fetched once.
// Files without a Xet hash go to the plain source.
//
// A chunk's bytes are kept once, in the blocks the read engine caches for the file being read;
// fs/xet_chunk_index.h records where. A fetched chunk must hash to what an earlier read or this
// machine's own upload recorded for that xorb index; a mismatch (the server's copy is damaged) or
// a chunk that does not decode fails the read, and no byte of it is returned. A plan that would
// decode far more than the range asked for is refused.

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/block_store.h"
#include "fs/byte_budget.h"
#include "fs/read_engine.h"
#include "fs/xet_chunk_index.h"
#include "hub/hub_client.h"
#include "xet/merkle_hash.h"

namespace hfm::fs {

struct XetReadStats {
  std::uint64_t chunks_from_cache = 0;
  std::uint64_t chunks_fetched = 0;
  std::uint64_t xorb_bytes_fetched = 0;  // serialized bytes received from the CAS
  std::uint64_t reconstructions = 0;
  std::uint64_t hash_mismatches = 0;
};

// Thread-safe: the hub client, the block store and the budget are; the counters are atomics.
class XetRangeSource final : public RangeSource {
 public:
  // `memory` bounds the buffers of the reads in progress (fetched xorb ranges, decoded chunks);
  // a read waits until its plan's buffers fit.
  XetRangeSource(hub::HubClient* hub, RangeSource* plain, cache::BlockStore* cache,
                 std::uint64_t memory = kDefaultMemory)
      : hub_(hub), plain_(plain), index_(cache, hub->options().endpoint), budget_(memory) {}
  static constexpr std::uint64_t kDefaultMemory = 64ull << 20;

  hub::HubResult<std::size_t> readRange(const FileRef& file, std::uint64_t offset,
                                        std::span<char> out, const std::stop_token& stop) override;
  XetReadStats stats() const;

 private:
  struct Chunk {
    xet::MerkleHash hash;
    std::span<const std::uint8_t> bytes;  // in `owned`, or in a fetched body of the ChunkMap
    std::vector<std::uint8_t> owned;
    bool fetched = false;  // else found in the cache, already placed
  };
  struct ChunkMap {
    std::unordered_map<std::string, Chunk> by_key;  // "<xorb>/<index>" -> chunk
    std::vector<std::vector<std::string>> bodies;   // fetched xorb ranges, which chunks view
  };
  using KnownMap = std::unordered_map<std::string, XetChunkId>;  // hashes known, bytes not

  hub::HubResult<std::size_t> readXet(const FileRef& file, std::uint64_t offset,
                                      std::span<char> out, const std::stop_token& stop);
  // Fills `chunks` with every chunk the plan needs: found here, else fetched; what was learned
  // of fetched chunks goes into `learned`.
  hub::HubResult<void> gather(const hub::XetReconstruction& plan, ChunkMap& chunks,
                              XetChunkIndex::Batch& learned, const std::stop_token& stop);
  hub::HubResult<void> fetchInto(const std::string& xorb, const hub::XetFetch& fetch,
                                 ChunkMap& chunks, const KnownMap& known,
                                 XetChunkIndex::Batch& learned, const std::stop_token& stop);
  // Records where the chunks of `plan` lie in the blocks the engine caches for [offset, end).
  void placeChunks(const FileRef& file, const hub::XetReconstruction& plan, const ChunkMap& chunks,
                   std::uint64_t offset, std::uint64_t end, XetChunkIndex::Batch& learned);

  hub::HubClient* hub_;
  RangeSource* plain_;
  XetChunkIndex index_;
  ByteBudget budget_;
  std::atomic<std::uint64_t> chunks_from_cache_{0};
  std::atomic<std::uint64_t> chunks_fetched_{0};
  std::atomic<std::uint64_t> xorb_bytes_fetched_{0};
  std::atomic<std::uint64_t> reconstructions_{0};
  std::atomic<std::uint64_t> hash_mismatches_{0};
};

}  // namespace hfm::fs
