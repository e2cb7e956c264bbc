// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/auth.h"

namespace hfm::hubd {

using common::ErrorKind;
using common::makeError;

namespace {

std::pair<std::string, std::string> splitOnce(const std::string& text, char sep) {
  auto pos = text.find(sep);
  if (pos == std::string::npos) {
    return {text, ""};
  }
  return {text.substr(0, pos), text.substr(pos + 1)};
}

}  // namespace

common::Result<Auth> Auth::make(const std::vector<std::string>& token_specs,
                                const std::vector<std::string>& org_specs,
                                const std::vector<std::string>& grant_specs) {
  Auth auth;
  for (const auto& spec : token_specs) {
    auto [token, rest] = splitOnce(spec, '=');
    auto [user, role] = splitOnce(rest, ':');
    if (token.empty() || !common::isValidRepoNamePart(user) || (role != "read" && role != "write")) {
      return makeError(ErrorKind::kInvalidArgument,
                       "--token takes TOKEN=USER:ROLE with ROLE read or write (got a malformed "
                       "value for user '" + user + "')");
    }
    auth.tokens_[token] = Identity{user, "token-" + std::to_string(auth.tokens_.size() + 1),
                                   role == "write"};
  }
  for (const auto& spec : org_specs) {
    auto [org, members] = splitOnce(spec, '=');
    if (!common::isValidRepoNamePart(org) || members.empty()) {
      return makeError(ErrorKind::kInvalidArgument, "--org takes ORG=USER[,USER...]: '" + spec + "'");
    }
    std::size_t start = 0;
    while (start <= members.size()) {
      auto comma = members.find(',', start);
      auto member = members.substr(start, comma == std::string::npos ? comma : comma - start);
      if (!member.empty()) {
        auth.orgs_[org].insert(member);
      }
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
  }
  for (const auto& spec : grant_specs) {
    auto [user, repo] = splitOnce(spec, '=');
    auto id = common::parseRepoKey(repo);
    if (user.empty() || !id) {
      return makeError(ErrorKind::kInvalidArgument,
                       "--grant takes USER=TYPE/NS/NAME: '" + spec + "'");
    }
    auth.grants_[id->key()].insert(user);
  }
  return auth;
}

ApiResult<std::optional<Identity>> Auth::authenticate(std::string_view authorization) const {
  if (authorization.empty()) {
    return std::optional<Identity>();
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      authorization.substr(0, kBearer.size()) != kBearer) {
    return apiError(401, "", "Invalid credentials in Authorization header");
  }
  auto it = tokens_.find(std::string(authorization.substr(kBearer.size())));
  if (it == tokens_.end()) {
    return apiError(401, "", "Invalid credentials in Authorization header");
  }
  return std::optional<Identity>(it->second);
}

bool Auth::isMember(const std::string& user, const std::string& ns) const {
  if (user == ns) {
    return true;
  }
  auto org = orgs_.find(ns);
  return org != orgs_.end() && org->second.count(user) != 0;
}

std::vector<std::string> Auth::orgsOf(const std::string& user) const {
  std::vector<std::string> out;
  for (const auto& [org, members] : orgs_) {
    if (members.count(user) != 0) {
      out.push_back(org);
    }
  }
  return out;
}

bool Auth::canSee(const std::optional<Identity>& who, const RepoMeta& repo) const {
  return !repo.is_private || (who && isMember(who->user, repo.id.ns));
}

ApiStatus Auth::checkRead(const std::optional<Identity>& who, const RepoMeta& repo) const {
  if (canSee(who, repo)) {
    return {};
  }
  if (!who) {
    return apiError(401, "RepoNotFound",
                    "Repository not found: " + repo.id.fullName() +
                        ". If the repo is private, make sure you are authenticated.");
  }
  return repoNotFound(repo.id.fullName());
}

ApiStatus Auth::checkDownload(const std::optional<Identity>& who, const RepoMeta& repo) const {
  if (auto st = checkRead(who, repo); !st) {
    return st;
  }
  if (repo.gated.empty() || (who && isMember(who->user, repo.id.ns))) {
    return {};
  }
  auto grant = grants_.find(repo.id.key());
  if (who && grant != grants_.end() && grant->second.count(who->user) != 0) {
    return {};
  }
  return apiError(who ? 403 : 401, "GatedRepo",
                  "Access to model " + repo.id.fullName() +
                      " is restricted. You must have access to it and be authenticated to access "
                      "it. Please log in.");
}

ApiStatus Auth::checkNamespaceWrite(const std::optional<Identity>& who,
                                    const std::string& ns) const {
  if (!who) {
    return apiError(401, "", "You must be authenticated to write to " + ns);
  }
  if (!isMember(who->user, ns)) {
    return apiError(403, "", "You don't have the rights to write to the namespace " + ns);
  }
  if (!who->can_write) {
    return apiError(403, "",
                    "Your token has the read role; a token with the write role is needed to "
                    "write to " + ns);
  }
  return {};
}

ApiStatus Auth::checkWrite(const std::optional<Identity>& who, const RepoMeta& repo) const {
  if (auto st = checkRead(who, repo); !st) {
    return st;
  }
  return checkNamespaceWrite(who, repo.id.ns);
}

}  // namespace hfm::hubd
