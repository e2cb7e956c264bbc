// SPDX-License-Identifier: Apache-2.0
// Revision, path and query decoding as hf-hubd's router and the client's URL building use them:
// what the client encodes must decode back to the same text, and what decodes must re-encode
// to something that decodes the same.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/repo_id.h"
#include "common/repo_path.h"
#include "common/url.h"
#include "fuzz_check.h"
#include "hub/http_util.h"

namespace {

using namespace hfm::common;

bool isEncoded(std::string_view text, bool keep_slash) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
    if (!plain && (c != '%' || i + 2 >= text.size())) {
      return false;
    }
  }
  return true;
}

void checkPercent(std::string_view text) {
  for (bool keep_slash : {false, true}) {
    std::string encoded = percentEncode(text, keep_slash);
    HFM_FUZZ_CHECK(isEncoded(encoded, keep_slash));
    auto decoded = percentDecode(encoded);
    HFM_FUZZ_CHECK(decoded && *decoded == text);
  }
  for (bool plus_is_space : {false, true}) {
    if (auto decoded = percentDecode(text, plus_is_space)) {
      HFM_FUZZ_CHECK(decoded->size() <= text.size());
      auto again = percentDecode(percentEncode(*decoded));
      HFM_FUZZ_CHECK(again && *again == *decoded);
    }
  }
}

void checkRawPath(std::string_view raw) {
  auto segments = splitRawPath(raw);
  if (!segments) {
    return;
  }
  std::string rebuilt;
  for (const auto& segment : *segments) {
    rebuilt += "/" + percentEncode(segment);
  }
  auto again = splitRawPath(rebuilt);
  HFM_FUZZ_CHECK(again && *again == *segments);
}

void checkQuery(std::string_view query) {
  auto pairs = parseQuery(query);
  if (!pairs) {
    return;
  }
  std::string rebuilt;
  for (const auto& [key, value] : *pairs) {
    rebuilt += (rebuilt.empty() ? "" : "&") + percentEncode(key) + "=" + percentEncode(value);
  }
  auto again = parseQuery(rebuilt);
  HFM_FUZZ_CHECK(again && *again == *pairs);
}

// The client's revision and path quoting, read back by the server's router.
void checkClientToServer(std::string_view text) {
  auto revision = splitRawPath("/api/models/org/model/tree/" + hfm::hub::detail::quoteRevision(text));
  HFM_FUZZ_CHECK(revision && revision->size() == 6 && revision->back() == text);
  if (!isValidRepoPath(text)) {
    return;
  }
  HFM_FUZZ_CHECK(text.size() <= 4096 && text.front() != '/' && text.back() != '/');
  auto segments = splitRawPath("/org/model/resolve/main/" + hfm::hub::detail::quotePath(text));
  HFM_FUZZ_CHECK(segments && segments->size() > 4);
  std::string joined;
  for (std::size_t i = 4; i < segments->size(); ++i) {
    HFM_FUZZ_CHECK(!(*segments)[i].empty() && (*segments)[i].size() <= 255);
    joined += (i == 4 ? "" : "/") + (*segments)[i];
  }
  HFM_FUZZ_CHECK(joined == text);
}

void checkRepoKey(std::string_view text) {
  auto id = parseRepoKey(text);
  if (!id) {
    return;
  }
  HFM_FUZZ_CHECK(id->key() == text);
  HFM_FUZZ_CHECK(isValidRepoNamePart(id->ns) && isValidRepoNamePart(id->name));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  checkPercent(text);
  checkRawPath(text);
  checkQuery(text);
  checkClientToServer(text);
  checkRepoKey(text);
  return 0;
}
