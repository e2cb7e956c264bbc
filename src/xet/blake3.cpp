// SPDX-License-Identifier: Apache-2.0
#include "xet/blake3.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "xet/blake3_internal.h"

namespace hfm::xet {

namespace detail {
namespace {

using State = std::array<std::uint32_t, 16>;

// The BLAKE3 quarter-round on four words of the state.
void mixG(State& v, std::size_t a, std::size_t b, std::size_t c, std::size_t d, std::uint32_t mx,
          std::uint32_t my) {
  v[a] = v[a] + v[b] + mx;
  v[d] = std::rotr(v[d] ^ v[a], 16);
  v[c] = v[c] + v[d];
  v[b] = std::rotr(v[b] ^ v[c], 12);
  v[a] = v[a] + v[b] + my;
  v[d] = std::rotr(v[d] ^ v[a], 8);
  v[c] = v[c] + v[d];
  v[b] = std::rotr(v[b] ^ v[c], 7);
}

State compressPortable(const Blake3Cv& cv, const std::uint8_t* block, std::uint8_t block_len,
                       std::uint64_t counter, std::uint8_t flags) {
  std::array<std::uint32_t, 16> m{};
  for (std::size_t i = 0; i < 16; ++i) {
    m[i] = loadLe32(block + 4 * i);
  }
  State v = {cv[0],
             cv[1],
             cv[2],
             cv[3],
             cv[4],
             cv[5],
             cv[6],
             cv[7],
             kBlake3Iv[0],
             kBlake3Iv[1],
             kBlake3Iv[2],
             kBlake3Iv[3],
             static_cast<std::uint32_t>(counter),
             static_cast<std::uint32_t>(counter >> 32),
             block_len,
             flags};
  for (const auto& s : kBlake3Schedule) {
    // Columns, then diagonals.
    mixG(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
    mixG(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
    mixG(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
    mixG(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
    mixG(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
    mixG(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
    mixG(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
    mixG(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  return v;
}

void compressInPlacePortable(Blake3Cv& cv, const std::uint8_t* block, std::uint8_t block_len,
                             std::uint64_t counter, std::uint8_t flags) {
  const State v = compressPortable(cv, block, block_len, counter, flags);
  for (std::size_t i = 0; i < 8; ++i) {
    cv[i] = v[i] ^ v[i + 8];
  }
}

void compressXofPortable(const Blake3Cv& cv, const std::uint8_t* block, std::uint8_t block_len,
                         std::uint64_t counter, std::uint8_t flags, std::uint8_t* out) {
  const State v = compressPortable(cv, block, block_len, counter, flags);
  for (std::size_t i = 0; i < 8; ++i) {
    storeLe32(out + 4 * i, v[i] ^ v[i + 8]);
    storeLe32(out + 32 + 4 * i, v[i + 8] ^ cv[i]);
  }
}

void hashManyPortable(const std::uint8_t* inputs, std::size_t num_inputs,
                      std::size_t blocks_per_input, const Blake3Cv& key, std::uint64_t counter,
                      bool increment_counter, std::uint8_t flags, std::uint8_t flags_start,
                      std::uint8_t flags_end, std::uint8_t* out) {
  for (std::size_t i = 0; i < num_inputs; ++i) {
    const std::uint8_t* input = inputs + i * blocks_per_input * kBlake3BlockLen;
    Blake3Cv cv = key;
    for (std::size_t b = 0; b < blocks_per_input; ++b) {
      std::uint8_t block_flags = flags;
      block_flags |= b == 0 ? flags_start : 0;
      block_flags |= b + 1 == blocks_per_input ? flags_end : 0;
      compressInPlacePortable(cv, input + b * kBlake3BlockLen, kBlake3BlockLen,
                              increment_counter ? counter + i : counter, block_flags);
    }
    storeCv(out + i * kBlake3CvLen, cv);
  }
}

}  // namespace

const Blake3Ops& blake3PortableOps() {
  static constexpr Blake3Ops kOps{compressInPlacePortable, compressXofPortable, hashManyPortable};
  return kOps;
}

}  // namespace detail

namespace {

using detail::Blake3Cv;
using detail::kBlake3BlockLen;
using detail::kBlake3ChunkLen;
using detail::kBlake3CvLen;

// Chunks hashed per hash_many call on the one-shot path. 64 chunks (64 KiB) is a whole Xet
// chunk, keeps every lane of the widest backend busy, and bounds the stack buffers below to
// 2 KiB each.
constexpr std::size_t kMaxBatchChunks = 64;
// A run of up to 64 chunks splits into at most 2 * 6 + 1 aligned power-of-two subtrees.
constexpr std::size_t kMaxRunParts = 16;

bool cpuSupports(Blake3Backend backend) {
  // Needed only before constructors have run, but cheap and harmless afterwards.
  __builtin_cpu_init();
  switch (backend) {
    case Blake3Backend::kPortable:
      return true;
    case Blake3Backend::kSse41:
      return __builtin_cpu_supports("sse4.1") != 0;
    case Blake3Backend::kAvx2:
      // GCC's check also asks the OS (XGETBV) whether it saves the YMM registers.
      return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("sse4.1") != 0;
  }
  return false;
}

const detail::Blake3Ops& opsFor(Blake3Backend backend) {
  if (!cpuSupports(backend)) {
    // A programmer error (tests and benchmarks pick from availableBlake3Backends()); running
    // the instructions anyway would die with SIGILL somewhere less obvious.
    std::fprintf(stderr, "BLAKE3 backend %s is not supported by this CPU\n",
                 blake3BackendName(backend).data());
    std::abort();
  }
  switch (backend) {
    case Blake3Backend::kSse41:
      return detail::blake3Sse41Ops();
    case Blake3Backend::kAvx2:
      return detail::blake3Avx2Ops();
    case Blake3Backend::kPortable:
      break;
  }
  return detail::blake3PortableOps();
}

Blake3Backend defaultBackend() {
  static const Blake3Backend kDefault = availableBlake3Backends().back();
  return kDefault;
}

// Splits chunks [first, first + count) into the aligned power-of-two subtrees of the BLAKE3 tree
// that cover it, left to right; returns how many sizes it wrote.
std::size_t splitIntoSubtrees(std::uint64_t first, std::size_t count,
                              std::array<std::size_t, kMaxRunParts>& sizes) {
  std::size_t parts = 0;
  while (count > 0) {
    std::uint64_t size = std::bit_floor(static_cast<std::uint64_t>(count));
    if (first != 0) {
      size = std::min(size, first & (~first + 1));  // the lowest set bit: first's alignment
    }
    sizes[parts++] = static_cast<std::size_t>(size);
    first += size;
    count -= static_cast<std::size_t>(size);
  }
  return parts;
}

}  // namespace

std::vector<Blake3Backend> availableBlake3Backends() {
  std::vector<Blake3Backend> backends;
  for (const Blake3Backend b :
       {Blake3Backend::kPortable, Blake3Backend::kSse41, Blake3Backend::kAvx2}) {
    if (cpuSupports(b)) {
      backends.push_back(b);
    }
  }
  return backends;
}

std::string_view blake3BackendName(Blake3Backend backend) {
  switch (backend) {
    case Blake3Backend::kPortable:
      return "portable";
    case Blake3Backend::kSse41:
      return "sse4.1";
    case Blake3Backend::kAvx2:
      return "avx2";
  }
  return "unknown";
}

Blake3::Blake3() : Blake3(defaultBackend(), nullptr) {}

Blake3::Blake3(const Blake3Key& key) : Blake3(defaultBackend(), &key) {}

Blake3::Blake3(Blake3Backend backend, const Blake3Key* key)
    : backend_(backend), ops_(&opsFor(backend)) {
  if (key != nullptr) {
    key_words_ = detail::loadCv(key->data());
    flags_ = detail::kFlagKeyedHash;
  } else {
    key_words_ = detail::kBlake3Iv;
  }
  chunk_cv_ = key_words_;
}

std::uint8_t Blake3::chunkStartFlag() const {
  return blocks_compressed_ == 0 ? detail::kFlagChunkStart : std::uint8_t{0};
}

void Blake3::update(std::span<const std::uint8_t> data) {
  while (!data.empty()) {
    // More input follows, so a full chunk cannot be the root: its chaining value is final.
    if (chunkLen() == kBlake3ChunkLen) {
      finishChunk();
    }
    // Whole chunks go to hash_many, except a lone first chunk that may turn out to be the
    // whole input: the root needs the ROOT flag, which only finalize() can give.
    const bool may_be_root_chunk = chunk_counter_ == 0 && data.size() == kBlake3ChunkLen;
    if (chunkLen() == 0 && data.size() >= kBlake3ChunkLen && !may_be_root_chunk) {
      data = hashWholeChunks(data);
    } else {
      // Bytes for a new chunk prove the stack's newest subtree is not the root's child pair
      // any more: finalize() expects the stack fully merged whenever the chunk is not empty.
      if (chunkLen() == 0) {
        mergeStack();
      }
      data = absorbIntoChunk(data);
    }
  }
}

std::span<const std::uint8_t> Blake3::absorbIntoChunk(std::span<const std::uint8_t> data) {
  const std::size_t take = std::min(data.size(), kBlake3ChunkLen - chunkLen());
  std::span<const std::uint8_t> in = data.first(take);
  while (!in.empty()) {
    // The buffered block is compressed only once more bytes arrive: the last block of a chunk
    // needs the CHUNK_END flag, and we cannot know which one is last earlier.
    if (block_len_ == kBlake3BlockLen) {
      ops_->compress_in_place(chunk_cv_, block_.data(), kBlake3BlockLen, chunk_counter_,
                              static_cast<std::uint8_t>(flags_ | chunkStartFlag()));
      ++blocks_compressed_;
      block_len_ = 0;
    }
    const std::size_t n = std::min(in.size(), kBlake3BlockLen - block_len_);
    std::memcpy(block_.data() + block_len_, in.data(), n);
    block_len_ += n;
    in = in.subspan(n);
  }
  return data.subspan(take);
}

void Blake3::finishChunk() {
  std::fill(block_.begin() + static_cast<std::ptrdiff_t>(block_len_), block_.end(), 0);
  Cv cv = chunk_cv_;
  ops_->compress_in_place(
      cv, block_.data(), static_cast<std::uint8_t>(block_len_), chunk_counter_,
      static_cast<std::uint8_t>(flags_ | chunkStartFlag() | detail::kFlagChunkEnd));
  chunk_cv_ = key_words_;
  block_len_ = 0;
  blocks_compressed_ = 0;
  pushSubtree(cv, 1);
}

std::span<const std::uint8_t> Blake3::hashWholeChunks(std::span<const std::uint8_t> data) {
  const std::size_t n = std::min(data.size() / kBlake3ChunkLen, kMaxBatchChunks);
  std::array<std::uint8_t, kMaxBatchChunks * kBlake3CvLen> cvs;
  ops_->hash_many(data.data(), n, detail::kBlake3BlocksPerChunk, key_words_, chunk_counter_, true,
                  flags_, detail::kFlagChunkStart, detail::kFlagChunkEnd, cvs.data());
  pushRun(cvs.data(), n);
  return data.subspan(n * kBlake3ChunkLen);
}

// Adds the chaining values of num_chunks consecutive chunks. The run is cut into the aligned
// subtrees it contains, and each tree level of all of them is computed with one hash_many call
// per subtree, so parent nodes also run in SIMD lanes instead of one at a time on the stack.
// A subtree starting at chunk 0 may be the whole tree, whose top node must be the root; it is
// reduced to its two halves only, and finalize() or a later push joins them.
void Blake3::pushRun(const std::uint8_t* cvs, std::size_t num_chunks) {
  std::array<std::size_t, kMaxRunParts> sizes{};
  const std::size_t parts = splitIntoSubtrees(chunk_counter_, num_chunks, sizes);
  std::array<std::size_t, kMaxRunParts> nodes = sizes;
  std::array<std::size_t, kMaxRunParts> min_nodes{};
  min_nodes.fill(1);
  min_nodes[0] = chunk_counter_ == 0 ? 2 : 1;
  std::array<std::uint8_t, kMaxBatchChunks * kBlake3CvLen> buf_a;
  std::array<std::uint8_t, kMaxBatchChunks * kBlake3CvLen> buf_b;
  std::memcpy(buf_a.data(), cvs, num_chunks * kBlake3CvLen);
  std::uint8_t* cur = buf_a.data();
  std::uint8_t* next = buf_b.data();
  const auto parent_flags = static_cast<std::uint8_t>(flags_ | detail::kFlagParent);
  const auto reducible = [&](std::size_t p) { return nodes[p] > min_nodes[p]; };
  const auto any_reducible = [&] {
    for (std::size_t p = 0; p < parts; ++p) {
      if (reducible(p)) {
        return true;
      }
    }
    return false;
  };
  while (any_reducible()) {
    std::size_t in_off = 0;
    std::size_t out_off = 0;
    for (std::size_t p = 0; p < parts; ++p) {
      const std::size_t len = nodes[p] * kBlake3CvLen;
      if (reducible(p)) {
        // Two adjacent 32-byte chaining values are exactly one parent block.
        nodes[p] /= 2;
        ops_->hash_many(cur + in_off, nodes[p], 1, key_words_, 0, false, parent_flags, 0, 0,
                        next + out_off);
      } else {
        std::memcpy(next + out_off, cur + in_off, len);
      }
      in_off += len;
      out_off += nodes[p] * kBlake3CvLen;
    }
    std::swap(cur, next);
  }
  for (std::size_t p = 0; p < parts; ++p) {
    for (std::size_t i = 0; i < nodes[p]; ++i) {
      pushSubtree(detail::loadCv(cur), sizes[p] / nodes[p]);
      cur += kBlake3CvLen;
    }
  }
}

// The stack holds the subtrees left of the current chunk, largest at the bottom. Merging is
// lazy: a push first merges what the new subtree proves complete (one subtree per set bit of
// chunk_counter_), but the newest entry waits, because if no input follows, its parent is the
// root and finalize() must build it with the ROOT flag. Subtrees are pushed aligned to their
// size, so the set bits of the counter describe the stack exactly.
void Blake3::pushSubtree(const Cv& cv, std::uint64_t num_chunks) {
  mergeStack();
  cv_stack_[cv_stack_len_++] = cv;
  chunk_counter_ += num_chunks;
}

// Merges until the stack holds one subtree per set bit of chunk_counter_ (the binary carries).
void Blake3::mergeStack() {
  while (cv_stack_len_ > static_cast<std::size_t>(std::popcount(chunk_counter_))) {
    cv_stack_[cv_stack_len_ - 2] =
        parentCv(cv_stack_[cv_stack_len_ - 2], cv_stack_[cv_stack_len_ - 1]);
    --cv_stack_len_;
  }
}

Blake3::Cv Blake3::parentCv(const Cv& left, const Cv& right) const {
  const Node node = parentNode(left, right);
  Cv cv = node.cv;
  ops_->compress_in_place(cv, node.block.data(), node.block_len, node.counter, node.flags);
  return cv;
}

Blake3::Node Blake3::parentNode(const Cv& left, const Cv& right) const {
  Node node{
      key_words_, {}, kBlake3BlockLen, 0, static_cast<std::uint8_t>(flags_ | detail::kFlagParent)};
  detail::storeCv(node.block.data(), left);
  detail::storeCv(node.block.data() + kBlake3CvLen, right);
  return node;
}

void Blake3::finalize(std::span<std::uint8_t> out) const {
  // The root node: the current chunk if it is the only one, else the parent that joins the
  // stack's subtrees with what is right of them, folded from the top of the stack down. When
  // whole chunks ended the input, the chunk is empty and the stack's top two entries are the
  // rightmost pair (the stack then holds at least two: see pushRun and pushSubtree).
  std::size_t below = cv_stack_len_;
  Node node{};
  if (chunkLen() == 0 && below >= 2) {
    node = parentNode(cv_stack_[below - 2], cv_stack_[below - 1]);
    below -= 2;
  } else {
    node = Node{chunk_cv_, block_, static_cast<std::uint8_t>(block_len_), chunk_counter_,
                static_cast<std::uint8_t>(flags_ | chunkStartFlag() | detail::kFlagChunkEnd)};
    std::fill(node.block.begin() + static_cast<std::ptrdiff_t>(block_len_), node.block.end(), 0);
  }
  for (; below > 0; --below) {
    Cv child = node.cv;
    ops_->compress_in_place(child, node.block.data(), node.block_len, node.counter, node.flags);
    node = parentNode(cv_stack_[below - 1], child);
  }
  // Extended output: the root compression repeated with the output block index as counter.
  std::array<std::uint8_t, kBlake3BlockLen> out_block{};
  for (std::uint64_t index = 0; !out.empty(); ++index) {
    ops_->compress_xof(node.cv, node.block.data(), node.block_len, index,
                       static_cast<std::uint8_t>(node.flags | detail::kFlagRoot), out_block.data());
    const std::size_t n = std::min(out.size(), out_block.size());
    std::memcpy(out.data(), out_block.data(), n);
    out = out.subspan(n);
  }
}

Blake3Digest Blake3::finalize() const {
  Blake3Digest digest{};
  finalize(digest);
  return digest;
}

Blake3Digest blake3Hash(std::span<const std::uint8_t> data) {
  Blake3 hasher;
  hasher.update(data);
  return hasher.finalize();
}

Blake3Digest blake3KeyedHash(const Blake3Key& key, std::span<const std::uint8_t> data) {
  Blake3 hasher(key);
  hasher.update(data);
  return hasher.finalize();
}

}  // namespace hfm::xet
