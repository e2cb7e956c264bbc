// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/url_signer.h"

#include "common/hash.h"
#include "common/time_util.h"

namespace hfm::hubd {

std::string UrlSigner::signature(std::string_view resource, std::string_view expires) const {
  std::string message(resource);
  message.push_back('\n');
  message.append(expires);
  return common::hmacSha256Hex(key_, message);
}

std::string UrlSigner::signQuery(std::string_view resource) const {
  return signQuery(resource, common::unixSecondsNow());
}

UrlSigner::Signature UrlSigner::sign(std::string_view resource, std::int64_t now) const {
  std::string expires = std::to_string(now + ttl_);
  std::string value = signature(resource, expires);
  return {std::move(expires), std::move(value)};
}

std::string UrlSigner::signQuery(std::string_view resource, std::int64_t now) const {
  Signature s = sign(resource, now);
  return "X-Expires=" + s.expires + "&X-Signature=" + s.value;
}

UrlSigner::Verdict UrlSigner::verify(std::string_view resource, std::string_view expires,
                                     std::string_view sig, std::int64_t now) const {
  if (expires.empty() || sig.empty()) {
    return Verdict::kMissing;
  }
  if (!common::constantTimeEquals(signature(resource, expires), sig)) {
    return Verdict::kForged;
  }
  std::int64_t deadline = 0;
  for (char c : expires) {
    if (c < '0' || c > '9' || deadline > (INT64_MAX - 9) / 10) {
      return Verdict::kForged;
    }
    deadline = deadline * 10 + (c - '0');
  }
  return now > deadline ? Verdict::kExpired : Verdict::kValid;
}

}  // namespace hfm::hubd
