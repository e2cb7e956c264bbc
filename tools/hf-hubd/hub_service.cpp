// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/hub_service.h"

#include <algorithm>
#include <thread>

#include "common/url.h"

namespace hfm::hubd {

using nlohmann::json;

namespace {

// Header values must stay on one line.
std::string headerSafe(std::string text) {
  for (char& c : text) {
    if (c == '\r' || c == '\n' || static_cast<unsigned char>(c) < 0x20) {
      c = ' ';
    }
  }
  return text;
}

std::string stripPort(const std::string& host) {
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    return close == std::string::npos ? host : host.substr(0, close + 1);
  }
  auto colon = host.rfind(':');
  return colon == std::string::npos ? host : host.substr(0, colon);
}

}  // namespace

std::string Call::param(const std::string& key) const {
  for (const auto& [k, v] : query) {
    if (k == key) {
      return v;
    }
  }
  return {};
}

std::vector<std::string> Call::params(const std::string& key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query) {
    if (k == key || k == key + "[]") {
      out.push_back(v);
    }
  }
  return out;
}

bool Call::flag(const std::string& key) const {
  std::string v = param(key);
  return v == "true" || v == "True" || v == "1";
}

HubService::HubService(ServiceOptions options, ObjectStore* objects, RepoStore* repos,
                       XetStore* xet, Auth auth, UrlSigner signer, FaultPlan faults)
    : options_(std::move(options)),
      objects_(objects),
      repos_(repos),
      xet_(xet),
      auth_(std::move(auth)),
      signer_(std::move(signer)),
      faults_(std::move(faults)) {}

void HubService::sendJson(Call& call, int status, const json& body) {
  call.res.status = status;
  call.res.set_content(body.dump(), "application/json; charset=utf-8");
}

void HubService::sendError(Call& call, const ApiError& error) {
  call.res.status = error.status;
  call.res.set_header("X-Error-Code", error.code.empty() ? defaultErrorCode(error.status) : error.code);
  call.res.set_header("X-Error-Message", headerSafe(error.message));
  if (!error.repo_commit.empty() && !call.res.has_header("X-Repo-Commit")) {
    call.res.set_header("X-Repo-Commit", error.repo_commit);
  }
  call.res.set_content(json{{"error", error.message}}.dump(), "application/json; charset=utf-8");
}

void HubService::sendOutcome(Call& call, const ApiStatus& outcome) {
  if (!outcome) {
    sendError(call, outcome.error());
  } else {
    sendJson(call, 200, json::object());
  }
}

ApiResult<std::string> HubService::readBody(Call& call, std::size_t limit) {
  if (call.reader == nullptr) {
    return std::string();
  }
  std::string body;
  bool too_large = false;
  (*call.reader)([&](const char* data, std::size_t len) {
    if (body.size() + len > limit) {
      too_large = true;
      return false;
    }
    body.append(data, len);
    return true;
  });
  stats_.countReceived(call.match.cls, body.size());
  if (too_large) {
    return apiError(413, "PayloadTooLarge", "Request body is larger than " + std::to_string(limit));
  }
  return body;
}

ApiResult<json> HubService::readJson(Call& call) {
  auto body = readBody(call);
  if (!body) {
    return common::Unexpected<ApiError>(body.error());
  }
  if (body->empty()) {
    return json::object();
  }
  json parsed = json::parse(*body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return badRequest("Request body is not a JSON object");
  }
  return parsed;
}

std::string HubService::baseUrl(const Call& call) const {
  std::string host = call.req.get_header_value("Host");
  if (host.empty()) {
    host = "127.0.0.1:" + std::to_string(options_.api_port);
  }
  return "http://" + host;
}

std::string HubService::cdnBaseUrl(const Call& call) const {
  std::string host = stripPort(call.req.get_header_value("Host"));
  if (host.empty()) {
    host = "127.0.0.1";
  }
  return "http://" + host + ":" + std::to_string(options_.cdn_port);
}

std::string HubService::repoUrl(const Call& call, const common::RepoId& id) const {
  return baseUrl(call) + "/" + std::string(common::repoTypeUrlPrefix(id.type)) + id.fullName();
}

