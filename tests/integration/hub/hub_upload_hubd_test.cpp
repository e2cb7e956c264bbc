// SPDX-License-Identifier: Apache-2.0
// HubClient's write side against the real hf-hubd (1 MiB multipart parts above 2 MiB):
// preupload modes, the write check, LFS uploads (basic and multipart), commits of every
// operation kind read back byte for byte, the optimistic lock, the commit history, and an upload
// of an object the server already has.

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "common/hash.h"
#include "hub/hub_client.h"
#include "tests/integration/hub/hubd_test_support.h"
#include "tests/support/hubd_process.h"

namespace hfm::hub::testing {
namespace {

using std::chrono::milliseconds;

const common::RepoId kRepo{common::RepoType::kModel, "alice", "uploads"};
const std::string kWriteToken = "tok-alice-write";
const std::string kReadToken = "tok-alice-read";
const std::string kOtherWriteToken = "tok-bob-write";
constexpr std::uint64_t kPartSize = 1 << 20;

class HubdUploadTest : public HubdSuite<HubdUploadTest> {
 protected:
  static void SetUpTestSuite() {
    makeDir("hub_upload_integration");
    auto src = dir_ / "src";
    std::filesystem::create_directories(src);
    std::ofstream(src / "README.md") << "# uploads\n";
    root_ = dir_ / "root";
    setup_error_ = testing::importRepo(kHubd, root_, "models/alice/uploads", src);
    if (setup_error_.empty()) {
      server_ = HubdProcess::start(
          kHubd, root_,
          {"--token", kWriteToken + "=alice:write", "--token", kReadToken + "=alice:read",
           "--token", kOtherWriteToken + "=bob:write", "--lfs-part-size", std::to_string(kPartSize),
           "--lfs-multipart-threshold", std::to_string(2 * kPartSize)},
          &setup_error_);
    }
  }
  static void TearDownTestSuite() {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  static std::unique_ptr<HubClient> client(std::optional<std::string> token = kWriteToken) {
    return hubdClient(hubdOptions(server_->url(), std::move(token)));
  }
  static std::string head(HubClient& c) {
    auto info = c.revision(kRepo, "main");
    EXPECT_TRUE(info) << info.error().message;
    return info ? info->commit : std::string();
  }
  // Writes `data` to a file of the test's directory; returns its path.
  static std::string writeFile(const std::string& name, const std::string& data) {
    auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << data;
    return path.string();
  }
  static std::uint64_t uploadRequests() {
    return hubdStats(server_->url())["requests"]["upload"].get<std::uint64_t>();
  }
  // The whole file at `commit`, read through readRange.
  static std::string readAll(HubClient& c, const std::string& commit, const std::string& path,
                             std::size_t size) {
    std::string out(size + 1, '\0');
    auto n = c.readRange(kRepo, commit, path, 0, std::span<char>(out.data(), out.size()));
    EXPECT_TRUE(n) << path << ": " << n.error().message;
    out.resize(n ? *n : 0);
    return out;
  }

  static inline std::filesystem::path root_;
  static inline std::unique_ptr<HubdProcess> server_;
};

TEST_F(HubdUploadTest, PreuploadChoosesRegularOrLfs) {
  auto c = client();
  std::vector<PreuploadFile> files = {
      {"notes/small.txt", 12, "hello world\n"},
      {"weights/big.txt", 11ull << 20, randomText(512, 1)},  // text, but above 10 MiB
      {"README.md", 10, "# uploads\n"},
  };
  auto answers = c->preupload(kRepo, "main", files);
  ASSERT_TRUE(answers) << answers.error().message;
  ASSERT_EQ(answers->size(), 3u);
  EXPECT_EQ((*answers)[0].path, "notes/small.txt");
  EXPECT_EQ((*answers)[0].mode, UploadMode::kRegular);
  EXPECT_FALSE((*answers)[0].remote_oid);
  EXPECT_EQ((*answers)[1].mode, UploadMode::kLfs);
  EXPECT_EQ((*answers)[2].remote_oid, common::gitBlobOid("# uploads\n"));
  EXPECT_FALSE((*answers)[2].should_ignore);
}

TEST_F(HubdUploadTest, CanWriteFollowsTheToken) {
  auto writer = client(kWriteToken);
  auto yes = writer->canWrite(kRepo, "main");
  ASSERT_TRUE(yes) << yes.error().message;
  EXPECT_TRUE(*yes);
  for (const auto& token :
       {std::optional<std::string>(kReadToken), std::optional<std::string>(kOtherWriteToken),
        std::optional<std::string>()}) {
    auto c = client(token);
    auto no = c->canWrite(kRepo, "main");
    ASSERT_TRUE(no) << no.error().message;
    EXPECT_FALSE(*no) << token.value_or("(no token)");
  }
  auto missing = writer->canWrite({common::RepoType::kModel, "alice", "nope"}, "main");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, HubErrorKind::kNotFound);
}

TEST_F(HubdUploadTest, UploadsAndCommitsEveryKindOfOperation) {
  auto c = client();
  // A first commit with the files the second one deletes.
  CommitRequest setup;
  setup.summary = "Add files to delete";
  setup.parent_commit = head(*c);
  setup.operations = {{CommitOperation::Kind::kFile, "old.txt", "old\n", "", 0},
                      {CommitOperation::Kind::kFile, "folder/a.txt", "a\n", "", 0},
                      {CommitOperation::Kind::kFile, "folder/sub/b.txt", "b\n", "", 0}};
  auto first = c->commit(kRepo, "main", setup);
  ASSERT_TRUE(first) << first.error().message;

  const std::string basic = randomBytes(kPartSize + kPartSize / 2, 11);      // 1.5 MiB: basic PUT
  const std::string multi = randomBytes(5 * kPartSize + kPartSize / 2, 12);  // 5.5 MiB: 6 parts
  const std::string basic_sha = common::sha256Hex(basic);
  const std::string multi_sha = common::sha256Hex(multi);
  auto uploads_before = uploadRequests();
  std::atomic<std::uint64_t> reported{0};
  UploadProgress progress{[&](std::uint64_t n) { reported += n; }};
  auto sent =
      c->uploadLfs(kRepo, "main", basic_sha, basic.size(), writeFile("basic.bin", basic), progress);
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(uploadRequests() - uploads_before, 1u);  // one PUT
  sent =
      c->uploadLfs(kRepo, "main", multi_sha, multi.size(), writeFile("multi.bin", multi), progress);
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(uploadRequests() - uploads_before, 1u + 6u + 1u);  // six parts and the completion
  EXPECT_EQ(reported.load(), basic.size() + multi.size());

  CommitRequest request;
  request.summary = "Upload weights";
  request.description = "written by the hub upload test, id 7d3c2e";
  request.parent_commit = first->commit;
  request.operations = {
      {CommitOperation::Kind::kLfsFile, "weights/basic.bin", "", basic_sha, basic.size()},
      {CommitOperation::Kind::kLfsFile, "weights/multi.bin", "", multi_sha, multi.size()},
      {CommitOperation::Kind::kFile, "notes/hello.txt", std::string("hi\0there\n", 9), "", 0},
      {CommitOperation::Kind::kDeletedFile, "old.txt", "", "", 0},
      {CommitOperation::Kind::kDeletedFolder, "folder/", "", "", 0}};
  auto made = c->commit(kRepo, "main", request);
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_EQ(made->commit.size(), 40u);
  EXPECT_EQ(head(*c), made->commit);

  auto tree = c->listTree(kRepo, made->commit, "", true);
  ASSERT_TRUE(tree) << tree.error().message;
  std::map<std::string, TreeEntry> files;
  for (const auto& e : *tree) {
    if (!e.is_dir) {
      files[e.path] = e;
    }
  }
  std::set<std::string> names;
  for (const auto& [path, e] : files) {
    names.insert(path);
  }
  names.erase(".gitattributes");
  EXPECT_EQ(names, (std::set<std::string>{"README.md", "notes/hello.txt", "weights/basic.bin",
                                          "weights/multi.bin"}));
  EXPECT_EQ(files["weights/basic.bin"].lfs_sha256, basic_sha);
  EXPECT_EQ(files["weights/multi.bin"].lfs_sha256, multi_sha);
  EXPECT_EQ(files["weights/multi.bin"].size, multi.size());
  EXPECT_TRUE(readAll(*c, made->commit, "weights/basic.bin", basic.size()) == basic);
  EXPECT_TRUE(readAll(*c, made->commit, "weights/multi.bin", multi.size()) == multi);
  EXPECT_EQ(readAll(*c, made->commit, "notes/hello.txt", 9), std::string("hi\0there\n", 9));

  // The history names the commit with the description sent, so a caller can find a commit
  // whose answer it lost.
  auto history = c->listCommits(kRepo, "main", 5);
  ASSERT_TRUE(history) << history.error().message;
  ASSERT_GE(history->size(), 3u);
  EXPECT_EQ((*history)[0].id, made->commit);
  EXPECT_EQ((*history)[0].title, "Upload weights");
  EXPECT_EQ((*history)[0].message, request.description);
  EXPECT_EQ((*history)[1].id, first->commit);
  auto age = std::chrono::system_clock::now() - (*history)[0].date;
  EXPECT_LT(age, std::chrono::minutes(5));
  auto one = c->listCommits(kRepo, "main", 1);
  ASSERT_TRUE(one) << one.error().message;
  EXPECT_EQ(one->size(), 1u);

  // Again: the server has both objects, so nothing is PUT.
  auto before = uploadRequests();
  auto uploaded_before = c->stats().bytes_uploaded;
  reported = 0;
  sent =
      c->uploadLfs(kRepo, "main", multi_sha, multi.size(), writeFile("multi.bin", multi), progress);
  ASSERT_TRUE(sent) << sent.error().message;
  sent = c->uploadLfs(kRepo, "main", basic_sha, basic.size(), writeFile("basic.bin", basic));
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(uploadRequests(), before);
  EXPECT_LT(c->stats().bytes_uploaded - uploaded_before, 4096u);  // two batch requests
  EXPECT_EQ(reported.load(), 0u);
}

TEST_F(HubdUploadTest, StaleParentIsAConflict) {
  auto c = client();
  std::string parent = head(*c);
  CommitRequest request;
  request.summary = "first";
  request.parent_commit = parent;
  request.operations = {{CommitOperation::Kind::kFile, "race.txt", "one\n", "", 0}};
  auto won = c->commit(kRepo, "main", request);
  ASSERT_TRUE(won) << won.error().message;
  request.summary = "second";
  request.operations[0].content = "two\n";
  auto lost = c->commit(kRepo, "main", request);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().kind, HubErrorKind::kConflict) << lost.error().message;
  EXPECT_EQ(lost.error().http_status, 412);
  EXPECT_EQ(head(*c), won->commit);
}

TEST_F(HubdUploadTest, CommitErrors) {
  auto c = client();
  CommitRequest request;
  request.summary = "delete a file that is not there";
  request.operations = {{CommitOperation::Kind::kDeletedFile, "no/such/file.txt", "", "", 0}};
  auto missing = c->commit(kRepo, "main", request);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, HubErrorKind::kEntryNotFound) << missing.error().message;

  request.operations = {
      {CommitOperation::Kind::kLfsFile, "never.bin", "", std::string(64, 'e'), 10}};
  auto unknown = c->commit(kRepo, "main", request);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, HubErrorKind::kBadResponse) << unknown.error().message;  // 422

  auto reader = client(kReadToken);
  request.operations = {{CommitOperation::Kind::kFile, "x.txt", "x", "", 0}};
  auto refused = reader->commit(kRepo, "main", request);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, HubErrorKind::kForbidden) << refused.error().message;
}

}  // namespace
}  // namespace hfm::hub::testing
