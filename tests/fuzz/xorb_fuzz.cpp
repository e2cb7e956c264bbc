// SPDX-License-Identifier: Apache-2.0
// Serialized xorbs as a server receives them: every chunk the reader accepts decodes to its
// header's size and survives encoding again with every scheme, and indexXorb agrees with the
// reader (same chunks, hashes recomputed, and a rebuilt xorb has the same hash).

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.h"
#include "xet/hashing.h"
#include "xet/xorb.h"

namespace {
using hfm::xet::chunkHash;
using hfm::xet::ChunkReader;
using hfm::xet::CompressionScheme;
using hfm::xet::kChunkHeaderSize;
using hfm::xet::kMaxUncompressedChunkSize;
using hfm::xet::kMaxXorbChunks;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> input(data, size);

  ChunkReader reader(input);
  std::vector<std::vector<std::uint8_t>> chunks;
  std::vector<std::uint8_t> chunk;
  bool is_valid = true;
  while (true) {
    std::size_t before = reader.offset();
    auto more = reader.next(chunk);
    if (!more) {
      HFM_FUZZ_CHECK(more.error().kind == hfm::common::ErrorKind::kCorrupt);
      HFM_FUZZ_CHECK(reader.offset() == before);
      is_valid = false;
      break;
    }
    if (!*more) {
      HFM_FUZZ_CHECK(reader.offset() == size);
      break;
    }
    auto header = hfm::xet::parseChunkHeader(input.subspan(before));
    HFM_FUZZ_CHECK(header.has_value());
    HFM_FUZZ_CHECK(chunk.size() == header->uncompressed_size);
    HFM_FUZZ_CHECK(chunk.size() <= kMaxUncompressedChunkSize);
    HFM_FUZZ_CHECK(reader.offset() == before + kChunkHeaderSize + header->compressed_size);
    chunks.push_back(chunk);
  }

  auto index = hfm::xet::indexXorb(input);
  if (is_valid && !chunks.empty() && chunks.size() <= kMaxXorbChunks) {
    HFM_FUZZ_CHECK(index.has_value());
  }
  if (!index) {
    return 0;
  }
  HFM_FUZZ_CHECK(is_valid && index->chunks.size() == chunks.size());
  HFM_FUZZ_CHECK(index->chunks.back().serialized_end == size);

  // Every decoded chunk encodes (each scheme) and decodes back to itself, and a xorb rebuilt
  // from them has the same hash and table apart from the serialized offsets.
  hfm::xet::XorbBuilder rebuilt(CompressionScheme::kByteGrouping4Lz4);
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const auto& entry = index->chunks[i];
    HFM_FUZZ_CHECK(entry.uncompressed_offset == offset);
    HFM_FUZZ_CHECK(entry.uncompressed_size == chunks[i].size());
    HFM_FUZZ_CHECK(entry.hash == chunkHash(chunks[i]));
    offset += chunks[i].size();
    for (auto scheme : {CompressionScheme::kNone, CompressionScheme::kLz4,
                        CompressionScheme::kByteGrouping4Lz4}) {
      std::vector<std::uint8_t> encoded;
      std::size_t appended = hfm::xet::appendChunk(encoded, chunks[i], scheme);
      HFM_FUZZ_CHECK(appended == encoded.size());
      HFM_FUZZ_CHECK(encoded.size() <= kChunkHeaderSize + chunks[i].size());
      ChunkReader again(encoded);
      std::vector<std::uint8_t> decoded;
      auto ok = again.next(decoded);
      HFM_FUZZ_CHECK(ok.has_value() && *ok && decoded == chunks[i]);
    }
    if (rebuilt.fits(chunks[i].size())) {
      rebuilt.add(entry.hash, chunks[i]);
    }
  }
  if (rebuilt.chunks().size() == chunks.size()) {
    HFM_FUZZ_CHECK(rebuilt.hash() == index->hash);
    auto reindexed = hfm::xet::indexXorb(rebuilt.bytes());
    HFM_FUZZ_CHECK(reindexed.has_value() && reindexed->hash == index->hash);
  }
  return 0;
}
