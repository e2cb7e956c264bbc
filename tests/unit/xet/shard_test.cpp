// SPDX-License-Identifier: Apache-2.0
#include "xet/shard.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/hash.h"
#include "common/hex.h"

namespace hfm::xet {
namespace {

std::vector<std::uint8_t> bytesFromHex(std::string_view hex) {
  auto bytes = common::fromHex(hex);
  EXPECT_TRUE(bytes.has_value()) << hex;
  return bytes.value_or(std::vector<std::uint8_t>{});
}

MerkleHash rawHash(std::string_view hex) {
  auto bytes = bytesFromHex(hex);
  MerkleHash hash;
  EXPECT_EQ(bytes.size(), MerkleHash::kSize);
  std::memcpy(hash.bytes.data(), bytes.data(), std::min(bytes.size(), MerkleHash::kSize));
  return hash;
}

// A hash whose bytes all derive from `seed`, distinct for distinct seeds and never a bookend.
MerkleHash seededHash(std::uint8_t seed) {
  MerkleHash hash;
  for (std::size_t i = 0; i < MerkleHash::kSize; ++i) {
    hash.bytes[i] = static_cast<std::uint8_t>(seed * 31 + i);
  }
  return hash;
}

std::string_view asText(const std::vector<std::uint8_t>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

void putU32(std::vector<std::uint8_t>& bytes, std::size_t at, std::uint32_t value) {
  for (std::size_t i = 0; i < 4; ++i) {
    bytes[at + i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

void putU64(std::vector<std::uint8_t>& bytes, std::size_t at, std::uint64_t value) {
  for (std::size_t i = 0; i < 8; ++i) {
    bytes[at + i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

std::uint64_t getU64(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    value |= static_cast<std::uint64_t>(bytes[at + i]) << (8 * i);
  }
  return value;
}

// XET.md §7.4: the upload shard of "hello world", one 48-byte record per row.
constexpr std::string_view kHelloRows[] = {
    "48465265706f4d6574614461746100556967456a7b815783a5bdd95ccdd14aa9020000000000000000000000000000"
    "00",
    "fd5ce8b743dd5ef19fb913fe8f75e225f6d9e817a8df09dd7fdb26a1a7228754000000c00100000000000000000000"
    "00",
    "119f359d8b37394e0213441f7a559081d97ba0cf5f4ea519b151e66f460bf56c000000000b00000000000000010000"
    "00",
    "30ea5cffdc2fef220c8aed157ead426e5846c32e7d9e785eda47689458270dc1000000000000000000000000000000"
    "00",
    "083e4d93b9274db9faab7ddad7522ea5ee80537ae3ef84c4e9cdefe2acf78890000000000000000000000000000000"
    "00",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff000000000000000000000000000000"
    "00",
    "119f359d8b37394e0213441f7a559081d97ba0cf5f4ea519b151e66f460bf56c00000000010000000b000000130000"
    "00",
    "119f359d8b37394e0213441f7a559081d97ba0cf5f4ea519b151e66f460bf56c000000000b00000000000000000000"
    "00",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff000000000000000000000000000000"
    "00",
};
constexpr std::string_view kHelloChunkRaw =
    "119f359d8b37394e0213441f7a559081d97ba0cf5f4ea519b151e66f460bf56c";
constexpr std::string_view kHelloFileRaw =
    "fd5ce8b743dd5ef19fb913fe8f75e225f6d9e817a8df09dd7fdb26a1a7228754";
constexpr std::string_view kHelloRangeRaw =
    "30ea5cffdc2fef220c8aed157ead426e5846c32e7d9e785eda47689458270dc1";
constexpr std::string_view kHelloSha256 =
    "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

std::vector<std::uint8_t> helloShardBytes() {
  std::string hex;
  for (auto row : kHelloRows) {
    hex += row;
  }
  return bytesFromHex(hex);
}

Shard helloShard() {
  Shard shard;
  ShardFile file;
  file.file_hash = rawHash(kHelloFileRaw);
  file.terms.push_back(FileTerm{rawHash(kHelloChunkRaw), 11, 0, 1});
  file.verification.push_back(rawHash(kHelloRangeRaw));
  file.sha256 = MerkleHash::fromHex(kHelloSha256);
  shard.files.push_back(file);
  ShardXorb xorb;
  xorb.xorb_hash = rawHash(kHelloChunkRaw);
  xorb.uncompressed_bytes = 11;
  xorb.serialized_bytes = 19;
  xorb.chunks.push_back(ShardXorbChunk{rawHash(kHelloChunkRaw), 0, 11, 0});
  shard.xorbs.push_back(xorb);
  return shard;
}

// Three files (with and without verification and sha256, one with no terms) and two xorbs.
Shard richShard() {
  Shard shard;
  for (std::uint8_t f = 0; f < 3; ++f) {
    ShardFile file;
    file.file_hash = seededHash(static_cast<std::uint8_t>(100 + f));
    for (std::uint32_t t = 0; t < f; ++t) {
      file.terms.push_back(FileTerm{seededHash(static_cast<std::uint8_t>(t)), 1000 + t, t, t + 2});
      if (f == 2) {
        file.verification.push_back(seededHash(static_cast<std::uint8_t>(50 + t)));
      }
    }
    if (f != 1) {
      file.sha256 = seededHash(static_cast<std::uint8_t>(70 + f));
    }
    shard.files.push_back(file);
  }
  for (std::uint8_t x = 0; x < 2; ++x) {
    ShardXorb xorb;
    xorb.xorb_hash = seededHash(x);
    std::uint32_t offset = 0;
    for (std::uint32_t c = 0; c < 3u + x; ++c) {
      std::uint32_t size = 500 + c;
      xorb.chunks.push_back(ShardXorbChunk{seededHash(static_cast<std::uint8_t>(10 * x + c + 20)),
                                           offset, size, c == 1 ? 0x80000000U : 0});
      offset += size;
    }
    xorb.uncompressed_bytes = offset;
    xorb.serialized_bytes = offset / 2;
    shard.xorbs.push_back(xorb);
  }
  shard.hmac_key = seededHash(200);
  shard.creation_time = 1'700'000'000;
  shard.key_expiry = UINT64_MAX;
  return shard;
}

void expectSameSections(const Shard& a, const Shard& b) {
  ASSERT_EQ(a.files.size(), b.files.size());
  for (std::size_t i = 0; i < a.files.size(); ++i) {
    const auto& fa = a.files[i];
    const auto& fb = b.files[i];
    EXPECT_EQ(fa.file_hash, fb.file_hash);
    ASSERT_EQ(fa.terms.size(), fb.terms.size());
    for (std::size_t t = 0; t < fa.terms.size(); ++t) {
      EXPECT_EQ(fa.terms[t].xorb_hash, fb.terms[t].xorb_hash);
      EXPECT_EQ(fa.terms[t].unpacked_bytes, fb.terms[t].unpacked_bytes);
      EXPECT_EQ(fa.terms[t].chunk_start, fb.terms[t].chunk_start);
      EXPECT_EQ(fa.terms[t].chunk_end, fb.terms[t].chunk_end);
    }
    EXPECT_EQ(fa.verification, fb.verification);
    EXPECT_EQ(fa.sha256, fb.sha256);
  }
  ASSERT_EQ(a.xorbs.size(), b.xorbs.size());
  for (std::size_t i = 0; i < a.xorbs.size(); ++i) {
    const auto& xa = a.xorbs[i];
    const auto& xb = b.xorbs[i];
    EXPECT_EQ(xa.xorb_hash, xb.xorb_hash);
    EXPECT_EQ(xa.uncompressed_bytes, xb.uncompressed_bytes);
    EXPECT_EQ(xa.serialized_bytes, xb.serialized_bytes);
    ASSERT_EQ(xa.chunks.size(), xb.chunks.size());
    for (std::size_t c = 0; c < xa.chunks.size(); ++c) {
      EXPECT_EQ(xa.chunks[c].chunk_hash, xb.chunks[c].chunk_hash);
      EXPECT_EQ(xa.chunks[c].uncompressed_offset, xb.chunks[c].uncompressed_offset);
      EXPECT_EQ(xa.chunks[c].uncompressed_size, xb.chunks[c].uncompressed_size);
      EXPECT_EQ(xa.chunks[c].flags, xb.chunks[c].flags);
    }
  }
}

void expectCorrupt(const std::vector<std::uint8_t>& bytes, const std::string& what) {
  auto parsed = parseShard(bytes);
  ASSERT_FALSE(parsed.has_value()) << what;
  EXPECT_EQ(parsed.error().kind, common::ErrorKind::kCorrupt) << what;
}

TEST(ShardTest, HelloWorldUploadShardIsTheReferenceBytes) {
  auto bytes = serializeShard(helloShard(), /*with_footer=*/false);
  ASSERT_EQ(bytes.size(), 432u);
  EXPECT_EQ(common::toHex(bytes), common::toHex(helloShardBytes()));
  EXPECT_EQ(common::sha256Hex(asText(bytes)),
            "b1c3cab94a28e349ae48136a6db0c374e232d587398d6ade5d04dbcb19918278");
}

TEST(ShardTest, HelloWorldUploadShardParses) {
  auto parsed = parseShard(helloShardBytes());
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  ASSERT_EQ(parsed->files.size(), 1u);
  const auto& file = parsed->files[0];
  EXPECT_EQ(file.file_hash.hex(),
            "f15edd43b7e85cfd25e2758ffe13b99fdd09dfa817e8d9f6548722a7a126db7f");
  ASSERT_EQ(file.terms.size(), 1u);
  EXPECT_EQ(file.terms[0].xorb_hash.hex(),
            "4e39378b9d359f118190557a1f44130219a54e5fcfa07bd96cf50b466fe651b1");
  EXPECT_EQ(file.terms[0].unpacked_bytes, 11u);
  EXPECT_EQ(file.terms[0].chunk_start, 0u);
  EXPECT_EQ(file.terms[0].chunk_end, 1u);
  ASSERT_EQ(file.verification.size(), 1u);
  EXPECT_EQ(file.verification[0].hex(),
            "22ef2fdcff5cea306e42ad7e15ed8a0c5e789e7d2ec34658c10d2758946847da");
  ASSERT_TRUE(file.sha256.has_value());
  EXPECT_EQ(file.sha256->hex(), kHelloSha256);
  ASSERT_EQ(parsed->xorbs.size(), 1u);
  const auto& xorb = parsed->xorbs[0];
  EXPECT_EQ(xorb.xorb_hash, rawHash(kHelloChunkRaw));
  EXPECT_EQ(xorb.uncompressed_bytes, 11u);
  EXPECT_EQ(xorb.serialized_bytes, 19u);
  ASSERT_EQ(xorb.chunks.size(), 1u);
  EXPECT_EQ(xorb.chunks[0].chunk_hash, rawHash(kHelloChunkRaw));
  EXPECT_EQ(xorb.chunks[0].uncompressed_offset, 0u);
  EXPECT_EQ(xorb.chunks[0].uncompressed_size, 11u);
  EXPECT_EQ(xorb.chunks[0].flags, 0u);
  EXPECT_TRUE(parsed->hmac_key.isZero());
  EXPECT_EQ(parsed->creation_time, 0u);
  EXPECT_EQ(parsed->key_expiry, 0u);
}

TEST(ShardTest, EmptyShardIsHeaderAndTwoBookends) {
  auto bytes = serializeShard(Shard{}, false);
  ASSERT_EQ(bytes.size(), 48u + 2 * 48u);
  auto rows = helloShardBytes();
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.begin() + 48, rows.begin()));
  auto parsed = parseShard(bytes);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed->files.empty());
  EXPECT_TRUE(parsed->xorbs.empty());
}

TEST(ShardTest, RoundTripsWithoutFooter) {
  Shard shard = richShard();
  auto bytes = serializeShard(shard, false);
  // header + 3 files (1+1, 1+1, 1+2+2+1 records) + bookend + 2 xorbs (1+3, 1+4) + bookend.
  EXPECT_EQ(bytes.size(), 48u * (1 + 2 + 2 + 6 + 1 + 4 + 5 + 1));
  EXPECT_EQ(getU64(bytes, 40), 0u);
  auto parsed = parseShard(bytes);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  expectSameSections(shard, *parsed);
  // Without a footer there are no footer fields.
  EXPECT_TRUE(parsed->hmac_key.isZero());
  EXPECT_EQ(parsed->creation_time, 0u);
  EXPECT_EQ(parsed->key_expiry, 0u);
  EXPECT_EQ(serializeShard(*parsed, false), bytes);
}

TEST(ShardTest, RoundTripsWithFooter) {
  Shard shard = richShard();
  auto bytes = serializeShard(shard, true);
  auto without = serializeShard(shard, false);
  ASSERT_EQ(bytes.size(), without.size() + 200);
  EXPECT_EQ(getU64(bytes, 40), 200u);
  // Apart from footer_size, the sections are the same bytes.
  EXPECT_TRUE(std::equal(without.begin() + 48, without.end(), bytes.begin() + 48));
  auto parsed = parseShard(bytes);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  expectSameSections(shard, *parsed);
  EXPECT_EQ(parsed->hmac_key, shard.hmac_key);
  EXPECT_EQ(parsed->creation_time, shard.creation_time);
  EXPECT_EQ(parsed->key_expiry, shard.key_expiry);
  EXPECT_EQ(serializeShard(*parsed, true), bytes);
}

TEST(ShardTest, FooterFieldsAreWhereXetCoreReadsThem) {
  Shard shard = richShard();
  auto bytes = serializeShard(shard, true);
  const std::size_t footer = bytes.size() - 200;
  // CAS section: after the header, 3 files of 2 + 2 + 6 records and the bookend.
  const std::size_t cas = 48 + 48 * (2 + 2 + 6 + 1);
  EXPECT_EQ(getU64(bytes, footer + 0), 1u);
  EXPECT_EQ(getU64(bytes, footer + 8), 48u);
  EXPECT_EQ(getU64(bytes, footer + 16), cas);
  // Empty lookup tables, all starting where the footer does.
  for (std::size_t at : {24u, 40u, 56u}) {
    EXPECT_EQ(getU64(bytes, footer + at), footer) << at;
    EXPECT_EQ(getU64(bytes, footer + at + 8), 0u) << at;
  }
  EXPECT_TRUE(std::equal(shard.hmac_key.bytes.begin(), shard.hmac_key.bytes.end(),
                         bytes.begin() + static_cast<std::ptrdiff_t>(footer + 72)));
  EXPECT_EQ(getU64(bytes, footer + 104), shard.creation_time);
  EXPECT_EQ(getU64(bytes, footer + 112), shard.key_expiry);
  for (std::size_t at = 120; at < 168; ++at) {
    EXPECT_EQ(bytes[footer + at], 0) << at;
  }
  // Stats: serialized xorb bytes, the files' term bytes, uncompressed xorb bytes.
  std::uint64_t on_disk = 0;
  std::uint64_t stored = 0;
  for (const auto& xorb : shard.xorbs) {
    on_disk += xorb.serialized_bytes;
    stored += xorb.uncompressed_bytes;
  }
  EXPECT_EQ(getU64(bytes, footer + 168), on_disk);
  EXPECT_EQ(getU64(bytes, footer + 176), 1000u + 1000u + 1001u);
  EXPECT_EQ(getU64(bytes, footer + 184), stored);
  EXPECT_EQ(getU64(bytes, footer + 192), footer);
}

TEST(ShardTest, AcceptsAFooterWithoutLookupOffsets) {
  // huggingface.js leaves the lookup fields zero.
  auto bytes = serializeShard(helloShard(), true);
  const std::size_t footer = bytes.size() - 200;
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(footer + 24),
            bytes.begin() + static_cast<std::ptrdiff_t>(footer + 72), 0);
  auto parsed = parseShard(bytes);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  expectSameSections(helloShard(), *parsed);
}

TEST(ShardTest, IgnoresLookupTablesBeforeTheFooter) {
  // A full shard as xet-core keeps it: lookup tables between the CAS bookend and the footer.
  auto bytes = serializeShard(helloShard(), true);
  const std::size_t tables_at = bytes.size() - 200;
  std::vector<std::uint8_t> tables(12 + 12 + 16, 0x5A);
  bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(tables_at), tables.begin(),
               tables.end());
  const std::size_t footer = bytes.size() - 200;
  putU64(bytes, footer + 24, tables_at);
  putU64(bytes, footer + 32, 1);
  putU64(bytes, footer + 40, tables_at + 12);
  putU64(bytes, footer + 48, 1);
  putU64(bytes, footer + 56, tables_at + 24);
  putU64(bytes, footer + 64, 1);
  putU64(bytes, footer + 192, footer);
  auto parsed = parseShard(bytes);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  expectSameSections(helloShard(), *parsed);
}

TEST(ShardTest, IgnoresBytesAfterTheSectionsWithoutAFooter) {
  auto bytes = helloShardBytes();
  bytes.insert(bytes.end(), 7, 0xAB);
  auto parsed = parseShard(bytes);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  expectSameSections(helloShard(), *parsed);
}

TEST(ShardTest, RejectsBadHeaders) {
  expectCorrupt({}, "empty");
  auto good = helloShardBytes();
  expectCorrupt(std::vector<std::uint8_t>(good.begin(), good.begin() + 47), "short header");
  auto bad_tag = good;
  bad_tag[0] = 'h';
  expectCorrupt(bad_tag, "tag");
  auto bad_tag_tail = good;
  bad_tag_tail[31] ^= 1;
  expectCorrupt(bad_tag_tail, "tag tail");
  for (std::uint64_t version : {0ULL, 1ULL, 3ULL, 1ULL << 32}) {
    auto bad_version = good;
    putU64(bad_version, 32, version);
    expectCorrupt(bad_version, "version " + std::to_string(version));
  }
  for (std::uint64_t footer_size : {1ULL, 48ULL, 199ULL, 201ULL, 1ULL << 40}) {
    auto bad_footer = good;
    putU64(bad_footer, 40, footer_size);
    expectCorrupt(bad_footer, "footer size " + std::to_string(footer_size));
  }
}

TEST(ShardTest, RejectsEveryTruncation) {
  for (bool with_footer : {false, true}) {
    auto bytes = serializeShard(richShard(), with_footer);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      expectCorrupt(
          std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)),
          "prefix " + std::to_string(n) + (with_footer ? " with footer" : ""));
    }
  }
}

