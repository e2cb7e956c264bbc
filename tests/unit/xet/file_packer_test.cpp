// SPDX-License-Identifier: Apache-2.0
#include "xet/file_packer.h"

#include <gtest/gtest.h>

#include <stdio.h>
#include <unistd.h>

#include <map>
#include <random>

#include "common/hash.h"
#include "xet/chunker.h"

namespace hfm::xet {
namespace {

std::string randomBytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::span<const std::uint8_t> bytesOf(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

struct Packed {
  std::map<MerkleHash, SealedXorb> xorbs;
  ShardFile file;
  std::uint64_t new_bytes = 0;
};

Packed pack(const std::string& data, FilePacker::Locate locate = {},
            std::size_t max_xorb_bytes = kMaxXorbBytes) {
  FilePacker packer(std::move(locate), CompressionScheme::kLz4, max_xorb_bytes);
  Packed out;
  auto keep = [&](std::optional<SealedXorb> x) {
    if (x) out.xorbs.emplace(x->hash, std::move(*x));
  };
  std::size_t start = 0;
  for (std::size_t end : chunkBoundaries(bytesOf(data))) {
    keep(packer.add(bytesOf(data).subspan(start, end - start)));
    start = end;
  }
  keep(packer.flush());
  out.file = packer.finish(common::sha256Hex(data));
  out.new_bytes = packer.newBytes();
  return out;
}

// The file's bytes, following its terms into the packed (or given) xorbs.
std::string rebuild(const ShardFile& file, const std::map<MerkleHash, SealedXorb>& xorbs) {
  std::string out;
  for (const FileTerm& t : file.terms) {
    const SealedXorb& x = xorbs.at(t.xorb_hash);
    ChunkReader reader(x.bytes);
    std::vector<std::uint8_t> chunk;
    for (std::uint32_t i = 0; *reader.next(chunk); ++i) {
      if (i >= t.chunk_start && i < t.chunk_end) out.append(chunk.begin(), chunk.end());
    }
  }
  return out;
}

std::vector<ChunkLeaf> leavesOf(const std::string& data) {
  std::vector<ChunkLeaf> leaves;
  std::size_t start = 0;
  for (std::size_t end : chunkBoundaries(bytesOf(data))) {
    leaves.push_back({chunkHash(bytesOf(data).subspan(start, end - start)), end - start});
    start = end;
  }
  return leaves;
}

TEST(FilePackerTest, PacksAWholeFileIntoXorbsItsTermsRebuild) {
  const std::string data = randomBytes(3u << 20, 1);
  Packed p = pack(data);
  EXPECT_EQ(p.file.file_hash, fileHash(leavesOf(data)));
  EXPECT_EQ(p.file.sha256->hex(), common::sha256Hex(data));
  ASSERT_EQ(p.file.verification.size(), p.file.terms.size());
  EXPECT_EQ(rebuild(p.file, p.xorbs), data);
  EXPECT_EQ(p.new_bytes, data.size());
  for (const auto& [h, x] : p.xorbs) EXPECT_EQ(indexXorb(x.bytes)->hash, h);
}

TEST(FilePackerTest, SmallerXorbsWhenAskedRebuildTheSameFile) {
  const std::string data = randomBytes(3u << 20, 1);
  const std::size_t cap = 1u << 20;
  Packed p = pack(data, {}, cap);
  EXPECT_GE(p.xorbs.size(), 3u);
  for (const auto& [h, x] : p.xorbs) {
    EXPECT_LE(x.bytes.size(), cap);
    EXPECT_EQ(indexXorb(x.bytes)->hash, h);
  }
  EXPECT_EQ(rebuild(p.file, p.xorbs), data);
  EXPECT_EQ(p.file.file_hash, pack(data).file.file_hash) << "the file hash ignores packing";
}

TEST(FilePackerTest, RepeatedChunksAreStoredOnce) {
  const std::string block = randomBytes(300000, 2);
  const std::string data = block + block + block;
  Packed p = pack(data);
  EXPECT_EQ(rebuild(p.file, p.xorbs), data);
  EXPECT_LT(p.new_bytes, data.size() / 2);
}

TEST(FilePackerTest, KnownChunksAreReferencedWhereTheyAre) {
  const std::string v1 = randomBytes(2u << 20, 3);
  Packed first = pack(v1);
  std::map<MerkleHash, ChunkLocation> index;
  for (const auto& [h, x] : first.xorbs) {
    for (std::uint32_t i = 0; i < x.chunks.size(); ++i) index[x.chunks[i].hash] = {h, i};
  }
  std::string v2 = v1;
  v2[v2.size() / 2] ^= 1;
  Packed second = pack(v2, [&](const MerkleHash& c) -> std::optional<ChunkLocation> {
    auto it = index.find(c);
    if (it == index.end()) return std::nullopt;
    return it->second;
  });
  EXPECT_LE(second.new_bytes, 2 * kMaxChunkSize) << "one edit changes at most two chunks";
  std::map<MerkleHash, SealedXorb> all = first.xorbs;
  all.insert(second.xorbs.begin(), second.xorbs.end());
  EXPECT_EQ(rebuild(second.file, all), v2);
}

TEST(FilePackerTest, ChunkFileCutsLikeChunkBoundaries) {
  const std::string data = randomBytes(20u << 20, 4) + "tail";
  FILE* f = tmpfile();
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(fwrite(data.data(), 1, data.size(), f), data.size());
  fflush(f);
  ASSERT_EQ(lseek(fileno(f), 0, SEEK_SET), 0);
  std::vector<std::size_t> ends;
  std::size_t at = 0;
  std::string joined;
  ASSERT_TRUE(chunkFile(fileno(f), [&](std::span<const std::uint8_t> c) {
    at += c.size();
    ends.push_back(at);
    joined.append(reinterpret_cast<const char*>(c.data()), c.size());
    return true;
  }));
  fclose(f);
  EXPECT_EQ(ends, chunkBoundaries(bytesOf(data)));
  EXPECT_EQ(joined, data);
}

TEST(FilePackerTest, EmptyFileHasNoTermsAndTheZeroHash) {
  Packed p = pack("");
  EXPECT_TRUE(p.file.terms.empty());
  EXPECT_TRUE(p.file.file_hash.isZero());
  EXPECT_TRUE(p.xorbs.empty());
}

}  // namespace
}  // namespace hfm::xet
