// SPDX-License-Identifier: Apache-2.0
#pragma once

// HubClient: the Hugging Face Hub HTTP API as hf-mount uses it, over libcurl. Reads: revision
// resolution, tree and paths-info listings, repo lists, ranged file reads, whoami, Xet
// reconstructions and xorb fetches. Writes:
// preupload, LFS uploads (basic and multipart), Xet uploads (the LFS batch offering "xet", xorb
// and shard uploads, the global dedup query), commits and the commit history.
//
// Thread safety: thread-safe. Any number of threads may call any method at once; at most
// HubOptions::max_connections HTTP exchanges are in flight, other callers wait for a slot.
//
// Lifetime: create() returns the owning pointer; destroy the client only after every call on it
// has returned. No method keeps a reference to its arguments after it returns.
//
// Errors: methods never throw. Transient failures (connection errors, timeouts, 408, 429, 5xx)
// are retried with jittered exponential backoff, honouring Retry-After, until
// HubOptions::retry_deadline; callers see only the final outcome. The one exception is
// commit(), which changes state: see there. Everything the server sends is validated, and
// anything malformed, inconsistent or unsafe is kBadResponse.
//
// Tokens: the token is sent only to the endpoint's origin (scheme, host and port), never across
// a redirect to another origin (the CDN), and never appears in a message or a log line. Xet CAS
// tokens go only to the CAS origin (and the Hub token never does, even on the same origin);
// xorb URLs get no Authorization at all.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <vector>

#include "common/repo_id.h"
#include "hub/hub_env.h"
#include "hub/hub_error.h"
#include "hub/hub_types.h"

namespace hfm::hub {
namespace detail {
struct HubClientImpl;  // hub_client_impl.h
}  // namespace detail

struct HubOptions {
  std::string endpoint = "https://huggingface.co";  // no trailing slash
  std::optional<std::string> token;                  // never logged, never sent to another origin
  std::chrono::milliseconds connect_timeout{10000};
  // Abort a transfer that made no progress this long (also CURLOPT_LOW_SPEED_*).
  std::chrono::milliseconds stall_timeout{30000};
  // Total time spent retrying one call before giving up (the fs --read-timeout). A transfer that
  // keeps receiving bytes is not cut by it; one that waits is cut when the deadline passes.
  std::chrono::milliseconds retry_deadline{60000};
  unsigned max_connections = 16;  // bound on concurrent requests
  // Parts of one multipart LFS upload sent at once (also bounded by max_connections).
  unsigned max_parallel_parts = 4;
  std::string user_agent = "hf-mount/0.1";

  // Backoff: the n-th retry waits a uniform random time in [0, min(backoff_cap, backoff_base*2^n)]
  // (full jitter), or the server's Retry-After when that is longer.
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_cap{5000};
  // Loop guard for paginated listings: more pages than this is kBadResponse.
  std::size_t max_pages = 10000;
  // Signed CDN URLs remembered per (repo, commit, path); LRU beyond this many.
  std::size_t cdn_url_cache_entries = 4096;
  // How long a CDN URL without a parsable expiry is remembered.
  std::chrono::seconds cdn_url_default_ttl{600};
};

// Thread-safe: see the file comment.
class HubClient {
 public:
  // Fails (kBadResponse) when the endpoint is not an http(s) URL or libcurl cannot start.
  static HubResult<std::unique_ptr<HubClient>> create(HubOptions options);
  ~HubClient();
  HubClient(const HubClient&) = delete;
  HubClient& operator=(const HubClient&) = delete;

  // GET /api/{t}/{ns}/{name}/revision/{quote(rev, safe="")}. When `revision` is a full commit
  // sha, the answer must name that same commit.
  HubResult<RevisionInfo> revision(const common::RepoId& repo, const std::string& revision,
                                   const std::stop_token& stop = {});

  // GET /api/{t}/{ns}/{name}/tree/{commit}[/{dir}]?recursive=..., following Link rel="next".
  // dir "" is the root. Entries are the children of `dir` (all descendants when recursive),
  // each checked: valid path, under `dir`, no duplicates, sane size, hex ids.
  HubResult<std::vector<TreeEntry>> listTree(const common::RepoId& repo, const std::string& commit,
                                             const std::string& dir, bool recursive,
                                             const std::stop_token& stop = {});

  // POST /api/{t}/{ns}/{name}/paths-info/{commit}, in batches of 500 paths. Paths that do not
  // exist (or cannot exist: invalid paths) are omitted from the answer, as on the Hub.
  HubResult<std::vector<TreeEntry>> pathsInfo(const common::RepoId& repo,
                                              const std::string& commit,
                                              const std::vector<std::string>& paths);

  // GET /api/{models|datasets|spaces}?author=..., following Link rel="next" until max_results.
  HubResult<std::vector<RepoSummary>> listRepos(common::RepoType type, const std::string& author,
                                                std::size_t max_results,
                                                const std::stop_token& stop = {});