TEST(ShardTest, RejectsMissingBookends) {
  auto bytes = helloShardBytes();
  // Drop the CAS bookend: the section runs into the end.
  expectCorrupt(std::vector<std::uint8_t>(bytes.begin(), bytes.end() - 48), "no CAS bookend");
  // Drop the file bookend: the CAS header is read as a file, whose records then run out.
  auto no_file_bookend = bytes;
  no_file_bookend.erase(no_file_bookend.begin() + 48 * 5, no_file_bookend.begin() + 48 * 6);
  expectCorrupt(no_file_bookend, "no file bookend");
  // Header only.
  expectCorrupt(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 48), "header only");
}

TEST(ShardTest, RejectsCountsPastTheEnd) {
  auto bytes = helloShardBytes();
  for (std::uint32_t count : {2U, 3U, 1000U, 0x7FFFFFFFU, 0xFFFFFFFFU}) {
    auto terms = bytes;
    putU32(terms, 48 + 36, count);
    expectCorrupt(terms, "file entries " + std::to_string(count));
    auto chunks = bytes;
    putU32(chunks, 48 * 6 + 36, count);
    expectCorrupt(chunks, "xorb chunks " + std::to_string(count));
  }
}

TEST(ShardTest, RejectsVerificationCountMismatch) {
  // Two terms claimed with verification, but only one verification record before the sha256.
  Shard shard = helloShard();
  shard.files[0].terms.push_back(FileTerm{rawHash(kHelloChunkRaw), 11, 1, 2});
  shard.files[0].verification.push_back(seededHash(1));
  auto bytes = serializeShard(shard, false);
  ASSERT_TRUE(parseShard(bytes).has_value());
  // Remove the second verification record (row 1 header, rows 2-3 terms, rows 4-5 verification).
  auto missing = bytes;
  missing.erase(missing.begin() + 48 * 5, missing.begin() + 48 * 6);
  expectCorrupt(missing, "one verification record short");
  // The verification flag set on a file that carries none: the bookend is met too early.
  auto flag_only = helloShardBytes();
  flag_only.erase(flag_only.begin() + 48 * 3, flag_only.begin() + 48 * 5);  // verify + sha256
  expectCorrupt(flag_only, "verification and metadata flags without records");
}

