// SPDX-License-Identifier: Apache-2.0
// The filesystem logic, read engine, cache and Hub client wired together against a real hf-hubd,
// without the kernel: what a FUSE mount would do, call by call.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "common/base64.h"
#include "tests/support/fs_stack.h"
#include "tests/support/hubd_process.h"

namespace hfm::fs {
namespace {

namespace fsys = std::filesystem;
using hub::testing::HubdProcess;
using testing::randomBytes;
using testing::writeFile;

constexpr const char* kToken = "hf_alice_token";

// One hf-hubd with a seeded repo, and the whole read stack in front of it.
class FilesystemTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fsys::path(fsys::temp_directory_path() /
                          ("hfm-fs-it-" + std::to_string(::getpid())));
    fsys::create_directories(*dir_ / "src");
    auto& files = *new std::map<std::string, std::string>();
    files_ = &files;
    for (int d = 0; d < 5; ++d) {
      for (int f = 0; f < 12; ++f) {
        std::string path = "dir" + std::to_string(d) + "/sub/file" + std::to_string(f) + ".txt";
        files[path] = "content of " + path + "\n";
      }
    }
    files["config.json"] = "{\"hidden_size\": 8}\n";
    files["weights/model.bin"] = randomBytes(20u << 20, 7);  // LFS: redirected to the CDN
    for (const auto& [path, content] : files) {
      writeFile(*dir_ / "src" / path, content);
    }
    std::string err = hub::testing::importRepo(HFM_HUBD_BINARY, *dir_ / "root", "models/alice/tiny",
                                               *dir_ / "src");
    ASSERT_EQ(err, "");
    writeFile(*dir_ / "private" / "secret.txt", "secret\n");
    err = hub::testing::importRepo(HFM_HUBD_BINARY, *dir_ / "root", "models/alice/hidden",
                                   *dir_ / "private", {"--private"});
    ASSERT_EQ(err, "");
    std::string error;
    hubd_ = HubdProcess::start(HFM_HUBD_BINARY, *dir_ / "root",
                               {"--token", std::string(kToken) + "=alice:write", "--tree-page-size", "7"},
                               &error)
                .release();
    ASSERT_NE(hubd_, nullptr) << error;
  }

  static void TearDownTestSuite() {
    delete hubd_;
    std::error_code ec;
    fsys::remove_all(*dir_, ec);
    delete dir_;
    delete files_;
  }

  void SetUp() override { build(std::nullopt, "cache-" + std::to_string(counter_++)); }

  void build(std::optional<std::string> token, const std::string& cache_name,
             std::chrono::seconds ttl = std::chrono::seconds(30)) {
    stack_.reset();  // one environment per directory per process
    FsOptions fs_options;
    fs_options.revision_ttl = ttl;
    std::string error;
    stack_ = testing::FsStack::open(hubd_->url(), std::move(token), *dir_ / cache_name, fs_options,
                                    &error);
    ASSERT_NE(stack_, nullptr) << error;
    fs_ = &stack_->fs();
    hub_ = &stack_->hub();
  }

  std::uint64_t walk(const std::string& path) {
    auto ino = stack_->walk(path);
    EXPECT_TRUE(ino) << "lookup of " << path;
    return ino ? *ino : 0;
  }

  std::string readAll(std::uint64_t ino) {
    auto bytes = stack_->readAll(ino);
    EXPECT_TRUE(bytes);
    return bytes ? *bytes : "";
  }

  std::string stats() {
    httplib::Client client(hubd_->url());
    auto res = client.Get("/_hubd/stats");
    return res ? res->body : "";
  }

  static std::uint64_t counter(const std::string& stats_json, const std::string& group,
                               const std::string& cls) {
    auto g = stats_json.find("\"" + group + "\"");
    auto c = stats_json.find("\"" + cls + "\":", g);
    return std::stoull(stats_json.substr(c + cls.size() + 3));
  }

  static inline fsys::path* dir_ = nullptr;
  static inline std::map<std::string, std::string>* files_ = nullptr;
  static inline HubdProcess* hubd_ = nullptr;
  static inline int counter_ = 0;
  std::unique_ptr<testing::FsStack> stack_;
  Filesystem* fs_ = nullptr;       // stack_'s
  hub::HubClient* hub_ = nullptr;  // stack_'s
};