std::optional<RepoMeta> HubService::repoFor(Call& call, bool write) {
  auto meta = repos_->meta(call.match.repo);
  if (!meta) {
    if (!call.who) {
      // The Hub cannot tell a missing repository from a private one to anonymous callers.
      sendError(call, ApiError{401, "RepoNotFound",
                               "Repository not found: " + call.match.repo.fullName() +
                                   ". If the repo is private, make sure you are authenticated.",
                               {}});
    } else {
      sendError(call, repoNotFound(call.match.repo.fullName()).error());
    }
    return std::nullopt;
  }
  auto st = write ? auth_.checkWrite(call.who, *meta) : auth_.checkRead(call.who, *meta);
  if (!st) {
    sendError(call, st.error());
    return std::nullopt;
  }
  return meta;
}

std::optional<ResolvedRevision> HubService::revisionFor(Call& call, const std::string& revision) {
  auto resolved = repos_->resolve(call.match.repo, revision.empty() ? "HEAD" : revision);
  if (!resolved) {
    sendError(call, resolved.error());
    return std::nullopt;
  }
  return *resolved;
}

void HubService::handle(Listener listener, const httplib::Request& req, httplib::Response& res,
                        const httplib::ContentReader* reader) {
  // Ranges are answered by the handlers themselves; the library's own range logic would rewrite
  // our 206 responses. The Request object is not const where the library owns it.
  const_cast<httplib::Request&>(req).ranges.clear();
  Call call{req, res, reader, {}, {}, {}, req.method == "HEAD"};
  std::string_view target = req.target;
  auto qmark = target.find('?');
  auto segments = common::splitRawPath(target.substr(0, qmark));
  if (!segments) {
    sendError(call, badRequest("Malformed percent-encoding in the request path").error());
    return;
  }
  if (qmark != std::string_view::npos) {
    auto query = common::parseQuery(target.substr(qmark + 1));
    if (!query) {
      sendError(call, badRequest("Malformed percent-encoding in the query string").error());
      return;
    }
    call.query = std::move(*query);
  }
  call.match = listener == Listener::kCdn ? matchCdnRoute(req.method, *segments)
                                          : matchRoute(req.method, *segments);
  RouteClass cls = call.match.cls;
  if (call.match.route == Route::kStats) {
    // Reading the counters must not change them: tests take deltas around client traffic.
    dispatch(call);
    return;
  }
  stats_.countRequest(cls);
  FaultDecision decision = faults_.decide(cls);
  if (decision.latency.count() > 0) {
    std::this_thread::sleep_for(decision.latency);
  }
  if (decision.status != 0) {
    stats_.countInjectedFault();
    if (decision.retry_after_s > 0) {
      res.set_header("Retry-After", std::to_string(decision.retry_after_s));
    }
    sendError(call, ApiError{decision.status, "", "injected fault", {}});
    closeIfBodyUnread(call);
    countBody(call, cls);
    return;
  }
  // The CAS checks its own tokens; a Hub token means nothing there.
  auto who = cls == RouteClass::kCas
                 ? ApiResult<std::optional<Identity>>(std::optional<Identity>())
                 : auth_.authenticate(req.get_header_value("Authorization"));
  if (!who) {
    sendError(call, who.error());
  } else {
    call.who = std::move(*who);
    dispatch(call);
  }
  applyFaults(call, decision);
  closeIfBodyUnread(call);
  countBody(call, cls);
}

void HubService::closeIfBodyUnread(Call& call) {
  // A request refused before its body was read leaves that body on the connection, where the
  // next request would be parsed from it: such a connection is closed after the answer.
  const bool has_body = call.req.has_header("Content-Length")
                            ? call.req.get_header_value("Content-Length") != "0"
                            : call.req.has_header("Transfer-Encoding");
  if (has_body && call.reader != nullptr && call.res.status >= 400) {
    call.res.set_header("Connection", "close");
  }
}

void HubService::countBody(Call& call, RouteClass cls) {
  if (call.is_head) {
    return;
  }
  if (!call.res.content_provider_) {
    stats_.countSent(cls, call.res.body.size());
    return;
  }
  auto inner = std::move(call.res.content_provider_);
  Stats* stats = &stats_;
  call.res.content_provider_ = [inner = std::move(inner), stats, cls](
                                   std::size_t offset, std::size_t length,
                                   httplib::DataSink& sink) {
    auto original = sink.write;
    sink.write = [&](const char* data, std::size_t n) {
      bool ok = original(data, n);
      if (ok) {
        stats->countSent(cls, n);
      }
      return ok;
    };
    bool ok = inner(offset, length, sink);
    sink.write = std::move(original);
    return ok;
  };
}