  // Reads [offset, offset+out.size()) of a file at a commit into out; returns bytes read (less
  // only at EOF; 0 when offset is at or past the end).
  // GET {endpoint}/{prefix}{ns}/{name}/resolve/{commit}/{quote(path)} with Range. A redirect to
  // another origin is followed WITHOUT Authorization, and the final URL is remembered per
  // (repo, commit, path) until it expires (X-Expires / Expires / X-Amz-Date+X-Amz-Expires, else
  // cdn_url_default_ttl); a 403/404/410 on a remembered URL drops it and resolves again once.
  // A body that breaks mid-way resumes from the last byte received. On error, the contents of
  // `out` are unspecified.
  HubResult<std::size_t> readRange(const common::RepoId& repo, const std::string& commit,
                                   const std::string& path, std::uint64_t offset,
                                   std::span<char> out, const std::stop_token& stop = {});

  // GET /api/{t}/{ns}/{name}/refs: the branch and tag names.
  HubResult<RepoRefs> listRefs(const common::RepoId& repo, const std::stop_token& stop = {});

  // GET /api/whoami-v2. kUnauthorized without a request when no token is configured.
  HubResult<WhoAmI> whoami();

  // ---- writes (docs/hub-client.md, "Uploads and commits") -------------------------------------

  // POST /api/{t}/{ns}/{name}/preupload/{rev}, in chunks of 256 files: how each file must be
  // uploaded. Answers come in the order of `files`. Paths must be valid repo paths
  // (kInvalidArgument otherwise). No request for an empty list.
  HubResult<std::vector<PreuploadAnswer>> preupload(const common::RepoId& repo,
                                                    const std::string& revision,
                                                    const std::vector<PreuploadFile>& files);

  // Whether the configured token may write to the repo: a preupload of no files. false without
  // a request when there is no token; false on 401/403 (kUnauthorized, kForbidden); other
  // errors (missing repo or revision, network) are returned.
  HubResult<bool> canWrite(const common::RepoId& repo, const std::string& revision,
                           const std::stop_token& stop = {});

  // Uploads one LFS object (`sha256`, `size` bytes) from `local_path`, which must hold exactly
  // `size` bytes (kLocalIo otherwise). POST {prefix}{ns}/{name}.git/info/lfs/objects/batch,
  // then, as the answer says: nothing (the server has it), one PUT of the whole file, or a
  // multipart upload (parts PUT in parallel, up to max_parallel_parts, each retried on its own;
  // every part's ETag is required; then the completion POST), then the verify POST when the
  // answer has one. The file is streamed (parts read with pread), never held in memory. The
  // token goes to upload URLs only on the endpoint's origin, as for reads. `progress` may be
  // called from several threads.
  HubResult<void> uploadLfs(const common::RepoId& repo, const std::string& revision,
                            const std::string& sha256, std::uint64_t size,
                            const std::string& local_path, const UploadProgress& progress = {});

  // POST /api/{t}/{ns}/{name}/commit/{rev}, application/x-ndjson. NOT retried once the request
  // may have reached the server (only a connection that could not be established is retried):
  // after kNetwork, kTimeout or kServerError the commit may or may not exist, and the caller
  // looks for it with listCommits (e.g. by a unique id in its description). A parent_commit the
  // branch has moved on from is kConflict with http_status 412. LFS files must have been
  // uploaded first.
  HubResult<CommitInfo> commit(const common::RepoId& repo, const std::string& revision,
                               const CommitRequest& request);

  // GET /api/{t}/{ns}/{name}/commits/{rev}?limit=: the newest `limit` commits of the
  // revision's history, newest first (following Link rel="next" if a page holds fewer).
  HubResult<std::vector<CommitSummary>> listCommits(const common::RepoId& repo,
                                                    const std::string& revision, std::size_t limit);

  // ---- Xet downloads (docs/hub-client.md, "Xet") ---------------------------------------------

  // The reconstruction of bytes [first, last] (inclusive; a `last` past EOF is clamped by the
  // server) of the Xet file `xet_hash` (64 hex digits, e.g. TreeEntry::xet_hash) at
  // repo@commit.
  // 1. A CAS read token: GET /api/{t}s/{ns}/{name}/xet-read-token/{commit} with the Hub token,
  //    cached per (repo, commit) until 30 s before its "exp".
  // 2. GET {casUrl}/v2/reconstructions/{xet_hash} with Range: bytes=first-last and
  //    Authorization: Bearer <CAS token> (never the Hub token). A 401 from the CAS drops the
  //    cached token and retries once with a fresh one (then kUnauthorized).
  // 3. v1 fallback, GET {casUrl}/v1/reconstructions/{xet_hash}, whose fetch_info becomes one
  //    XetFetch of one range per entry: on a 501 from v2 (the CAS is then remembered as v1-only),
  //    and on a 404 from a CAS not yet seen answering v2 (a 404 from v1 too is kNotFound; a v1
  //    answer marks the CAS v1-only). Once v2 has answered, its 404 is kNotFound at once.
  // Errors: kNotFound (unknown file, or repo/revision per the token endpoint), kUnauthorized,
  // kForbidden, kRangeNotSatisfiable (first at or past EOF), kInvalidArgument (xet_hash not 64
  // hex digits, first > last; no request), kBadResponse for any answer that fails validation,
  // transient errors as for other calls. CAS redirects are followed only within the CAS origin.
  HubResult<XetReconstruction> xetReconstruction(const common::RepoId& repo,
                                                 const std::string& commit,
                                                 const std::string& xet_hash, std::uint64_t first,
                                                 std::uint64_t last,
                                                 const std::stop_token& stop = {});

