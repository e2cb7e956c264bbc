// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/xet_store.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <random>

#include "common/file_util.h"
#include "common/hash.h"
#include "tests/support/temp_dir.h"
#include "xet/chunker.h"
#include "xet/hashing.h"

namespace hfm::hubd {
namespace {

using xet::MerkleHash;

constexpr const char* kRepo = "models/alice/xet";

// Random bytes followed by a repeated sentence, so some chunks compress and some repeat.
std::string sampleBytes(std::size_t size, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size / 2; ++i) out[i] = static_cast<char>(rng());
  const std::string line = "all work and no play makes a dull checkpoint\n";
  for (std::size_t i = size / 2; i < size; ++i) out[i] = line[i % line.size()];
  return out;
}

std::span<const std::uint8_t> bytesOf(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// What a client uploads for one file: its xorbs and the shard that registers it.
struct ClientUpload {
  std::vector<std::pair<MerkleHash, std::string>> xorbs;
  xet::Shard shard;
};

ClientUpload clientUpload(const std::string& data) {
  ClientUpload up;
  xet::XorbBuilder builder;
  xet::ShardFile file;
  std::vector<xet::ChunkLeaf> leaves;
  std::vector<MerkleHash> term_hashes;
  auto seal = [&] {
    MerkleHash h = builder.hash();
    xet::ShardXorb x{h, 0, static_cast<std::uint32_t>(builder.bytes().size()), {}};
    for (const auto& c : builder.chunks()) {
      x.chunks.push_back({c.hash, c.uncompressed_offset, c.uncompressed_size, 0});
      x.uncompressed_bytes += c.uncompressed_size;
    }
    up.shard.xorbs.push_back(x);
    up.xorbs.emplace_back(h, std::string(builder.bytes().begin(), builder.bytes().end()));
    file.terms.push_back({h, x.uncompressed_bytes, 0, static_cast<std::uint32_t>(x.chunks.size())});
    file.verification.push_back(xet::rangeHash(term_hashes));
    term_hashes.clear();
    builder = xet::XorbBuilder();
  };
  std::size_t start = 0;
  for (std::size_t end : xet::chunkBoundaries(bytesOf(data))) {
    auto chunk = bytesOf(data).subspan(start, end - start);
    if (!builder.fits(chunk.size())) seal();
    MerkleHash h = xet::chunkHash(chunk);
    builder.add(h, chunk);
    leaves.push_back({h, chunk.size()});
    term_hashes.push_back(h);
    start = end;
  }
  seal();
  file.file_hash = xet::fileHash(leaves);
  file.sha256 = MerkleHash::fromHex(common::sha256Hex(data));
  up.shard.files.push_back(file);
  return up;
}

class XetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    objects_ = std::make_unique<ObjectStore>(*ObjectStore::open(dir_.path()));
    auto opened = XetStore::open(dir_.path(), objects_.get());
    ASSERT_TRUE(opened) << opened.error().message;
    xet_ = std::move(*opened);
  }

  // The bytes a client reconstructs for [first, last] by following the answer.
  std::string readThrough(const XetFile& file, std::uint64_t first, std::uint64_t last) {
    auto plan = xet_->reconstruct(file, std::make_pair(first, last));
    EXPECT_TRUE(plan) << plan.error().message;
    std::map<std::pair<MerkleHash, std::uint32_t>, std::string> chunks;
    for (const auto& [xorb, fetches] : plan->fetches) {
      std::string all = *common::readFile(xet_->xorbPath(xorb));
      for (const XorbFetch& f : fetches) {
        auto piece = bytesOf(all).subspan(f.byte_first, f.byte_last - f.byte_first + 1);
        xet::ChunkReader reader(piece);
        std::vector<std::uint8_t> out;
        for (std::uint32_t c = f.chunk_start; *reader.next(out); ++c) {
          chunks[{xorb, c}] = std::string(out.begin(), out.end());
        }
      }
    }
    std::string text;
    for (const auto& t : plan->terms) {
      std::size_t before = text.size();
      for (std::uint32_t c = t.chunk_start; c < t.chunk_end; ++c) text += chunks.at({t.xorb_hash, c});
      EXPECT_EQ(text.size() - before, t.unpacked_bytes);
    }
    return text.substr(plan->offset_into_first_range, last - first + 1);
  }

  testing::TempDir dir_;
  std::unique_ptr<ObjectStore> objects_;
  std::unique_ptr<XetStore> xet_;
};

