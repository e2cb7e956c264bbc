// SPDX-License-Identifier: Apache-2.0
#include "fs/staged_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <filesystem>
#include <string>

namespace hfm::fs {
namespace {

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

// Files may not grow past `limit` bytes while alive: a write past it fails (EFBIG), as one on a
// full disk does (ENOSPC).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t limit) {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old_;
    lim.rlim_cur = limit;
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit old_{};
  sighandler_t old_handler_ = SIG_DFL;
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

}  // namespace
}  // namespace hfm::fs
