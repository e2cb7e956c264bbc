// SPDX-License-Identifier: Apache-2.0
#include "fs/overlay.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "common/file_util.h"
#include "common/hash.h"
#include "fs/change_record.h"

namespace hfm::fs {
namespace {

Snapshot base() {
  std::vector<SnapshotFile> files = {
      {"README.md", false, 5, std::string(40, 'a'), "", ""},
      {"weights/model.bin", false, 100, std::string(40, 'b'), std::string(64, 'c'), ""},
      {"weights/extra/x.txt", false, 3, std::string(40, 'd'), "", ""},
  };
  return Snapshot(std::string(40, 'f'), std::chrono::system_clock::time_point{}, files);
}

class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = common::uniqueTempPath(std::filesystem::temp_directory_path());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::shared_ptr<StagedFile> staged(const std::string& name, std::string_view bytes) {
    auto f = StagedFile::create(dir_, name);
    EXPECT_TRUE(f);
    EXPECT_TRUE((*f)->write(0, std::span<const char>(bytes.data(), bytes.size())));
    return *f;
  }
  std::filesystem::path dir_;
  Snapshot snap_ = base();
  Overlay o_;
};

TEST_F(OverlayTest, EmptyOverlayShowsTheBase) {
  EXPECT_EQ(o_.resolve(&snap_, "README.md").what, Resolved::What::kBaseFile);
  EXPECT_EQ(o_.resolve(&snap_, "weights").what, Resolved::What::kBaseDir);
  EXPECT_FALSE(o_.resolve(&snap_, "nope").exists());
  auto names = o_.list(&snap_, "");
  EXPECT_EQ(names.size(), 2u);
  EXPECT_TRUE(names.at("weights"));
}

TEST_F(OverlayTest, NewFileInNewFolderShowsWithItsFolder) {
  o_.makeDir("new");
  o_.putFile("new/a.txt", staged("1", "hi"));
  EXPECT_EQ(o_.resolve(&snap_, "new").what, Resolved::What::kDir);
  EXPECT_EQ(o_.resolve(&snap_, "new/a.txt").what, Resolved::What::kFile);
  EXPECT_EQ(o_.list(&snap_, "new").size(), 1u);
  EXPECT_EQ(o_.list(&snap_, "").size(), 3u);
}

TEST_F(OverlayTest, RemovingABaseFileLeavesADeletion) {
  o_.remove(&snap_, "README.md");
  EXPECT_FALSE(o_.resolve(&snap_, "README.md").exists());
  EXPECT_EQ(o_.changes().at("README.md").kind, Change::Kind::kDeleted);
  // Removing a file that only ever existed locally leaves nothing.
  o_.putFile("tmp.txt", staged("2", "x"));
  o_.remove(&snap_, "tmp.txt");
  EXPECT_EQ(o_.changes().count("tmp.txt"), 0u);
}

TEST_F(OverlayTest, RenamedFolderMovesEverythingBelowIt) {
  o_.putFile("weights/new.txt", staged("3", "n"));
  o_.rename(&snap_, "weights", "w2");
  EXPECT_FALSE(o_.resolve(&snap_, "weights").exists());
  EXPECT_FALSE(o_.resolve(&snap_, "weights/model.bin").exists());
  Resolved moved = o_.resolve(&snap_, "w2/model.bin");
  ASSERT_EQ(moved.what, Resolved::What::kFile);
  ASSERT_TRUE(moved.change->remote.has_value());
  EXPECT_EQ(moved.change->remote->path, "weights/model.bin");  // still fetched from there
  EXPECT_EQ(o_.resolve(&snap_, "w2/extra/x.txt").what, Resolved::What::kFile);
  EXPECT_EQ(o_.resolve(&snap_, "w2/new.txt").what, Resolved::What::kFile);
  EXPECT_EQ(o_.filesUnder(&snap_, "w2").size(), 3u);
}

TEST_F(OverlayTest, FolderMadeWhereOneWasDeletedStartsEmpty) {
  o_.remove(&snap_, "weights/extra/x.txt");
  o_.remove(&snap_, "weights/extra");
  o_.makeDir("weights/extra");
  EXPECT_EQ(o_.resolve(&snap_, "weights/extra").what, Resolved::What::kDir);
  EXPECT_TRUE(o_.list(&snap_, "weights/extra").empty());
}

TEST_F(OverlayTest, FileReplacingAFileKeepsTheNewBytes) {
  auto s = staged("4", "new bytes");
  o_.putFile("tmp", s);
  o_.rename(&snap_, "tmp", "README.md");
  Resolved r = o_.resolve(&snap_, "README.md");
  ASSERT_EQ(r.what, Resolved::What::kFile);
  EXPECT_EQ(r.change->staged, s);
  EXPECT_FALSE(o_.resolve(&snap_, "tmp").exists());
}

TEST_F(OverlayTest, ChangeRecordsRoundTrip) {
  auto s = staged("5", "abc");
  o_.putFile("a.txt", s);
  o_.rename(&snap_, "weights/model.bin", "m.bin");
  o_.makeDir("d");
  for (const auto& [path, change] : o_.changes()) {
    std::string error;
    auto back = decodeChange(encodeChange(change), dir_, error);
    ASSERT_TRUE(back) << path << ": " << error;
    EXPECT_EQ(back->kind, change.kind) << path;
    EXPECT_EQ(back->hides_base, change.hides_base) << path;
    EXPECT_EQ(back->remote.has_value(), change.remote.has_value()) << path;
    if (change.staged) {
      EXPECT_EQ(back->staged->size(), 3u);
      EXPECT_EQ(back->staged->knownSha256(), s->knownSha256());
    }
  }
  std::string error;
  EXPECT_FALSE(decodeChange("F\n../x\n\n0", dir_, error));
  EXPECT_FALSE(decodeChange("Q", dir_, error));
}

TEST(ChangeKeyTest, LongPathsAreKeyedByTheirHash) {
  Change deleted;
  deleted.kind = Change::Kind::kDeleted;
  std::string short_path = "a/b.txt";
  std::string long_path = std::string(300, 'x') + "/" + std::string(300, 'y');
  for (const auto& path : {short_path, long_path}) {
    std::string key = changeKey(path);
    EXPECT_LE(key.size(), 511u);
    auto back = splitChangeEntry(key, keyedChange(path, deleted));
    ASSERT_TRUE(back) << path.size();
    EXPECT_EQ(back->first, path);
    EXPECT_EQ(back->second, "X");
  }
  EXPECT_FALSE(splitChangeEntry(changeKey(long_path), "other/path\nX"));
}

TEST(StagedFileTest, FreezeKeepsTheUploadedBytesWhileWritesGoOn) {
  auto dir = common::uniqueTempPath(std::filesystem::temp_directory_path());
  std::filesystem::create_directories(dir);
  {
    auto f = *StagedFile::create(dir, "s");
    ASSERT_TRUE(f->write(0, std::span<const char>("hello", 5)));
    FrozenContent frozen = f->freeze();
    EXPECT_EQ(frozen.sha256, common::sha256Hex("hello"));
    ASSERT_TRUE(f->write(5, std::span<const char>(" world", 6)));
    EXPECT_TRUE(f->changedSince(frozen.generation));
    char buf[16] = {};
    ASSERT_EQ(::pread(frozen.blob->fd(), buf, sizeof buf, 0), 5);
    EXPECT_EQ(std::string(buf, 5), "hello");
    EXPECT_EQ(f->knownSha256(), common::sha256Hex("hello world"));
    auto got = f->read(0, std::span<char>(buf, sizeof buf));
    ASSERT_TRUE(got);
    EXPECT_EQ(std::string(buf, *got), "hello world");
    // A write in the middle makes the streaming hash unusable.
    ASSERT_TRUE(f->write(1, std::span<const char>("E", 1)));
    EXPECT_FALSE(f->knownSha256());
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hfm::fs
