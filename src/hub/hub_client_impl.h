// SPDX-License-Identifier: Apache-2.0
#pragma once

// HubClientImpl: HubClient's state and the plumbing every call shares (one exchange with the
// token rule, retries with backoff, redirects, pagination, error accounting), declared here so
// that the read side (hub_client.cpp) and the write side (hub_client_commit.cpp,
// hub_client_lfs.cpp) can live in separate files. Internal to src/hub.
//
// Thread-safe: any number of threads may use one HubClientImpl at once; its state is the
// immutable options, atomics, the internally locked transport and signed-URL cache, and the
// Xet token and CAS-version maps behind xet_mu (a leaf lock: nothing is called while held).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "hub/curl_transport.h"
#include "hub/http_util.h"
#include "hub/hub_client.h"
#include "hub/signed_url_cache.h"
#include "hub/xet_json.h"

namespace hfm::hub {
namespace detail {

using Clock = std::chrono::steady_clock;

inline constexpr std::size_t kMaxApiBodyBytes = 64u << 20;  // a 1000-entry tree page is ~0.3 MB
inline constexpr std::size_t kMaxErrorBodyBytes = 64u << 10;

inline bool is2xx(int status) { return status >= 200 && status < 300; }
inline bool isRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// Buffers a response: the body of a 2xx up to a limit (beyond it the exchange is aborted), and
// the first bytes of any other body for the error message. Not thread-safe (one exchange).
class BufferingHandler final : public ResponseHandler {
 public:
  bool onHeaders(int status, const HttpHeaders& headers) override;
  bool onBody(const char* data, std::size_t size) override;
  int status() const { return status_; }
  const HttpHeaders& headers() const { return headers_; }
  std::string& body() { return body_; }
  bool tooLarge() const { return too_large_; }

 private:
  int status_ = 0;
  HttpHeaders headers_;
  std::string body_;
  bool too_large_ = false;
};

// Appends to `body` what still fits of an error body's first kMaxErrorBodyBytes (kept for the
// error message).
inline void appendErrorBody(std::string& body, const char* data, std::size_t size) {
  if (body.size() < kMaxErrorBodyBytes) {
    body.append(data, std::min(size, kMaxErrorBodyBytes - body.size()));
  }
}

// What the handlers that check a data answer as it arrives (ranged reads, xorb fetches) share:
// the status and headers, and the first reason found to stop. Not thread-safe (one exchange).
class CheckingHandler : public ResponseHandler {
 public:
  int status() const { return status_; }
  const HttpHeaders& headers() const { return headers_; }
  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }

 protected:
  // Records `status` and `headers`. For a 2xx, also checks that the body comes uncompressed and
  // reads Content-Length into *length (left unset when absent); false, failed, when either is
  // wrong. `what` names the request in messages ("a ranged read").
  bool startAnswer(int status, const HttpHeaders& headers, std::string_view what,
                   std::optional<std::uint64_t>* length);
  // Keeps the first reason given; false, for onHeaders and onBody to abort the exchange with.
  bool fail(std::string reason);

 private:
  int status_ = 0;
  HttpHeaders headers_;
  std::string failure_;
};

// Why an attempt failed, and whether another attempt may help.
struct AttemptFailure {
  HubError error;
  bool retryable = false;
  std::optional<std::chrono::milliseconds> retry_after;
};

AttemptFailure transportFailure(const TransferResult& result, const std::string& context);
AttemptFailure statusFailure(int status, const HttpHeaders& headers, const std::string& body,
                             const std::string& context);

struct ApiResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
  std::string url;  // after redirects
};

// How apiCall sends one request, and when it may send it again.
struct ApiCallOptions {
  std::string_view body{};             // POST body
  std::string_view content_type{};     // POST Content-Type
  std::vector<std::string> headers{};  // extra "Name: value" lines
  BodySource* source = nullptr;        // PUT body, sent whole on every attempt
  // A request that changes state (a commit) is repeated only when it cannot have reached the
  // server: a lost answer is not proof that nothing happened. It also gets a connection of its
  // own (see HttpRequest::is_fresh_connection).
  bool is_idempotent = true;
  std::stop_token stop{};
};

struct HubClientImpl {
  HubClientImpl(HubOptions opts, detail::Origin origin, std::unique_ptr<detail::CurlTransport> t)
      : options(std::move(opts)),
        endpoint_origin(std::move(origin)),
        transport(std::move(t)),
        cdn_urls(options.cdn_url_cache_entries) {}

  bool isEndpointOrigin(std::string_view url) const;
  // "METHOD path" for messages (no query: signed URLs carry secrets there).
  std::string context(std::string_view method, std::string_view url) const;

  // Every error leaves through here: counted, and scrubbed of the token should a hostile
  // server have echoed it back.
  common::Unexpected<HubError> fail(HubError error);
  common::Unexpected<HubError> failBad(const std::string& context_text, const std::string& reason);
  common::Unexpected<HubError> failInvalid(std::string message);

