// SPDX-License-Identifier: Apache-2.0
// Shards as a server receives them (uploads) and a client does (dedup answers). An accepted
// shard is consistent and reads back the same once written, with or without a footer.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.h"
#include "xet/shard.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using hfm::xet::Shard;
  auto shard = hfm::xet::parseShard(std::span<const std::uint8_t>(data, size));
  if (!shard) {
    HFM_FUZZ_CHECK(shard.error().kind == hfm::common::ErrorKind::kCorrupt);
    return 0;
  }
  // Every record came from the input: header, two bookends, one record per item.
  std::size_t records = 2;
  for (const auto& file : shard->files) {
    HFM_FUZZ_CHECK(file.verification.empty() || file.verification.size() == file.terms.size());
    for (const auto& term : file.terms) {
      HFM_FUZZ_CHECK(term.chunk_start < term.chunk_end);
    }
    records += 1 + file.terms.size() + file.verification.size() + (file.sha256 ? 1 : 0);
  }
  for (const auto& xorb : shard->xorbs) {
    records += 1 + xorb.chunks.size();
  }
  HFM_FUZZ_CHECK(48 + 48 * records <= size);

  // Written with a footer, it reads back whole; without, everything but the footer fields.
  auto full = hfm::xet::serializeShard(*shard, true);
  auto again = hfm::xet::parseShard(full);
  HFM_FUZZ_CHECK(again.has_value() && *again == *shard);
  HFM_FUZZ_CHECK(hfm::xet::serializeShard(*again, true) == full);

  auto upload = hfm::xet::serializeShard(*shard, false);
  HFM_FUZZ_CHECK(upload.size() == 48 + 48 * records);
  auto sections = hfm::xet::parseShard(upload);
  HFM_FUZZ_CHECK(sections.has_value());
  Shard expected = *shard;
  expected.hmac_key = {};
  expected.creation_time = 0;
  expected.key_expiry = 0;
  HFM_FUZZ_CHECK(*sections == expected);
  return 0;
}
