// SPDX-License-Identifier: Apache-2.0
#pragma once

// The short-lived bearer tokens of hf-hubd's CAS: scoped to one repository, read or write,
// signed with the server's URL key so they survive a restart and cannot be forged. The Hub
// token never reaches the CAS and a CAS token is not a Hub token.

#include <cstdint>
#include <string>
#include <string_view>

#include "hf-hubd/api_error.h"
#include "hf-hubd/url_signer.h"

namespace hfm::hubd {

struct XetGrant {
  bool write = false;
  std::string repo_key;  // RepoId::key()
  std::int64_t expires = 0;
};

struct XetToken {
  std::string value;
  std::int64_t expires = 0;
};

XetToken issueXetToken(const UrlSigner& signer, bool write, const std::string& repo_key,
                       std::int64_t now);
// From an Authorization header; 401 when missing, malformed, forged or expired.
ApiResult<XetGrant> checkXetToken(const UrlSigner& signer, std::string_view authorization,
                                  std::int64_t now);

}  // namespace hfm::hubd
