// SPDX-License-Identifier: Apache-2.0
#include "xet/xorb.h"

#include <lz4frame.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "xet/hashing.h"

namespace hfm::xet {
namespace {

using common::ErrorKind;
using common::makeError;

// A broken precondition is a programmer error: log and abort (the HFM_CHECK contract).
void require(bool condition, const char* message) {
  if (!condition) {
    std::fprintf(stderr, "xet/xorb: precondition failed: %s\n", message);
    std::abort();
  }
}

std::uint32_t readU24(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16);
}

void putU24(std::uint8_t* p, std::size_t value) {
  p[0] = static_cast<std::uint8_t>(value & 0xFF);
  p[1] = static_cast<std::uint8_t>((value >> 8) & 0xFF);
  p[2] = static_cast<std::uint8_t>((value >> 16) & 0xFF);
}

struct Lz4DecompressDeleter {
  void operator()(LZ4F_dctx* ctx) const { LZ4F_freeDecompressionContext(ctx); }
};
using Lz4DecompressContext = std::unique_ptr<LZ4F_dctx, Lz4DecompressDeleter>;

// Compresses `input` as one LZ4 frame into `out` (replacing its contents). False when liblz4
// fails, which the caller treats like "did not shrink".
bool lz4CompressFrame(std::span<const std::uint8_t> input, std::vector<std::uint8_t>& out) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  out.resize(LZ4F_compressFrameBound(input.size(), &prefs));
  std::size_t written =
      LZ4F_compressFrame(out.data(), out.size(), input.data(), input.size(), &prefs);
  if (LZ4F_isError(written) != 0) {
    out.clear();
    return false;
  }
  out.resize(written);
  return true;
}

// Decodes exactly one LZ4 frame that must fill `out` exactly and take up all of `frame`.
common::Status lz4DecompressFrame(std::span<const std::uint8_t> frame,
                                  std::span<std::uint8_t> out) {
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION)) != 0 || raw == nullptr) {
    return makeError(ErrorKind::kIo, "xorb chunk: cannot create an LZ4 decompression context");
  }
  Lz4DecompressContext ctx(raw);
  // liblz4 wants a non-null destination even when it may write nothing.
  std::uint8_t scratch = 0;
  std::uint8_t* dst_base = out.empty() ? &scratch : out.data();
  std::size_t src_pos = 0;
  std::size_t dst_pos = 0;
  while (true) {
    std::size_t src_size = frame.size() - src_pos;
    std::size_t dst_size = out.size() - dst_pos;
    const std::uint8_t* src = frame.empty() ? &scratch : frame.data() + src_pos;
    std::size_t hint =
        LZ4F_decompress(ctx.get(), dst_base + dst_pos, &dst_size, src, &src_size, nullptr);
    if (LZ4F_isError(hint) != 0) {
      return makeError(ErrorKind::kCorrupt,
                       std::string("xorb chunk: bad LZ4 frame: ") + LZ4F_getErrorName(hint));
    }
    src_pos += src_size;
    dst_pos += dst_size;
    if (hint == 0) {
      break;  // the frame is complete
    }
    if (src_size == 0 && dst_size == 0) {
      // No progress: either the input ran out mid-frame or the output is full and the frame
      // wants to write more.
      return makeError(ErrorKind::kCorrupt, src_pos == frame.size()
                                                ? "xorb chunk: truncated LZ4 frame"
                                                : "xorb chunk: LZ4 frame larger than its header");
    }
  }
  if (src_pos != frame.size()) {
    return makeError(ErrorKind::kCorrupt, "xorb chunk: bytes after the LZ4 frame");
  }
  if (dst_pos != out.size()) {
    return makeError(ErrorKind::kCorrupt, "xorb chunk: LZ4 frame smaller than its header");
  }
  return {};
}

}  // namespace

namespace detail {

void bg4Split(std::span<const std::uint8_t> input, std::span<std::uint8_t> out) {
  require(out.size() == input.size(), "bg4Split: sizes differ");
  const std::size_t n = input.size();
  std::size_t pos = 0;
  for (std::size_t lane = 0; lane < 4; ++lane) {
    for (std::size_t i = lane; i < n; i += 4) {
      out[pos++] = input[i];
    }
  }
}

void bg4Regroup(std::span<const std::uint8_t> grouped, std::span<std::uint8_t> out) {
  require(out.size() == grouped.size(), "bg4Regroup: sizes differ");
  const std::size_t n = grouped.size();
  std::size_t pos = 0;
  for (std::size_t lane = 0; lane < 4; ++lane) {
    for (std::size_t i = lane; i < n; i += 4) {
      out[i] = grouped[pos++];
    }
  }
}

}  // namespace detail

