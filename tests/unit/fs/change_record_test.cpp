// SPDX-License-Identifier: Apache-2.0
// Journal records of pending changes and of commits in flight (fs/change_record.h).

#include "fs/change_record.h"

#include <gtest/gtest.h>

namespace hfm::fs {
namespace {

TEST(ChangeRecordTest, InflightRecordsRoundTrip) {
  std::vector<std::pair<std::string, std::string>> records = {
      {"a.txt", "F\nab12-1\n\n1700000000000000000"},
      {"dir with space/b.bin", "X"},
      {"c", ""},
      {std::string(600, 'p'), std::string(600, 'p') + "\nD\n1"},  // a long path's record
  };
  auto back = decodeInflight(encodeInflight(records));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, records);
  auto none = decodeInflight(encodeInflight({}));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(ChangeRecordTest, MalformedInflightRecordsAreRefused) {
  std::string good = encodeInflight({{"a.txt", "X"}, {"b.txt", "D\n0"}});
  for (std::size_t cut = 1; cut < good.size(); ++cut) {
    auto got = decodeInflight(std::string_view(good).substr(0, cut));
    // A cut that happens to end on a record boundary is a shorter valid list; anything else fails.
    if (got) {
      EXPECT_EQ(got->size(), 1u) << "cut at " << cut;
    }
  }
  EXPECT_FALSE(decodeInflight("x 1\nab"));
  EXPECT_FALSE(decodeInflight("0 1\nX"));      // an empty path
  EXPECT_FALSE(decodeInflight("5 1\nab"));     // shorter than announced
  EXPECT_FALSE(decodeInflight("1 99999999999999999999999\na"));
  EXPECT_FALSE(decodeInflight("1\n1 a"));
}

TEST(ChangeRecordTest, StagingNameOfAFileRecord) {
  EXPECT_EQ(stagingNameOf("F\nab12-3\n\n17"), "ab12-3");
  EXPECT_EQ(stagingNameOf("X"), std::nullopt);
  EXPECT_EQ(stagingNameOf("D\n1"), std::nullopt);
  EXPECT_EQ(stagingNameOf("F\n../x\n\n17"), std::nullopt);
  EXPECT_EQ(stagingNameOf("R\n" + std::string(40, 'a') + "\n1\no\n\n\np"), std::nullopt);
}

}  // namespace
}  // namespace hfm::fs