TEST_F(XetStoreTest, IngestedBlobReconstructsWholeAndInRanges) {
  const std::string data = sampleBytes(3u << 20, 1);
  auto blob = objects_->put(data);
  ASSERT_TRUE(blob);
  auto hash = xet_->ingestBlob(blob->sha256, kRepo);
  ASSERT_TRUE(hash) << hash.error().message;
  auto file = xet_->file(*hash);
  ASSERT_TRUE(file);
  EXPECT_EQ(file->size, data.size());
  EXPECT_EQ(file->sha256, blob->sha256);
  EXPECT_EQ(xet_->fileBySha256(blob->sha256), *hash);
  EXPECT_TRUE(xet_->readableBy(*hash, kRepo));
  EXPECT_FALSE(xet_->readableBy(*hash, "models/bob/other"));

  EXPECT_EQ(readThrough(*file, 0, data.size() - 1), data);
  for (auto [first, last] : std::vector<std::pair<std::uint64_t, std::uint64_t>>{
           {0, 0}, {1, 1}, {100000, 300000}, {data.size() - 1, data.size() - 1},
           {data.size() / 2 - 10, data.size() / 2 + 10}}) {
    EXPECT_EQ(readThrough(*file, first, last), data.substr(first, last - first + 1))
        << first << "-" << last;
  }
  auto past = xet_->reconstruct(*file, std::make_pair(data.size(), data.size() + 5));
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().status, 416);
  // A range running past the end is clamped.
  EXPECT_EQ(readThrough(*file, data.size() - 3, data.size() + 100), data.substr(data.size() - 3));
}

TEST_F(XetStoreTest, IngestingTheSameBlobTwiceStoresNothingNew) {
  const std::string data = sampleBytes(1u << 20, 2);
  auto blob = objects_->put(data);
  auto a = xet_->ingestBlob(blob->sha256, kRepo);
  auto b = xet_->ingestBlob(blob->sha256, "models/bob/copy");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_TRUE(xet_->readableBy(*a, "models/bob/copy"));
}

TEST_F(XetStoreTest, IngestingAChangedVersionStoresOnlyItsNewChunks) {
  std::string data = sampleBytes(4u << 20, 7);
  auto v1 = objects_->put(data);
  ASSERT_TRUE(xet_->ingestBlob(v1->sha256, kRepo));
  auto stored = [&] {
    std::uint64_t total = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path() / "xet/xorbs")) {
      if (e.is_regular_file() && e.path().extension() != ".idx") total += e.file_size();
    }
    return total;
  };
  const std::uint64_t before = stored();
  for (std::size_t at : {std::size_t{100000}, data.size() / 3, data.size() - 5000}) data[at] ^= 0x5A;
  auto v2 = objects_->put(data);
  auto hash = xet_->ingestBlob(v2->sha256, kRepo);
  ASSERT_TRUE(hash) << hash.error().message;
  const std::uint64_t added = stored() - before;
  EXPECT_LT(added, data.size() / 8) << "three edited spots cost at most a few chunks each";
  auto file = xet_->file(*hash);
  ASSERT_TRUE(file);
  EXPECT_EQ(readThrough(*file, 0, data.size() - 1), data);
}

TEST_F(XetStoreTest, ClientShardRegistersAndMaterializesTheFile) {
  const std::string data = sampleBytes(2u << 20, 3);
  ClientUpload up = clientUpload(data);
  for (const auto& [h, bytes] : up.xorbs) {
    auto put = xet_->putXorb(h, bytes);
    ASSERT_TRUE(put) << put.error().message;
    EXPECT_TRUE(*put);
    EXPECT_FALSE(*xet_->putXorb(h, bytes)) << "a second upload is not an insert";
  }
  auto body = xet::serializeShard(up.shard, false);
  auto result = xet_->registerShard(body, kRepo);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(*result, 1);
  EXPECT_EQ(*xet_->registerShard(body, kRepo), 0);
  const std::string sha = common::sha256Hex(data);
  EXPECT_EQ(objects_->size(sha), data.size());
  auto file = xet_->file(up.shard.files[0].file_hash);
  ASSERT_TRUE(file);
  EXPECT_EQ(readThrough(*file, 0, data.size() - 1), data);
  // The footer form (as huggingface.js sends it) is accepted too.
  EXPECT_TRUE(xet_->registerShard(xet::serializeShard(up.shard, true), kRepo));
}

TEST_F(XetStoreTest, BadXorbsAreRejected) {
  ClientUpload up = clientUpload(sampleBytes(300000, 4));
  auto [hash, bytes] = up.xorbs[0];
  MerkleHash other = hash;
  other.bytes[0] ^= 1;
  auto wrong_name = xet_->putXorb(other, bytes);
  ASSERT_FALSE(wrong_name);
  EXPECT_EQ(wrong_name.error().status, 400);
  std::string damaged = bytes;
  damaged[damaged.size() / 2] ^= 0x40;
  EXPECT_FALSE(xet_->putXorb(hash, damaged));
  EXPECT_FALSE(xet_->putXorb(hash, "not a xorb"));
  EXPECT_FALSE(xet_->putXorb(hash, ""));
  EXPECT_FALSE(xet_->xorbSize(hash));
}