common::Result<ChunkHeader> parseChunkHeader(std::span<const std::uint8_t> header) {
  if (header.size() < kChunkHeaderSize) {
    return makeError(ErrorKind::kCorrupt, "xorb chunk: truncated header");
  }
  static constexpr std::array<std::uint8_t, 7> kFooterTag = {'X', 'E', 'T', 'B', 'L', 'O', 'B'};
  if (std::memcmp(header.data(), kFooterTag.data(), kFooterTag.size()) == 0) {
    return makeError(ErrorKind::kCorrupt, "xorb chunk: a xorb footer where a chunk header belongs");
  }
  if (header[0] != 0) {
    return makeError(ErrorKind::kCorrupt,
                     "xorb chunk: unknown header version " + std::to_string(header[0]));
  }
  ChunkHeader out;
  out.compressed_size = readU24(header.data() + 1);
  out.uncompressed_size = readU24(header.data() + 5);
  std::uint8_t scheme = header[4];
  if (scheme > static_cast<std::uint8_t>(CompressionScheme::kByteGrouping4Lz4)) {
    return makeError(ErrorKind::kCorrupt,
                     "xorb chunk: unknown compression scheme " + std::to_string(scheme));
  }
  out.scheme = static_cast<CompressionScheme>(scheme);
  if (out.uncompressed_size > kMaxUncompressedChunkSize) {
    return makeError(ErrorKind::kCorrupt, "xorb chunk: uncompressed size " +
                                              std::to_string(out.uncompressed_size) +
                                              " over the limit");
  }
  if (out.compressed_size > kMaxCompressedChunkSize) {
    return makeError(
        ErrorKind::kCorrupt,
        "xorb chunk: compressed size " + std::to_string(out.compressed_size) + " over the limit");
  }
  return out;
}

common::Status decodeChunkPayload(const ChunkHeader& header, std::span<const std::uint8_t> payload,
                                  std::vector<std::uint8_t>& out) {
  out.clear();
  if (payload.size() != header.compressed_size) {
    return makeError(ErrorKind::kCorrupt, "xorb chunk: payload size differs from its header");
  }
  if (header.uncompressed_size > kMaxUncompressedChunkSize ||
      header.compressed_size > kMaxCompressedChunkSize) {
    return makeError(ErrorKind::kCorrupt, "xorb chunk: sizes over the limit");
  }
  switch (header.scheme) {
    case CompressionScheme::kNone:
      if (header.compressed_size != header.uncompressed_size) {
        return makeError(ErrorKind::kCorrupt, "xorb chunk: raw chunk whose sizes differ");
      }
      out.assign(payload.begin(), payload.end());
      return {};
    case CompressionScheme::kLz4: {
      out.resize(header.uncompressed_size);
      auto status = lz4DecompressFrame(payload, out);
      if (!status) {
        out.clear();
      }
      return status;
    }
    case CompressionScheme::kByteGrouping4Lz4: {
      std::vector<std::uint8_t> grouped(header.uncompressed_size);
      auto status = lz4DecompressFrame(payload, grouped);
      if (!status) {
        return status;
      }
      out.resize(grouped.size());
      detail::bg4Regroup(grouped, out);
      return {};
    }
  }
  return makeError(ErrorKind::kCorrupt, "xorb chunk: unknown compression scheme");
}

std::size_t appendChunk(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> chunk,
                        CompressionScheme scheme) {
  require(chunk.size() <= kMaxUncompressedChunkSize, "appendChunk: chunk over 128 KiB");
  std::vector<std::uint8_t> compressed;
  bool is_compressed = false;
  if (scheme == CompressionScheme::kLz4) {
    is_compressed = lz4CompressFrame(chunk, compressed);
  } else if (scheme == CompressionScheme::kByteGrouping4Lz4) {
    std::vector<std::uint8_t> grouped(chunk.size());
    detail::bg4Split(chunk, grouped);
    is_compressed = lz4CompressFrame(grouped, compressed);
  }
  if (!is_compressed || compressed.size() >= chunk.size()) {
    scheme = CompressionScheme::kNone;
  }
  std::span<const std::uint8_t> payload =
      scheme == CompressionScheme::kNone ? chunk : std::span<const std::uint8_t>(compressed);

  std::array<std::uint8_t, kChunkHeaderSize> header{};
  header[0] = 0;
  putU24(header.data() + 1, payload.size());
  header[4] = static_cast<std::uint8_t>(scheme);
  putU24(header.data() + 5, chunk.size());
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return header.size() + payload.size();
}

common::Result<bool> ChunkReader::next(std::vector<std::uint8_t>& out) {
  auto view = nextView(out);
  if (!view) return makeError(view.error().kind, view.error().message);
  if (!*view) return false;
  if ((*view)->data() != out.data()) out.assign((*view)->begin(), (*view)->end());
  return true;
}

