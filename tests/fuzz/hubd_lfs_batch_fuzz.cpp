// SPDX-License-Identifier: Apache-2.0
// A git-lfs batch request through hf-hubd's parser. Each valid object it finds is asked again in
// the client's own request body (hub::detail::lfsBatchBody), which must be read back the same.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "hf-hubd/upload_requests.h"
#include "hub/hub_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto request = hfm::hubd::parseLfsBatchRequest(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!request) {
    HFM_FUZZ_CHECK(request.error().status == 400);
    return 0;
  }
  for (const auto& object : request->objects) {
    if (!object.is_valid) {
      continue;
    }
    HFM_FUZZ_CHECK(hfm::fuzz::isLowerHex(object.oid, 64));
    auto body = hfm::hub::detail::lfsBatchBody(object.oid, object.size, "refs/pr/1");
    HFM_FUZZ_CHECK(body.has_value());
    auto again = hfm::hubd::parseLfsBatchRequest(*body);
    HFM_FUZZ_CHECK(again && again->is_upload && again->accepts_multipart &&
                   again->objects.size() == 1 && again->objects[0].is_valid &&
                   again->objects[0].oid == object.oid && again->objects[0].size == object.size);
  }
  return 0;
}
