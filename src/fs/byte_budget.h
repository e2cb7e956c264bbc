// SPDX-License-Identifier: Apache-2.0
#pragma once

// Bounds the bytes a group of requests holds at once: acquire() waits while the budget is spent.
// Requests are served in the order they came, so a large one is not passed for ever by small
// ones; a request larger than the whole budget goes ahead once nothing else holds any. Thread-safe.

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <stop_token>

namespace hfm::fs {

class ByteBudget {
 public:
  explicit ByteBudget(std::uint64_t bytes) : total_(bytes) {}
  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;

  // Gives its bytes back when destroyed. Movable; empty after a failed acquire or a move.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& o) noexcept : budget_(o.budget_), bytes_(o.bytes_) { o.budget_ = nullptr; }
    Lease& operator=(Lease&& o) noexcept {
      if (this != &o) {
        release();
        budget_ = o.budget_;
        bytes_ = o.bytes_;
        o.budget_ = nullptr;
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }
    bool held() const { return budget_ != nullptr; }

   private:
    friend class ByteBudget;
    Lease(ByteBudget* budget, std::uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    void release() {
      if (budget_ != nullptr) budget_->give(bytes_);
      budget_ = nullptr;
    }
    ByteBudget* budget_ = nullptr;
    std::uint64_t bytes_ = 0;
  };

  // Waits until every earlier request has its bytes and `bytes` fit (or nothing is held), or
  // until `stop` is requested: then the lease is empty.
  Lease acquire(std::uint64_t bytes, const std::stop_token& stop) {
    std::unique_lock lock(mu_);
    const std::uint64_t ticket = next_ticket_++;
    waiting_.push_back(ticket);
    const bool turn = cv_.wait(lock, stop, [&] {
      return waiting_.front() == ticket && (used_ == 0 || used_ + bytes <= total_);
    });
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), ticket));
    if (!turn) {
      lock.unlock();
      cv_.notify_all();  // the one behind may be first now
      return {};
    }
    used_ += bytes;
    lock.unlock();
    cv_.notify_all();
    return Lease(this, bytes);
  }

  std::uint64_t used() const {
    std::lock_guard lock(mu_);
    return used_;
  }

 private:
  void give(std::uint64_t bytes) {
    {
      std::lock_guard lock(mu_);
      used_ -= bytes;
    }
    cv_.notify_all();
  }

  const std::uint64_t total_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::uint64_t used_ = 0;             // guarded by mu_
  std::uint64_t next_ticket_ = 0;      // guarded by mu_
  std::deque<std::uint64_t> waiting_;  // guarded by mu_: tickets of the waiting, oldest first
};

}  // namespace hfm::fs
