// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/router.h"

#include "common/hex.h"

namespace hfm::hubd {
namespace {

using common::RepoType;
using Segments = std::vector<std::string>;

std::string join(const Segments& s, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to && i < s.size(); ++i) {
    if (i != from) {
      out.push_back('/');
    }
    out += s[i];
  }
  return out;
}

// Number of segments the revision starting at `i` spans (0 when none is there).
std::size_t revisionLength(const Segments& s, std::size_t i) {
  if (i >= s.size()) {
    return 0;
  }
  if (s[i] == "refs" && i + 2 < s.size() &&
      (s[i + 1] == "pr" || s[i + 1] == "convert" || s[i + 1] == "heads" || s[i + 1] == "tags")) {
    return 3;
  }
  return 1;
}

RouteMatch make(Route route, RouteClass cls = RouteClass::kApi) {
  RouteMatch m;
  m.route = route;
  m.cls = cls;
  return m;
}

bool is(std::string_view method, std::string_view a) { return method == a; }
bool isGet(std::string_view method) { return method == "GET" || method == "HEAD"; }

// s = _hubd, cas, v1|v2, ...
RouteMatch matchCas(std::string_view method, const Segments& s) {
  RouteMatch m = make(Route::kNotFound, RouteClass::kCas);
  if (s.size() < 4 || (s[2] != "v1" && s[2] != "v2")) {
    return m;
  }
  m.part = s[2] == "v1" ? 1 : 2;
  const std::string& what = s[3];
  auto hashAt = [&](std::size_t i) { return s.size() == i + 1 && common::isHex(s[i], 64); };
  auto route_if = [&](bool ok, Route r) {
    m.route = ok ? r : Route::kMethodNotAllowed;
    return m;
  };
  if (what == "reconstructions" && hashAt(4)) {
    m.path = s[4];
    return route_if(isGet(method), Route::kCasReconstruction);
  }
  if (what == "shards" && s.size() == 4) {
    return route_if(is(method, "POST"), Route::kCasShard);
  }
  if (m.part != 1) {
    return m;
  }
  if (what == "xorbs" && s.size() == 6 && s[4] == "default" && hashAt(5)) {
    m.path = s[5];
    return route_if(is(method, "POST") || isGet(method), Route::kCasXorb);
  }
  if (what == "chunks" && s.size() == 6 && (s[4] == "default" || s[4] == "default-merkledb") &&
      hashAt(5)) {
    m.path = s[5];
    return route_if(isGet(method), Route::kCasChunk);
  }
  if (what == "files" && hashAt(4)) {
    m.path = s[4];
    return route_if(isGet(method), Route::kCasFile);
  }
  return m;
}

RouteMatch matchHubd(std::string_view method, const Segments& s) {
  if (s.size() >= 2 && s[1] == "cas") {
    return matchCas(method, s);
  }
  if (s.size() == 2 && s[1] == "stats") {
    return isGet(method) ? make(Route::kStats) : make(Route::kMethodNotAllowed);
  }
  if (s.size() >= 3 && s[1] == "lfs" && common::isHex(s[2], 64)) {
    RouteMatch m = make(Route::kNotFound, RouteClass::kUpload);
    m.path = s[2];
    if (s.size() == 3 && is(method, "PUT")) {
      m.route = Route::kLfsUpload;
    } else if (s.size() == 5 && s[3] == "part" && is(method, "PUT")) {
      int part = 0;
      for (char c : s[4]) {
        if (c < '0' || c > '9' || part > 100000) {
          return make(Route::kNotFound);
        }
        part = part * 10 + (c - '0');
      }
      m.route = s[4].empty() ? Route::kNotFound : Route::kLfsPart;
      m.part = part;
    } else if (s.size() == 4 && s[3] == "complete" && is(method, "POST")) {
      m.route = Route::kLfsComplete;
    }
    return m;
  }
  return make(Route::kNotFound);
}

RouteMatch matchRepoApi(std::string_view method, const Segments& s, RepoType type) {
  // s = api, {t}s, ns, name, [action, ...]
  RouteMatch m;
  m.repo = common::RepoId{type, s[2], s[3]};
  if (s.size() == 4) {
    m.route = isGet(method) ? Route::kRepoInfo : Route::kMethodNotAllowed;
    return m;
  }
  const std::string& action = s[4];
  std::string rest = join(s, 5, s.size());
  auto route_if = [&](bool ok, Route r) {
    m.route = ok ? r : Route::kMethodNotAllowed;
    return m;
  };
  if (action == "revision" && s.size() > 5) {
    m.revision = rest;
    return route_if(isGet(method), Route::kRepoInfo);
  }
  if (action == "tree" && s.size() > 5) {
    std::size_t len = revisionLength(s, 5);
    m.revision = join(s, 5, 5 + len);
    m.path = join(s, 5 + len, s.size());
    return route_if(isGet(method), Route::kTree);
  }
  if (action == "paths-info" && s.size() > 5) {
    m.revision = rest;
    return route_if(is(method, "POST"), Route::kPathsInfo);
  }
  if (action == "refs" && s.size() == 5) {
    return route_if(isGet(method), Route::kRefs);
  }
  if (action == "commits" && s.size() > 5) {
    m.revision = rest;
    return route_if(isGet(method), Route::kCommits);
  }
  if (action == "branch" && s.size() > 5) {
    m.path = rest;
    if (is(method, "POST")) {
      m.route = Route::kCreateBranch;
    } else {
      m.route = is(method, "DELETE") ? Route::kDeleteBranch : Route::kMethodNotAllowed;
    }
    return m;
  }
  if (action == "tag" && s.size() > 5) {
    m.path = rest;  // the revision to tag (POST) or the tag to delete (DELETE)
    m.revision = rest;
    if (is(method, "POST")) {
      m.route = Route::kCreateTag;
    } else {
      m.route = is(method, "DELETE") ? Route::kDeleteTag : Route::kMethodNotAllowed;
    }
    return m;
  }
  if (action == "preupload" && s.size() > 5) {
    m.revision = rest;
    return route_if(is(method, "POST"), Route::kPreupload);
  }
  if ((action == "xet-read-token" || action == "xet-write-token") && s.size() > 5) {
    m.revision = rest;
    m.path = action == "xet-read-token" ? "read" : "write";
    return route_if(isGet(method), Route::kXetToken);
  }
  if (action == "commit" && s.size() > 5) {
    m.revision = rest;
    return route_if(is(method, "POST"), Route::kCommit);
  }
  return make(Route::kNotFound);
}

RouteMatch matchApi(std::string_view method, const Segments& s) {
  if (s.size() == 2 && s[1] == "whoami-v2") {
    return isGet(method) ? make(Route::kWhoami) : make(Route::kMethodNotAllowed);
  }
  if (s.size() == 2 && s[1] == "validate-yaml") {
    return is(method, "POST") ? make(Route::kValidateYaml) : make(Route::kMethodNotAllowed);
  }
  if (s.size() == 3 && s[1] == "repos") {
    if (s[2] == "create") {
      return is(method, "POST") ? make(Route::kCreateRepo) : make(Route::kMethodNotAllowed);
    }
    if (s[2] == "delete") {
      return is(method, "DELETE") ? make(Route::kDeleteRepo) : make(Route::kMethodNotAllowed);
    }
    return make(Route::kNotFound);
  }
  auto type = s.size() >= 2 ? common::parseRepoTypePlural(s[1]) : std::nullopt;
  if (!type) {
    return make(Route::kNotFound);
  }
  if (s.size() == 2) {
    RouteMatch m = isGet(method) ? make(Route::kListRepos) : make(Route::kMethodNotAllowed);
    m.list_type = *type;
    return m;
  }
  if (s.size() < 4) {
    return make(Route::kNotFound);
  }
  return matchRepoApi(method, s, *type);
}

RouteMatch matchFileRoute(std::string_view method, const Segments& s) {
  std::size_t i = 0;
  RepoType type = RepoType::kModel;
  if (!s.empty() && (s[0] == "datasets" || s[0] == "spaces")) {
    type = s[0] == "datasets" ? RepoType::kDataset : RepoType::kSpace;
    i = 1;
  }
  if (s.size() < i + 2) {
    return make(Route::kNotFound);
  }
  const std::string& ns = s[i];
  const std::string& name = s[i + 1];
  // LFS: {prefix}{ns}/{name}.git/info/lfs/objects/{batch|verify}
  if (name.size() > 4 && name.compare(name.size() - 4, 4, ".git") == 0 && s.size() == i + 6 &&
      s[i + 2] == "info" && s[i + 3] == "lfs" && s[i + 4] == "objects") {
    RouteMatch m = make(Route::kNotFound);
    m.repo = common::RepoId{type, ns, name.substr(0, name.size() - 4)};
    if (s[i + 5] == "batch") {
      m.route = is(method, "POST") ? Route::kLfsBatch : Route::kMethodNotAllowed;
    } else if (s[i + 5] == "verify") {
      m.route = is(method, "POST") ? Route::kLfsVerify : Route::kMethodNotAllowed;
    }
    return m;
  }
  if (s.size() < i + 5 || (s[i + 2] != "resolve" && s[i + 2] != "raw")) {
    return make(Route::kNotFound);
  }
  RouteMatch m = make(s[i + 2] == "resolve" ? Route::kResolve : Route::kRaw, RouteClass::kResolve);
  if (!isGet(method)) {
    m.route = Route::kMethodNotAllowed;
  }
  m.repo = common::RepoId{type, ns, name};
  std::size_t len = revisionLength(s, i + 3);
  m.revision = join(s, i + 3, i + 3 + len);
  m.path = join(s, i + 3 + len, s.size());
  if (m.path.empty()) {
    return make(Route::kNotFound);
  }
  return m;
}

}  // namespace

RouteMatch matchRoute(std::string_view method, const std::vector<std::string>& segments) {
  if (segments.empty()) {
    return make(Route::kNotFound);
  }
  if (segments[0] == "_hubd") {
    return matchHubd(method, segments);
  }
  if (segments[0] == "api") {
    return matchApi(method, segments);
  }
  return matchFileRoute(method, segments);
}

RouteMatch matchCdnRoute(std::string_view method, const std::vector<std::string>& segments) {
  RouteMatch m = make(Route::kNotFound, RouteClass::kCdn);
  if (segments.size() == 2 && segments[0] == "lfs" && common::isHex(segments[1], 64)) {
    m.route = isGet(method) ? Route::kCdnBlob : Route::kMethodNotAllowed;
    m.path = segments[1];
  }
  if (segments.size() == 2 && segments[0] == "xorbs" && common::isHex(segments[1], 64)) {
    m.cls = RouteClass::kCas;
    m.route = isGet(method) ? Route::kCdnXorb : Route::kMethodNotAllowed;
    m.path = segments[1];
  }
  return m;
}

}  // namespace hfm::hubd
