// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace hfm::fs {

// Request buffers of the read engine (a few MiB each), mapped with mmap: a buffer given back
// beyond the idle allowance leaves the process at once, where malloc would keep it in an arena
// and the daemon's memory would grow past --memory-limit. Up to `max_idle_bytes` of given-back
// buffers are kept, their pages already faulted in, for the next requests of the same size.
// Thread-safe; a buffer may outlive the pool's owner (it keeps the pool alive).
class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  static std::shared_ptr<BufferPool> create(std::size_t max_idle_bytes);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // At least `length` bytes, not zero-filled. Throws std::bad_alloc when memory is exhausted,
  // as new does.
  std::shared_ptr<char[]> take(std::size_t length);

  struct Usage {
    std::uint64_t mapped = 0;  // buffers in use plus idle ones
    std::uint64_t idle = 0;
  };
  Usage usage() const;

  // Unmaps the idle buffers.
  void releaseIdle();

 private:
  explicit BufferPool(std::size_t max_idle_bytes) : max_idle_bytes_(max_idle_bytes) {}
  void giveBack(char* data, std::size_t capacity);

  const std::size_t max_idle_bytes_;
  mutable std::mutex mu_;
  std::unordered_map<std::size_t, std::vector<char*>> idle_;  // by capacity; guarded by mu_
  std::size_t idle_bytes_ = 0;                                 // guarded by mu_
  std::uint64_t mapped_bytes_ = 0;                             // guarded by mu_
};

}  // namespace hfm::fs
