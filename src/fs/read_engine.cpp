// SPDX-License-Identifier: Apache-2.0
#include "fs/read_engine.h"

#include <algorithm>
#include <cstring>
#include <new>

#include <spdlog/spdlog.h>

#include "fs/safetensors_index.h"

namespace hfm::fs {

namespace {

// A sequential streak that crossed this many tensor boundaries is a scan of the file, not a
// tensor being loaded: prefetch then runs past tensor ends.
constexpr unsigned kScanCrossings = 3;

// A read that starts within this many blocks of where the furthest one ended still counts as
// sequential: with async reads the kernel has several readahead requests in flight, and they
// arrive in any order.
constexpr std::uint64_t kSlackBlocks = 4;

}  // namespace

ReadEngine::ReadEngine(RangeSource* source, cache::BlockStore* cache, std::uint32_t block_size,
                       ReadOptions options)
    : source_(source),
      cache_(cache),
      block_size_(block_size),
      options_(options),
      // Enough idle buffers for every prefetch worker's next request.
      buffers_(BufferPool::create(options_.prefetch_threads * options_.prefetch_chunk_bytes)) {
  pool_ = std::make_unique<ThreadPool>(options_.prefetch_threads, options_.prefetch_threads * 4);
}

ReadEngine::~ReadEngine() { pool_.reset(); }

std::string ReadEngine::key(const std::string& content_id, std::uint64_t index) const {
  return content_id + "#" + std::to_string(index);
}

std::uint64_t ReadEngine::blockLength(const FileRef& file, std::uint64_t index) const {
  std::uint64_t start = index * block_size_;
  return start >= file.size ? 0 : std::min<std::uint64_t>(block_size_, file.size - start);
}

std::optional<ReadEngine::BlockView> ReadEngine::fromMemory(const std::string& k) {
  std::lock_guard lock(mu_);
  auto it = memory_.find(k);
  if (it == memory_.end()) {
    return std::nullopt;
  }
  lru_.splice(lru_.end(), lru_, it->second);
  return it->second->second;
}

void ReadEngine::remember(const std::string& k, const BlockView& data) {
  const std::uint64_t limit = options_.memory_limit;
  // Buffers no longer needed leave the pool first: idle ones cost memory and serve nobody.
  BufferPool::Usage usage = buffers_->usage();
  if (usage.mapped > limit && usage.idle > 0) {
    buffers_->releaseIdle();
    usage = buffers_->usage();
  }
  std::vector<BlockView> evicted;  // freed after the lock: a last reference unmaps
  {
    std::lock_guard lock(mu_);
    if (memory_.count(k) != 0 || data.buffer_length > limit) {
      return;
    }
    if (held_buffers_[data.buffer.get()]++ == 0) {
      memory_bytes_ += data.buffer_length;
    }
    lru_.emplace_back(k, data);
    memory_[k] = std::prev(lru_.end());
    // The limit holds for every request buffer in use: those of blocks kept here and those of
    // fetches in flight or replies being sent, which leave less room here. A quarter of the
    // limit stays for kept blocks, so that prefetched blocks are not dropped before their
    // reader comes.
    const std::uint64_t busy_elsewhere =
        usage.mapped - usage.idle > memory_bytes_ ? usage.mapped - usage.idle - memory_bytes_ : 0;
    const std::uint64_t room = std::max(limit / 4, limit > busy_elsewhere ? limit - busy_elsewhere : 0);
    while (!lru_.empty() && memory_bytes_ > room) {
      const BlockView& oldest = lru_.front().second;
      auto held = held_buffers_.find(oldest.buffer.get());
      if (--held->second == 0) {
        memory_bytes_ -= oldest.buffer_length;
        held_buffers_.erase(held);
      }
      memory_.erase(lru_.front().first);
      evicted.push_back(std::move(lru_.front().second));
      lru_.pop_front();
    }
  }
}

void ReadEngine::fetchRun(const FileRef& file, std::uint64_t first, std::uint64_t last,
                          const std::vector<FlightPtr>& flights) {
  std::uint64_t start = first * block_size_;
  std::uint64_t end = last * block_size_ + blockLength(file, last);
  spdlog::debug("fetch {} [{}, {})", file.path, start, end);
  // Not zero-filled: every byte is overwritten by the response or the request fails.
  const std::size_t length = end - start;
  std::shared_ptr<char[]> buffer;
  std::optional<hub::HubError> error;
  hub::HubResult<std::size_t> got = std::size_t{0};
  try {
    buffer = buffers_->take(length);
    got = source_->readRange(file, start, std::span<char>(buffer.get(), length),
                             fetches_stop_.token());
  } catch (const std::bad_alloc&) {
    // The flights must still complete, or their readers would wait for ever.
    got = common::Unexpected<hub::HubError>(hub::HubError{
        hub::HubErrorKind::kLocalIo, 0, "no memory for a " + std::to_string(length) + "-byte read",
        false});
  }
  if (!got) {
    error = got.error();
  } else if (*got != length) {
    error = hub::HubError{hub::HubErrorKind::kBadResponse, 0,
                          "server sent " + std::to_string(*got) + " bytes of " + file.path +
                              " where the listing promised " + std::to_string(length),
                          false};
  } else {
    bytes_fetched_.fetch_add(length, std::memory_order_relaxed);
  }
  std::shared_ptr<const char[]> shared = std::move(buffer);
  // Waiters are released first; the cache write happens after, off their critical path.
  std::vector<BlockView> blocks;
  for (std::uint64_t i = first; i <= last; ++i) {
    BlockView data;
    if (!error) {
      data = BlockView{shared, (i - first) * block_size_, blockLength(file, i), length};
      blocks_fetched_.fetch_add(1, std::memory_order_relaxed);
      // Held in memory until the cache has it, so a reader arriving in between does not
      // fetch it again; prefetched blocks stay for the reader they were fetched for.
      remember(key(file.content_id, i), data);
      blocks.push_back(data);
    }
    const FlightPtr& flight = flights[i - first];
    {
      std::lock_guard lock(flight->mu);
      flight->done = true;
      flight->error = error;
      flight->data = std::move(data);
    }
    flight->cv.notify_all();
    std::lock_guard lock(mu_);
    in_flight_.erase(key(file.content_id, i));
  }
  if (cache_ != nullptr) {
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      (void)cache_->write(file.content_id, first + b, blocks[b].view());  // full: a later miss
    }
  }
}

