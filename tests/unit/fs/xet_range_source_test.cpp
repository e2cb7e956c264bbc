// SPDX-License-Identifier: Apache-2.0
// XetRangeSource against a scripted CAS (LocalRawServer): a plan that would fetch or decode far
// more than the range asked for is refused before any xorb byte is fetched, and the same plan
// shape with honest numbers reads the right bytes.
#include "fs/xet_range_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>

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

// The numbers a plan states; the defaults describe the one-chunk xorb honestly.
struct PlanShape {
  std::uint64_t offset_into_first_range = 0;
  std::uint64_t unpacked_length = kChunk;
  std::uint64_t last_byte = 0;  // 0: the xorb's real last byte
  std::uint32_t term_end = 1;   // chunks [0, term_end) of the xorb make the file
  std::uint32_t fetch_end = 1;  // chunks [0, fetch_end) are to be fetched
};

class XetRangeSourceTest : public ::testing::Test {
 protected:
  XetRangeSourceTest()
      : chunk_(hub::testing::content(kChunk)),
        server_([this](const RawRequest& r) { return answer(r); }) {
    std::span<const std::uint8_t> bytes{reinterpret_cast<const std::uint8_t*>(chunk_.data()),
                                        chunk_.size()};
    xorb_.add(xet::chunkHash(bytes), bytes);
    client_ = hub::testing::makeClient(hub::testing::optionsFor(server_.url()));
  }

  RawReply answer(const RawRequest& r) {
    const std::string base = server_.url();
    if (r.target == kTokenPath) {
      return httpReply(
          200,
          json{{"accessToken", "cas"}, {"exp", unixNow() + 3600}, {"casUrl", base + "/cas/"}}
              .dump());
    }
    if (r.target.rfind("/cas/v2/reconstructions/", 0) == 0) {
      const std::uint64_t last = shape_.last_byte != 0 ? shape_.last_byte : xorb_.bytes().size() - 1;
      const std::string hex = xorb_.hash().hex();
      json plan{
          {"offset_into_first_range", shape_.offset_into_first_range},
          {"terms", json::array({{{"hash", hex},
                                  {"unpacked_length", shape_.unpacked_length},
                                  {"range", {{"start", 0}, {"end", shape_.term_end}}}}})},
          {"xorbs",
           {{hex, json::array({{{"url", base + "/xorb"},
                                {"ranges", json::array({{{"chunks", {{"start", 0}, {"end", shape_.fetch_end}}},
                                                         {"bytes", {{"start", 0}, {"end", last}}}}})}}})}}}};
      return httpReply(200, plan.dump());
    }
    if (r.target == "/xorb") {
      ++xorb_gets_;
      const auto& b = xorb_.bytes();
      return httpReply(206, std::string(b.begin(), b.end()),
                       {"Content-Range: bytes 0-" + std::to_string(b.size() - 1) + "/" +
                        std::to_string(b.size())});
    }
    return httpReply(404, "{}");
  }

  hub::HubResult<std::size_t> read(std::uint64_t offset, std::size_t n, std::string& out) {
    HubRangeSource plain(client_.get());
    XetRangeSource source(client_.get(), &plain, nullptr);
    out.assign(n, '\0');
    FileRef file{kRepo, kCommit, "w.bin", std::string(64, 'c'), kChunk, kFileHash};
    return source.readRange(file, offset, out, {});
  }

  std::string chunk_;
  xet::XorbBuilder xorb_{xet::CompressionScheme::kNone};
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
  EXPECT_EQ(out, chunk_.substr(100, 200));
  EXPECT_EQ(xorb_gets_, 1);
}

TEST_F(XetRangeSourceTest, APlanSpanningFarMoreThanTheRangeIsRefused) {
  // Each term alone is within what its chunks can hold; the whole is not.
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
  // Each range alone is within what a xorb can hold.
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
  EXPECT_NE(got.error().message.find("before the range"), std::string::npos)
      << got.error().message;
  EXPECT_EQ(xorb_gets_, 0);
}

}  // namespace
}  // namespace hfm::fs