common::Result<std::optional<std::span<const std::uint8_t>>> ChunkReader::nextView(
    std::vector<std::uint8_t>& scratch) {
  scratch.clear();
  if (offset_ == data_.size()) {
    return std::optional<std::span<const std::uint8_t>>();
  }
  auto rest = data_.subspan(offset_);
  auto header = parseChunkHeader(rest);
  if (!header) {
    return makeError(header.error().kind,
                     header.error().message + " at offset " + std::to_string(offset_));
  }
  if (rest.size() - kChunkHeaderSize < header->compressed_size) {
    return makeError(ErrorKind::kCorrupt,
                     "xorb chunk: truncated payload at offset " + std::to_string(offset_));
  }
  auto payload = rest.subspan(kChunkHeaderSize, header->compressed_size);
  std::span<const std::uint8_t> view;
  if (header->scheme == CompressionScheme::kNone &&
      header->compressed_size == header->uncompressed_size &&
      header->uncompressed_size <= kMaxUncompressedChunkSize) {
    view = payload;
  } else {
    auto status = decodeChunkPayload(*header, payload, scratch);
    if (!status) {
      return makeError(status.error().kind,
                       status.error().message + " at offset " + std::to_string(offset_));
    }
    view = scratch;
  }
  offset_ += kChunkHeaderSize + header->compressed_size;
  return std::optional<std::span<const std::uint8_t>>(view);
}

XorbBuilder::XorbBuilder(CompressionScheme scheme, std::size_t max_bytes)
    : scheme_(scheme),
      max_bytes_(std::clamp<std::size_t>(max_bytes, kChunkHeaderSize + kMaxUncompressedChunkSize,
                                         kMaxXorbBytes)) {
  // Reserved, not touched: growing by doubling would hold the old and the new buffer at once.
  bytes_.reserve(max_bytes_);
}

bool XorbBuilder::fits(std::size_t chunk_size) const {
  return chunk_size <= kMaxUncompressedChunkSize && chunks_.size() < kMaxXorbChunks &&
         bytes_.size() + kChunkHeaderSize + chunk_size <= max_bytes_;
}

void XorbBuilder::add(const MerkleHash& chunk_hash, std::span<const std::uint8_t> chunk) {
  require(fits(chunk.size()), "XorbBuilder::add: the chunk does not fit");
  appendChunk(bytes_, chunk, scheme_);
  XorbChunk entry;
  entry.hash = chunk_hash;
  entry.uncompressed_offset = static_cast<std::uint32_t>(uncompressed_);
  entry.uncompressed_size = static_cast<std::uint32_t>(chunk.size());
  entry.serialized_end = static_cast<std::uint32_t>(bytes_.size());
  chunks_.push_back(entry);
  uncompressed_ += chunk.size();
}

MerkleHash XorbBuilder::hash() const {
  std::vector<ChunkLeaf> leaves;
  leaves.reserve(chunks_.size());
  for (const auto& chunk : chunks_) {
    leaves.push_back(ChunkLeaf{chunk.hash, chunk.uncompressed_size});
  }
  return xorbHash(leaves);
}

common::Result<XorbIndex> indexXorb(std::span<const std::uint8_t> serialized) {
  if (serialized.empty()) {
    return makeError(ErrorKind::kCorrupt, "xorb: empty");
  }
  if (serialized.size() > kMaxXorbBytes) {
    return makeError(ErrorKind::kInvalidArgument,
                     "xorb: " + std::to_string(serialized.size()) + " bytes, over the limit");
  }
  XorbIndex index;
  std::vector<ChunkLeaf> leaves;
  std::vector<std::uint8_t> chunk;
  ChunkReader reader(serialized);
  std::uint64_t uncompressed = 0;
  while (true) {
    auto more = reader.next(chunk);
    if (!more) {
      return makeError(more.error().kind, std::move(more.error().message));
    }
    if (!*more) {
      break;
    }
    if (index.chunks.size() == kMaxXorbChunks) {
      return makeError(ErrorKind::kInvalidArgument, "xorb: more than 8192 chunks");
    }
    XorbChunk entry;
    entry.hash = chunkHash(chunk);
    entry.uncompressed_offset = static_cast<std::uint32_t>(uncompressed);
    entry.uncompressed_size = static_cast<std::uint32_t>(chunk.size());
    entry.serialized_end = static_cast<std::uint32_t>(reader.offset());
    index.chunks.push_back(entry);
    leaves.push_back(ChunkLeaf{entry.hash, chunk.size()});
    uncompressed += chunk.size();
  }
  index.hash = xorbHash(leaves);
  return index;
}

}  // namespace hfm::xet
