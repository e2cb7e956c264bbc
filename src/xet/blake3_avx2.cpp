// SPDX-License-Identifier: Apache-2.0
#include "xet/blake3_internal.h"

namespace hfm::xet::detail {

// TODO: SIMD version; the portable code stands in until then.
const Blake3Ops& blake3Avx2Ops() { return blake3PortableOps(); }

}  // namespace hfm::xet::detail
