// SPDX-License-Identifier: Apache-2.0
#include "fs/staged_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "tests/support/file_size_limit.h"

namespace hfm::fs {
namespace {

using testing::FileSizeLimit;

class StagedFileFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "hfm_staged.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path dir_;
};

TEST_F(StagedFileFailureTest, FailedWriteHoldsTheFileBackUntilTruncatedBelowIt) {
  auto staged = StagedFile::create(dir_, "s1");
  ASSERT_TRUE(staged) << staged.error().message;
  StagedFile& f = **staged;
  std::string chunk(32 * 1024, 'x');
  ASSERT_TRUE(f.write(0, chunk));
  EXPECT_FALSE(f.writeFailure());
  {
    FileSizeLimit limit(40 * 1024);
    EXPECT_FALSE(f.write(chunk.size(), chunk));  // bytes [32 KiB, 64 KiB) cannot all land
  }
  ASSERT_TRUE(f.writeFailure());
  EXPECT_FALSE(f.writeFailure()->message.empty());
  // Later successful writes do not clear it: the bytes of the failed one are still missing.
  ASSERT_TRUE(f.write(0, std::string(16, 'y')));
  EXPECT_TRUE(f.writeFailure());
  // Cutting above the failed write keeps the damage; cutting at it removes it.
  ASSERT_TRUE(f.truncate(36 * 1024));
  EXPECT_TRUE(f.writeFailure());
  ASSERT_TRUE(f.truncate(32 * 1024));
  EXPECT_FALSE(f.writeFailure());
  EXPECT_EQ(f.size(), 32u * 1024);
}

TEST_F(StagedFileFailureTest, TruncateToZeroClearsAFailure) {
  auto staged = StagedFile::create(dir_, "s2");
  ASSERT_TRUE(staged);
  StagedFile& f = **staged;
  {
    FileSizeLimit limit(4096);
    EXPECT_FALSE(f.write(0, std::string(8192, 'z')));
  }
  ASSERT_TRUE(f.writeFailure());
  ASSERT_TRUE(f.truncate(0));  // open(O_TRUNC): the file is being rewritten
  EXPECT_FALSE(f.writeFailure());
  ASSERT_TRUE(f.write(0, std::string("whole")));
  EXPECT_FALSE(f.writeFailure());
  EXPECT_EQ(f.size(), 5u);
}

// A committed file that a failed write brings back (part of it landed) is reported as revived:
// by takeRevived(), or else by the next write or truncate that succeeds. Otherwise nobody puts it
// back among the pending changes, and the next mount sweeps it as a leftover.
TEST_F(StagedFileFailureTest, PartlyFailedWriteToACommittedFileReportsTheRevive) {
  auto staged = StagedFile::create(dir_, "s3");
  ASSERT_TRUE(staged);
  StagedFile& f = **staged;
  std::string chunk(32 * 1024, 'x');
  ASSERT_TRUE(f.write(0, chunk));
  auto frozen = f.freeze();
  ASSERT_TRUE(f.markCommitted(frozen.generation));
  {
    FileSizeLimit limit(40 * 1024);
    EXPECT_FALSE(f.write(chunk.size(), chunk));  // appends; 8 KiB of it lands
  }
  ASSERT_TRUE(f.writeFailure());
  EXPECT_EQ(f.size(), 40u * 1024);
  // The disk has room again: the truncate below the damage reports the revive.
  auto cut = f.truncate(32 * 1024);
  ASSERT_TRUE(cut);
  EXPECT_TRUE(*cut);
  EXPECT_FALSE(f.writeFailure());
  auto rewrite = f.write(32 * 1024, chunk);
  ASSERT_TRUE(rewrite);
  EXPECT_FALSE(*rewrite);  // reported once
  EXPECT_FALSE(f.takeRevived());
}

TEST_F(StagedFileFailureTest, TakeRevivedReportsAPartlyFailedWriteOnce) {
  auto staged = StagedFile::create(dir_, "s4");
  ASSERT_TRUE(staged);
  StagedFile& f = **staged;
  ASSERT_TRUE(f.write(0, std::string(4096, 'a')));
  ASSERT_TRUE(f.markCommitted(f.freeze().generation));
  {
    FileSizeLimit limit(6000);
    EXPECT_FALSE(f.write(4096, std::string(4096, 'b')));
  }
  EXPECT_TRUE(f.takeRevived());
  EXPECT_FALSE(f.takeRevived());
  auto next = f.write(0, std::string("c"));
  ASSERT_TRUE(next);
  EXPECT_FALSE(*next);
}

// A truncate that fails (here the copy on write of a frozen file: the disk is full) leaves the
// damaged file held back.
TEST_F(StagedFileFailureTest, FailedTruncateKeepsTheMark) {
  auto staged = StagedFile::create(dir_, "s5");
  ASSERT_TRUE(staged);
  StagedFile& f = **staged;
  std::string chunk(32 * 1024, 'x');
  ASSERT_TRUE(f.write(0, chunk));
  {
    FileSizeLimit limit(40 * 1024);
    EXPECT_FALSE(f.write(chunk.size(), chunk));
  }
  ASSERT_TRUE(f.writeFailure());
  (void)f.freeze();  // as a commit holding the file would: the truncate must copy it first
  {
    FileSizeLimit limit(1024);
    EXPECT_FALSE(f.truncate(16 * 1024));
  }
  EXPECT_TRUE(f.writeFailure());
  EXPECT_FALSE(f.freezeUnlessFailed());
  EXPECT_EQ(f.size(), 40u * 1024);
  ASSERT_TRUE(f.truncate(16 * 1024));
  EXPECT_FALSE(f.writeFailure());
}

TEST_F(StagedFileFailureTest, FreezeUnlessFailedAndTheHashOfAFailedFile) {
  auto staged = StagedFile::create(dir_, "s6");
  ASSERT_TRUE(staged);
  StagedFile& f = **staged;
  ASSERT_TRUE(f.write(0, std::string(4096, 'a')));
  EXPECT_TRUE(f.knownSha256());
  auto frozen = f.freezeUnlessFailed();
  ASSERT_TRUE(frozen);
  EXPECT_EQ(frozen->size, 4096u);
  EXPECT_TRUE(frozen->sha256);
  f.thaw(frozen->generation);
  {
    FileSizeLimit limit(4096);
    EXPECT_FALSE(f.write(4096, std::string(4096, 'b')));  // nothing lands
  }
  ASSERT_TRUE(f.writeFailure());
  EXPECT_FALSE(f.freezeUnlessFailed());
  // The journal must not record a hash for a failed file: the next mount computes it.
  EXPECT_FALSE(f.knownSha256());
}

// A sha recorded in the journal (reopen) is dropped once a write to the file fails.
TEST_F(StagedFileFailureTest, ReopenedFileForgetsItsRecordedHashOnFailure) {
  {
    auto made = StagedFile::create(dir_, "s7");
    ASSERT_TRUE(made);
    ASSERT_TRUE((*made)->write(0, std::string(4096, 'a')));
  }
  auto f = StagedFile::reopen(dir_, "s7", std::string(64, '0'));
  ASSERT_TRUE(f);
  EXPECT_EQ((*f)->knownSha256(), std::string(64, '0'));
  {
    FileSizeLimit limit(4096);
    EXPECT_FALSE((*f)->write(0, std::string(8192, 'b')));  // a rewrite, partly landing
  }
  EXPECT_FALSE((*f)->knownSha256());
}

}  // namespace
}  // namespace hfm::fs
