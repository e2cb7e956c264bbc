// SPDX-License-Identifier: Apache-2.0
#include "fs/xet_range_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "fs/xet_chunk_index.h"
#include "xet/hashing.h"
#include "xet/xorb.h"

namespace hfm::fs {

namespace {

using hub::HubErrorKind;
using xet::MerkleHash;

std::string chunkKey(const std::string& xorb, std::uint32_t index) {
  return xorb + "/" + std::to_string(index);
}

std::span<const std::uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

common::Unexpected<hub::HubError> corrupt(std::string message) {
  return hub::hubError(HubErrorKind::kBadResponse, std::move(message));
}

common::Unexpected<hub::HubError> canceled() {
  return hub::hubError(HubErrorKind::kCanceled, "read canceled");
}

// 403: the signed xorb URLs of the plan expired; a fresh reconstruction gives new ones.
bool urlExpired(const hub::HubError& e) { return e.http_status == 403; }

// A plan may fetch at most this multiple of the bytes it decodes to, plus the allowance
// (chunk headers, ranges merged across small terms).
constexpr std::uint64_t kFetchSlack = 4;
constexpr std::uint64_t kFetchAllowance = 8u << 20;

// The bytes the buffers of a plan for `want` bytes at `offset` may take (chunks read back or
// decoded, xorb ranges as received), or why the plan is refused: it would make a small read
// fetch, decode or look up far more than the range.
common::Result<std::uint64_t, std::string> planBuffers(const hub::XetReconstruction& plan,
                                                       std::uint64_t offset, std::uint64_t want) {
  if (plan.offset_into_first_range >
      std::min<std::uint64_t>(offset, xet::kMaxUncompressedChunkSize)) {
    return common::Unexpected<std::string>(
        "it starts " + std::to_string(plan.offset_into_first_range) + " bytes before the range");
  }
  std::uint64_t unpacked = 0;
  for (const hub::XetTerm& term : plan.terms) {
    // Every chunk holds at least one byte.
    if (term.chunk_end - term.chunk_start > term.unpacked_length) {
      return common::Unexpected<std::string>("a term of " + std::to_string(term.unpacked_length) +
                                             " bytes lists more chunks than bytes");
    }
    unpacked += term.unpacked_length;
  }
  if (unpacked > plan.offset_into_first_range + want + xet::kMaxUncompressedChunkSize) {
    return common::Unexpected<std::string>("it spans " + std::to_string(unpacked) + " bytes for " +
                                           std::to_string(want));
  }
  std::uint64_t fetched = 0;
  std::uint64_t held = 0;  // a multipart answer is held twice: the body and its parts
  for (const auto& [xorb, fetches] : plan.fetches) {
    for (const hub::XetFetch& f : fetches) {
      std::uint64_t bytes = 0;
      for (const hub::XetRange& r : f.ranges) bytes += r.byte_last - r.byte_first + 1;
      fetched += bytes;
      held += f.ranges.size() > 1 ? 2 * bytes : bytes;
    }
  }
  if (fetched > kFetchSlack * unpacked + kFetchAllowance) {
    return common::Unexpected<std::string>("it asks to fetch " + std::to_string(fetched) +
                                           " bytes for " + std::to_string(unpacked) +
                                           " bytes of file");
  }
  return unpacked + held;
}

}  // namespace

XetReadStats XetRangeSource::stats() const {
  return {chunks_from_cache_.load(), chunks_fetched_.load(), xorb_bytes_fetched_.load(),
          reconstructions_.load(), hash_mismatches_.load()};
}

hub::HubResult<std::size_t> XetRangeSource::readRange(const FileRef& file, std::uint64_t offset,
                                                      std::span<char> out,
                                                      const std::stop_token& stop) {
  if (file.xet_hash.empty()) {
    return plain_->readRange(file, offset, out, stop);
  }
  return readXet(file, offset, out, stop);
}

hub::HubResult<void> XetRangeSource::fetchInto(const std::string& xorb, const hub::XetFetch& fetch,
                                               ChunkMap& chunks, const KnownMap& known,
                                               XetChunkIndex::Batch& learned,
                                               const std::stop_token& stop) {
  auto xorb_hash = MerkleHash::fromHex(xorb);
  if (!xorb_hash) return corrupt("reconstruction names a malformed xorb hash");
  auto fetched = hub_->xetFetch(fetch, stop);
  if (!fetched) return common::Unexpected<hub::HubError>(fetched.error());
  const std::vector<std::string>& parts = chunks.bodies.emplace_back(std::move(*fetched));
  for (std::size_t r = 0; r < fetch.ranges.size(); ++r) {
    if (stop.stop_requested()) return canceled();
    const hub::XetRange& range = fetch.ranges[r];
    const std::string& part = parts[r];
    xorb_bytes_fetched_ += part.size();
    xet::ChunkReader reader(asBytes(part));
    for (std::uint32_t index = range.chunk_start; index < range.chunk_end; ++index) {
      std::vector<std::uint8_t> decoded;
      auto more = reader.nextView(decoded);
      if (!more || !*more) {
        return corrupt("xorb " + xorb + " chunk " + std::to_string(index) + " does not decode" +
                       (more ? std::string() : ": " + more.error().message));
      }
      Chunk chunk{xet::chunkHash(**more), **more, std::move(decoded), true};
      std::string key = chunkKey(xorb, index);
      auto was = known.find(key);
      if (was != known.end() &&
          (was->second.hash != chunk.hash || was->second.size != chunk.bytes.size())) {
        ++hash_mismatches_;
        spdlog::error("xet: chunk {} of xorb {} hashes to {}, expected {}", index, xorb,
                      chunk.hash.hex(), was->second.hash.hex());
        return corrupt("xorb " + xorb + " chunk " + std::to_string(index) +
                       " does not match its hash");
      }
      ++chunks_fetched_;
      if (was == known.end()) {
        const XetChunkId id{chunk.hash, static_cast<std::uint32_t>(chunk.bytes.size())};
        learned.chunkAt(*xorb_hash, index, id);
        learned.location(chunk.hash, *xorb_hash, index);
      }
      chunks.by_key.insert_or_assign(std::move(key), std::move(chunk));
    }
    if (reader.offset() != part.size()) {
      return corrupt("xorb " + xorb + " range holds more than its chunks");
    }
  }
  return {};
}

hub::HubResult<void> XetRangeSource::gather(const hub::XetReconstruction& plan, ChunkMap& chunks,
                                            XetChunkIndex::Batch& learned,
                                            const std::stop_token& stop) {
  // Every hash known for a chunk of the plan, whether its bytes were found or not: a fetch that
  // brings the chunk again (a range holding it and a missing one) must match it too.
  KnownMap known;
  std::unordered_set<std::string> unknown;
  for (const hub::XetTerm& term : plan.terms) {
    if (stop.stop_requested()) return canceled();
    auto xorb = MerkleHash::fromHex(term.xorb_hash);
    if (!xorb) return corrupt("reconstruction names a malformed xorb hash");
    for (std::uint32_t index = term.chunk_start; index < term.chunk_end; ++index) {
      std::string key = chunkKey(term.xorb_hash, index);
      if (known.count(key) != 0 || unknown.count(key) != 0) continue;
      auto id = index_.chunkAt(*xorb, index);
      if (!id) {
        unknown.insert(std::move(key));
        continue;
      }
      known.emplace(key, *id);
      if (auto bytes = index_.readChunk(*id)) {
        ++chunks_from_cache_;
        Chunk chunk{id->hash, {}, std::move(*bytes), false};
        chunk.bytes = chunk.owned;
        chunks.by_key.emplace(std::move(key), std::move(chunk));
      }
    }
  }
  for (const auto& [xorb, fetches] : plan.fetches) {
    for (const hub::XetFetch& fetch : fetches) {
      bool missing = false;
      for (const hub::XetRange& r : fetch.ranges) {
        for (std::uint32_t i = r.chunk_start; i < r.chunk_end && !missing; ++i) {
          missing = chunks.by_key.count(chunkKey(xorb, i)) == 0;
        }
      }
      if (!missing) continue;
      if (auto st = fetchInto(xorb, fetch, chunks, known, learned, stop); !st) return st;
    }
  }
  return {};
}

void XetRangeSource::placeChunks(const FileRef& file, const hub::XetReconstruction& plan,
                                 const ChunkMap& chunks, std::uint64_t offset, std::uint64_t end,
                                 XetChunkIndex::Batch& learned) {
  std::uint64_t at = offset - plan.offset_into_first_range;
  for (const hub::XetTerm& term : plan.terms) {
    for (std::uint32_t index = term.chunk_start; index < term.chunk_end; ++index) {
      const Chunk& chunk = chunks.by_key.at(chunkKey(term.xorb_hash, index));
      const std::uint64_t size = chunk.bytes.size();
      // A chunk across the edge of the range lies partly in blocks another fetch caches; its
      // place is recorded only when it has none, so a place known whole is kept.
      if (chunk.fetched && size > 0 &&
          ((at >= offset && at + size <= end) || !index_.placeOf(chunk.hash))) {
        learned.place(chunk.hash, {file.content_id, at});
      }
      at += size;
    }
  }
}

hub::HubResult<std::size_t> XetRangeSource::readXet(const FileRef& file, std::uint64_t offset,
                                                    std::span<char> out,
                                                    const std::stop_token& stop) {
  if (offset >= file.size || out.empty()) return std::size_t{0};
  const std::uint64_t want = std::min<std::uint64_t>(out.size(), file.size - offset);
  const std::uint64_t last = offset + want - 1;
  ByteBudget::Lease lease;  // released after `chunks`, whose buffers it counts
  ChunkMap chunks;
  XetChunkIndex::Batch learned(index_);
  hub::HubResult<hub::XetReconstruction> plan = hub::hubError(HubErrorKind::kBadResponse, "");
  for (int attempt = 0; attempt < 2; ++attempt) {
    ++reconstructions_;
    plan = hub_->xetReconstruction(file.repo, file.commit, file.xet_hash, offset, last, stop);
    if (!plan) return common::Unexpected<hub::HubError>(plan.error());
    auto buffers = planBuffers(*plan, offset, want);
    if (!buffers) return corrupt("reconstruction of " + file.path + ": " + buffers.error());
    // A retry starts over, with the new plan's buffers counted.
    chunks = {};
    lease = {};
    lease = budget_.acquire(*buffers, stop);
    if (!lease.held()) return canceled();
    auto st = gather(*plan, chunks, learned, stop);
    if (st) break;
    if (!urlExpired(st.error()) || attempt == 1) {
      return common::Unexpected<hub::HubError>(st.error());
    }
  }
  // Assemble: the terms' chunks in order, less the bytes before `offset`.
  std::uint64_t skip = plan->offset_into_first_range;
  std::size_t written = 0;
  for (const hub::XetTerm& term : plan->terms) {
    std::uint64_t term_bytes = 0;
    for (std::uint32_t index = term.chunk_start; index < term.chunk_end; ++index) {
      auto it = chunks.by_key.find(chunkKey(term.xorb_hash, index));
      if (it == chunks.by_key.end()) {
        return corrupt("reconstruction lists no fetch for chunk " + std::to_string(index) +
                       " of xorb " + term.xorb_hash);
      }
      std::span<const std::uint8_t> bytes = it->second.bytes;
      term_bytes += bytes.size();
      const std::size_t dropped =
          static_cast<std::size_t>(std::min<std::uint64_t>(skip, bytes.size()));
      skip -= dropped;
      bytes = bytes.subspan(dropped);
      const std::size_t n = std::min(bytes.size(), static_cast<std::size_t>(want) - written);
      std::memcpy(out.data() + written, bytes.data(), n);
      written += n;
    }
    if (term_bytes != term.unpacked_length) {
      return corrupt("a term of xorb " + term.xorb_hash + " decodes to " +
                     std::to_string(term_bytes) + " bytes, not " +
                     std::to_string(term.unpacked_length));
    }
  }
  if (written != want) {
    return corrupt("reconstruction of " + file.path + " covers " + std::to_string(written) +
                   " of " + std::to_string(want) + " bytes");
  }
  placeChunks(file, *plan, chunks, offset, offset + want, learned);
  return written;  // `learned` is written as it goes, on every path
}

}  // namespace hfm::fs
