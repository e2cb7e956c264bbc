// SPDX-License-Identifier: Apache-2.0
#include "common/repo_id.h"

#include <gtest/gtest.h>

#include "common/repo_path.h"

namespace hfm::common {
namespace {

TEST(RepoIdTest, ParsesRepoKey) {
  auto id = parseRepoKey("datasets/alice/my-data");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->type, RepoType::kDataset);
  EXPECT_EQ(id->fullName(), "alice/my-data");
  EXPECT_EQ(id->key(), "datasets/alice/my-data");
  EXPECT_EQ(repoTypeUrlPrefix(id->type), "datasets/");
}

TEST(RepoIdTest, RejectsBadKeys) {
  EXPECT_FALSE(parseRepoKey("alice/x"));
  EXPECT_FALSE(parseRepoKey("widgets/alice/x"));
  EXPECT_FALSE(parseRepoKey("models/alice/x/y"));
  EXPECT_FALSE(parseRepoKey("models/../x"));
  EXPECT_FALSE(parseRepoKey("models/a--b/x"));
  EXPECT_FALSE(parseRepoKey("models/alice/x.git"));
}

TEST(RepoPathTest, AcceptsOrdinaryPaths) {
  EXPECT_TRUE(isValidRepoPath("config.json"));
  EXPECT_TRUE(isValidRepoPath("a/b c/d.bin"));
}

TEST(RepoPathTest, RejectsTraversalAndOddSegments) {
  EXPECT_FALSE(isValidRepoPath(""));
  EXPECT_FALSE(isValidRepoPath("/abs"));
  EXPECT_FALSE(isValidRepoPath("a//b"));
  EXPECT_FALSE(isValidRepoPath("a/../b"));
  EXPECT_FALSE(isValidRepoPath("./a"));
  EXPECT_FALSE(isValidRepoPath("a/"));
  EXPECT_FALSE(isValidRepoPath(std::string("a\0b", 3)));
  EXPECT_FALSE(isValidRepoPath(std::string(256, 'x')));
  EXPECT_TRUE(isValidRepoPath(std::string(255, 'x')));
}

}  // namespace
}  // namespace hfm::common
