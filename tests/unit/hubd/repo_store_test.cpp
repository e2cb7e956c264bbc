// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/repo_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "common/hash.h"
#include "tests/support/temp_dir.h"

namespace hfm::hubd {
namespace {

using common::RepoId;
using common::RepoType;

using hfm::testing::TempDir;

class RepoStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen() {
    store_.reset();
    objects_ = std::make_unique<ObjectStore>(*ObjectStore::open(dir_.path()));
    auto opened = RepoStore::open(dir_.path(), objects_.get());
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
  }

  CommitOperation add(const std::string& path, const std::string& content) {
    auto blob = objects_->put(content);
    EXPECT_TRUE(blob);
    return CommitOperation{CommitOperation::Kind::kAddFile, path,
                           FileEntry{blob->sha256, blob->size, false, blob->git_oid, {}, {}}};
  }

  CommitRequest request(std::vector<CommitOperation> ops, std::string rev = "main") {
    CommitRequest r;
    r.revision = std::move(rev);
    r.title = "test";
    r.author = "alice";
    r.operations = std::move(ops);
    return r;
  }

  TempDir dir_;
  std::unique_ptr<ObjectStore> objects_;
  std::unique_ptr<RepoStore> store_;
  RepoId id_{RepoType::kModel, "alice", "bert"};
};

TEST_F(RepoStoreTest, CreateMakesAnInitialCommitWithGitattributes) {
  ASSERT_TRUE(store_->createRepo(id_, {}));
  auto head = store_->resolve(id_, "HEAD");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->kind, ResolvedRevision::Kind::kBranch);
  auto commit = store_->commit(id_, head->commit);
  ASSERT_TRUE(commit);
  EXPECT_EQ((*commit)->files.count(".gitattributes"), 1u);
  auto again = store_->createRepo(id_, {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().status, 409);
}

TEST_F(RepoStoreTest, TreeOidsMatchGit) {
  CreateRepoOptions options;
  options.initial_commit = false;
  ASSERT_TRUE(store_->createRepo(id_, options));
  auto result = store_->applyCommit(id_, request({add("d/a", "hello\n"), add("b", "x")}));
  ASSERT_TRUE(result) << result.error().message;
  auto commit = store_->commit(id_, result->commit);
  ASSERT_TRUE(commit);
  // `git write-tree` of the same two files.
  EXPECT_EQ((*commit)->tree_oid, "a5c18c1818bbcfa6424585e78dbd351c07afab46");
  EXPECT_EQ((*commit)->files.at("d/a").oid, "ce013625030ba8dba906f756967f9e9ca394464a");
  EXPECT_EQ((*commit)->files.at("d/a").last_commit, result->commit);
}

TEST_F(RepoStoreTest, ListsFoldersRecursivelyAndNot) {
  ASSERT_TRUE(store_->createRepo(id_, {}));
  ASSERT_TRUE(store_->applyCommit(id_, request({add("a/b/c.txt", "1"), add("a/d.txt", "2"),
                                                add("z.txt", "3")})));
  auto head = store_->resolve(id_, "main");
  auto index = store_->tree(id_, head->commit);
  ASSERT_TRUE(index);
  auto top = (*index)->list("", false);
  std::vector<std::string> names;
  for (const auto& e : top) {
    names.push_back(e.path);
  }
  EXPECT_EQ(names, (std::vector<std::string>{".gitattributes", "a", "z.txt"}));
  auto all = (*index)->list("", true);
  names.clear();
  for (const auto& e : all) {
    names.push_back(e.path);
  }
  EXPECT_EQ(names, (std::vector<std::string>{".gitattributes", "a", "a/b", "a/b/c.txt",
                                             "a/d.txt", "z.txt"}));
  EXPECT_TRUE((*index)->isDir("a/b"));
  EXPECT_FALSE((*index)->isDir("a/d.txt"));
  EXPECT_TRUE((*index)->list("a/b", false).size() == 1);
}

TEST_F(RepoStoreTest, StaleParentIsAConflictAndLeavesTheBranch) {
  ASSERT_TRUE(store_->createRepo(id_, {}));
  auto first = store_->resolve(id_, "main")->commit;
  auto second = store_->applyCommit(id_, request({add("x", "1")}));
  ASSERT_TRUE(second);
  auto stale = request({add("y", "2")});
  stale.parent_commit = first;
  auto result = store_->applyCommit(id_, stale);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().status, 412);
  EXPECT_EQ(store_->resolve(id_, "main")->commit, second->commit);
  stale.parent_commit = second->commit;
  EXPECT_TRUE(store_->applyCommit(id_, stale));
}