  // One GET of `fetch.url` with Range built from its ranges in order (bytes=a-b,c-d; one range
  // is bytes=a-b), WITHOUT Authorization. Returns the serialized bytes of each range, in order:
  // a 206 with one body for one range (or a 200 for a single range starting at 0: its first
  // bytes are kept), multipart/byteranges for several, each part's Content-Range exactly the
  // range asked for. Anything else is kBadResponse, a 416 included (the reconstruction named
  // bytes the xorb does not have). A 403 (expired or forged signature) or 404/410 is returned
  // at once (kForbidden / kNotFound) so that the caller asks for a new reconstruction.
  // Connection failures, timeouts, 408, 429 and 5xx are retried (the whole GET) until
  // retry_deadline. The fetch is checked first (xetFetchProblem in xet_json.h; kInvalidArgument).
  HubResult<std::vector<std::string>> xetFetch(const XetFetch& fetch,
                                               const std::stop_token& stop = {});

  // ---- Xet uploads (docs/hub-client.md, "Xet uploads") ---------------------------------------
  // The CAS calls below send the CAS token (Authorization: Bearer access.token) only to
  // access.cas_url's origin, never the Hub token; a CAS redirect to another origin is
  // kBadResponse. Transient failures are retried as for other calls (the POSTs are idempotent:
  // hashes are content addresses). A CAS 401 takes one fresh write token from
  // access.refresh_url (GET with the Hub token, only when that URL is on the endpoint's origin)
  // and tries once more; the fresh token is kept for later calls with the same refresh_url
  // (until 30 s before it expires). After a second 401, or without a refresh_url, the call is
  // kUnauthorized and the caller takes a new offer.
  // The CAS token never appears in a message. An `access` whose cas_url or token could not be
  // sent is kInvalidArgument without a request.

  // POST {prefix}{ns}/{name}.git/info/lfs/objects/batch for one object offering "basic",
  // "multipart" and "xet", with the Hub token. nullopt when the server picks another transfer
  // (the caller then uses uploadLfs; the answer has been checked as uploadLfs checks it); an
  // offer when it picks "xet": already_stored when the object has no actions, else the access
  // from the upload action's headers (X-Xet-Cas-Url, X-Xet-Access-Token,
  // X-Xet-Token-Expiration) and its href as refresh_url. A per-object error is returned as an
  // error (the kind its code maps to, e.g. 403 kForbidden, 422 kBadResponse, as uploadLfs
  // does). kInvalidArgument without a request when `sha256` is not 64 hex digits.
  HubResult<std::optional<XetUploadOffer>> offerXetUpload(const common::RepoId& repo,
                                                          const std::string& revision,
                                                          const std::string& sha256,
                                                          std::uint64_t size);

  // POST {cas_url}/v1/xorbs/default/{xorb_hash} with the serialized xorb; true when the CAS
  // newly inserted it, false when it had it already. The answer must be
  // {"was_inserted": bool}. kInvalidArgument without a request when xorb_hash is not 64 hex
  // digits or `bytes` is empty or larger than 64 MiB. A refusal (400: hash mismatch, malformed
  // xorb) is kBadResponse with http_status 400 and the server's message.
  HubResult<bool> xetUploadXorb(const XetWriteAccess& access, const std::string& xorb_hash,
                                std::span<const std::uint8_t> bytes);

  // POST {cas_url}/v1/shards with the shard (footer optional). The answer must be
  // {"result": 0|1}. A refusal (400: malformed, a referenced xorb missing, ...) is an error
  // whose http_status is 400 and whose message carries the server's; a read-only token is
  // kForbidden (403). kInvalidArgument without a request for an empty or over-64-MiB body.
  HubResult<void> xetUploadShard(const XetWriteAccess& access, std::span<const std::uint8_t> bytes);

  // GET {cas_url}/v1/chunks/default/{chunk_hash}, the global dedup query: the answer's shard
  // bytes (checked only to start with a shard header; the caller parses it), nullopt on 404.
  // kInvalidArgument without a request when chunk_hash is not 64 hex digits.
  HubResult<std::optional<std::string>> xetQueryChunk(const XetWriteAccess& access,
                                                      const std::string& chunk_hash);

  HubStats stats() const;
  const HubOptions& options() const;

 private:
  explicit HubClient(std::unique_ptr<detail::HubClientImpl> impl);
  std::unique_ptr<detail::HubClientImpl> impl_;
};

}  // namespace hfm::hub
