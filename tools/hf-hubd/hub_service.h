// SPDX-License-Identifier: Apache-2.0
#pragma once

// hf-hubd's request handling: authentication, the Hub API routes, file downloads, LFS uploads
// and the CDN listener. The HTTP library's types stay in this tool; the stores below know
// nothing of HTTP.

#include <httplib.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "hf-hubd/api_error.h"
#include "hf-hubd/auth.h"
#include "hf-hubd/faults.h"
#include "hf-hubd/object_store.h"
#include "hf-hubd/repo_store.h"
#include "hf-hubd/router.h"
#include "hf-hubd/stats.h"
#include "hf-hubd/upload_requests.h"
#include "hf-hubd/url_signer.h"
#include "hf-hubd/xet_tokens.h"
#include "hf-hubd/xet_store.h"

namespace hfm::hubd {

struct ServiceOptions {
  std::filesystem::path root;
  std::size_t tree_page_size = 1000;
  std::uint64_t lfs_part_size = 16ull << 20;      // multipart part size
  std::uint64_t lfs_threshold = 10ull << 20;      // preupload: larger files go to LFS
  std::uint64_t lfs_multipart_threshold = 64ull << 20;  // larger uploads go multipart
  std::int64_t cdn_url_ttl_s = 3600;
  std::uint16_t cdn_port = 0;                     // filled in once the CDN listener is bound
  std::uint16_t api_port = 0;
  bool xet_default = false;  // repositories created through the API are Xet-enabled
};

// One request being answered. Confined to the thread that serves it.
struct Call {
  const httplib::Request& req;
  httplib::Response& res;
  const httplib::ContentReader* reader = nullptr;  // POST, PUT and DELETE
  RouteMatch match;
  std::vector<std::pair<std::string, std::string>> query;
  std::optional<Identity> who;
  bool is_head = false;

  std::string param(const std::string& key) const;  // first value, "" when absent
  std::vector<std::string> params(const std::string& key) const;  // key and key[]
  bool flag(const std::string& key) const;          // true|True|1
};

// Thread-safe: every member is either immutable or thread-safe itself.
class HubService {
 public:
  HubService(ServiceOptions options, ObjectStore* objects, RepoStore* repos, XetStore* xet,
             Auth auth, UrlSigner signer, FaultPlan faults);

  enum class Listener { kApi, kCdn };
  void handle(Listener listener, const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader* reader);
  Stats& stats() { return stats_; }
  ServiceOptions& options() { return options_; }

  // Helpers shared by the route files.
  static void sendJson(Call& call, int status, const nlohmann::json& body);
  static void sendError(Call& call, const ApiError& error);
  // 200 with an empty JSON object, or the error.
  static void sendOutcome(Call& call, const ApiStatus& outcome);
  // Reads the whole body (at most `limit` bytes) for small JSON/form requests.
  ApiResult<std::string> readBody(Call& call, std::size_t limit = 64u << 20);
  ApiResult<nlohmann::json> readJson(Call& call);
  std::string baseUrl(const Call& call) const;  // "http://host:port" as the client addressed us
  std::string cdnBaseUrl(const Call& call) const;
  std::string repoUrl(const Call& call, const common::RepoId& id) const;

 private:
  void dispatch(Call& call);
  void applyFaults(Call& call, const FaultDecision& decision);
  void countBody(Call& call, RouteClass cls);
  void closeIfBodyUnread(Call& call);

  // repo_handlers.cpp
  void whoami(Call& call);
  void createRepo(Call& call);
  void deleteRepo(Call& call);
  void validateYaml(Call& call);
  void listRepos(Call& call);
  void repoInfo(Call& call);
  void tree(Call& call);
  void pathsInfo(Call& call);
  void refs(Call& call);
  void commits(Call& call);
  void createBranch(Call& call);
  void deleteBranch(Call& call);
  void createTag(Call& call);
  void deleteTag(Call& call);
  // upload_handlers.cpp
  void preupload(Call& call);
  void commit(Call& call);
  void lfsBatch(Call& call);
  void lfsBatchXet(Call& call, const RepoMeta& meta, const LfsBatchRequest& request);
  void lfsVerify(Call& call);
  void lfsUpload(Call& call);
  void lfsPart(Call& call);
  void lfsComplete(Call& call);
  // file_handlers.cpp
  void resolve(Call& call);
  void cdnBlob(Call& call);
  void serveBlob(Call& call, const std::string& sha256, std::uint64_t size,
                 const std::string& etag);
  std::string cdnUrl(const Call& call, const std::string& sha256) const;
  // xet_handlers.cpp
  void xetToken(Call& call);
  void casReconstruction(Call& call);
  void casXorb(Call& call);
  void casShard(Call& call);
  void casChunk(Call& call);
  void casFile(Call& call);
  void cdnXorb(Call& call);
  std::optional<XetGrant> casGrant(Call& call, bool write);
  std::string casUrl(const Call& call) const;
  // Adds the Xet headers of a resolve answer; true when the file is Xet-backed.
  bool addXetHeaders(Call& call, const FileEntry& file, const std::string& commit);
  // Links the commit's LFS files to the CAS: existing Xet files by SHA-256, and in a
  // Xet-enabled repository every other LFS file after it is stored in the CAS.
  ApiStatus attachXet(const RepoMeta& meta, CommitRequest& request);

  // The repository a route names, checked for the caller; errors are already sent.
  std::optional<RepoMeta> repoFor(Call& call, bool write);
  std::optional<ResolvedRevision> revisionFor(Call& call, const std::string& revision);
  nlohmann::json entryJson(const TreeIndex::Entry& entry, bool expand,
                           const common::RepoId& repo) const;
  bool verifyUploadSignature(Call& call);
  // A signed CDN URL for `resource`; answers 403 itself when the signature is bad.
  bool verifyCdnSignature(Call& call, const std::string& resource);

  ServiceOptions options_;
  ObjectStore* objects_;
  RepoStore* repos_;
  XetStore* xet_;
  Auth auth_;
  UrlSigner signer_;
  FaultPlan faults_;
  Stats stats_;
};

}  // namespace hfm::hubd
