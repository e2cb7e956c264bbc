// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <mutex>
#include <stop_token>
#include <utility>

namespace hfm::common {

// A stop source that can fire more than once: cancel() stops every token handed out so far,
// and the tokens handed out afterwards start fresh. For work that must end with an event (the
// end of a FUSE session) while the work started after it goes on. Thread-safe.
class StopGeneration {
 public:
  std::stop_token token() const {
    std::lock_guard lock(mu_);
    return source_.get_token();
  }

  void cancel() {
    std::stop_source fired;
    {
      std::lock_guard lock(mu_);
      fired = std::exchange(source_, std::stop_source());
    }
    // Outside the lock: the callbacks it runs may ask for a new token.
    fired.request_stop();
  }

 private:
  mutable std::mutex mu_;
  std::stop_source source_;
};

}  // namespace hfm::common
