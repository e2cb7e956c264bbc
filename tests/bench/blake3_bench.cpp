// SPDX-License-Identifier: Apache-2.0
// BLAKE3 keyed-hash throughput per backend, on the sizes Xet uses: ~64 KiB chunks (one keyed
// hash each) and 1 MiB as a long-input reference.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "xet/blake3.h"

namespace hfm::xet {
namespace {

void bmKeyedHash(benchmark::State& state, Blake3Backend backend) {
  const auto len = static_cast<std::size_t>(state.range(0));
  std::mt19937_64 rng(1);
  std::vector<std::uint8_t> data(len);
  for (auto& b : data) {
    b = static_cast<std::uint8_t>(rng());
  }
  Blake3Key key{};
  for (auto& b : key) {
    b = static_cast<std::uint8_t>(rng());
  }
  for (auto _ : state) {
    Blake3 hasher(backend, &key);
    hasher.update(data);
    benchmark::DoNotOptimize(hasher.finalize());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(len));
}

// Backends are known only at run time, so the benchmarks are registered from a static
// initializer instead of the BENCHMARK macro.
bool registerBlake3Benchmarks() {
  for (const Blake3Backend backend : availableBlake3Backends()) {
    const std::string name = "Blake3KeyedHash/" + std::string(blake3BackendName(backend));
    benchmark::RegisterBenchmark(name.c_str(), bmKeyedHash, backend)->Arg(64 << 10)->Arg(1 << 20);
  }
  return true;
}

[[maybe_unused]] const bool kBlake3BenchmarksRegistered = registerBlake3Benchmarks();

}  // namespace
}  // namespace hfm::xet
