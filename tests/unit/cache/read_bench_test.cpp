// SPDX-License-Identifier: Apache-2.0
// Read throughput of 1 MiB blocks from a warm cache (a memcpy out of the page cache plus the
// checksum). Disabled by default; run with
//   hfm_cache_tests --gtest_also_run_disabled_tests --gtest_filter='*Bench*'

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "cache/lmdb_block_store.h"
#include "test_util.h"

namespace hfm::cache {
namespace {

TEST(LmdbBlockStoreBench, DISABLED_Read1MiBBlocks) {
  testing::TempDir dir;
  CacheOptions o;
  o.dir = dir.path();
  o.max_bytes = 2 * kGiB;
  auto opened = LmdbBlockStore::open(o);
  ASSERT_TRUE(opened);
  auto& store = **opened;
  constexpr std::uint64_t kBlocks = 512;  // 512 MiB
  const std::string id(64, 'f');
  std::string data = testing::patternBytes(1, kMiB);
  auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < kBlocks; ++i) {
    data[0] = static_cast<char>(i);
    ASSERT_TRUE(store.write(id, i, data));
  }
  double write_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("write: %.2f GB/s\n", kBlocks * kMiB / write_s / 1e9);

  for (unsigned threads : {1u, 2u}) {
    for (std::uint64_t read_size : {kMiB, 128 * kKiB}) {
      constexpr int kRounds = 4;
      auto start = std::chrono::steady_clock::now();
      std::vector<std::thread> pool;
      for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
          std::string out(read_size, '\0');
          for (int round = 0; round < kRounds; ++round) {
            for (std::uint64_t i = t; i < kBlocks; i += threads) {
              for (std::uint64_t off = 0; off < kMiB; off += read_size) {
                auto n = store.read(id, i, off, out);
                ASSERT_EQ(n, read_size);
              }
            }
          }
        });
      }
      for (auto& th : pool) {
        th.join();
      }
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("read %3llu KiB x %u threads: %.2f GB/s\n",
                  static_cast<unsigned long long>(read_size / kKiB), threads,
                  kRounds * kBlocks * kMiB / s / 1e9);
    }
  }
}

}  // namespace
}  // namespace hfm::cache
