// SPDX-License-Identifier: Apache-2.0
#include "xet/shard.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace hfm::xet {
namespace {

using common::ErrorKind;
using common::makeError;

constexpr std::size_t kRecordSize = 48;
constexpr std::size_t kHeaderSize = 48;
constexpr std::size_t kFooterSize = 200;
constexpr std::uint64_t kHeaderVersion = 2;
constexpr std::uint64_t kFooterVersion = 1;
constexpr std::uint32_t kFlagVerification = 0x80000000U;
constexpr std::uint32_t kFlagMetadataExt = 0x40000000U;

// "HFRepoMetaData", a zero byte, then 17 fixed bytes (XET.md §4.2).
constexpr std::array<std::uint8_t, 32> kHeaderTag = {
    'H', 'F', 'R', 'e', 'p', 'o', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a', 0,  85,
    105, 103, 69,  106, 123, 129, 87,  131, 165, 189, 217, 92,  205, 209, 74, 169};

// Footer field offsets (XET.md §4.5).
constexpr std::size_t kFooterVersionAt = 0;
constexpr std::size_t kFooterFileInfoAt = 8;
constexpr std::size_t kFooterCasInfoAt = 16;
constexpr std::size_t kFooterFileLookupAt = 24;
constexpr std::size_t kFooterXorbLookupAt = 40;
constexpr std::size_t kFooterChunkLookupAt = 56;
constexpr std::size_t kFooterHmacKeyAt = 72;
constexpr std::size_t kFooterCreationAt = 104;
constexpr std::size_t kFooterExpiryAt = 112;
constexpr std::size_t kFooterStoredOnDiskAt = 168;
constexpr std::size_t kFooterMaterializedAt = 176;
constexpr std::size_t kFooterStoredAt = 184;
constexpr std::size_t kFooterOffsetAt = 192;

void require(bool condition, const char* message) {
  if (!condition) {
    std::fprintf(stderr, "xet/shard: precondition failed: %s\n", message);
    std::abort();
  }
}

// --- writing ---

void putU32(std::uint8_t* p, std::uint32_t value) {
  for (std::size_t i = 0; i < 4; ++i) {
    p[i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

void putU64(std::uint8_t* p, std::uint64_t value) {
  for (std::size_t i = 0; i < 8; ++i) {
    p[i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

// Appends one zeroed 48-byte record that starts with `hash` and returns a pointer to byte 32.
std::uint8_t* appendRecord(std::vector<std::uint8_t>& out, const MerkleHash& hash) {
  std::size_t at = out.size();
  out.resize(at + kRecordSize, 0);
  std::memcpy(out.data() + at, hash.bytes.data(), MerkleHash::kSize);
  return out.data() + at + MerkleHash::kSize;
}

void appendBookend(std::vector<std::uint8_t>& out) {
  MerkleHash ones;
  ones.bytes.fill(0xFF);
  appendRecord(out, ones);
}

std::uint32_t count32(std::size_t n) {
  require(n <= UINT32_MAX, "serializeShard: a count over 2^32");
  return static_cast<std::uint32_t>(n);
}

// --- reading ---

std::uint32_t readU32(const std::uint8_t* p) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    value |= static_cast<std::uint32_t>(p[i]) << (8 * i);
  }
  return value;
}

std::uint64_t readU64(const std::uint8_t* p) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    value |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  }
  return value;
}

MerkleHash readHash(const std::uint8_t* p) {
  MerkleHash hash;
  std::memcpy(hash.bytes.data(), p, MerkleHash::kSize);
  return hash;
}

bool isBookend(const std::uint8_t* record) {
  return std::all_of(record, record + MerkleHash::kSize, [](std::uint8_t b) { return b == 0xFF; });
}

// Walks the 48-byte records of the two info sections; every access is bounds-checked.
class RecordCursor {
 public:
  RecordCursor(std::span<const std::uint8_t> bytes, std::size_t pos) : bytes_(bytes), pos_(pos) {}
  std::size_t pos() const { return pos_; }
  std::size_t recordsLeft() const { return (bytes_.size() - pos_) / kRecordSize; }
  // The next record, or nullptr when fewer than 48 bytes remain.
  const std::uint8_t* take() {
    if (recordsLeft() == 0) {
      return nullptr;
    }
    const std::uint8_t* record = bytes_.data() + pos_;
    pos_ += kRecordSize;
    return record;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_;
};

common::Unexpected<common::Error> corrupt(const std::string& what, std::size_t at) {
  return makeError(ErrorKind::kCorrupt, "shard: " + what + " at offset " + std::to_string(at));
}

// A record that must not be a bookend (a term, a verification entry, a chunk...).
const std::uint8_t* takeEntry(RecordCursor& cursor) {
  const std::uint8_t* record = cursor.take();
  return record != nullptr && !isBookend(record) ? record : nullptr;
}

common::Result<ShardFile> parseFile(RecordCursor& cursor, const std::uint8_t* header) {
  std::size_t header_at = cursor.pos() - kRecordSize;
  ShardFile file;
  file.file_hash = readHash(header);
  std::uint32_t flags = readU32(header + 32);
  std::uint32_t num_entries = readU32(header + 36);
  bool has_verification = (flags & kFlagVerification) != 0;
  bool has_ext = (flags & kFlagMetadataExt) != 0;
  // Every record this file claims must be present before anything is allocated for it.
  std::uint64_t needed =
      std::uint64_t{num_entries} * (has_verification ? 2 : 1) + (has_ext ? 1 : 0);
  if (needed > cursor.recordsLeft()) {
    return corrupt("file entry counts run past the end", header_at);
  }
  file.terms.reserve(num_entries);
  for (std::uint32_t i = 0; i < num_entries; ++i) {
    const std::uint8_t* record = takeEntry(cursor);
    if (record == nullptr) {
      return corrupt("a bookend where a file term belongs", cursor.pos() - kRecordSize);
    }
    FileTerm term;
    term.xorb_hash = readHash(record);
    term.unpacked_bytes = readU32(record + 36);
    term.chunk_start = readU32(record + 40);
    term.chunk_end = readU32(record + 44);
    if (term.chunk_end <= term.chunk_start) {
      return corrupt("a file term with an empty chunk range", cursor.pos() - kRecordSize);
    }
    file.terms.push_back(term);
  }
  if (has_verification) {
    file.verification.reserve(num_entries);
    for (std::uint32_t i = 0; i < num_entries; ++i) {
      const std::uint8_t* record = takeEntry(cursor);
      if (record == nullptr) {
        return corrupt("fewer verification entries than terms", cursor.pos() - kRecordSize);
      }
      file.verification.push_back(readHash(record));
    }
  }
  if (has_ext) {
    const std::uint8_t* record = takeEntry(cursor);
    if (record == nullptr) {
      return corrupt("a bookend where the file metadata belongs", cursor.pos() - kRecordSize);
    }
    file.sha256 = readHash(record);
  }
  return file;
}

common::Result<ShardXorb> parseXorb(RecordCursor& cursor, const std::uint8_t* header) {
  std::size_t header_at = cursor.pos() - kRecordSize;
  ShardXorb xorb;
  xorb.xorb_hash = readHash(header);
  std::uint32_t num_entries = readU32(header + 36);
  xorb.uncompressed_bytes = readU32(header + 40);
  xorb.serialized_bytes = readU32(header + 44);
  if (num_entries > cursor.recordsLeft()) {
    return corrupt("xorb chunk count runs past the end", header_at);
  }
  xorb.chunks.reserve(num_entries);
  for (std::uint32_t i = 0; i < num_entries; ++i) {
    const std::uint8_t* record = takeEntry(cursor);
    if (record == nullptr) {
      return corrupt("a bookend where a xorb chunk belongs", cursor.pos() - kRecordSize);
    }
    ShardXorbChunk chunk;
    chunk.chunk_hash = readHash(record);
    chunk.uncompressed_offset = readU32(record + 32);
    chunk.uncompressed_size = readU32(record + 36);
    chunk.flags = readU32(record + 40);
    xorb.chunks.push_back(chunk);
  }
  return xorb;
}

}  // namespace

std::vector<std::uint8_t> serializeShard(const Shard& shard, bool with_footer) {
  std::vector<std::uint8_t> out;
  std::size_t records = 2;
  for (const auto& file : shard.files) {
    records += 1 + file.terms.size() + file.verification.size() + (file.sha256 ? 1 : 0);
  }
  for (const auto& xorb : shard.xorbs) {
    records += 1 + xorb.chunks.size();
  }
  out.reserve(kHeaderSize + records * kRecordSize + (with_footer ? kFooterSize : 0));

  out.resize(kHeaderSize, 0);
  std::memcpy(out.data(), kHeaderTag.data(), kHeaderTag.size());
  putU64(out.data() + 32, kHeaderVersion);
  putU64(out.data() + 40, with_footer ? kFooterSize : 0);

  std::uint64_t materialized = 0;
  for (const auto& file : shard.files) {
    require(file.verification.empty() || file.verification.size() == file.terms.size(),
            "serializeShard: verification entries must match the terms one to one");
    std::uint32_t flags = 0;
    if (!file.verification.empty()) {
      flags |= kFlagVerification;
    }
    if (file.sha256) {
      flags |= kFlagMetadataExt;
    }
    std::uint8_t* rest = appendRecord(out, file.file_hash);
    putU32(rest, flags);
    putU32(rest + 4, count32(file.terms.size()));
    for (const auto& term : file.terms) {
      rest = appendRecord(out, term.xorb_hash);
      putU32(rest + 4, term.unpacked_bytes);
      putU32(rest + 8, term.chunk_start);
      putU32(rest + 12, term.chunk_end);
      materialized += term.unpacked_bytes;
    }
    for (const auto& range_hash : file.verification) {
      appendRecord(out, range_hash);
    }
    if (file.sha256) {
      appendRecord(out, *file.sha256);
    }
  }
  appendBookend(out);

  const std::size_t cas_offset = out.size();
  std::uint64_t stored_on_disk = 0;
  std::uint64_t stored = 0;
  for (const auto& xorb : shard.xorbs) {
    std::uint8_t* rest = appendRecord(out, xorb.xorb_hash);
    putU32(rest + 4, count32(xorb.chunks.size()));
    putU32(rest + 8, xorb.uncompressed_bytes);
    putU32(rest + 12, xorb.serialized_bytes);
    stored += xorb.uncompressed_bytes;
    stored_on_disk += xorb.serialized_bytes;
    for (const auto& chunk : xorb.chunks) {
      rest = appendRecord(out, chunk.chunk_hash);
      putU32(rest, chunk.uncompressed_offset);
      putU32(rest + 4, chunk.uncompressed_size);
      putU32(rest + 8, chunk.flags);
    }
  }
  appendBookend(out);

  if (with_footer) {
    // No lookup tables: they would start, empty, where the footer does.
    const std::size_t footer_at = out.size();
    out.resize(footer_at + kFooterSize, 0);
    std::uint8_t* footer = out.data() + footer_at;
    putU64(footer + kFooterVersionAt, kFooterVersion);
    putU64(footer + kFooterFileInfoAt, kHeaderSize);
    putU64(footer + kFooterCasInfoAt, cas_offset);
    putU64(footer + kFooterFileLookupAt, footer_at);
    putU64(footer + kFooterXorbLookupAt, footer_at);
    putU64(footer + kFooterChunkLookupAt, footer_at);
    std::memcpy(footer + kFooterHmacKeyAt, shard.hmac_key.bytes.data(), MerkleHash::kSize);
    putU64(footer + kFooterCreationAt, shard.creation_time);
    putU64(footer + kFooterExpiryAt, shard.key_expiry);
    putU64(footer + kFooterStoredOnDiskAt, stored_on_disk);
    putU64(footer + kFooterMaterializedAt, materialized);
    putU64(footer + kFooterStoredAt, stored);
    putU64(footer + kFooterOffsetAt, footer_at);
  }
  return out;
}

common::Result<Shard> parseShard(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) {
    return makeError(ErrorKind::kCorrupt, "shard: shorter than its header");
  }
  if (std::memcmp(bytes.data(), kHeaderTag.data(), kHeaderTag.size()) != 0) {
    return makeError(ErrorKind::kCorrupt, "shard: bad header tag");
  }
  std::uint64_t version = readU64(bytes.data() + 32);
  if (version != kHeaderVersion) {
    return makeError(ErrorKind::kCorrupt, "shard: unknown version " + std::to_string(version));
  }
  std::uint64_t footer_size = readU64(bytes.data() + 40);
  if (footer_size != 0 && footer_size != kFooterSize) {
    return makeError(ErrorKind::kCorrupt,
                     "shard: unexpected footer size " + std::to_string(footer_size));
  }
  // With a footer, the sections end where the footer starts (anything between the CAS bookend
  // and the footer is lookup tables, which are ignored).
  if (footer_size == kFooterSize && bytes.size() < kHeaderSize + 2 * kRecordSize + kFooterSize) {
    return makeError(ErrorKind::kCorrupt, "shard: too short for its footer");
  }
  std::span<const std::uint8_t> sections =
      bytes.first(footer_size == kFooterSize ? bytes.size() - kFooterSize : bytes.size());

  Shard shard;
  RecordCursor cursor(sections, kHeaderSize);
  while (true) {
    const std::uint8_t* record = cursor.take();
    if (record == nullptr) {
      return corrupt("file section without a bookend", cursor.pos());
    }
    if (isBookend(record)) {
      break;
    }
    auto file = parseFile(cursor, record);
    if (!file) {
      return makeError(file.error().kind, std::move(file.error().message));
    }
    shard.files.push_back(std::move(*file));
  }
  const std::size_t cas_offset = cursor.pos();
  while (true) {
    const std::uint8_t* record = cursor.take();
    if (record == nullptr) {
      return corrupt("xorb section without a bookend", cursor.pos());
    }
    if (isBookend(record)) {
      break;
    }
    auto xorb = parseXorb(cursor, record);
    if (!xorb) {
      return makeError(xorb.error().kind, std::move(xorb.error().message));
    }
    shard.xorbs.push_back(std::move(*xorb));
  }

  if (footer_size == kFooterSize) {
    const std::size_t footer_at = bytes.size() - kFooterSize;
    const std::uint8_t* footer = bytes.data() + footer_at;
    if (readU64(footer + kFooterVersionAt) != kFooterVersion) {
      return corrupt("unknown footer version", footer_at);
    }
    if (readU64(footer + kFooterOffsetAt) != footer_at) {
      return corrupt("footer offset differs from the footer's place", footer_at);
    }
    if (readU64(footer + kFooterFileInfoAt) != kHeaderSize ||
        readU64(footer + kFooterCasInfoAt) != cas_offset) {
      return corrupt("footer section offsets differ from the sections", footer_at);
    }
    shard.hmac_key = readHash(footer + kFooterHmacKeyAt);
    shard.creation_time = readU64(footer + kFooterCreationAt);
    shard.key_expiry = readU64(footer + kFooterExpiryAt);
  }
  return shard;
}

}  // namespace hfm::xet
