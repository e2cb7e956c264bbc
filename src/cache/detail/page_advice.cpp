// SPDX-License-Identifier: Apache-2.0
#include "cache/detail/page_advice.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace hfm::cache::detail {

void adviseWillNeed(const void* data, std::size_t size) {
  if (size == 0) {
    return;
  }
  static const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  auto from = reinterpret_cast<std::uintptr_t>(data) & ~(page - 1);
  auto to = reinterpret_cast<std::uintptr_t>(data) + size;
  // A failure only loses the hint; the pages are then read when touched.
  (void)madvise(reinterpret_cast<void*>(from), to - from, MADV_WILLNEED);
}

void adviseWillNeedRange(const BlockView& block, std::size_t begin, std::size_t end) {
  if (begin >= end) {
    return;
  }
  std::size_t from = begin / kChunkSize * kChunkSize;
  std::size_t to = std::min<std::size_t>((end - 1) / kChunkSize * kChunkSize + kChunkSize,
                                         block.length);
  adviseWillNeed(block.payload + from, to - from);
}

}  // namespace hfm::cache::detail
