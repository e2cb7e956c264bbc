// SPDX-License-Identifier: Apache-2.0
#pragma once

// File helpers with the durability rules the project relies on: write to a temporary file,
// fsync it, rename it into place, fsync the directory.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace hfm::common {

// Owns a file descriptor. Not thread-safe. Movable, not copyable.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset(other.release());
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// errno text with context, for Error messages.
std::string errnoMessage(std::string_view what, const std::filesystem::path& path, int err);

Result<UniqueFd> openFile(const std::filesystem::path& path, int flags, unsigned mode = 0644);
Status writeAll(int fd, const void* data, std::size_t size);
Status fsyncDir(const std::filesystem::path& dir);
Status makeDirs(const std::filesystem::path& dir);

// Replaces `path` with `data` atomically and durably. The file is created with `mode` (under the
// umask), so a secret written with 0600 is never readable by others, not even for a moment.
Status writeFileAtomic(const std::filesystem::path& path, std::string_view data,
                       unsigned mode = 0644);
// Durably moves a finished temporary file into place (fsync file, rename, fsync dir).
Status commitTempFile(int fd, const std::filesystem::path& temp, const std::filesystem::path& path);

Result<std::string> readFile(const std::filesystem::path& path);
Result<std::uint64_t> fileSize(int fd);

// A unique temporary name next to `dir`: "<dir>/.tmp-<random>".
std::filesystem::path uniqueTempPath(const std::filesystem::path& dir);

}  // namespace hfm::common
