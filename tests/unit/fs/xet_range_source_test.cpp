// SPDX-License-Identifier: Apache-2.0
// XetRangeSource against a scripted CAS (LocalRawServer): a plan that would fetch or decode far
// more than the range asked for is refused before any xorb byte is fetched, and the same plan
// shape with honest numbers reads the right bytes.
#include "fs/xet_range_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>

#include "cache/lmdb_block_store.h"
#include "fs/xet_chunk_index.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/hub/client_test_support.h"
#include "xet/hashing.h"
#include "xet/xorb.h"

namespace hfm::fs {
namespace {

using hub::testing::httpReply;
using hub::testing::kCommit;
using hub::testing::kRepo;
using hub::testing::RawReply;
using hub::testing::RawRequest;
using nlohmann::json;

const std::string kFileHash(64, 'f');
const std::string kTokenPath = "/api/models/org/name/xet-read-token/" + kCommit;
constexpr std::size_t kChunk = 4096;

std::int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::span<const std::uint8_t> bytesOf(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The numbers a plan states; the defaults describe the two-chunk xorb honestly.
struct PlanShape {
  std::uint64_t offset_into_first_range = 0;
  std::uint64_t unpacked_length = 2 * kChunk;
  std::uint64_t last_byte = 0;  // 0: the xorb's real last byte
  std::uint32_t term_end = 2;   // chunks [0, term_end) of the xorb make the file
  std::uint32_t fetch_end = 2;  // chunks [0, fetch_end) are to be fetched
};

// A file of two 4 KiB chunks in one xorb, served by a scripted Hub and CAS.
class XetRangeSourceTest : public ::testing::Test {
 protected:
  XetRangeSourceTest()
      : data_(hub::testing::content(2 * kChunk)),
        server_([this](const RawRequest& r) { return answer(r); }) {
    for (std::size_t i = 0; i < 2; ++i) {
      auto chunk = bytesOf(data_).subspan(i * kChunk, kChunk);
      xorb_.add(xet::chunkHash(chunk), chunk);
    }
    served_ = xorb_.bytes();
    client_ = hub::testing::makeClient(hub::testing::optionsFor(server_.url()));
  }

  RawReply answer(const RawRequest& r) {
    const std::string base = server_.url();
    if (r.target == kTokenPath) {
      return httpReply(
          200, json{{"accessToken", "cas"}, {"exp", unixNow() + 3600}, {"casUrl", base + "/cas/"}}
                   .dump());
    }
    if (r.target.rfind("/cas/v2/reconstructions/", 0) == 0) {
      const std::uint64_t last = shape_.last_byte != 0 ? shape_.last_byte : served_.size() - 1;
      const std::string hex = xorb_.hash().hex();
      json range{{"chunks", {{"start", 0}, {"end", shape_.fetch_end}}},
                 {"bytes", {{"start", 0}, {"end", last}}}};
      json plan{
          {"offset_into_first_range", shape_.offset_into_first_range},
          {"terms", json::array({{{"hash", hex},
                                  {"unpacked_length", shape_.unpacked_length},
                                  {"range", {{"start", 0}, {"end", shape_.term_end}}}}})},
          {"xorbs",
           {{hex, json::array({{{"url", base + "/xorb"}, {"ranges", json::array({range})}}})}}}};
      return httpReply(200, plan.dump());
    }
    if (r.target == "/xorb") {
      ++xorb_gets_;
      return httpReply(206, std::string(served_.begin(), served_.end()),
                       {"Content-Range: bytes 0-" + std::to_string(served_.size() - 1) + "/" +
                        std::to_string(served_.size())});
    }
    return httpReply(404, "{}");
  }

  hub::HubResult<std::size_t> read(std::uint64_t offset, std::size_t n, std::string& out,
                                   cache::BlockStore* cache = nullptr) {
    HubRangeSource plain(client_.get());
    XetRangeSource source(client_.get(), &plain, cache);
    out.assign(n, '\0');
    FileRef file{kRepo, kCommit, "w.bin", std::string(64, 'c'), data_.size(), kFileHash};
    return source.readRange(file, offset, out, {});
  }

  std::string data_;
  xet::XorbBuilder xorb_{xet::CompressionScheme::kNone};
  std::vector<std::uint8_t> served_;  // what GET /xorb answers: xorb_ unless damaged
  PlanShape shape_;
  std::atomic<int> xorb_gets_{0};
  hub::testing::LocalRawServer server_;
  std::unique_ptr<hub::HubClient> client_;
};

TEST_F(XetRangeSourceTest, AnHonestPlanReadsTheRange) {
  shape_.offset_into_first_range = 100;  // the range starts 100 bytes into the chunk
  std::string out;
  auto got = read(100, 200, out);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, 200u);
  EXPECT_EQ(out, data_.substr(100, 200));
  EXPECT_EQ(xorb_gets_, 1);
}

TEST_F(XetRangeSourceTest, APlanSpanningFarMoreThanTheRangeIsRefused) {
  // The term alone is within what its chunks can hold; the whole is not.
  shape_.term_end = 8192;
  shape_.fetch_end = 8192;
  shape_.last_byte = 80000;
  shape_.unpacked_length = 1ull << 30;
  std::string out;
  auto got = read(0, 200, out);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, hub::HubErrorKind::kBadResponse);
  EXPECT_NE(got.error().message.find("spans"), std::string::npos) << got.error().message;
  EXPECT_EQ(xorb_gets_, 0);
}

TEST_F(XetRangeSourceTest, APlanFetchingFarMoreThanItDecodesIsRefused) {
  // The range alone is within what a xorb can hold.
  shape_.fetch_end = 512;
  shape_.last_byte = 60ull << 20;
  std::string out;
  auto got = read(0, 200, out);
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("asks to fetch"), std::string::npos) << got.error().message;
  EXPECT_EQ(xorb_gets_, 0);
}