void HubService::applyFaults(Call& call, const FaultDecision& decision) {
  if (call.is_head ||
      (decision.stall.count() == 0 && !decision.cut_after_bytes && !decision.short_body)) {
    return;
  }
  httplib::Response& res = call.res;
  if (!res.content_provider_) {
    if (res.body.empty()) {
      return;
    }
    // Turn a buffered body into a streamed one so it can be cut.
    auto body = std::make_shared<std::string>(std::move(res.body));
    std::string type = res.get_header_value("Content-Type");
    res.body.clear();
    res.set_content_provider(
        body->size(), type,
        [body](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
          return sink.write(body->data() + offset, std::min(length, body->size() - offset));
        });
  }
  std::size_t total = res.content_length_;
  std::optional<std::size_t> limit;
  if (decision.cut_after_bytes) {
    limit = static_cast<std::size_t>(std::min<std::uint64_t>(*decision.cut_after_bytes, total));
  }
  if (decision.short_body && total > 0) {
    std::size_t short_limit = total - std::max<std::size_t>(1, total / 8);
    limit = limit ? std::min(*limit, short_limit) : short_limit;
  }
  stats_.countInjectedFault();
  auto stalled = std::make_shared<bool>(false);
  auto inner = std::move(res.content_provider_);
  res.content_provider_ = [inner = std::move(inner), limit, stall = decision.stall, stalled](
                              std::size_t offset, std::size_t length, httplib::DataSink& sink) {
    if (stall.count() > 0 && !*stalled && offset > 0) {
      *stalled = true;
      std::this_thread::sleep_for(stall);
    }
    if (limit && offset >= *limit) {
      return false;  // the library closes the connection mid-body
    }
    std::size_t allowed = limit ? std::min(length, *limit - offset) : length;
    if (stall.count() > 0 && !*stalled) {
      allowed = std::min<std::size_t>(allowed, 64 * 1024);  // so the stall lands mid-body
    }
    return inner(offset, allowed, sink);
  };
}

void HubService::dispatch(Call& call) {
  switch (call.match.route) {
    case Route::kNotFound:
      sendError(call, ApiError{404, "", "Not found: " + call.req.path, {}});
      return;
    case Route::kMethodNotAllowed:
      sendError(call, ApiError{405, "", call.req.method + " is not allowed on " + call.req.path, {}});
      return;
    case Route::kStats:
      call.res.status = 200;
      call.res.set_content(stats_.toJson(), "application/json");
      return;
    case Route::kWhoami:
      return whoami(call);
    case Route::kCreateRepo:
      return createRepo(call);
    case Route::kDeleteRepo:
      return deleteRepo(call);
    case Route::kValidateYaml:
      return validateYaml(call);
    case Route::kListRepos:
      return listRepos(call);
    case Route::kRepoInfo:
      return repoInfo(call);
    case Route::kTree:
      return tree(call);
    case Route::kPathsInfo:
      return pathsInfo(call);
    case Route::kRefs:
      return refs(call);
    case Route::kCommits:
      return commits(call);
    case Route::kCreateBranch:
      return createBranch(call);
    case Route::kDeleteBranch:
      return deleteBranch(call);
    case Route::kCreateTag:
      return createTag(call);
    case Route::kDeleteTag:
      return deleteTag(call);
    case Route::kPreupload:
      return preupload(call);
    case Route::kCommit:
      return commit(call);
    case Route::kLfsBatch:
      return lfsBatch(call);
    case Route::kLfsVerify:
      return lfsVerify(call);
    case Route::kResolve:
    case Route::kRaw:
      return resolve(call);
    case Route::kLfsUpload:
      return lfsUpload(call);
    case Route::kLfsPart:
      return lfsPart(call);
    case Route::kLfsComplete:
      return lfsComplete(call);
    case Route::kCdnBlob:
      return cdnBlob(call);
    case Route::kXetToken:
      return xetToken(call);
    case Route::kCasReconstruction:
      return casReconstruction(call);
    case Route::kCasXorb:
      return casXorb(call);
    case Route::kCasShard:
      return casShard(call);
    case Route::kCasChunk:
      return casChunk(call);
    case Route::kCasFile:
      return casFile(call);
    case Route::kCdnXorb:
      return cdnXorb(call);
  }
}

}  // namespace hfm::hubd