hub::HubResult<std::size_t> ReadEngine::read(const FileRef& file, std::uint64_t offset,
                                              std::span<char> out, ReadState* state,
                                              std::vector<ReadPiece>* pieces) {
  if (pieces != nullptr) {
    pieces->clear();
  }
  if (offset >= file.size || out.empty()) {
    return std::size_t{0};
  }
  // A block claimed by a prefetch that could not be queued is released; the read then starts
  // over and fetches it itself. That happens at most a few times in a row.
  for (int attempt = 0;; ++attempt) {
    bool retry = false;
    auto got = readOnce(file, offset, out, retry, pieces);
    if (!retry || attempt >= 8) {
      if (got && state != nullptr) {
        if (offset == 0 && isSafetensorsPath(file.path) && *got > 0) {
          std::span<const char> first(out.data(), *got);
          if (pieces != nullptr && !pieces->empty()) {
            first = std::span<const char>(pieces->front().data, pieces->front().size);
          }
          learnTensors(file, first, state);
        }
        maybePrefetch(file, offset, offset + *got, state);
      }
      return got;
    }
  }
}

hub::HubResult<std::size_t> ReadEngine::readOnce(const FileRef& file, std::uint64_t offset,
                                                  std::span<char> out, bool& retry,
                                                  std::vector<ReadPiece>* pieces) {
  std::uint64_t end = std::min<std::uint64_t>(file.size, offset + out.size());
  std::uint64_t first = offset / block_size_;
  std::uint64_t last = (end - 1) / block_size_;
  if (pieces != nullptr) {
    pieces->assign(static_cast<std::size_t>(last - first + 1), ReadPiece{});
  }
  // Where block i's bytes are: in place in memory when the caller takes pieces, else copied.
  auto deliver = [&](std::uint64_t i, const BlockView& block, std::uint64_t from,
                     std::uint64_t length, char* dest) {
    if (pieces != nullptr) {
      (*pieces)[i - first] = ReadPiece{block.data() + from, length, block.buffer};
    } else {
      std::memcpy(dest, block.data() + from, length);
    }
  };

  struct Need {
    std::uint64_t index;
    std::uint64_t from;  // offset inside the block
    std::uint64_t length;
    char* dest;
    FlightPtr flight;
    bool owned = false;
  };
  std::vector<Need> missing;
  for (std::uint64_t i = first; i <= last; ++i) {
    std::uint64_t block_start = i * block_size_;
    std::uint64_t from = std::max(offset, block_start) - block_start;
    std::uint64_t to = std::min(end, block_start + blockLength(file, i)) - block_start;
    char* dest = out.data() + (block_start + from - offset);
    std::string k = key(file.content_id, i);
    if (auto data = fromMemory(k)) {
      deliver(i, *data, from, to - from, dest);
      blocks_from_memory_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (cache_ != nullptr) {
      auto got = cache_->read(file.content_id, i, from, std::span<char>(dest, to - from));
      if (got && *got == to - from) {
        if (pieces != nullptr) {
          (*pieces)[i - first] = ReadPiece{dest, to - from, nullptr};
        }
        blocks_from_cache_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
    }
    missing.push_back(Need{i, from, to - from, dest, nullptr, false});
  }

  if (!missing.empty()) {
    {
      std::lock_guard lock(mu_);
      for (auto& need : missing) {
        std::string k = key(file.content_id, need.index);
        auto it = in_flight_.find(k);
        if (it != in_flight_.end()) {
          need.flight = it->second;
          waits_.fetch_add(1, std::memory_order_relaxed);
        } else {
          need.flight = std::make_shared<Flight>();
          need.owned = true;
          in_flight_.emplace(std::move(k), need.flight);
        }
      }
    }
    // Fetch the blocks this call owns, adjacent ones in one request.
    std::size_t i = 0;
    std::uint64_t max_blocks = std::max<std::uint64_t>(1, options_.max_request_bytes / block_size_);
    while (i < missing.size()) {
      if (!missing[i].owned) {
        ++i;
        continue;
      }
      std::size_t j = i;
      std::vector<FlightPtr> flights{missing[i].flight};
      while (j + 1 < missing.size() && missing[j + 1].owned &&
             missing[j + 1].index == missing[j].index + 1 && flights.size() < max_blocks) {
        ++j;
        flights.push_back(missing[j].flight);
      }
      fetchRun(file, missing[i].index, missing[j].index, flights);
      i = j + 1;
    }
    for (auto& need : missing) {
      std::unique_lock lock(need.flight->mu);
      need.flight->cv.wait(lock, [&] { return need.flight->done; });
      if (need.flight->abandoned) {
        retry = true;
        continue;
      }
      if (need.flight->error) {
        return common::Unexpected<hub::HubError>(*need.flight->error);
      }
      deliver(need.index, need.flight->data, need.from, need.length, need.dest);
    }
  }
  if (retry) {
    return std::size_t{0};
  }
  return static_cast<std::size_t>(end - offset);
}

void ReadEngine::maybePrefetch(const FileRef& file, std::uint64_t offset, std::uint64_t end,
                               ReadState* state) {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
  {
    std::lock_guard lock(state->mu);
    std::uint64_t slack = kSlackBlocks * block_size_;
    bool sequential = offset + slack >= state->next_offset &&
                      offset <= state->next_offset + slack && state->next_offset > 0;
    if (offset == 0 && state->next_offset == 0) {
      sequential = false;  // the first read says nothing yet
    }
    if (sequential) {
      state->window = std::min<std::uint64_t>(
          options_.prefetch_max_bytes, state->window == 0 ? block_size_ * 2ull : state->window * 2);
    } else {
      state->window = 0;
      state->prefetched_until = 0;
      // A streak from the very start of the file is a scan (cp, sha256sum) once it leaves the
      // header; a loader that only reads the header must not drag in the first tensors.
      state->crossings = offset == 0 ? kScanCrossings - 1 : 0;
      state->counted_until = offset + 1;  // a boundary at the streak's start is not a crossing
      state->home_end = 0;
      if (state->boundaries) {
        // The kernel reads around a page fault, so the middle of the first read says which
        // tensor is being loaded better than its start does.
        const auto& b = *state->boundaries;
        auto home = std::upper_bound(b.begin(), b.end(), offset + (end - offset) / 2);
        state->home_end = home == b.end() ? file.size : *home;
      }
    }
    state->next_offset = sequential ? std::max(end, state->next_offset) : end;
    std::uint64_t cap = file.size;
    if (state->boundaries && state->crossings < kScanCrossings) {
      const auto& b = *state->boundaries;
      auto from_it = std::lower_bound(b.begin(), b.end(), state->counted_until);
      auto to_it = std::lower_bound(b.begin(), b.end(), end);
      if (to_it > from_it) {
        // Entering another tensor starts the ramp again: one tensor's worth of reads says
        // nothing about the next.
        state->crossings += static_cast<unsigned>(to_it - from_it);
        state->window = 0;
      }
      state->counted_until = std::max(state->counted_until, end);
      if (state->crossings < kScanCrossings && state->home_end > 0) {
        // Still loading one tensor: the kernel's own readahead covers the rest of it, and
        // nothing past its end is fetched on speculation.
        cap = state->home_end;
      }
    }
    if (state->window == 0) {
      return;
    }
    std::uint64_t target = std::min<std::uint64_t>(cap, end + state->window);
    from = std::max(end, state->prefetched_until);
    // Top up only when less than half the window is still ahead, so requests stay large
    // instead of one block each as the window slides.
    if (from >= target || (from > end && from - end > state->window / 2 && target < file.size)) {
      return;
    }
    to = target;
    state->prefetched_until = target;
  }
  std::uint64_t first = from / block_size_;
  std::uint64_t last = (to - 1) / block_size_;
  std::uint64_t chunk = std::max<std::uint64_t>(1, options_.prefetch_chunk_bytes / block_size_);
  for (std::uint64_t b = first; b <= last; b += chunk) {
    std::uint64_t e = std::min(last, b + chunk - 1);
    // Claimed here, in the reader's thread, so that the reader waits for the prefetch instead of
    // fetching the same blocks again while the task is still queued.
    Claimed claimed = claim(file, b, e);
    if (claimed.empty()) {
      continue;
    }
    auto task = [this, file, claimed] { fetchClaimed(file, claimed); };
    if (!pool_->trySubmit(task)) {
      abandon(file, claimed);
      std::lock_guard lock(state->mu);
      state->prefetched_until = std::min(state->prefetched_until, b * block_size_);
      return;  // the pool is saturated: the reader fetches the rest itself
    }
  }
}

void ReadEngine::learnTensors(const FileRef& file, std::span<const char> first_bytes,
                              ReadState* state) {
  {
    std::lock_guard lock(state->mu);
    if (state->header_checked) {
      return;
    }
    state->header_checked = true;
  }
  auto length = safetensorsHeaderLength(std::string_view(first_bytes.data(), first_bytes.size()),
                                        file.size);
  if (!length) {
    return;
  }
  std::string header;
  if (8 + *length <= first_bytes.size()) {
    header.assign(first_bytes.data() + 8, *length);
  } else {
    header.resize(*length);
    bool retry = false;
    auto got = readOnce(file, 8, std::span<char>(header.data(), header.size()), retry);
    if (!got || *got != header.size()) {
      return;
    }
  }
  auto boundaries = safetensorsBoundaries(header, file.size);
  std::lock_guard lock(state->mu);
  state->boundaries = std::move(boundaries);
}

void ReadEngine::abandon(const FileRef& file, const Claimed& claimed) {
  for (const auto& [index, flight] : claimed) {
    {
      std::lock_guard lock(mu_);
      in_flight_.erase(key(file.content_id, index));
    }
    {
      std::lock_guard lock(flight->mu);
      flight->done = true;
      flight->abandoned = true;
    }
    flight->cv.notify_all();
  }
}

ReadEngine::Claimed ReadEngine::claim(const FileRef& file, std::uint64_t first,
                                      std::uint64_t last) {
  Claimed claimed;
  for (std::uint64_t i = first; i <= last; ++i) {
    std::string k = key(file.content_id, i);
    if (fromMemory(k) || (cache_ != nullptr && cache_->warm(file.content_id, i))) {
      continue;
    }
    std::lock_guard lock(mu_);
    if (in_flight_.count(k) != 0) {
      continue;
    }
    auto flight = std::make_shared<Flight>();
    in_flight_.emplace(std::move(k), flight);
    claimed.emplace_back(i, std::move(flight));
  }
  return claimed;
}

void ReadEngine::fetchClaimed(const FileRef& file, const Claimed& claimed) {
  std::size_t i = 0;
  while (i < claimed.size()) {
    std::size_t j = i;
    std::vector<FlightPtr> flights{claimed[i].second};
    while (j + 1 < claimed.size() && claimed[j + 1].first == claimed[j].first + 1) {
      ++j;
      flights.push_back(claimed[j].second);
    }
    prefetch_requests_.fetch_add(1, std::memory_order_relaxed);
    fetchRun(file, claimed[i].first, claimed[j].first, flights);
    i = j + 1;
  }
}

ReadStats ReadEngine::stats() const {
  return ReadStats{blocks_from_memory_.load(), blocks_from_cache_.load(), blocks_fetched_.load(),
                   bytes_fetched_.load(),      prefetch_requests_.load(), waits_.load()};
}

}  // namespace hfm::fs
