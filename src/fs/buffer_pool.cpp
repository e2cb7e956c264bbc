// SPDX-License-Identifier: Apache-2.0
#include "fs/buffer_pool.h"

#include <sys/mman.h>

#include <new>

namespace hfm::fs {

namespace {

// Capacities are rounded up to this, so that requests of nearby sizes share idle buffers.
constexpr std::size_t kGranule = 256 * 1024;

}  // namespace

std::shared_ptr<BufferPool> BufferPool::create(std::size_t max_idle_bytes) {
  return std::shared_ptr<BufferPool>(new BufferPool(max_idle_bytes));
}

BufferPool::~BufferPool() {
  for (auto& [capacity, buffers] : idle_) {
    for (char* data : buffers) {
      ::munmap(data, capacity);
    }
  }
}

std::shared_ptr<char[]> BufferPool::take(std::size_t length) {
  const std::size_t capacity = (std::max<std::size_t>(length, 1) + kGranule - 1) / kGranule * kGranule;
  char* data = nullptr;
  {
    std::lock_guard lock(mu_);
    auto it = idle_.find(capacity);
    if (it != idle_.end() && !it->second.empty()) {
      data = it->second.back();
      it->second.pop_back();
      idle_bytes_ -= capacity;
    }
  }
  if (data == nullptr) {
    void* mapped = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0);
    if (mapped == MAP_FAILED) {
      throw std::bad_alloc();
    }
    data = static_cast<char*>(mapped);
    std::lock_guard lock(mu_);
    mapped_bytes_ += capacity;
  }
  return std::shared_ptr<char[]>(
      data, [pool = shared_from_this(), capacity](char* p) { pool->giveBack(p, capacity); });
}

void BufferPool::giveBack(char* data, std::size_t capacity) {
  {
    std::lock_guard lock(mu_);
    if (idle_bytes_ + capacity <= max_idle_bytes_) {
      idle_[capacity].push_back(data);
      idle_bytes_ += capacity;
      return;
    }
    mapped_bytes_ -= capacity;
  }
  ::munmap(data, capacity);
}

void BufferPool::releaseIdle() {
  std::unordered_map<std::size_t, std::vector<char*>> idle;
  {
    std::lock_guard lock(mu_);
    idle.swap(idle_);
    mapped_bytes_ -= idle_bytes_;
    idle_bytes_ = 0;
  }
  for (auto& [capacity, buffers] : idle) {
    for (char* data : buffers) {
      ::munmap(data, capacity);
    }
  }
}

BufferPool::Usage BufferPool::usage() const {
  std::lock_guard lock(mu_);
  return Usage{mapped_bytes_, idle_bytes_};
}

}  // namespace hfm::fs