TEST_F(XetRangeSourceTest, APlanStartingBeforeTheFileIsRefused) {
  shape_.offset_into_first_range = 50;
  std::string out;
  auto got = read(10, 100, out);
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("before the range"), std::string::npos) << got.error().message;
  EXPECT_EQ(xorb_gets_, 0);
}

TEST_F(XetRangeSourceTest, ATermListingMoreChunksThanBytesIsRefusedWithoutLookingThemUp) {
  // About a million chunk lookups for a 16-byte term, were it believed.
  shape_.term_end = 1u << 20;
  shape_.fetch_end = 1u << 20;
  shape_.last_byte = 60ull << 20;
  shape_.unpacked_length = 16;
  std::string out;
  const auto start = std::chrono::steady_clock::now();
  auto got = read(0, 16, out);
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("more chunks than bytes"), std::string::npos)
      << got.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(xorb_gets_, 0);
}

// Chunk 0 is cached (in another file's blocks) and its hash recorded, chunk 1 is not: the
// range holding both is fetched, and the server's damaged copy of chunk 0 must not replace the
// good one, nor the hash recorded for it.
TEST_F(XetRangeSourceTest, ADamagedCopyOfACachedChunkFailsTheReadAndKeepsItsRecordedHash) {
  testing::TempDir dir;
  cache::CacheOptions options;
  options.dir = dir.path();
  options.block_size = 64 * 1024;
  options.max_bytes = 64ull << 20;
  auto store = cache::LmdbBlockStore::open(options);
  ASSERT_TRUE(store) << store.error().message;
  const std::string chunk0 = data_.substr(0, kChunk);
  const std::string other(64, 'e');  // the file whose blocks hold chunk 0
  ASSERT_TRUE((*store)->write(other, 0, chunk0));
  XetChunkIndex index(store->get(), client_->options().endpoint);
  {
    XetChunkIndex::Batch known(index);
    for (std::uint32_t i = 0; i < 2; ++i) {
      known.chunkAt(xorb_.hash(), i, {xorb_.chunks()[i].hash, static_cast<std::uint32_t>(kChunk)});
    }
    known.place(xorb_.chunks()[0].hash, {other, 0});
  }
  served_[xet::kChunkHeaderSize + 10] ^= 0x55;  // a byte of chunk 0's payload

  std::string out;
  auto got = read(0, data_.size(), out, store->get());
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("does not match its hash"), std::string::npos)
      << got.error().message;
  EXPECT_EQ(xorb_gets_, 1);
  auto recorded = index.chunkAt(xorb_.hash(), 0);
  ASSERT_TRUE(recorded);
  EXPECT_EQ(recorded->hash, xorb_.chunks()[0].hash);

  // The same read from an undamaged server succeeds, and still fetches the range.
  served_ = xorb_.bytes();
  got = read(0, data_.size(), out, store->get());
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(out, data_);
}

}  // namespace
}  // namespace hfm::fs
