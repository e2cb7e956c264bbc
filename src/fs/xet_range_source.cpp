// SPDX-License-Identifier: Apache-2.0
#include "fs/xet_range_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
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

// 403: the signed xorb URLs of the plan expired; a fresh reconstruction gives new ones.
bool urlExpired(const hub::HubError& e) { return e.http_status == 403; }

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

hub::HubResult<void> XetRangeSource::fetchInto(const std::string& xorb,
                                               const hub::XetFetch& fetch, ChunkMap& chunks,
                                               const KnownMap& known,
                                               XetChunkIndex::Batch& learned,
                                               const std::stop_token& stop) {
  auto xorb_hash = MerkleHash::fromHex(xorb);
  if (!xorb_hash) return corrupt("reconstruction names a malformed xorb hash");
  auto fetched = hub_->xetFetch(fetch, stop);
  if (!fetched) return common::Unexpected<hub::HubError>(fetched.error());
  const std::vector<std::string>& parts = chunks.bodies.emplace_back(std::move(*fetched));
  for (std::size_t r = 0; r < fetch.ranges.size(); ++r) {
    if (stop.stop_requested()) return hub::hubError(HubErrorKind::kCanceled, "read canceled");
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
  KnownMap known;
  std::uint64_t unpacked = 0;
  for (const hub::XetTerm& term : plan.terms) {
    unpacked += term.unpacked_length;
    auto xorb = MerkleHash::fromHex(term.xorb_hash);
    if (!xorb) return corrupt("reconstruction names a malformed xorb hash");
    for (std::uint32_t index = term.chunk_start; index < term.chunk_end; ++index) {
      std::string key = chunkKey(term.xorb_hash, index);
      if (chunks.by_key.count(key) != 0 || known.count(key) != 0) continue;
      auto id = index_.chunkAt(*xorb, index);
      if (!id) continue;
      if (auto bytes = index_.readChunk(*id)) {
        ++chunks_from_cache_;
        Chunk chunk{id->hash, {}, std::move(*bytes), false};
        chunk.bytes = chunk.owned;
        chunks.by_key.emplace(std::move(key), std::move(chunk));
      } else {
        known.emplace(std::move(key), *id);
      }
    }
  }
  // What the plan asks to download, bounded by what it promises to decode: a hostile plan could
  // otherwise make one small read fetch and decode gigabytes.
  std::uint64_t to_fetch = 0;
  std::vector<std::pair<const std::string*, const hub::XetFetch*>> needed;
  for (const auto& [xorb, fetches] : plan.fetches) {
    for (const hub::XetFetch& fetch : fetches) {
      bool missing = false;
      for (const hub::XetRange& r : fetch.ranges) {
        for (std::uint32_t i = r.chunk_start; i < r.chunk_end && !missing; ++i) {
          missing = chunks.by_key.count(chunkKey(xorb, i)) == 0;
        }
      }
      if (!missing) continue;
      for (const hub::XetRange& r : fetch.ranges) to_fetch += r.byte_last - r.byte_first + 1;
      needed.emplace_back(&xorb, &fetch);
    }
  }
  if (to_fetch > kFetchSlack * unpacked + kFetchAllowance) {
    return corrupt("reconstruction asks to fetch " + std::to_string(to_fetch) + " bytes for " +
                   std::to_string(unpacked) + " bytes of file");
  }
  for (const auto& [xorb, fetch] : needed) {
    if (auto st = fetchInto(*xorb, *fetch, chunks, known, learned, stop); !st) return st;
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
    if (plan->offset_into_first_range > std::min<std::uint64_t>(offset, xet::kMaxUncompressedChunkSize)) {
      return corrupt("reconstruction of " + file.path + " starts " +
                     std::to_string(plan->offset_into_first_range) + " bytes before the range");
    }
    std::uint64_t unpacked = 0;
    for (const hub::XetTerm& term : plan->terms) unpacked += term.unpacked_length;
    if (unpacked > plan->offset_into_first_range + want + xet::kMaxUncompressedChunkSize) {
      return corrupt("reconstruction of " + std::to_string(want) + " bytes of " + file.path +
                     " spans " + std::to_string(unpacked) + " bytes");
    }
    if (!lease.held()) {
      // The plan's buffers: chunks read back or decoded (at most what its terms unpack to) and
      // the xorb ranges it may fetch.
      std::uint64_t fetch_bytes = 0;
      for (const auto& [xorb, fetches] : plan->fetches) {
        for (const hub::XetFetch& f : fetches) {
          for (const hub::XetRange& r : f.ranges) fetch_bytes += r.byte_last - r.byte_first + 1;
        }
      }
      lease = budget_.acquire(unpacked + fetch_bytes, stop);
      if (!lease.held()) return hub::hubError(HubErrorKind::kCanceled, "read canceled");
    }
    auto st = gather(*plan, chunks, learned, stop);
    if (st) break;
    if (!urlExpired(st.error()) || attempt == 1) {
      learned.commit();  // what was checked stays known
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
      const std::size_t dropped = static_cast<std::size_t>(std::min<std::uint64_t>(skip, bytes.size()));
      skip -= dropped;
      bytes = bytes.subspan(dropped);
      const std::size_t n = std::min(bytes.size(), static_cast<std::size_t>(want) - written);
      std::memcpy(out.data() + written, bytes.data(), n);
      written += n;
    }
    if (term_bytes != term.unpacked_length) {
      learned.commit();
      return corrupt("a term of xorb " + term.xorb_hash + " decodes to " +
                     std::to_string(term_bytes) + " bytes, not " +
                     std::to_string(term.unpacked_length));
    }
  }
  if (written != want) {
    learned.commit();
    return corrupt("reconstruction of " + file.path + " covers " + std::to_string(written) +
                   " of " + std::to_string(want) + " bytes");
  }
  placeChunks(file, *plan, chunks, offset, offset + want, learned);
  learned.commit();
  return written;
}

}  // namespace hfm::fs
