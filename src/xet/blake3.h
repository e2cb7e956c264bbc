// SPDX-License-Identifier: Apache-2.0
#pragma once

// BLAKE3 (plain and keyed modes, any output length), written for this project because Debian
// ships no BLAKE3 library. A portable implementation is the reference; SSE4.1 and AVX2 versions
// of the compression function are chosen at run time when the CPU has them.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace hfm::xet {

namespace detail {
struct Blake3Ops;
}  // namespace detail

using Blake3Key = std::array<std::uint8_t, 32>;
using Blake3Digest = std::array<std::uint8_t, 32>;

enum class Blake3Backend { kPortable, kSse41, kAvx2 };

// The backends this CPU can run, portable first; the last one is the default.
std::vector<Blake3Backend> availableBlake3Backends();
std::string_view blake3BackendName(Blake3Backend backend);

// Incremental hasher. Not thread-safe: one object per stream. Copyable (a copy forks the stream).
class Blake3 {
 public:
  // Plain hash mode, fastest backend.
  Blake3();
  // keyed_hash mode, fastest backend.
  explicit Blake3(const Blake3Key& key);
  // For tests and benchmarks: a given backend, which must be in availableBlake3Backends().
  Blake3(Blake3Backend backend, const Blake3Key* key);

  void update(std::span<const std::uint8_t> data);
  void update(std::string_view data) {
    update({reinterpret_cast<const std::uint8_t*>(data.data()), data.size()});
  }
  // Extended output of any length; the first 32 bytes are the digest. The object stays usable.
  void finalize(std::span<std::uint8_t> out) const;
  Blake3Digest finalize() const;

 private:
  using Cv = std::array<std::uint32_t, 8>;
  // Chaining values of completed subtrees, at most one per level of a 2^54-chunk tree (plus the
  // one just pushed before it merges).
  static constexpr std::size_t kMaxDepth = 54;

  std::size_t chunkLen() const { return blocks_compressed_ * 64 + block_len_; }
  std::uint8_t chunkStartFlag() const;
  std::span<const std::uint8_t> absorbIntoChunk(std::span<const std::uint8_t> data);
  std::span<const std::uint8_t> hashWholeChunks(std::span<const std::uint8_t> data);
  void finishChunk();
  void pushRun(const std::uint8_t* cvs, std::size_t num_chunks);
  void pushSubtree(const Cv& cv, std::uint64_t num_chunks);
  void mergeStack();
  // A node's compression input; compressing it gives the node's chaining value (or, with the
  // ROOT flag, the output).
  struct Node {
    Cv cv;
    std::array<std::uint8_t, 64> block;
    std::uint8_t block_len;
    std::uint64_t counter;
    std::uint8_t flags;
  };
  Node parentNode(const Cv& left, const Cv& right) const;
  Cv parentCv(const Cv& left, const Cv& right) const;

  Cv key_words_{};
  std::uint8_t flags_ = 0;
  Blake3Backend backend_;
  const detail::Blake3Ops* ops_;
  // The chunk being filled; its last block stays buffered until more input shows it is not last.
  Cv chunk_cv_{};
  std::uint64_t chunk_counter_ = 0;
  std::array<std::uint8_t, 64> block_{};
  std::size_t block_len_ = 0;
  std::size_t blocks_compressed_ = 0;
  std::array<Cv, kMaxDepth + 1> cv_stack_{};
  std::size_t cv_stack_len_ = 0;
};

Blake3Digest blake3Hash(std::span<const std::uint8_t> data);
Blake3Digest blake3KeyedHash(const Blake3Key& key, std::span<const std::uint8_t> data);

}  // namespace hfm::xet
