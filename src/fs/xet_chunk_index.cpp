// SPDX-License-Identifier: Apache-2.0
#include "fs/xet_chunk_index.h"

#include <array>
#include <cstring>

#include "xet/hashing.h"

namespace hfm::fs {

namespace {

using xet::MerkleHash;

constexpr std::size_t kRecordBytes = MerkleHash::kSize + 4;

// Records store their numbers little-endian, in `bytes` bytes.
void appendLe(std::string& out, std::uint64_t n, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
}

std::uint64_t loadLe(const char* p, std::size_t bytes) {
  std::uint64_t n = 0;
  for (std::size_t i = bytes; i-- > 0;) n = (n << 8) | static_cast<std::uint8_t>(p[i]);
  return n;
}

std::string hashRecord(const MerkleHash& hash, std::uint32_t n) {
  std::string out(reinterpret_cast<const char*>(hash.bytes.data()), MerkleHash::kSize);
  appendLe(out, n, 4);
  return out;
}

std::optional<std::pair<MerkleHash, std::uint32_t>> readHashRecord(cache::BlockStore& cache,
                                                                   const std::string& key,
                                                                   std::uint64_t index) {
  std::array<char, kRecordBytes> raw{};
  auto got = cache.read(key, index, 0, raw);
  if (!got || *got != kRecordBytes) return std::nullopt;
  MerkleHash hash;
  std::memcpy(hash.bytes.data(), raw.data(), MerkleHash::kSize);
  return std::make_pair(hash,
                        static_cast<std::uint32_t>(loadLe(raw.data() + MerkleHash::kSize, 4)));
}

}  // namespace

XetChunkIndex::XetChunkIndex(cache::BlockStore* cache, const std::string& origin)
    : cache_(cache),
      origin_key_(
          xet::chunkHash({reinterpret_cast<const std::uint8_t*>(origin.data()), origin.size()})) {}

std::string XetChunkIndex::originKey(const MerkleHash& hash) const {
  return xet::keyedChunkHash(origin_key_, hash).hex();
}

std::optional<XetChunkId> XetChunkIndex::chunkAt(const MerkleHash& xorb,
                                                 std::uint32_t index) const {
  if (cache_ == nullptr) return std::nullopt;
  auto r = readHashRecord(*cache_, originKey(xorb), 1 + std::uint64_t{index});
  if (!r) return std::nullopt;
  return XetChunkId{r->first, r->second};
}

std::optional<xet::ChunkLocation> XetChunkIndex::findChunk(const MerkleHash& chunk) const {
  if (cache_ == nullptr) return std::nullopt;
  auto r = readHashRecord(*cache_, originKey(chunk), kXetLocationIndex);
  if (!r) return std::nullopt;
  return xet::ChunkLocation{r->first, r->second};
}

std::optional<XetChunkPlace> XetChunkIndex::placeOf(const MerkleHash& chunk) const {
  if (cache_ == nullptr) return std::nullopt;
  std::array<char, 8 + cache::kMaxContentIdBytes> raw{};
  auto got = cache_->read(chunk.hex(), kXetPlaceIndex, 0, raw);
  if (!got || *got <= 8) return std::nullopt;
  XetChunkPlace place;
  place.offset = loadLe(raw.data(), 8);
  place.content_id.assign(raw.data() + 8, *got - 8);
  return place;
}

std::optional<std::vector<std::uint8_t>> XetChunkIndex::readChunk(const XetChunkId& chunk) const {
  auto place = placeOf(chunk.hash);
  if (!place || chunk.size == 0 || chunk.size > xet::kMaxUncompressedChunkSize) return std::nullopt;
  std::vector<std::uint8_t> bytes(chunk.size);
  const std::uint64_t block = cache_->blockSize();
  std::size_t done = 0;
  while (done < bytes.size()) {
    const std::uint64_t at = place->offset + done;
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size() - done, block - at % block));
    auto got = cache_->read(place->content_id, at / block, at % block,
                            {reinterpret_cast<char*>(bytes.data()) + done, n});
    if (!got || *got != n) return std::nullopt;
    done += n;
  }
  if (xet::chunkHash(bytes) != chunk.hash) return std::nullopt;
  return bytes;
}

XetChunkIndex::Batch::~Batch() {
  try {
    commit();
  } catch (...) {  // a record lost is only a lost shortcut
  }
}

void XetChunkIndex::Batch::chunkAt(const MerkleHash& xorb, std::uint32_t index,
                                   const XetChunkId& chunk) {
  if (!index_.enabled()) return;
  records_.push_back(
      {index_.originKey(xorb), 1 + std::uint64_t{index}, hashRecord(chunk.hash, chunk.size)});
}

void XetChunkIndex::Batch::location(const MerkleHash& chunk, const MerkleHash& xorb,
                                    std::uint32_t index) {
  if (!index_.enabled()) return;
  records_.push_back({index_.originKey(chunk), kXetLocationIndex, hashRecord(xorb, index)});
}

void XetChunkIndex::Batch::place(const MerkleHash& chunk, const XetChunkPlace& place) {
  if (!index_.enabled()) return;
  std::string value;
  appendLe(value, place.offset, 8);
  value += place.content_id;
  records_.push_back({chunk.hex(), kXetPlaceIndex, std::move(value)});
}

void XetChunkIndex::Batch::commit() {
  if (records_.empty()) return;
  std::vector<cache::BlockWrite> writes;
  writes.reserve(records_.size());
  for (const Record& r : records_) writes.push_back({r.key, r.index, r.value});
  (void)index_.cache_->writeMany(writes);  // a record lost is only a lost shortcut
  records_.clear();
}

}  // namespace hfm::fs
