// SPDX-License-Identifier: Apache-2.0
#pragma once

// Maps a request (method and decoded path segments) to one of hf-hubd's routes. Revisions may
// arrive percent-encoded ("refs%2Fpr%2F1", one segment) or literal ("refs/pr/1", three segments):
// both are accepted, the literal form only for the refs/{pr,convert,heads,tags}/X shapes that
// clients rely on.

#include <string>
#include <string_view>
#include <vector>

#include "common/repo_id.h"
#include "hf-hubd/route_class.h"

namespace hfm::hubd {

enum class Route {
  kNotFound,
  kMethodNotAllowed,
  kStats,
  kWhoami,
  kCreateRepo,
  kDeleteRepo,
  kValidateYaml,
  kListRepos,
  kRepoInfo,  // with or without /revision/{rev}
  kTree,
  kPathsInfo,
  kRefs,
  kCommits,
  kCreateBranch,
  kDeleteBranch,
  kCreateTag,
  kDeleteTag,
  kPreupload,
  kCommit,
  kLfsBatch,
  kLfsVerify,
  kResolve,
  kRaw,
  kLfsUpload,    // PUT /_hubd/lfs/{oid}
  kLfsPart,      // PUT /_hubd/lfs/{oid}/part/{n}
  kLfsComplete,  // POST /_hubd/lfs/{oid}/complete
  kCdnBlob,      // GET /lfs/{oid} on the CDN listener
  kXetToken,     // GET /api/{t}s/{ns}/{name}/xet-{read,write}-token/{rev}; path = read|write
  // The CAS, under /_hubd/cas/v{1,2}/...; path = the hash, part = the API version.
  kCasReconstruction,  // GET reconstructions/{file}
  kCasXorb,            // POST|HEAD xorbs/default/{xorb}
  kCasShard,           // POST shards
  kCasChunk,           // GET chunks/{default|default-merkledb}/{chunk}
  kCasFile,            // HEAD|GET files/{file}
  kCdnXorb,            // GET /xorbs/{xorb} on the CDN listener (signed ranges)
};

struct RouteMatch {
  Route route = Route::kNotFound;
  RouteClass cls = RouteClass::kApi;
  common::RepoId repo;
  common::RepoType list_type = common::RepoType::kModel;  // kListRepos
  std::string revision;  // empty when the route names none (repo info: the default branch)
  std::string path;      // repo path, branch/tag name, or LFS oid
  int part = 0;          // kLfsPart; the CAS API version
};

RouteMatch matchRoute(std::string_view method, const std::vector<std::string>& segments);
// The CDN listener's one route: GET|HEAD /lfs/{sha256}.
RouteMatch matchCdnRoute(std::string_view method, const std::vector<std::string>& segments);

}  // namespace hfm::hubd
