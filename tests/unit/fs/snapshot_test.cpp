// SPDX-License-Identifier: Apache-2.0
#include "fs/snapshot.h"

#include <gtest/gtest.h>

namespace hfm::fs {
namespace {

std::vector<SnapshotFile> sample() {
  return {
      {"config.json", false, 10, "aaa", "", ""},
      {"sub", true, 0, "tree1", "", ""},
      {"sub/model.bin", false, 1000, "bbb", std::string(64, 'c'), ""},
      {"deep/a/b/c.txt", false, 3, "ddd", "", ""},  // its folders are implied
  };
}

TEST(SnapshotTest, BuildsFoldersAndChildren) {
  Snapshot s("c0ffee", {}, sample());
  ASSERT_TRUE(s.find("deep/a/b"));
  EXPECT_TRUE(s.entries()[*s.find("deep/a")].is_dir);
  auto root_children = s.root().children;
  std::vector<std::string> names;
  for (auto i : root_children) {
    names.push_back(s.entries()[i].path);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"config.json", "deep", "sub"}));
  auto model = s.child(*s.find("sub"), "model.bin");
  ASSERT_TRUE(model);
  EXPECT_EQ(s.entries()[*model].contentId(), std::string(64, 'c'));
  EXPECT_EQ(s.entries()[*s.find("config.json")].contentId(), "aaa");
  EXPECT_FALSE(s.child(*s.find("config.json"), "x"));
}

TEST(SnapshotTest, DropsMalformedEntries) {
  auto files = sample();
  files.push_back({"../escape", false, 1, "e", "", ""});
  files.push_back({"/abs", false, 1, "e", "", ""});
  files.push_back({"a//b", false, 1, "e", "", ""});
  files.push_back({"config.json/inside", false, 1, "e", "", ""});  // under a file
  files.push_back({"config.json", false, 99, "dup", "", ""});      // duplicate
  Snapshot s("c", {}, files);
  EXPECT_EQ(s.dropped(), 5u);
  EXPECT_EQ(s.entries()[*s.find("config.json")].size, 10u);
  EXPECT_FALSE(s.find("../escape"));
}

TEST(SnapshotTest, SerializationRoundTrips) {
  Snapshot s("c0ffee", std::chrono::system_clock::time_point(std::chrono::milliseconds(1234567)),
             sample());
  auto parsed = Snapshot::parse(s.serialize());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->commit(), "c0ffee");
  EXPECT_EQ(parsed->date(), s.date());
  EXPECT_EQ(parsed->entries().size(), s.entries().size());
  EXPECT_EQ(parsed->entries()[*parsed->find("sub/model.bin")].lfs_sha256, std::string(64, 'c'));
  EXPECT_FALSE(Snapshot::parse("garbage"));
  EXPECT_FALSE(Snapshot::parse("hfm-snapshot-1\tc\t12\nf\tnotanumber\ta\t\t\tp\n"));
}

// Found by tests/fuzz/snapshot_fuzz: a date past 2262 overflowed system_clock's nanoseconds.
TEST(SnapshotTest, ParseRejectsDatesOutsideTheClockRange) {
  EXPECT_FALSE(Snapshot::parse("hfm-snapshot-1\tc\t17678914566896000\n"));
  EXPECT_FALSE(Snapshot::parse("hfm-snapshot-1\tc\t-9223372036854775807\n"));
  EXPECT_TRUE(Snapshot::parse("hfm-snapshot-1\tc\t-1714566896000\n"));
}

}  // namespace
}  // namespace hfm::fs
