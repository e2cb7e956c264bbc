// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/router.h"

#include <gtest/gtest.h>

#include "common/url.h"

namespace hfm::hubd {
namespace {

RouteMatch match(const std::string& method, const std::string& raw_path) {
  auto segments = common::splitRawPath(raw_path);
  EXPECT_TRUE(segments);
  return matchRoute(method, *segments);
}

TEST(RouterTest, RepoInfoWithAndWithoutRevision) {
  auto m = match("GET", "/api/models/alice/bert");
  EXPECT_EQ(m.route, Route::kRepoInfo);
  EXPECT_EQ(m.repo.fullName(), "alice/bert");
  EXPECT_TRUE(m.revision.empty());
  m = match("GET", "/api/datasets/alice/d/revision/refs%2Fpr%2F3");
  EXPECT_EQ(m.route, Route::kRepoInfo);
  EXPECT_EQ(m.repo.type, common::RepoType::kDataset);
  EXPECT_EQ(m.revision, "refs/pr/3");
  m = match("GET", "/api/models/alice/bert/revision/refs/pr/3");
  EXPECT_EQ(m.revision, "refs/pr/3");
}

TEST(RouterTest, TreeAcceptsEncodedAndLiteralRevisionsAndPaths) {
  auto encoded = match("GET", "/api/models/a/b/tree/refs%2Fpr%2F1/dir%2Fsub");
  auto literal = match("GET", "/api/models/a/b/tree/refs/pr/1/dir/sub");
  for (const auto& m : {encoded, literal}) {
    EXPECT_EQ(m.route, Route::kTree);
    EXPECT_EQ(m.revision, "refs/pr/1");
    EXPECT_EQ(m.path, "dir/sub");
  }
  auto root = match("GET", "/api/models/a/b/tree/main");
  EXPECT_EQ(root.revision, "main");
  EXPECT_TRUE(root.path.empty());
  auto branch_with_slash = match("GET", "/api/models/a/b/tree/feature%2Fx/f");
  EXPECT_EQ(branch_with_slash.revision, "feature/x");
  EXPECT_EQ(branch_with_slash.path, "f");
}

TEST(RouterTest, ResolveAndRawForEveryRepoType) {
  auto model = match("HEAD", "/alice/bert/resolve/main/sub/model.safetensors");
  EXPECT_EQ(model.route, Route::kResolve);
  EXPECT_EQ(model.cls, RouteClass::kResolve);
  EXPECT_EQ(model.repo.type, common::RepoType::kModel);
  EXPECT_EQ(model.path, "sub/model.safetensors");
  auto dataset = match("GET", "/datasets/alice/d/raw/refs%2Fconvert%2Fparquet/x%20y.txt");
  EXPECT_EQ(dataset.route, Route::kRaw);
  EXPECT_EQ(dataset.repo.type, common::RepoType::kDataset);
  EXPECT_EQ(dataset.revision, "refs/convert/parquet");
  EXPECT_EQ(dataset.path, "x y.txt");
  EXPECT_EQ(match("GET", "/spaces/a/s/resolve/main/app.py").repo.type, common::RepoType::kSpace);
  EXPECT_EQ(match("POST", "/alice/bert/resolve/main/x").route, Route::kMethodNotAllowed);
  EXPECT_EQ(match("GET", "/alice/bert/resolve/main").route, Route::kNotFound);
}

TEST(RouterTest, UploadRoutes) {
  EXPECT_EQ(match("POST", "/api/models/a/b/preupload/main").route, Route::kPreupload);
  auto commit = match("POST", "/api/models/a/b/commit/refs%2Fpr%2F2");
  EXPECT_EQ(commit.route, Route::kCommit);
  EXPECT_EQ(commit.revision, "refs/pr/2");
  auto batch = match("POST", "/datasets/a/b.git/info/lfs/objects/batch");
  EXPECT_EQ(batch.route, Route::kLfsBatch);
  EXPECT_EQ(batch.repo.name, "b");
  EXPECT_EQ(batch.repo.type, common::RepoType::kDataset);
  std::string oid(64, 'a');
  EXPECT_EQ(match("PUT", "/_hubd/lfs/" + oid).route, Route::kLfsUpload);
  auto part = match("PUT", "/_hubd/lfs/" + oid + "/part/12");
  EXPECT_EQ(part.route, Route::kLfsPart);
  EXPECT_EQ(part.part, 12);
  EXPECT_EQ(part.cls, RouteClass::kUpload);
  EXPECT_EQ(match("POST", "/_hubd/lfs/" + oid + "/complete").route, Route::kLfsComplete);
  EXPECT_EQ(match("PUT", "/_hubd/lfs/nothex").route, Route::kNotFound);
}

TEST(RouterTest, AccountAndListRoutes) {
  EXPECT_EQ(match("GET", "/api/whoami-v2").route, Route::kWhoami);
  EXPECT_EQ(match("POST", "/api/repos/create").route, Route::kCreateRepo);
  EXPECT_EQ(match("DELETE", "/api/repos/delete").route, Route::kDeleteRepo);
  auto list = match("GET", "/api/spaces");
  EXPECT_EQ(list.route, Route::kListRepos);
  EXPECT_EQ(list.list_type, common::RepoType::kSpace);
  EXPECT_EQ(match("GET", "/api/widgets/a/b").route, Route::kNotFound);
  EXPECT_EQ(match("GET", "/_hubd/stats").route, Route::kStats);
  auto branch = match("DELETE", "/api/models/a/b/branch/feature/x");
  EXPECT_EQ(branch.route, Route::kDeleteBranch);
  EXPECT_EQ(branch.path, "feature/x");
}

TEST(RouterTest, CdnRoute) {
  std::string oid(64, 'b');
  auto m = matchCdnRoute("GET", {"lfs", oid});
  EXPECT_EQ(m.route, Route::kCdnBlob);
  EXPECT_EQ(m.cls, RouteClass::kCdn);
  EXPECT_EQ(matchCdnRoute("GET", {"lfs", "x"}).route, Route::kNotFound);
  EXPECT_EQ(matchCdnRoute("PUT", {"lfs", oid}).route, Route::kMethodNotAllowed);
}

}  // namespace
}  // namespace hfm::hubd
