// SPDX-License-Identifier: Apache-2.0
// Staged files held back after a failed write (docs/SEMANTICS.md, "Full disk"), through the
// Filesystem against a real hf-hubd. A full staging disk is stood in for by RLIMIT_FSIZE: a write
// past the limit fails (EFBIG) as one on a full disk does (ENOSPC).

#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "tests/support/file_size_limit.h"
#include "tests/support/fs_stack.h"
#include "tests/support/hubd_process.h"

namespace hfm::fs {
namespace {

namespace fsys = std::filesystem;
using hub::testing::HubdProcess;
using testing::FileSizeLimit;
using testing::FsStack;
using testing::randomBytes;

constexpr const char* kWriteToken = "hf_writer_token";
constexpr const char* kReadToken = "hf_reader_token";
constexpr const char* kView = "models/alice/hb@main";
const common::RepoId kRepo{common::RepoType::kModel, "alice", "hb"};
constexpr auto kNever = std::chrono::hours(1);  // commit_delay: only fsync and commitAll commit

class FilesystemHeldBackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fsys::temp_directory_path() /
           ("hfm-fs-hb-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fsys::remove_all(dir_);
    testing::writeFile(dir_ / "seed" / "README.md", "# held back test\n");
    ASSERT_EQ(
        hub::testing::importRepo(HFM_HUBD_BINARY, dir_ / "root", "models/alice/hb", dir_ / "seed"),
        "");
    std::string error;
    hubd_ = HubdProcess::start(HFM_HUBD_BINARY, dir_ / "root",
                               {"--token", std::string(kWriteToken) + "=alice:write", "--token",
                                std::string(kReadToken) + "=alice:read"},
                               &error);
    ASSERT_NE(hubd_, nullptr) << error;
    admin_ = hubd_->client(kWriteToken);
    ASSERT_NE(admin_, nullptr);
  }

  void TearDown() override {
    writer_.reset();
    admin_.reset();
    hubd_.reset();
    std::error_code ec;
    fsys::remove_all(dir_, ec);
  }

  std::unique_ptr<FsStack> stack(const std::string& token, FsOptions options) {
    std::string error;
    auto s = FsStack::open(hubd_->url(), token, dir_ / ("cache-" + std::to_string(caches_++)),
                           std::move(options), &error);
    EXPECT_NE(s, nullptr) << error;
    return s;
  }

  void openWriter() {
    FsOptions options;
    options.read_only = false;
    options.endpoint = hubd_->url();
    options.write_dir = (dir_ / "write").string();
    options.commit_delay = kNever;
    writer_.reset();
    writer_ = stack(kWriteToken, std::move(options));
    ASSERT_NE(writer_, nullptr);
    auto view = writer_->walk(kView);
    ASSERT_TRUE(view) << view.error().message;
    view_ = *view;
  }

  Filesystem& fs() { return writer_->fs(); }

  std::size_t pendingChanges() {
    auto info = fs().pending();
    return info.empty() ? 0 : info.front().changes;
  }

  // The bytes of `path` at the branch's head, read through a fresh read-only Filesystem.
  std::string committed(const std::string& path) {
    auto info = admin_->revision(kRepo, "main");
    EXPECT_TRUE(info);
    auto reader = stack(kReadToken, FsOptions{});
    if (!info || !reader) {
      return "<no reader>";
    }
    auto file = reader->walk("models/alice/hb@" + info->commit + "/" + path);
    if (!file) {
      return "<missing>";
    }
    auto bytes = reader->readAll(*file);
    return bytes ? *bytes : "<unreadable>";
  }

  FsResult<std::size_t> write(std::uint64_t fh, std::uint64_t offset, const std::string& data) {
    return fs().write(fh, offset, std::span<const char>(data.data(), data.size()));
  }

