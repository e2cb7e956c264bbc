// SPDX-License-Identifier: Apache-2.0
// Throughput of the content-defined chunker (and, with hashing, of chunk + chunk hash) over
// 64 MiB of random bytes, in bytes per second of input.

#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "xet/chunker.h"
#include "xet/hashing.h"

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

// What an upload does per byte before compression: find the chunks and hash each one.
void BM_ChunkingAndChunkHash(benchmark::State& state) {
  const auto& data = randomData();
  std::vector<ChunkLeaf> leaves;
  for (auto _ : state) {
    leaves.clear();
    Chunker chunker;
    std::span<const std::uint8_t> rest(data);
    while (auto len = chunker.next(rest)) {
      leaves.push_back({chunkHash(rest.first(*len)), *len});
      rest = rest.subspan(*len);
    }
    if (!rest.empty()) leaves.push_back({chunkHash(rest), rest.size()});
    benchmark::DoNotOptimize(leaves.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(data.size()));
  state.counters["chunks"] = static_cast<double>(leaves.size());
}
BENCHMARK(BM_ChunkingAndChunkHash)->Unit(benchmark::kMillisecond);

// Chunk, hash, then the file hash over all leaves (the Merkle tree is a small extra).
void BM_FileHash(benchmark::State& state) {
  const auto& data = randomData();
  for (auto _ : state) {
    std::vector<ChunkLeaf> leaves;
    std::size_t start = 0;
    for (std::size_t end : chunkBoundaries(data)) {
      leaves.push_back({chunkHash(std::span(data).subspan(start, end - start)), end - start});
      start = end;
    }
    benchmark::DoNotOptimize(fileHash(leaves));
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(data.size()));
}
BENCHMARK(BM_FileHash)->Unit(benchmark::kMillisecond);

// The Merkle aggregation alone, per leaf (1024 leaves ~ a 64 MiB xorb).
void BM_AggregateHash(benchmark::State& state) {
  std::vector<ChunkLeaf> leaves(static_cast<std::size_t>(state.range(0)));
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    const std::array<std::uint8_t, 8> seed = {static_cast<std::uint8_t>(i),
                                              static_cast<std::uint8_t>(i >> 8)};
    leaves[i] = {chunkHash(seed), 65536 + i};
  }
  for (auto _ : state) benchmark::DoNotOptimize(aggregateHash(leaves));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AggregateHash)->Arg(1024)->Arg(65536);

}  // namespace
}  // namespace hfm::xet
