// SPDX-License-Identifier: Apache-2.0
#pragma once

// A read-only mapping of one stored file (an LFS blob, a xorb), shared by the content provider
// of the response that streams it, so large answers are sent from the page cache without being
// copied into a body first. Immutable once made; thread-safe.

#include <sys/mman.h>

#include <cstddef>
#include <memory>

namespace hfm::hubd {

// The most a content provider hands the sink at once.
inline constexpr std::size_t kBlobSendChunk = 4u << 20;

class BlobMapping {
 public:
  BlobMapping(const BlobMapping&) = delete;
  BlobMapping& operator=(const BlobMapping&) = delete;
  static std::shared_ptr<BlobMapping> map(int fd, std::size_t size) {
    void* addr = nullptr;
    if (size > 0) {
      addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
      if (addr == MAP_FAILED) {
        return nullptr;
      }
      ::madvise(addr, size, MADV_SEQUENTIAL);
    }
    return std::shared_ptr<BlobMapping>(new BlobMapping(addr, size));
  }
  ~BlobMapping() {
    if (addr_ != nullptr) {
      ::munmap(addr_, size_);
    }
  }
  const char* data() const { return static_cast<const char*>(addr_); }

 private:
  BlobMapping(void* addr, std::size_t size) : addr_(addr), size_(size) {}
  void* addr_;
  std::size_t size_;
};

}  // namespace hfm::hubd
