// SPDX-License-Identifier: Apache-2.0
#include "fs/xet_chunk_index.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cache/lmdb_block_store.h"
#include "tests/support/temp_dir.h"
#include "xet/hashing.h"

namespace hfm::fs {
namespace {

using xet::MerkleHash;

constexpr std::uint32_t kBlock = 64 * 1024;
const std::string kFile(64, 'f');  // a content id shaped like a sha256

std::vector<std::uint8_t> bytesOf(std::size_t size, unsigned seed) {
  std::vector<std::uint8_t> out(size);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : out) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::uint8_t>(x >> 24);
  }
  return out;
}

MerkleHash hashOf(unsigned seed) { return xet::chunkHash(bytesOf(64, seed)); }

class XetChunkIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cache::CacheOptions options;
    options.dir = dir_.path();
    options.block_size = kBlock;
    options.max_bytes = 64ull << 20;
    auto store = cache::LmdbBlockStore::open(options);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
  }

  // Caches `file` as the read engine would: in blocks under kFile.
  void cacheFile(const std::vector<std::uint8_t>& file) {
    for (std::size_t at = 0; at < file.size(); at += kBlock) {
      const std::size_t n = std::min<std::size_t>(kBlock, file.size() - at);
      ASSERT_TRUE(
          store_->write(kFile, at / kBlock, {reinterpret_cast<const char*>(file.data()) + at, n}));
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<cache::LmdbBlockStore> store_;
};

TEST_F(XetChunkIndexTest, RecordsAboutXorbsAreKeptPerOrigin) {
  XetChunkIndex a(store_.get(), "http://hub-a:8080");
  XetChunkIndex b(store_.get(), "http://hub-b:8080");
  const MerkleHash xorb = hashOf(1);
  const MerkleHash chunk = hashOf(2);
  XetChunkIndex::Batch learned(a);
  learned.chunkAt(xorb, 3, {chunk, 4096});
  learned.location(chunk, xorb, 3);
  EXPECT_FALSE(a.chunkAt(xorb, 3)) << "nothing is written before commit()";
  learned.commit();

  auto at = a.chunkAt(xorb, 3);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->hash, chunk);
  EXPECT_EQ(at->size, 4096u);
  EXPECT_FALSE(a.chunkAt(xorb, 2));
  auto where = a.findChunk(chunk);
  ASSERT_TRUE(where);
  EXPECT_EQ(where->xorb, xorb);
  EXPECT_EQ(where->index, 3u);
  // Another server's CAS is not trusted with what this one said.
  EXPECT_FALSE(b.chunkAt(xorb, 3));
  EXPECT_FALSE(b.findChunk(chunk));
}

TEST_F(XetChunkIndexTest, AChunkIsReadBackFromTheBlocksOfItsFileAcrossABlockEdge) {
  const std::vector<std::uint8_t> file = bytesOf(3 * kBlock, 7);
  cacheFile(file);
  // A chunk straddling blocks 0 and 1, as a 70 KiB chunk at offset 40 KiB does.
  const std::uint64_t offset = 40 * 1024;
  const std::vector<std::uint8_t> bytes(file.begin() + offset, file.begin() + offset + 70 * 1024);
  const XetChunkId id{xet::chunkHash(bytes), static_cast<std::uint32_t>(bytes.size())};
  XetChunkIndex index(store_.get(), "http://hub");
  EXPECT_FALSE(index.readChunk(id));
  XetChunkIndex::Batch learned(index);
  learned.place(id.hash, {kFile, offset});
  learned.commit();

  auto place = index.placeOf(id.hash);
  ASSERT_TRUE(place);
  EXPECT_EQ(place->content_id, kFile);
  EXPECT_EQ(place->offset, offset);
  auto back = index.readChunk(id);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, bytes);
  // Places need no origin: the bytes are checked against the hash on every use.
  EXPECT_TRUE(XetChunkIndex(store_.get(), "http://other").readChunk(id));
}

TEST_F(XetChunkIndexTest, APlaceWhoseBytesChangedOrWentIsOnlyAMiss) {
  std::vector<std::uint8_t> file = bytesOf(2 * kBlock, 9);
  cacheFile(file);
  const std::vector<std::uint8_t> bytes(file.begin() + 100, file.begin() + 100 + 5000);
  const XetChunkId id{xet::chunkHash(bytes), 5000};
  XetChunkIndex index(store_.get(), "http://hub");
  XetChunkIndex::Batch learned(index);
  learned.place(id.hash, {kFile, 100});
  learned.commit();
  ASSERT_TRUE(index.readChunk(id));

  // Wrong size recorded for the hash, or a hash the bytes do not have: a miss.
  EXPECT_FALSE(index.readChunk({id.hash, 4999}));
  EXPECT_FALSE(index.readChunk({hashOf(3), 5000}));
  // The blocks rewritten with other bytes: the hash check refuses them.
  file[200] ^= 0xFF;
  cacheFile(file);
  EXPECT_FALSE(index.readChunk(id));
  // A place past the cached blocks.
  XetChunkIndex::Batch gone(index);
  gone.place(id.hash, {kFile, 2 * kBlock - 10});
  gone.commit();
  EXPECT_FALSE(index.readChunk(id));
}

TEST_F(XetChunkIndexTest, WithoutACacheNothingIsKnownAndNothingFails) {
  XetChunkIndex index(nullptr, "http://hub");
  EXPECT_FALSE(index.enabled());
  XetChunkIndex::Batch learned(index);
  learned.chunkAt(hashOf(1), 0, {hashOf(2), 10});
  learned.place(hashOf(2), {kFile, 0});
  learned.commit();
  EXPECT_FALSE(index.chunkAt(hashOf(1), 0));
  EXPECT_FALSE(index.placeOf(hashOf(2)));
  EXPECT_FALSE(index.readChunk({hashOf(2), 10}));
}

}  // namespace
}  // namespace hfm::fs
