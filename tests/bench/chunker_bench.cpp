// SPDX-License-Identifier: Apache-2.0
// Throughput of the content-defined chunker (and, with hashing, of chunk + chunk hash) over
// 64 MiB of random bytes, in bytes per second of input.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "xet/chunker.h"

namespace hfm::xet {
namespace {

const std::vector<std::uint8_t>& randomData() {
  static const std::vector<std::uint8_t> data = [] {
    std::vector<std::uint8_t> v(std::size_t{64} << 20);
    std::mt19937_64 rng(42);
    for (std::size_t i = 0; i < v.size(); i += 8) {
      const std::uint64_t x = rng();
      for (std::size_t k = 0; k < 8; ++k) v[i + k] = static_cast<std::uint8_t>(x >> (8 * k));
    }
    return v;
  }();
  return data;
}

void BM_Chunking(benchmark::State& state) {
  const auto& data = randomData();
  std::size_t chunks = 0;
  for (auto _ : state) {
    Chunker chunker;
    std::span<const std::uint8_t> rest(data);
    chunks = 0;
    while (auto len = chunker.next(rest)) {
      rest = rest.subspan(*len);
      ++chunks;
    }
    benchmark::DoNotOptimize(chunks);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(data.size()));
  state.counters["chunks"] = static_cast<double>(chunks);
}
BENCHMARK(BM_Chunking)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hfm::xet
