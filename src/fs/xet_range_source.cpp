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

std::optional<XetRangeSource::Chunk> XetRangeSource::cached(const MerkleHash& xorb,
                                                            std::uint32_t index) {
  if (cache_ == nullptr) return std::nullopt;
  auto known = chunkAt(*cache_, xorb, index);
  if (!known || known->size > xet::kMaxUncompressedChunkSize) return std::nullopt;
  Chunk chunk{known->hash, std::vector<std::uint8_t>(known->size)};
  auto got = cache_->read(chunk.hash.hex(), 0, 0,
                          {reinterpret_cast<char*>(chunk.bytes.data()), chunk.bytes.size()});
  if (!got || *got != chunk.bytes.size()) return std::nullopt;
  return chunk;
}

void XetRangeSource::remember(const MerkleHash& xorb, std::uint32_t index, const Chunk& chunk) {
  if (cache_ == nullptr) return;
  // The bytes first: an index entry without its chunk is only a miss, never a wrong answer.
  if (cache_->write(chunk.hash.hex(), 0,
                    {reinterpret_cast<const char*>(chunk.bytes.data()), chunk.bytes.size()})) {
    recordChunk(*cache_, xorb, index,
                XetChunkId{chunk.hash, static_cast<std::uint32_t>(chunk.bytes.size())});
  }
}

hub::HubResult<void> XetRangeSource::fetchInto(const std::string& xorb,
                                               const hub::XetFetch& fetch, ChunkMap& chunks,
                                               const std::stop_token& stop) {
  auto xorb_hash = MerkleHash::fromHex(xorb);
  if (!xorb_hash) return corrupt("reconstruction names a malformed xorb hash");
  auto parts = hub_->xetFetch(fetch, stop);
  if (!parts) return common::Unexpected<hub::HubError>(parts.error());
  std::vector<std::uint8_t> decoded;
  for (std::size_t r = 0; r < fetch.ranges.size(); ++r) {
    const hub::XetRange& range = fetch.ranges[r];
    const std::string& part = (*parts)[r];
    xorb_bytes_fetched_ += part.size();
    xet::ChunkReader reader(asBytes(part));
    for (std::uint32_t index = range.chunk_start; index < range.chunk_end; ++index) {
      auto more = reader.next(decoded);
      if (!more || !*more) {
        return corrupt("xorb " + xorb + " chunk " + std::to_string(index) + " does not decode" +
                       (more ? std::string() : ": " + more.error().message));
      }
      Chunk chunk{xet::chunkHash(decoded), std::move(decoded)};
      decoded = {};
      auto known = cache_ != nullptr ? chunkAt(*cache_, *xorb_hash, index) : std::nullopt;
      if (known && (known->hash != chunk.hash || known->size != chunk.bytes.size())) {
        ++hash_mismatches_;
        spdlog::error("xet: chunk {} of xorb {} hashes to {}, expected {}", index, xorb,
                      chunk.hash.hex(), known->hash.hex());
        return corrupt("xorb " + xorb + " chunk " + std::to_string(index) +
                       " does not match its hash");
      }
      ++chunks_fetched_;
      remember(*xorb_hash, index, chunk);
      chunks.insert_or_assign(chunkKey(xorb, index), std::move(chunk));
    }
    if (reader.offset() != part.size()) {
      return corrupt("xorb " + xorb + " range holds more than its chunks");
    }
  }
  return {};
}

hub::HubResult<void> XetRangeSource::gather(const hub::XetReconstruction& plan, ChunkMap& chunks,
                                            const std::stop_token& stop) {
  for (const hub::XetTerm& term : plan.terms) {
    auto xorb = MerkleHash::fromHex(term.xorb_hash);
    if (!xorb) return corrupt("reconstruction names a malformed xorb hash");
    for (std::uint32_t index = term.chunk_start; index < term.chunk_end; ++index) {
      std::string key = chunkKey(term.xorb_hash, index);
      if (chunks.count(key) != 0) continue;
      if (auto hit = cached(*xorb, index)) {
        ++chunks_from_cache_;
        chunks.emplace(std::move(key), std::move(*hit));
      }
    }
  }
  for (const auto& [xorb, fetches] : plan.fetches) {
    for (const hub::XetFetch& fetch : fetches) {
      bool needed = false;
      for (const hub::XetRange& r : fetch.ranges) {
        for (std::uint32_t i = r.chunk_start; i < r.chunk_end && !needed; ++i) {
          needed = chunks.count(chunkKey(xorb, i)) == 0;
        }
      }
      if (needed) {
        if (auto st = fetchInto(xorb, fetch, chunks, stop); !st) return st;
      }
    }
  }
  return {};
}

hub::HubResult<std::size_t> XetRangeSource::readXet(const FileRef& file, std::uint64_t offset,
                                                    std::span<char> out,
                                                    const std::stop_token& stop) {
  if (offset >= file.size || out.empty()) return std::size_t{0};
  const std::uint64_t want = std::min<std::uint64_t>(out.size(), file.size - offset);
  const std::uint64_t last = offset + want - 1;
  ChunkMap chunks;
  hub::HubResult<hub::XetReconstruction> plan = hub::hubError(HubErrorKind::kBadResponse, "");
  for (int attempt = 0; attempt < 2; ++attempt) {
    ++reconstructions_;
    plan = hub_->xetReconstruction(file.repo, file.commit, file.xet_hash, offset, last, stop);
    if (!plan) return common::Unexpected<hub::HubError>(plan.error());
    auto st = gather(*plan, chunks, stop);
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
      auto it = chunks.find(chunkKey(term.xorb_hash, index));
      if (it == chunks.end()) {
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
      return corrupt("a term of xorb " + term.xorb_hash + " decodes to " +
                     std::to_string(term_bytes) + " bytes, not " +
                     std::to_string(term.unpacked_length));
    }
  }
  if (written != want) {
    return corrupt("reconstruction of " + file.path + " covers " + std::to_string(written) +
                   " of " + std::to_string(want) + " bytes");
  }
  return written;
}

}  // namespace hfm::fs
