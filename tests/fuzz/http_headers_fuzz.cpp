// SPDX-License-Identifier: Apache-2.0
// Link, Content-Range and Retry-After header values through the client's parsers. Each accepted
// value must be consistent, and must read back the same once written in canonical form.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "hub/http_util.h"

namespace {

using namespace hfm::hub::detail;

constexpr std::string_view kPageUrl =
    "https://huggingface.co/api/models/org/model/tree/main?recursive=true";

void checkLink(std::string_view header) {
  auto next = parseLinkNext(header);
  if (!next) {
    return;
  }
  HFM_FUZZ_CHECK(!next->empty());
  HFM_FUZZ_CHECK(next->find('>') == std::string::npos);
  HFM_FUZZ_CHECK(next->front() != ' ' && next->front() != '\t');
  HFM_FUZZ_CHECK(next->back() != ' ' && next->back() != '\t');
  auto again = parseLinkNext("<" + *next + ">; rel=\"next\"");
  HFM_FUZZ_CHECK(again && *again == *next);
  // The client follows the target relative to the page it came with.
  if (auto url = resolveReference(kPageUrl, *next)) {
    HFM_FUZZ_CHECK(parseOrigin(*url).has_value());
  }
}

void checkContentRange(std::string_view header) {
  auto range = parseContentRange(header);
  if (!range) {
    return;
  }
  HFM_FUZZ_CHECK(range->first.has_value() == range->last.has_value());
  std::string canonical = "bytes ";
  if (range->first) {
    HFM_FUZZ_CHECK(*range->first <= *range->last);
    HFM_FUZZ_CHECK(!range->total || *range->last < *range->total);
    canonical += std::to_string(*range->first) + "-" + std::to_string(*range->last);
  } else {
    HFM_FUZZ_CHECK(range->total.has_value());
    canonical += "*";
  }
  canonical += "/" + (range->total ? std::to_string(*range->total) : std::string("*"));
  auto again = parseContentRange(canonical);
  HFM_FUZZ_CHECK(again && again->first == range->first && again->last == range->last &&
                 again->total == range->total);
}

void checkRetryAfter(std::string_view header) {
  if (auto delay = parseRetryAfter(header)) {
    HFM_FUZZ_CHECK(delay->count() >= 0 && delay->count() <= 24 * 3600);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view header(reinterpret_cast<const char*>(data), size);
  checkLink(header);
  checkContentRange(header);
  checkRetryAfter(header);
  if (auto url = resolveReference(kPageUrl, header)) {
    HFM_FUZZ_CHECK(parseOrigin(*url).has_value());
  }
  return 0;
}