TEST(ShardTest, RejectsMetadataFlagWithoutRecord) {
  auto bytes = helloShardBytes();
  bytes.erase(bytes.begin() + 48 * 4, bytes.begin() + 48 * 5);  // the sha256 record
  expectCorrupt(bytes, "metadata flag without its record");
}

TEST(ShardTest, RejectsBookendInsideAXorb) {
  Shard shard = helloShard();
  shard.xorbs[0].chunks.push_back(ShardXorbChunk{seededHash(9), 11, 5, 0});
  auto bytes = serializeShard(shard, false);
  // Overwrite the second chunk with a bookend; the real bookend then follows as a stray record.
  std::fill(bytes.end() - 96, bytes.end() - 64, 0xFF);
  expectCorrupt(bytes, "bookend where a chunk belongs");
}

TEST(ShardTest, RejectsEmptyTermRange) {
  auto bytes = helloShardBytes();
  putU32(bytes, 48 * 2 + 44, 0);  // chunk_end = chunk_start = 0
  expectCorrupt(bytes, "empty term");
  putU32(bytes, 48 * 2 + 40, 5);  // start 5 > end 0
  expectCorrupt(bytes, "reversed term");
}

TEST(ShardTest, RejectsInconsistentFooters) {
  const auto good = serializeShard(richShard(), true);
  ASSERT_TRUE(parseShard(good).has_value());
  const std::size_t footer = good.size() - 200;
  struct Case {
    std::size_t at;
    std::uint64_t value;
    const char* what;
  };
  for (const auto& c : {Case{0, 2, "footer version"}, Case{8, 96, "file info offset"},
                        Case{16, 48, "cas info offset"}, Case{192, 0, "footer offset"},
                        Case{192, footer + 1, "footer offset past"}}) {
    auto bytes = good;
    putU64(bytes, footer + c.at, c.value);
    expectCorrupt(bytes, c.what);
  }
  // A footer claimed by the header but absent: the last 200 bytes are sections, not a footer.
  auto claimed = serializeShard(richShard(), false);
  putU64(claimed, 40, 200);
  expectCorrupt(claimed, "footer size without a footer");
  // A footer present but not announced: its bytes are ignored, the sections still parse.
  auto unannounced = good;
  putU64(unannounced, 40, 0);
  EXPECT_TRUE(parseShard(unannounced).has_value());
}

}  // namespace
}  // namespace hfm::xet
