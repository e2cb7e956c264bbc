// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/xet_tokens.h"

#include "common/base64.h"
#include "hf-hubd/http_text.h"

namespace hfm::hubd {
namespace {

constexpr std::string_view kScheme = "Bearer ";

std::string resourceOf(bool write, const std::string& repo_key) {
  return std::string("xet-token\n") + (write ? "write" : "read") + "\n" + repo_key;
}

common::Unexpected<ApiError> unauthorized(std::string message) {
  return apiError(401, "Unauthorized", std::move(message));
}

}  // namespace

XetToken issueXetToken(const UrlSigner& signer, bool write, const std::string& repo_key,
                       std::int64_t now) {
  std::string resource = resourceOf(write, repo_key);
  UrlSigner::Signature s = signer.sign(resource, now);
  XetToken token;
  token.value = common::base64Encode(resource) + "." + s.expires + "." + s.value;
  token.expires = static_cast<std::int64_t>(parseDecimal(s.expires).value_or(0));
  return token;
}

ApiResult<XetGrant> checkXetToken(const UrlSigner& signer, std::string_view authorization,
                                  std::int64_t now) {
  if (authorization.substr(0, kScheme.size()) != kScheme) {
    return unauthorized("A CAS access token is required (Authorization: Bearer)");
  }
  std::string_view token = authorization.substr(kScheme.size());
  auto dot1 = token.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return unauthorized("Malformed CAS access token");
  auto resource = common::base64Decode(token.substr(0, dot1));
  std::string_view expires = token.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view sig = token.substr(dot2 + 1);
  if (!resource) return unauthorized("Malformed CAS access token");
  switch (signer.verify(*resource, expires, sig, now)) {
    case UrlSigner::Verdict::kValid:
      break;
    case UrlSigner::Verdict::kExpired:
      return unauthorized("CAS access token expired");
    default:
      return unauthorized("Invalid CAS access token");
  }
  // resource = "xet-token\n<read|write>\n<repo key>", as issued above.
  auto nl1 = resource->find('\n');
  auto nl2 = nl1 == std::string::npos ? nl1 : resource->find('\n', nl1 + 1);
  if (nl2 == std::string::npos) return unauthorized("Invalid CAS access token");
  XetGrant grant;
  grant.write = resource->substr(nl1 + 1, nl2 - nl1 - 1) == "write";
  grant.repo_key = resource->substr(nl2 + 1);
  grant.expires = static_cast<std::int64_t>(parseDecimal(expires).value_or(0));
  return grant;
}

}  // namespace hfm::hubd
