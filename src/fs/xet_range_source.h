// SPDX-License-Identifier: Apache-2.0
#pragma once

// Reads Xet-backed files natively: a range is planned with the CAS reconstruction API, only the
// chunks the cache lacks are fetched (xorb byte ranges), decoded and hashed, and every chunk is
// kept in the block cache under its own hash, so a chunk shared by files, revisions or repos is
// fetched once. Files without a Xet hash go to the plain source.
//
// Chunks and what is known of them live in the block cache (fs/xet_chunk_index.h). A fetched chunk
// must hash to what an earlier read or this machine's own upload recorded for that xorb index; a
// mismatch (the server's copy is damaged) or a chunk that does not decode fails the read, and no
// byte of it is returned.

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/block_store.h"
#include "fs/read_engine.h"
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

// Thread-safe: the hub client and the block store are; the counters are atomics.
class XetRangeSource final : public RangeSource {
 public:
  XetRangeSource(hub::HubClient* hub, RangeSource* plain, cache::BlockStore* cache)
      : hub_(hub), plain_(plain), cache_(cache) {}

  hub::HubResult<std::size_t> readRange(const FileRef& file, std::uint64_t offset,
                                        std::span<char> out, const std::stop_token& stop) override;
  XetReadStats stats() const;

 private:
  struct Chunk {
    xet::MerkleHash hash;
    std::vector<std::uint8_t> bytes;
  };
  using ChunkMap = std::unordered_map<std::string, Chunk>;  // "<xorb>/<index>" -> chunk

  hub::HubResult<std::size_t> readXet(const FileRef& file, std::uint64_t offset,
                                      std::span<char> out, const std::stop_token& stop);
  // Fills `chunks` with every chunk the plan needs: from the cache, else fetched.
  hub::HubResult<void> gather(const hub::XetReconstruction& plan, ChunkMap& chunks,
                              const std::stop_token& stop);
  hub::HubResult<void> fetchInto(const std::string& xorb, const hub::XetFetch& fetch,
                                 ChunkMap& chunks, const std::stop_token& stop);
  std::optional<Chunk> cached(const xet::MerkleHash& xorb, std::uint32_t index);
  void remember(const xet::MerkleHash& xorb, std::uint32_t index, const Chunk& chunk);

  hub::HubClient* hub_;
  RangeSource* plain_;
  cache::BlockStore* cache_;
  std::atomic<std::uint64_t> chunks_from_cache_{0};
  std::atomic<std::uint64_t> chunks_fetched_{0};
  std::atomic<std::uint64_t> xorb_bytes_fetched_{0};
  std::atomic<std::uint64_t> reconstructions_{0};
  std::atomic<std::uint64_t> hash_mismatches_{0};
};

}  // namespace hfm::fs
