// SPDX-License-Identifier: Apache-2.0
#include "fs/read_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "cache/lmdb_block_store.h"

namespace hfm::fs {
namespace {

constexpr std::uint32_t kBlock = 64 * 1024;

// Serves bytes of a generated file and counts requests; can be told to fail or to be slow.
class FakeSource : public RangeSource {
 public:
  explicit FakeSource(std::size_t size) : data_(size) {
    std::mt19937 rng(42);
    for (auto& c : data_) {
      c = static_cast<char>(rng());
    }
  }
  explicit FakeSource(std::vector<char> data) : data_(std::move(data)) {}
  hub::HubResult<std::size_t> readRange(const FileRef& /*file*/, std::uint64_t offset,
                                        std::span<char> out, const std::stop_token& stop) override {
    requests.fetch_add(1);
    bytes.fetch_add(out.size());
    if (delay.count() > 0) {
      std::this_thread::sleep_for(delay);
    }
    if (stall.load()) {
      // A server that never answers: only cancellation ends the request.
      std::mutex mu;
      std::condition_variable_any cv;
      std::unique_lock lock(mu);
      cv.wait(lock, stop, [] { return false; });
      return common::Unexpected<hub::HubError>(
          hub::HubError{hub::HubErrorKind::kCanceled, 0, "canceled", false});
    }
    if (fail.load()) {
      return common::Unexpected<hub::HubError>(
          hub::HubError{hub::HubErrorKind::kServerError, 503, "injected", false});
    }
    std::size_t n = offset >= data_.size() ? 0 : std::min(out.size(), data_.size() - offset - truncate);
    std::memcpy(out.data(), data_.data() + offset, n);
    return n;
  }
  const std::vector<char>& data() const { return data_; }
  std::atomic<int> requests{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<bool> fail{false};
  std::atomic<bool> stall{false};
  std::size_t truncate = 0;
  std::chrono::milliseconds delay{0};

 private:
  std::vector<char> data_;
};

FileRef fileOf(std::size_t size) {
  return FileRef{common::RepoId{common::RepoType::kModel, "a", "b"}, "commit", "f.bin",
                 "content-" + std::to_string(size), size, {}};
}

ReadOptions quiet() {
  ReadOptions o;
  o.prefetch_threads = 2;
  return o;
}

TEST(ReadEngineTest, RandomReadsReturnTheRightBytes) {
  FakeSource source(1000 * 1000 + 17);
  ReadEngine engine(&source, nullptr, kBlock, quiet());
  FileRef file = fileOf(source.data().size());
  std::mt19937 rng(1);
  for (int i = 0; i < 200; ++i) {
    std::uint64_t off = rng() % file.size;
    std::size_t len = 1 + rng() % 300000;
    std::vector<char> out(len);
    auto got = engine.read(file, off, out, nullptr);
    ASSERT_TRUE(got);
    std::size_t expect = std::min<std::uint64_t>(len, file.size - off);
    ASSERT_EQ(*got, expect);
    ASSERT_EQ(std::memcmp(out.data(), source.data().data() + off, expect), 0) << "at " << off;
  }
  std::vector<char> out(10);
  EXPECT_EQ(*engine.read(file, file.size, out, nullptr), 0u);
}

TEST(ReadEngineTest, AdjacentMissesAreOneRequest) {
  FakeSource source(10 * kBlock);
  ReadEngine engine(&source, nullptr, kBlock, quiet());
  std::vector<char> out(5 * kBlock);
  ASSERT_TRUE(engine.read(fileOf(source.data().size()), kBlock / 2, out, nullptr));
  EXPECT_EQ(source.requests.load(), 1);
  EXPECT_EQ(source.bytes.load(), 6u * kBlock);  // only the covering blocks
}

TEST(ReadEngineTest, ConcurrentReadersOfABlockShareOneFetch) {
  FakeSource source(4 * kBlock);
  source.delay = std::chrono::milliseconds(50);
  ReadEngine engine(&source, nullptr, kBlock, quiet());
  FileRef file = fileOf(source.data().size());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::vector<char> out(100);
      auto got = engine.read(file, kBlock + static_cast<std::uint64_t>(t) * 10, out, nullptr);
      if (got && std::memcmp(out.data(), source.data().data() + kBlock + t * 10, 100) == 0) {
        ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(source.requests.load(), 1);
}

TEST(ReadEngineTest, SequentialReadsPrefetchAhead) {
  FakeSource source(64 * kBlock);
  source.delay = std::chrono::milliseconds(2);  // like a network: the pool gets to run ahead
  ReadOptions options = quiet();
  options.prefetch_chunk_bytes = 4 * kBlock;
  options.prefetch_max_bytes = 16 * kBlock;
  ReadEngine engine(&source, nullptr, kBlock, options);
  FileRef file = fileOf(source.data().size());
  ReadState state;
  std::vector<char> out(kBlock);
  for (std::uint64_t off = 0; off < file.size; off += kBlock) {
    auto got = engine.read(file, off, out, &state);
    ASSERT_TRUE(got);
    ASSERT_EQ(std::memcmp(out.data(), source.data().data() + off, kBlock), 0);
  }
  auto stats = engine.stats();
  EXPECT_GT(stats.prefetch_requests, 0u);
  EXPECT_GT(stats.blocks_from_memory + stats.waits_on_other_fetch, 10u);
  EXPECT_LT(source.requests.load(), 40) << "prefetch should fetch several blocks per request";
  EXPECT_LE(source.bytes.load(), file.size + 4 * kBlock);  // nothing fetched twice, roughly
}

TEST(ReadEngineTest, RandomReadsDoNotPrefetch) {
  FakeSource source(64 * kBlock);
  ReadEngine engine(&source, nullptr, kBlock, quiet());
  FileRef file = fileOf(source.data().size());
  ReadState state;
  std::vector<char> out(4096);
  for (std::uint64_t off : {40u * kBlock, 3u * kBlock, 60u * kBlock, 20u * kBlock, 9u * kBlock}) {
    ASSERT_TRUE(engine.read(file, off, out, &state));
  }
  EXPECT_EQ(engine.stats().prefetch_requests, 0u);
  EXPECT_EQ(source.bytes.load(), 5u * kBlock);
}

TEST(ReadEngineTest, ErrorsAndShortBodiesReachTheCaller) {
  FakeSource source(8 * kBlock);
  ReadEngine engine(&source, nullptr, kBlock, quiet());
  FileRef file = fileOf(source.data().size());
  std::vector<char> out(kBlock);
  source.fail = true;
  auto failed = engine.read(file, 0, out, nullptr);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, hub::HubErrorKind::kServerError);
  source.fail = false;
  EXPECT_TRUE(engine.read(file, 0, out, nullptr));  // a failure is not remembered
  source.truncate = 10;
  auto short_read = engine.read(file, 7 * kBlock, out, nullptr);
  ASSERT_FALSE(short_read);
  EXPECT_EQ(short_read.error().kind, hub::HubErrorKind::kBadResponse);
}

TEST(ReadEngineTest, CancelFetchesReleasesAReaderStuckOnTheServer) {
  FakeSource source(4 * kBlock);
  ReadEngine engine(&source, nullptr, kBlock, quiet());
  FileRef file = fileOf(source.data().size());
  source.stall = true;
  std::atomic<bool> done{false};
  hub::HubResult<std::size_t> got = 0;
  std::thread reader([&] {
    std::vector<char> out(100);
    got = engine.read(file, 0, out, nullptr);
    done = true;
  });
  while (source.requests.load() == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(done.load());
  engine.cancelFetches();
  reader.join();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, hub::HubErrorKind::kCanceled);
  // Fetches started after the cancellation go ahead.
  source.stall = false;
  std::vector<char> out(100);
  auto again = engine.read(file, 0, out, nullptr);
  ASSERT_TRUE(again);
  EXPECT_EQ(0, std::memcmp(out.data(), source.data().data(), 100));
}

TEST(ReadEngineTest, SecondReadComesFromTheBlockCache) {
  auto dir = std::filesystem::temp_directory_path() / ("hfm-re-" + std::to_string(::getpid()));
  {
    cache::CacheOptions options;
    options.dir = dir;
    options.block_size = kBlock;
    options.max_bytes = 64ull << 20;
    auto store = cache::LmdbBlockStore::open(options);
    ASSERT_TRUE(store);
    FakeSource source(16 * kBlock + 5);
    ReadEngine engine(&source, store->get(), (*store)->blockSize(), quiet());
    FileRef file = fileOf(source.data().size());
    std::vector<char> out(file.size);
    ASSERT_TRUE(engine.read(file, 0, out, nullptr));
    int before = source.requests.load();
    // A second engine has nothing in memory: everything must come out of LMDB.
    ReadEngine fresh(&source, store->get(), (*store)->blockSize(), quiet());
    std::vector<char> again(file.size);
    ASSERT_TRUE(fresh.read(file, 0, again, nullptr));
    EXPECT_EQ(source.requests.load(), before);
    EXPECT_EQ(std::memcmp(again.data(), source.data().data(), file.size), 0);
    EXPECT_EQ(fresh.stats().blocks_from_cache, 17u);
  }
  std::filesystem::remove_all(dir);
}

// A safetensors file: a header, then `tensors` tensors of `blocks_each` blocks.
std::vector<char> safetensors(int tensors, std::uint64_t blocks_each, std::uint64_t* data_start) {
  std::string header = "{";
  for (int t = 0; t < tensors; ++t) {
    std::uint64_t a = static_cast<std::uint64_t>(t) * blocks_each * kBlock;
    header += (t == 0 ? "" : ",") + std::string("\"t") + std::to_string(t) +
              "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" + std::to_string(a) + "," +
              std::to_string(a + blocks_each * kBlock) + "]}";
  }
  header += "}";
  header.resize((header.size() + 7) / 8 * 8, ' ');
  std::vector<char> out(8 + header.size() + static_cast<std::size_t>(tensors) * blocks_each * kBlock);
  for (int i = 0; i < 8; ++i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  }
  std::memcpy(out.data() + 8, header.data(), header.size());
  for (std::size_t i = 8 + header.size(); i < out.size(); ++i) {
    out[i] = static_cast<char>(i * 31);
  }
  *data_start = 8 + header.size();
  return out;
}

TEST(ReadEngineTest, LoadingOneTensorStaysInsideIt) {
  std::uint64_t data_start = 0;
  FakeSource source(safetensors(16, 8, &data_start));
  source.delay = std::chrono::milliseconds(1);
  ReadEngine engine(&source, nullptr, kBlock, quiet());
  FileRef file = fileOf(source.data().size());
  file.path = "model.safetensors";
  ReadState state;
  std::vector<char> out(kBlock);
  ASSERT_TRUE(engine.read(file, 0, out, &state));  // the header, as a loader reads it first
  std::uint64_t tensor = data_start + 5 * 8 * kBlock;
  for (std::uint64_t off = tensor; off < tensor + 8 * kBlock; off += kBlock) {
    ASSERT_TRUE(engine.read(file, off, out, &state));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let any prefetch land
  // The header block, the tensor's 8 blocks and at most one block of straddle.
  EXPECT_LE(source.bytes.load(), 10u * kBlock);
}

TEST(ReadEngineTest, ScanningASafetensorsFileStillPrefetches) {
  std::uint64_t data_start = 0;
  FakeSource source(safetensors(16, 2, &data_start));
  source.delay = std::chrono::milliseconds(2);
  ReadEngine engine(&source, nullptr, kBlock, quiet());
  FileRef file = fileOf(source.data().size());
  file.path = "model.safetensors";
  ReadState state;
  std::vector<char> out(kBlock);
  for (std::uint64_t off = 0; off < file.size; off += kBlock) {
    auto got = engine.read(file, off, out, &state);
    ASSERT_TRUE(got);
    ASSERT_EQ(std::memcmp(out.data(), source.data().data() + off, *got), 0);
  }
  EXPECT_GT(engine.stats().prefetch_requests, 3u);
}

}  // namespace
}  // namespace hfm::fs
