// SPDX-License-Identifier: Apache-2.0
// XetUploader against a scripted Hub without Xet (LocalRawServer): the first file of a repo asks
// the LFS batch for Xet and falls back to LFS; later files of that repo go to LFS at once.
#include "fs/xet_uploader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/hub/client_test_support.h"

namespace hfm::fs {
namespace {

using hub::testing::httpReply;
using hub::testing::RawReply;
using hub::testing::RawRequest;
using nlohmann::json;

const std::string kBatchTarget = "/org/name.git/info/lfs/objects/batch";

TEST(XetUploaderTest, ARepoWithoutXetIsAskedOnce) {
  std::atomic<int> batches{0};
  std::atomic<int> xet_offers{0};
  hub::testing::LocalRawServer server([&](const RawRequest& r) -> RawReply {
    if (r.target != kBatchTarget) return httpReply(404, "{}");
    ++batches;
    auto body = json::parse(r.body);
    for (const auto& t : body.value("transfers", json::array())) {
      if (t == "xet") ++xet_offers;
    }
    // The server picks basic, and already has the object: nothing to send.
    json object = {{"oid", body["objects"][0]["oid"]},
                   {"size", body["objects"][0]["size"]},
                   {"authenticated", true}};
    return httpReply(200, json{{"transfer", "basic"}, {"objects", {object}}}.dump(),
                     {"Content-Type: application/vnd.git-lfs+json"});
  });
  auto client = hub::testing::makeClient(hub::testing::optionsFor(server.url()));
  XetUploader uploader(client.get(), nullptr);
  testing::TempDir dir;
  for (int i = 0; i < 3; ++i) {
    const std::string data = "file " + std::to_string(i);
    const auto path = dir.path() / ("f" + std::to_string(i));
    std::ofstream(path) << data;
    auto sent = uploader.upload(hub::testing::kRepo, "main", common::sha256Hex(data), data.size(),
                                path);
    ASSERT_TRUE(sent) << sent.error().message;
  }
  EXPECT_EQ(xet_offers, 1);
  EXPECT_EQ(batches, 4);  // the Xet offer and the LFS batch for the first file, one each after
}

}  // namespace
}  // namespace hfm::fs
