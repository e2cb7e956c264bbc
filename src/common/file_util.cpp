// SPDX-License-Identifier: Apache-2.0
#include "common/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

#include "common/hex.h"

namespace hfm::common {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = fd;
}

std::string errnoMessage(std::string_view what, const std::filesystem::path& path, int err) {
  std::array<char, 256> buf{};
  const char* text = strerror_r(err, buf.data(), buf.size());
  return std::string(what) + " " + path.string() + ": " + text;
}

Result<UniqueFd> openFile(const std::filesystem::path& path, int flags, unsigned mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) {
    int err = errno;
    return makeError(err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo,
                     errnoMessage("open", path, err));
  }
  return UniqueFd(fd);
}

Status writeAll(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return makeError(ErrorKind::kIo, errnoMessage("write", "fd " + std::to_string(fd), errno));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

Status fsyncDir(const std::filesystem::path& dir) {
  auto fd = openFile(dir, O_RDONLY | O_DIRECTORY);
  if (!fd) {
    return Unexpected<Error>(fd.error());
  }
  if (::fsync(fd->get()) != 0) {
    return makeError(ErrorKind::kIo, errnoMessage("fsync", dir, errno));
  }
  return {};
}

Status makeDirs(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return makeError(ErrorKind::kIo, "mkdir " + dir.string() + ": " + ec.message());
  }
  return {};
}

std::filesystem::path uniqueTempPath(const std::filesystem::path& dir) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::array<std::uint8_t, 8> bytes{};
  std::uint64_t v = rng();
  std::memcpy(bytes.data(), &v, sizeof v);
  return dir / (".tmp-" + toHex(bytes));
}

Status commitTempFile(int fd, const std::filesystem::path& temp, const std::filesystem::path& path) {
  if (::fsync(fd) != 0) {
    return makeError(ErrorKind::kIo, errnoMessage("fsync", temp, errno));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return makeError(ErrorKind::kIo, errnoMessage("rename", path, err));
  }
  return fsyncDir(path.parent_path());
}

Status writeFileAtomic(const std::filesystem::path& path, std::string_view data, unsigned mode) {
  auto temp = uniqueTempPath(path.parent_path());
  auto fd = openFile(temp, O_WRONLY | O_CREAT | O_EXCL, mode);
  if (!fd) {
    return Unexpected<Error>(fd.error());
  }
  if (auto st = writeAll(fd->get(), data.data(), data.size()); !st) {
    ::unlink(temp.c_str());
    return st;
  }
  return commitTempFile(fd->get(), temp, path);
}

Result<std::string> readFile(const std::filesystem::path& path) {
  auto fd = openFile(path, O_RDONLY);
  if (!fd) {
    return Unexpected<Error>(fd.error());
  }
  std::string out;
  std::array<char, 65536> buf{};
  while (true) {
    ssize_t n = ::read(fd->get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return makeError(ErrorKind::kIo, errnoMessage("read", path, errno));
    }
    if (n == 0) {
      break;
    }
    out.append(buf.data(), static_cast<std::size_t>(n));
  }
  return out;
}

Result<std::uint64_t> fileSize(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return makeError(ErrorKind::kIo, errnoMessage("fstat", "fd " + std::to_string(fd), errno));
  }
  return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace hfm::common
