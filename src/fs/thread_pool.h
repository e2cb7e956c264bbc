// SPDX-License-Identifier: Apache-2.0
#pragma once

// A fixed set of worker threads draining a FIFO of tasks. Used for prefetching, so a full queue
// drops work instead of growing: prefetch is an optimisation, never an obligation.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hfm::fs {

// Thread-safe. The destructor stops accepting work, lets running tasks finish, drops queued
// ones, and joins the workers.
class ThreadPool {
 public:
  ThreadPool(std::size_t threads, std::size_t max_queued);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // False when the queue is full or the pool is stopping.
  bool trySubmit(std::function<void()> task);

 private:
  void run(const std::stop_token& stop);

  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  std::size_t max_queued_;
  std::vector<std::jthread> workers_;
};

}  // namespace hfm::fs