TEST_F(FilesystemTest, ListsAndReadsEveryFile) {
  std::uint64_t view = walk("models/alice/tiny@main");
  ASSERT_NE(view, 0u);
  auto top = fs_->readdir(view);
  ASSERT_TRUE(top);
  std::set<std::string> names;
  for (const auto& e : *top) {
    names.insert(e.name);
  }
  EXPECT_EQ(names, (std::set<std::string>{"config.json", "dir0", "dir1", "dir2", "dir3", "dir4",
                                          "weights"}));
  for (const auto& [path, content] : *files_) {
    std::uint64_t ino = walk("models/alice/tiny@main/" + path);
    ASSERT_NE(ino, 0u);
    auto attr = fs_->getattr(ino);
    ASSERT_TRUE(attr);
    EXPECT_EQ(attr->size, content.size()) << path;
    EXPECT_TRUE(readAll(ino) == content) << path;
  }
  auto missing = fs_->lookup(view, "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, FsErrorKind::kNotFound);
  auto link = walk("models/alice/tiny");
  EXPECT_EQ(*fs_->readlink(link), "tiny@main");
}

TEST_F(FilesystemTest, ConcurrentRandomReadsOfOneFile) {
  std::uint64_t ino = walk("models/alice/tiny@main/weights/model.bin");
  const std::string& expected = files_->at("weights/model.bin");
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto fh = fs_->open(ino, O_RDONLY);
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < 40; ++i) {
        std::uint64_t off = rng() % expected.size();
        std::size_t len = 1 + rng() % (300u << 10);
        std::string buf(len, '\0');
        auto got = fs_->read(*fh, off, std::span<char>(buf.data(), len));
        std::size_t want = std::min<std::uint64_t>(len, expected.size() - off);
        if (!got || *got != want || buf.compare(0, want, expected, off, want) != 0) {
          bad.fetch_add(1);
        }
      }
      fs_->release(*fh);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(FilesystemTest, CommitShaViewIsServedFromTheMetadataCacheAfterRestart) {
  auto head = hub_->revision(common::RepoId{common::RepoType::kModel, "alice", "tiny"}, "main");
  ASSERT_TRUE(head);
  std::string view = "models/alice/tiny@" + head->commit;
  ASSERT_NE(walk(view + "/dir3/sub/file4.txt"), 0u);
  ASSERT_FALSE(readAll(walk(view + "/weights/model.bin")).empty());
  std::string cache = "cache-restart";
  build(std::nullopt, cache);
  ASSERT_NE(walk(view + "/config.json"), 0u);
  build(std::nullopt, cache);  // the same cache again: a remount
  auto before = stats();
  std::uint64_t ino = walk(view + "/dir3/sub/file4.txt");
  EXPECT_EQ(readAll(ino), files_->at("dir3/sub/file4.txt"));
  auto after = stats();
  EXPECT_EQ(counter(after, "requests", "api"), counter(before, "requests", "api"))
      << "a commit-sha view must not list or resolve again";
}

TEST_F(FilesystemTest, BranchViewMovesAfterTheTtlAndOpenFilesKeepTheirContent) {
  build(std::nullopt, "cache-moves", std::chrono::seconds(1));
  std::uint64_t config = walk("models/alice/tiny@main/config.json");
  auto fh = fs_->open(config, O_RDONLY);
  ASSERT_TRUE(fh);
  std::string ndjson =
      "{\"key\":\"header\",\"value\":{\"summary\":\"change\"}}\n"
      "{\"key\":\"file\",\"value\":{\"path\":\"config.json\",\"encoding\":\"base64\",\"content\":\"" +
      common::base64Encode("{\"hidden_size\": 16}\n") + "\"}}\n" +
      "{\"key\":\"file\",\"value\":{\"path\":\"added.txt\",\"encoding\":\"base64\",\"content\":\"" +
      common::base64Encode("new\n") + "\"}}\n";
  httplib::Client client(hubd_->url());
  auto res = client.Post("/api/models/alice/tiny/commit/main",
                         httplib::Headers{{"Authorization", std::string("Bearer ") + kToken}}, ndjson,
                         "application/x-ndjson");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  std::uint64_t view = walk("models/alice/tiny@main");
  auto added = fs_->lookup(view, "added.txt");
  ASSERT_TRUE(added) << "the branch view should show the new commit";
  std::uint64_t fresh = walk("models/alice/tiny@main/config.json");
  EXPECT_NE(fresh, config) << "new content at the same path gets a new inode";
  EXPECT_EQ(readAll(fresh), "{\"hidden_size\": 16}\n");
  std::string old(64, '\0');
  auto got = fs_->read(*fh, 0, std::span<char>(old.data(), old.size()));
  ASSERT_TRUE(got);
  EXPECT_EQ(old.substr(0, *got), files_->at("config.json"));
  fs_->release(*fh);
  // Put the repository back for the other tests.
  std::string undo =
      "{\"key\":\"header\",\"value\":{\"summary\":\"undo\"}}\n"
      "{\"key\":\"file\",\"value\":{\"path\":\"config.json\",\"encoding\":\"base64\",\"content\":\"" +
      common::base64Encode(files_->at("config.json")) + "\"}}\n" +
      "{\"key\":\"deletedFile\",\"value\":{\"path\":\"added.txt\"}}\n";
  res = client.Post("/api/models/alice/tiny/commit/main",
                    httplib::Headers{{"Authorization", std::string("Bearer ") + kToken}}, undo,
                    "application/x-ndjson");
  ASSERT_TRUE(res && res->status == 200);
}

TEST_F(FilesystemTest, PrivateRepoNeedsTheOwnersToken) {
  std::uint64_t ns = walk("models/alice");
  auto hidden = fs_->lookup(ns, "hidden@main");
  ASSERT_FALSE(hidden);
  EXPECT_EQ(hidden.error().kind, FsErrorKind::kNotFound);
  EXPECT_NE(hidden.error().message.find("token"), std::string::npos) << hidden.error().message;
  build(std::string(kToken), "cache-private");
  EXPECT_NE(walk("models/alice/hidden@main/secret.txt"), 0u);
}

TEST_F(FilesystemTest, WritesAreRefused) {
  std::uint64_t ino = walk("models/alice/tiny@main/config.json");
  for (int flags : {O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC}) {
    auto fh = fs_->open(ino, flags);
    ASSERT_FALSE(fh);
    EXPECT_EQ(fh.error().kind, FsErrorKind::kReadOnly);
  }
}

}  // namespace
}  // namespace hfm::fs