  // One HTTP exchange, no redirects, no retries. The token goes only to the endpoint's origin.
  detail::TransferResult send(std::string_view method, const std::string& url,
                              std::vector<std::string> headers, std::string_view body,
                              std::string_view content_type, bool compressed,
                              detail::Clock::time_point deadline, const std::stop_token& stop,
                              detail::ResponseHandler& handler,
                              detail::BodySource* source = nullptr,
                              bool is_fresh_connection = false);
  // The same exchange, but never with the Hub token, even on the endpoint's origin: `headers`
  // carry whatever authorization the caller decided on (the CAS's token, none for xorb URLs).
  detail::TransferResult sendWithoutHubToken(std::string_view method, const std::string& url,
                                             std::vector<std::string> headers,
                                             std::string_view body, std::string_view content_type,
                                             bool compressed, detail::Clock::time_point deadline,
                                             const std::stop_token& stop,
                                             detail::ResponseHandler& handler,
                                             detail::BodySource* source = nullptr,
                                             bool is_fresh_connection = false);

  // Waits before retry number `retry`; false when the deadline would pass or `stop` fired.
  bool waitBeforeRetry(unsigned retry, const detail::AttemptFailure& failure,
                       detail::Clock::time_point deadline, const std::stop_token& stop);
  HubError givenUp(detail::AttemptFailure failure, const std::stop_token& stop, unsigned attempts);

  // An API call: follows redirects (the token only to the endpoint), retries transient failures
  // until the deadline (see ApiCallOptions::is_idempotent), buffers the 2xx body.
  HubResult<detail::ApiResponse> apiCall(std::string_view method, const std::string& url,
                                         const detail::ApiCallOptions& call = {});

  // `parsed` as is, or its error reported as a kBadResponse of "METHOD url".
  template <class T>
  HubResult<T> checked(std::string_view method, const std::string& url, HubResult<T> parsed) {
    if (!parsed) {
      return failBad(context(method, url), parsed.error().message);
    }
    return parsed;
  }

  // The next URL of a redirect, or the reason not to follow it.
  HubResult<std::string> followRedirect(const std::string& current,
                                        const detail::HttpHeaders& headers, int hops);

  // GETs `first_url` and the pages its Link rel="next" headers chain to. `on_page` returns
  // false to stop early.
  template <class OnPage>
  HubResult<bool> paginate(const std::string& first_url, OnPage&& on_page,
                           const std::stop_token& stop = {}) {
    std::string url = first_url;
    std::unordered_set<std::string> seen{url};
    for (std::size_t pages = 1;; ++pages) {
      auto response = apiCall("GET", url, {.stop = stop});
      if (!response) {
        return common::Unexpected<HubError>(std::move(response).error());
      }
      auto more = on_page(*response);
      if (!more) {
        return common::Unexpected<HubError>(std::move(more).error());
      }
      if (!*more) {
        return true;
      }
      const std::string* link = response->headers.find("link");
      auto next = link == nullptr ? std::nullopt : detail::parseLinkNext(*link);
      if (!next) {
        return true;
      }
      auto absolute = detail::resolveReference(response->url, *next);
      std::string where = context("GET", url);
      if (!absolute || !isEndpointOrigin(*absolute)) {
        return failBad(where, "Link rel=\"next\" points to another origin or is malformed");
      }
      if (!seen.insert(*absolute).second) {
        return failBad(where, "Link rel=\"next\" points back to an earlier page");
      }
      if (pages >= options.max_pages) {
        return failBad(where, "more than " + std::to_string(options.max_pages) + " pages");
      }
      url = std::move(*absolute);
    }
  }

  void rememberSignedUrl(const std::string& key, const std::string& url);

  HubResult<std::size_t> readRange(const common::RepoId& repo, const std::string& commit,
                                   const std::string& path, std::uint64_t offset,
                                   std::span<char> out, const std::stop_token& stop);

  // ---- Xet (hub_client_xet.cpp) ----
  // Which reconstruction API a CAS (by casUrl) was seen to serve.
  enum class CasVersion { kUnknown, kV2, kV1Only };
  // The CAS read token of (repo, commit): the cached one unless `fresh`, else a new one from
  // GET /api/{t}s/{ns}/{name}/xet-read-token/{commit}, cached until 30 s before it expires.
  HubResult<detail::XetTokenInfo> xetReadToken(const common::RepoId& repo,
                                               const std::string& commit, bool fresh,
                                               const std::stop_token& stop);
  void dropXetToken(const std::string& key, const std::string& access_token);
  CasVersion casVersion(const std::string& cas_url);
  void setCasVersion(const std::string& cas_url, CasVersion version);

  HubOptions options;
  detail::Origin endpoint_origin;
  std::unique_ptr<detail::CurlTransport> transport;
  detail::SignedUrlCache cdn_urls;
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> bytes_downloaded{0};
  std::atomic<std::uint64_t> bytes_uploaded{0};
  std::atomic<std::uint64_t> redirects{0};
  std::atomic<std::uint64_t> cdn_url_cache_hits{0};

  std::mutex xet_mu;
  std::map<std::string, detail::XetTokenInfo> xet_tokens;  // by repo key + '\n' + commit; xet_mu
  std::map<std::string, CasVersion> cas_versions;          // by casUrl; xet_mu
  // Write tokens fetched after a 401, by the refresh URL they came from; xet_mu. Later calls
  // with the same (expired) access use them instead of meeting the 401 again.
  std::map<std::string, detail::XetTokenInfo> refreshed_write_tokens;
};

}  // namespace detail
}  // namespace hfm::hub
