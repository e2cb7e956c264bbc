// SPDX-License-Identifier: Apache-2.0
#pragma once

// Read-ahead hints for the cache's memory map. The map is opened without read-around (a random
// 4 KiB read would otherwise pull in the device's whole read-ahead window), so readers ask for
// exactly the pages they are about to touch.

#include <cstddef>

#include "cache/detail/block_format.h"

namespace hfm::cache::detail {

// Starts reading the pages under [data, data + size) in the background. Best effort.
void adviseWillNeed(const void* data, std::size_t size);
// The same for the checksum chunks that cover [begin, end) of a block's payload.
void adviseWillNeedRange(const BlockView& block, std::size_t begin, std::size_t end);

}  // namespace hfm::cache::detail
