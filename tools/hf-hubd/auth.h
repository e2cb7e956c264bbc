// SPDX-License-Identifier: Apache-2.0
#pragma once

// Who a request comes from, and what it may do. Tokens are given on the command line as
// TOKEN=USER:ROLE (ROLE read or write), organizations as ORG=USER[,USER...], and access to gated
// repositories as USER=TYPE/NS/NAME. The Hub's own answers are mirrored: an anonymous request for a
// private repository is a 401 RepoNotFound, exactly as for a missing one.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "hf-hubd/api_error.h"
#include "hf-hubd/repo_model.h"

namespace hfm::hubd {

struct Identity {
  std::string user;
  std::string token_name;
  bool can_write = false;
};

// Immutable after construction: thread-safe.
class Auth {
 public:
  static common::Result<Auth> make(const std::vector<std::string>& token_specs,
                                   const std::vector<std::string>& org_specs,
                                   const std::vector<std::string>& grant_specs);

  // From an Authorization header value: nullopt for anonymous, an error for an unknown token.
  ApiResult<std::optional<Identity>> authenticate(std::string_view authorization) const;

  bool isMember(const std::string& user, const std::string& ns) const;
  std::vector<std::string> orgsOf(const std::string& user) const;

  // Metadata and listings. A gated repository's metadata is public, like on the Hub.
  ApiStatus checkRead(const std::optional<Identity>& who, const RepoMeta& repo) const;
  // File contents: also enforces gating.
  ApiStatus checkDownload(const std::optional<Identity>& who, const RepoMeta& repo) const;
  ApiStatus checkWrite(const std::optional<Identity>& who, const RepoMeta& repo) const;
  ApiStatus checkNamespaceWrite(const std::optional<Identity>& who, const std::string& ns) const;
  bool canSee(const std::optional<Identity>& who, const RepoMeta& repo) const;

 private:
  std::map<std::string, Identity> tokens_;
  std::map<std::string, std::set<std::string>> orgs_;    // org -> members
  std::map<std::string, std::set<std::string>> grants_;  // repo key -> users
};

}  // namespace hfm::hubd