  fsys::path dir_;
  std::unique_ptr<HubdProcess> hubd_;
  std::unique_ptr<hub::HubClient> admin_;
  std::unique_ptr<FsStack> writer_;
  std::uint64_t view_ = 0;
  int caches_ = 0;
};

// A committed file is reopened and appended to; the disk fills in the middle of a write; space
// comes back, the file is truncated below the damage, rewritten and closed: it is committed.
// Was (staged_file.cpp, StagedFile::write): the partly failed write cleared the file's
// "committed" state without reporting it, so nobody put the file back among the view's changes:
// no change for the path, never committed, and the next mount deleted the staging file as a
// leftover.
TEST_F(FilesystemHeldBackTest, ACommittedFileThatFailsAWriteAndIsRepairedIsCommitted) {
  openWriter();
  std::string first = randomBytes(32 * 1024, 1);
  auto made = fs().create(view_, "log.bin", 0644, O_WRONLY | O_CREAT | O_TRUNC);
  ASSERT_TRUE(made);
  ASSERT_TRUE(write(made->fh, 0, first));
  ASSERT_TRUE(fs().flush(made->fh));
  fs().release(made->fh);
  ASSERT_TRUE(fs().fsyncdir(view_));
  ASSERT_EQ(committed("log.bin"), first);
  EXPECT_EQ(pendingChanges(), 0u);

  // A new open() of the inode the kernel still holds (its entry has not timed out): the node
  // keeps the committed staged file.
  std::uint64_t node = made->entry.attr.ino;
  auto fh = fs().open(node, O_WRONLY);
  ASSERT_TRUE(fh);
  std::string second = randomBytes(32 * 1024, 2);
  {
    FileSizeLimit limit(40 * 1024);  // the disk fills: 8 KiB of the append lands
    EXPECT_FALSE(write(*fh, first.size(), second));
  }
  EXPECT_EQ(pendingChanges(), 1u) << "the damaged file is pending (held back), and reported";
  EXPECT_FALSE(fs().flush(*fh)) << "close reports the failed write";
  ASSERT_TRUE(fs().fsyncdir(view_));  // nothing else to commit; the file is held back
  EXPECT_EQ(committed("log.bin"), first);

  SetAttrRequest cut;
  cut.size = first.size();
  cut.fh = *fh;
  ASSERT_TRUE(fs().setattr(node, cut));
  ASSERT_TRUE(write(*fh, first.size(), second));
  ASSERT_TRUE(fs().flush(*fh));
  fs().release(*fh);
  EXPECT_EQ(pendingChanges(), 1u);
  ASSERT_TRUE(fs().commitAll(std::chrono::seconds(20)));
  EXPECT_EQ(committed("log.bin"), first + second);
  EXPECT_EQ(pendingChanges(), 0u);
}

// A file closed once (so the journal records it, with its hash) is rewritten in place and the
// disk fills in the middle; the daemon is killed before the file is repaired. The next mount
// commits the staged bytes as they are (the known gap in SEMANTICS.md), but under their own hash.
// Was (filesystem_write.cpp, Filesystem::flush): the close of the damaged file returned before
// rewriting the journal record, so the record kept the hash of the bytes first closed, and the
// next mount uploaded the new bytes under it.
TEST_F(FilesystemHeldBackTest, AHeldBackFileIsJournaledWithoutItsOldHash) {
  openWriter();
  std::string first = randomBytes(32 * 1024, 3);
  auto made = fs().create(view_, "model.bin", 0644, O_WRONLY | O_CREAT | O_TRUNC);
  ASSERT_TRUE(made);
  ASSERT_TRUE(write(made->fh, 0, first));
  ASSERT_TRUE(fs().flush(made->fh));
  fs().release(made->fh);
  auto fh = fs().open(made->entry.attr.ino, O_WRONLY);
  ASSERT_TRUE(fh);
  std::string second = randomBytes(64 * 1024, 4);
  {
    FileSizeLimit limit(40 * 1024);
    EXPECT_FALSE(write(*fh, 0, second));  // 40 KiB of the rewrite lands
  }
  EXPECT_FALSE(fs().flush(*fh));
  EXPECT_EQ(pendingChanges(), 1u);
  auto before = admin_->listCommits(kRepo, "main", 100);
  ASSERT_TRUE(before);
  writer_.reset();  // killed: no release, no commit

  openWriter();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto list = admin_->listCommits(kRepo, "main", 100);
    ASSERT_TRUE(list);
    if (list->size() > before->size()) {
      break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the next mount commits the file";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(committed("model.bin"), second.substr(0, 40 * 1024));
}

}  // namespace
}  // namespace hfm::fs