TEST_F(RepoStoreTest, DeletesAndCollisions) {
  ASSERT_TRUE(store_->createRepo(id_, {}));
  ASSERT_TRUE(store_->applyCommit(id_, request({add("dir/a", "1"), add("dir/b", "2"), add("f", "3")})));
  auto collision = store_->applyCommit(id_, request({add("f/x", "4")}));
  ASSERT_FALSE(collision);
  EXPECT_EQ(collision.error().status, 400);
  auto folder_as_file = store_->applyCommit(id_, request({add("dir", "4")}));
  ASSERT_FALSE(folder_as_file);
  auto missing = store_->applyCommit(
      id_, request({CommitOperation{CommitOperation::Kind::kDeleteFile, "nope", {}}}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "EntryNotFound");
  auto bad_path = store_->applyCommit(id_, request({add("../etc/passwd", "x")}));
  ASSERT_FALSE(bad_path);
  EXPECT_EQ(bad_path.error().status, 400);
  auto deleted = store_->applyCommit(
      id_, request({CommitOperation{CommitOperation::Kind::kDeleteFolder, "dir", {}}}));
  ASSERT_TRUE(deleted);
  auto commit = store_->commit(id_, deleted->commit);
  EXPECT_EQ((*commit)->files.count("dir/a"), 0u);
  EXPECT_EQ((*commit)->files.count("f"), 1u);
}

TEST_F(RepoStoreTest, SurvivesReopen) {
  ASSERT_TRUE(store_->createRepo(id_, {}));
  auto result = store_->applyCommit(id_, request({add("kept.txt", "data")}));
  ASSERT_TRUE(result);
  ASSERT_TRUE(store_->createTag(id_, "v1", result->commit, "first"));
  reopen();
  EXPECT_EQ(store_->resolve(id_, "main")->commit, result->commit);
  EXPECT_EQ(store_->resolve(id_, "v1")->commit, result->commit);
  EXPECT_EQ(store_->resolve(id_, "refs/tags/v1")->commit, result->commit);
  auto history = store_->history(id_, result->commit);
  ASSERT_TRUE(history);
  EXPECT_EQ(history->size(), 2u);
}

TEST_F(RepoStoreTest, PullRequestsAndBranches) {
  ASSERT_TRUE(store_->createRepo(id_, {}));
  auto pr = request({add("p.txt", "pr")});
  pr.create_pr = true;
  auto result = store_->applyCommit(id_, pr);
  ASSERT_TRUE(result);
  ASSERT_TRUE(result->pull_request);
  EXPECT_EQ(*result->pull_request, 1);
  auto resolved = store_->resolve(id_, "refs/pr/1");
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->commit, result->commit);
  auto on_pr = store_->applyCommit(id_, request({add("q.txt", "more")}, "refs/pr/1"));
  ASSERT_TRUE(on_pr);
  EXPECT_EQ(store_->resolve(id_, "refs/pr/1")->commit, on_pr->commit);
  EXPECT_NE(store_->resolve(id_, "main")->commit, on_pr->commit);

  ASSERT_TRUE(store_->createBranch(id_, "dev", on_pr->commit));
  EXPECT_EQ(store_->createBranch(id_, "dev", on_pr->commit).error().status, 409);
  EXPECT_FALSE(store_->createBranch(id_, "../x", on_pr->commit));
  EXPECT_TRUE(store_->deleteBranch(id_, "dev"));
  EXPECT_FALSE(store_->deleteBranch(id_, "main"));
  EXPECT_EQ(store_->resolve(id_, "nope").error().code, "RevisionNotFound");
  auto tag = store_->applyCommit(id_, request({add("t", "t")}, result->commit));
  EXPECT_FALSE(tag);  // a commit sha is not a branch
}

TEST_F(RepoStoreTest, ObjectStoreRejectsWrongContent) {
  auto writer = objects_->create(3);
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->write("abc"));
  auto sealed = writer->finish(std::string(64, '0'));
  EXPECT_FALSE(sealed);
  EXPECT_FALSE(objects_->size(common::sha256Hex("abc")));
  auto longer = objects_->create(2);
  EXPECT_FALSE(longer->write("abc"));
}

}  // namespace
}  // namespace hfm::hubd