TEST_F(XetStoreTest, BadShardsAreRejectedAndRegisterNothing) {
  const std::string data = sampleBytes(500000, 5);
  ClientUpload up = clientUpload(data);
  auto expect400 = [&](const xet::Shard& shard, const char* what) {
    auto r = xet_->registerShard(xet::serializeShard(shard, false), kRepo);
    ASSERT_FALSE(r) << what;
    EXPECT_EQ(r.error().status, 400) << what;
    EXPECT_FALSE(xet_->file(up.shard.files[0].file_hash)) << what;
  };
  expect400(up.shard, "xorbs not uploaded yet");
  for (const auto& [h, bytes] : up.xorbs) ASSERT_TRUE(xet_->putXorb(h, bytes));

  xet::Shard s = up.shard;
  s.files[0].verification[0].bytes[3] ^= 1;
  expect400(s, "wrong verification hash");
  s = up.shard;
  s.files[0].verification.clear();
  expect400(s, "no verification entries");
  s = up.shard;
  s.files[0].sha256.reset();
  expect400(s, "no sha256");
  s = up.shard;
  s.files[0].sha256 = MerkleHash::fromHex(common::sha256Hex("something else"));
  expect400(s, "wrong sha256");
  s = up.shard;
  s.files[0].file_hash.bytes[0] ^= 1;
  expect400(s, "wrong file hash");
  s = up.shard;
  s.files[0].terms[0].chunk_end += 1000;
  expect400(s, "chunk range past the xorb");
  s = up.shard;
  s.files[0].terms[0].unpacked_bytes += 1;
  expect400(s, "wrong unpacked size");
  s = up.shard;
  s.xorbs[0].chunks[0].uncompressed_size += 1;
  expect400(s, "wrong chunk list");
  std::vector<std::uint8_t> garbage(100, 0xAB);
  EXPECT_EQ(xet_->registerShard(garbage, kRepo).error().status, 400);
  EXPECT_FALSE(objects_->size(common::sha256Hex(data)));
}

TEST_F(XetStoreTest, AnEmptyFileRegistersWithoutTerms) {
  xet::Shard shard;
  xet::ShardFile empty;  // zero hash, no terms
  empty.sha256 = MerkleHash::fromHex(common::sha256Hex(""));
  shard.files.push_back(empty);
  auto result = xet_->registerShard(xet::serializeShard(shard, false), kRepo);
  ASSERT_TRUE(result) << result.error().message;
  auto file = xet_->file(MerkleHash{});
  ASSERT_TRUE(file);
  EXPECT_EQ(file->size, 0u);
  EXPECT_EQ(objects_->size(common::sha256Hex("")), 0u);
}

TEST_F(XetStoreTest, AFileDeclaredHugeIsRefusedBeforeAnyWork) {
  xet::Shard shard;
  xet::ShardFile huge;
  huge.file_hash.bytes[0] = 1;
  huge.sha256 = MerkleHash::fromHex(common::sha256Hex("x"));
  MerkleHash xorb;
  xorb.bytes[1] = 2;
  for (int i = 0; i < 600; ++i) {  // 600 terms of 8192 chunks: 4.9M chunks
    huge.terms.push_back({xorb, 1, 0, 8192});
    huge.verification.push_back(MerkleHash{});
  }
  shard.files.push_back(huge);
  auto result = xet_->registerShard(xet::serializeShard(shard, false), kRepo);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().status, 400);
  EXPECT_NE(result.error().message.find("larger than this server accepts"), std::string::npos)
      << result.error().message;

  // Many files of plausible size that add up to too much for one shard.
  xet::Shard many;
  for (int f = 0; f < 3; ++f) {
    xet::ShardFile big = huge;
    big.file_hash.bytes[2] = static_cast<std::uint8_t>(f);
    big.terms.assign(100, {xorb, 1u << 30, 0, 8192});
    big.verification.assign(100, MerkleHash{});
    many.files.push_back(big);
  }
  result = xet_->registerShard(xet::serializeShard(many, false), kRepo);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("shard registers more than"), std::string::npos)
      << result.error().message;
}

TEST_F(XetStoreTest, DedupQueryFindsAFilesFirstChunkUnderAKeyedHash) {
  const std::string data = sampleBytes(1u << 20, 6);
  auto blob = objects_->put(data);
  auto hash = xet_->ingestBlob(blob->sha256, kRepo);
  ASSERT_TRUE(hash);
  auto bounds = xet::chunkBoundaries(bytesOf(data));
  MerkleHash first = xet::chunkHash(bytesOf(data).first(bounds[0]));
  auto answer = xet_->dedupShard(first, 1000, 60);
  ASSERT_TRUE(answer);
  auto shard = xet::parseShard(*answer);
  ASSERT_TRUE(shard) << shard.error().message;
  ASSERT_EQ(shard->xorbs.size(), 1u);
  EXPECT_FALSE(shard->hmac_key.isZero());
  EXPECT_EQ(shard->key_expiry, 1060u);
  const auto& chunks = shard->xorbs[0].chunks;
  MerkleHash keyed = xet::keyedChunkHash(shard->hmac_key, first);
  EXPECT_TRUE(std::any_of(chunks.begin(), chunks.end(),
                          [&](const auto& c) { return c.chunk_hash == keyed; }));
  EXPECT_FALSE(std::any_of(chunks.begin(), chunks.end(),
                           [&](const auto& c) { return c.chunk_hash == first; }))
      << "chunk hashes are not given away in the clear";
  MerkleHash unknown = first;
  unknown.bytes[5] ^= 1;
  EXPECT_FALSE(xet_->dedupShard(unknown, 1000, 60));
}

}  // namespace
}  // namespace hfm::hubd
