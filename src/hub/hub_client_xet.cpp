// SPDX-License-Identifier: Apache-2.0
// HubClient's Xet calls (docs/hub-client.md, "Xet" and "Xet uploads"): CAS read tokens,
// reconstructions (v2, with the v1 fallback) and xorb fetches; xorb and shard uploads and the
// global dedup query with a write token (the LFS batch that hands it out is in
// hub_client_lfs.cpp). Requests to the CAS and to xorb URLs go through sendWithoutHubToken: the
// Hub token must not reach them even when they share the endpoint's origin (hf-hubd serves its
// CAS under /_hubd/cas).

#include <algorithm>
#include <cstring>

#include "common/hex.h"
#include "hub/hub_client.h"
#include "hub/hub_client_impl.h"
#include "hub/xet_json.h"

namespace hfm::hub {
namespace {

using detail::AttemptFailure;
using detail::Clock;
using detail::HttpHeaders;
using detail::is2xx;
using detail::isRedirect;
using detail::TransferOutcome;
using detail::TransferResult;

constexpr std::int64_t kTokenRefreshMarginS = 30;  // xet-core REFRESH_BUFFER_SEC
constexpr std::size_t kMaxRefreshedWriteTokens = 64;
constexpr std::size_t kMaxCachedXetTokens = 1024;
// Room for each multipart part's delimiter and headers beyond its data.
constexpr std::uint64_t kMultipartOverheadPerPart = 1024;
constexpr std::uint64_t kMultipartOverhead = 4096;

std::int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A CAS token must not appear in a message either (a hostile server may echo it back).
HubError scrubbed(HubError error, const std::string& secret) {
  if (!secret.empty()) {
    for (auto pos = error.message.find(secret); pos != std::string::npos;
         pos = error.message.find(secret, pos)) {
      error.message.replace(pos, secret.size(), "[token]");
    }
  }
  return error;
}

struct CasAnswer {
  int status = 0;
  HttpHeaders headers;
  std::string body;
  std::string url;
};

// How casCall sends one request.
struct CasRequest {
  std::string_view method = "GET";   // "GET" or "POST"
  std::vector<std::string> headers;  // besides Authorization
  std::string_view body{};           // POST body
  std::string_view content_type{};   // POST Content-Type
  bool compressed = true;            // JSON answers may come gzipped; binary ones must not
};

// A request to the CAS with its token, which goes only to the CAS's origin (redirects elsewhere
// are refused; a POST follows only 307 and 308, which keep its body). Transient failures are
// retried until the deadline (CAS requests are idempotent); a 2xx, 501 or any other final status
// is returned for the caller to interpret.
HubResult<CasAnswer> casCall(detail::HubClientImpl& impl, const std::string& url,
                             const detail::XetTokenInfo& token, const CasRequest& request,
                             const std::stop_token& stop) {
  const auto cas_origin = detail::parseOrigin(token.cas_url);
  const std::string_view method = request.method;
  auto deadline = Clock::now() + impl.options.retry_deadline;
  unsigned retry = 0;
  for (unsigned attempt = 1;; ++attempt) {
    AttemptFailure failure;
    std::string current = url;
    for (int hops = 0;; ++hops) {
      std::vector<std::string> headers = request.headers;
      auto origin = detail::parseOrigin(current);
      if (!origin || !cas_origin || *origin != *cas_origin) {
        return impl.failBad(impl.context(method, current),
                            "the CAS redirected to another origin (the CAS token stays with the "
                            "CAS)");
      }
      headers.push_back("Authorization: Bearer " + token.access_token);
      detail::BufferingHandler handler;
      TransferResult result = impl.sendWithoutHubToken(method, current, std::move(headers),
                                                       request.body, request.content_type,
                                                       request.compressed, deadline, stop, handler);
      if (result.outcome == TransferOutcome::kAbortedByHandler && handler.tooLarge()) {
        return impl.failBad(
            impl.context(method, current),
            "response body larger than " + std::to_string(detail::kMaxApiBodyBytes) + " bytes");
      }
      if (result.outcome != TransferOutcome::kComplete) {
        failure = detail::transportFailure(result, impl.context(method, current));
        break;
      }
      int status = handler.status();
      if (is2xx(status)) {
        impl.bytes_downloaded.fetch_add(handler.body().size(), std::memory_order_relaxed);
        return CasAnswer{status, handler.headers(), std::move(handler.body()), current};
      }
      if (isRedirect(status)) {
        if (method != "GET" && status != 307 && status != 308) {
          return impl.failBad(impl.context(method, current),
                              "HTTP " + std::to_string(status) +
                                  " to a CAS upload (only 307 and 308 keep the body)");
        }
        auto next = impl.followRedirect(current, handler.headers(), hops);
        if (!next) {
          return impl.fail(std::move(next).error());
        }
        current = std::move(*next);
        continue;
      }
      if (status == 501 || !detail::isRetryableStatus(status)) {
        return CasAnswer{status, handler.headers(), std::move(handler.body()), current};
      }
      failure = detail::statusFailure(status, handler.headers(), handler.body(),
                                      impl.context(method, current));
      break;
    }
    if (!failure.retryable || !impl.waitBeforeRetry(retry++, failure, deadline, stop)) {
      return impl.fail(
          scrubbed(impl.givenUp(std::move(failure), stop, attempt), token.access_token));
    }
  }
}

// A GET of a reconstruction (JSON) with `range`.
HubResult<CasAnswer> casGet(detail::HubClientImpl& impl, const std::string& url,
                            const detail::XetTokenInfo& token, std::string range,
                            const std::stop_token& stop) {
  return casCall(impl, url, token, {.headers = {std::move(range), "Accept: application/json"}},
                 stop);
}

// Receives one xorb fetch, checking the answer against the ranges asked for as it arrives.
// Not thread-safe (one exchange).
class XorbHandler final : public detail::CheckingHandler {
 public:
  XorbHandler(const std::vector<XetRange>& ranges, std::uint64_t data_bytes)
      : ranges_(ranges), data_bytes_(data_bytes) {}

  bool onHeaders(int status, const HttpHeaders& headers) override {
    body_.clear();
    std::optional<std::uint64_t> length;
    if (!startAnswer(status, headers, "a xorb fetch", &length)) {
      return false;
    }
    if (!is2xx(status)) {
      mode_ = Mode::kErrorBody;
      return true;
    }
    const XetRange& front = ranges_.front();
    if (status == 206 && ranges_.size() == 1) {
      const std::string* header = headers.find("content-range");
      auto range = header == nullptr ? std::nullopt : detail::parseContentRange(*header);
      if (!range || !range->first || *range->first != front.byte_first ||
          *range->last != front.byte_last) {
        return fail(
            "Content-Range " +
            (header == nullptr ? std::string("(none)") : detail::sanitizeServerText(*header, 80)) +
            " is not the requested bytes " + std::to_string(front.byte_first) + "-" +
            std::to_string(front.byte_last));
      }
      if (length && *length != data_bytes_) {
        return fail("Content-Length " + std::to_string(*length) + " disagrees with Content-Range");
      }
      mode_ = Mode::kSingle;
      body_.reserve(static_cast<std::size_t>(data_bytes_));
      return true;
    }
    if (status == 206) {
      boundary_ = detail::multipartBoundary(headers.get("content-type"));
      if (!boundary_) {
        return fail("206 to a request of " + std::to_string(ranges_.size()) +
                    " ranges is not multipart/byteranges with a boundary");
      }
      if (length && *length > limit()) {
        return fail("multipart body of " + std::to_string(*length) + " bytes for " +
                    std::to_string(data_bytes_) + " bytes of ranges");
      }
      mode_ = Mode::kMultipart;
      body_.reserve(static_cast<std::size_t>(length ? *length : data_bytes_));
      return true;
    }
    if (status == 200 && ranges_.size() == 1 && front.byte_first == 0) {
      // Range ignored: the xorb from its start, of which the first bytes are wanted.
      if (length && *length < data_bytes_) {
        return fail("200 with " + std::to_string(*length) + " bytes for a range of " +
                    std::to_string(data_bytes_));
      }
      mode_ = Mode::kPrefix;
      body_.reserve(static_cast<std::size_t>(data_bytes_));
      return true;
    }
    return fail("unexpected status " + std::to_string(status) + " for a xorb fetch of " +
                std::to_string(ranges_.size()) + " range(s)");
  }

  bool onBody(const char* data, std::size_t size) override {
    switch (mode_) {
      case Mode::kErrorBody:
        detail::appendErrorBody(body_, data, size);
        return true;
      case Mode::kSingle:
        if (body_.size() + size > data_bytes_) {
          return fail("body longer than its Content-Range");
        }
        body_.append(data, size);
        return true;
      case Mode::kMultipart:
        if (body_.size() + size > limit()) {
          return fail("multipart body longer than " + std::to_string(limit()) + " bytes");
        }
        body_.append(data, size);
        return true;
      case Mode::kPrefix: {
        std::size_t take =
            std::min<std::size_t>(size, static_cast<std::size_t>(data_bytes_) - body_.size());
        body_.append(data, take);
        return body_.size() < data_bytes_;  // stop once the range is in
      }
      case Mode::kNone:
        return fail("body before headers");
    }
    return false;
  }

  const std::string& body() const { return body_; }
  bool isData() const {
    return mode_ == Mode::kSingle || mode_ == Mode::kMultipart || mode_ == Mode::kPrefix;
  }
  // Whether everything needed arrived (a multipart body is judged by its parser).
  bool done(bool complete) const {
    if (mode_ == Mode::kSingle || mode_ == Mode::kPrefix) {
      return body_.size() == data_bytes_;
    }
    return mode_ == Mode::kMultipart && complete;
  }
  HubResult<std::vector<std::string>> parts() {
    if (mode_ == Mode::kMultipart) {
      return detail::parseMultipartByteranges(body_, *boundary_, ranges_);
    }
    std::vector<std::string> out;
    out.push_back(std::move(body_));
    return out;
  }

 private:
  enum class Mode { kNone, kErrorBody, kSingle, kMultipart, kPrefix };
  std::uint64_t limit() const {
    return data_bytes_ + kMultipartOverhead + kMultipartOverheadPerPart * ranges_.size();
  }

  const std::vector<XetRange>& ranges_;
  std::uint64_t data_bytes_;
  Mode mode_ = Mode::kNone;
  std::string body_;
  std::optional<std::string> boundary_;
};

// ---- write access --------------------------------------------------------------------------

// `access` as casCall takes it, or nullopt when its URL or token could not be sent.
std::optional<detail::XetTokenInfo> writeToken(const XetWriteAccess& access) {
  auto cas_url = detail::casUrlValue(access.cas_url);
  if (!cas_url || !detail::isUsableCasToken(access.token)) {
    return std::nullopt;
  }
  return detail::XetTokenInfo{access.token, access.expires, std::move(*cas_url)};
}

// A CAS request with write access to {cas_url}{path}. A 2xx, or `passed_status` (0: none), is
// returned as the answer. A 401 takes one fresh write token from access.refresh_url, when that
// URL is on the endpoint's origin (the Hub token goes nowhere else), and sends the request once
// more; the fresh token is kept for later calls with the same access (until 30 s before it
// expires). Any other status is the error it maps to.
HubResult<CasAnswer> casWrite(detail::HubClientImpl& impl, const XetWriteAccess& access,
                              const std::string& path, const CasRequest& request, int passed_status,
                              const std::string& what) {
  auto token = writeToken(access);
  if (!token) {
    return impl.failInvalid(what + ": the write access has no usable CAS URL or token");
  }
  if (!access.refresh_url.empty()) {
    std::lock_guard lock(impl.xet_mu);
    auto it = impl.refreshed_write_tokens.find(access.refresh_url);
    if (it != impl.refreshed_write_tokens.end()) {
      if (it->second.expires - kTokenRefreshMarginS > unixNow()) {
        token = it->second;
      } else {
        impl.refreshed_write_tokens.erase(it);
      }
    }
  }
  for (int round = 0;; ++round) {
    auto answer = casCall(impl, token->cas_url + path, *token, request, {});
    if (!answer) {
      return common::Unexpected<HubError>(
          scrubbed(std::move(answer).error(), access.token));  // already counted
    }
    if (is2xx(answer->status) || (passed_status != 0 && answer->status == passed_status)) {
      return answer;
    }
    if (answer->status == 401 && round == 0 && !access.refresh_url.empty() &&
        impl.isEndpointOrigin(access.refresh_url)) {
      auto response = impl.apiCall("GET", access.refresh_url);
      if (!response) {
        return common::Unexpected<HubError>(std::move(response).error());
      }
      auto fresh = impl.checked("GET", access.refresh_url, detail::parseXetToken(response->body));
      if (!fresh) {
        return common::Unexpected<HubError>(std::move(fresh).error());
      }
      token = std::move(*fresh);
      {
        std::lock_guard lock(impl.xet_mu);
        if (impl.refreshed_write_tokens.size() >= kMaxRefreshedWriteTokens) {
          impl.refreshed_write_tokens.clear();
        }
        impl.refreshed_write_tokens[access.refresh_url] = *token;
      }
      continue;
    }
    auto failure = detail::statusFailure(answer->status, answer->headers, answer->body,
                                         impl.context(request.method, answer->url));
    return impl.fail(
        scrubbed(scrubbed(std::move(failure.error), token->access_token), access.token));
  }
}

// POSTs `bytes` (a xorb or a shard) to {cas_url}{path} with casWrite; a 2xx JSON answer.
HubResult<CasAnswer> casUpload(detail::HubClientImpl& impl, const XetWriteAccess& access,
                               const std::string& path, std::span<const std::uint8_t> bytes,
                               const std::string& what) {
  const std::string_view body(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return casWrite(impl, access, path,
                  {.method = "POST",
                   .headers = {"Accept: application/json"},
                   .body = body,
                   .content_type = "application/octet-stream"},
                  0, what);
}

}  // namespace

// ---- HubClientImpl: tokens and CAS versions ------------------------------------------------

HubResult<detail::XetTokenInfo> detail::HubClientImpl::xetReadToken(const common::RepoId& repo,
                                                                    const std::string& commit,
                                                                    bool fresh,
                                                                    const std::stop_token& stop) {
  const std::string key = repo.key() + '\n' + commit;
  if (!fresh) {
    std::lock_guard lock(xet_mu);
    auto it = xet_tokens.find(key);
    if (it != xet_tokens.end() && it->second.expires - kTokenRefreshMarginS > unixNow()) {
      return it->second;
    }
  }
  const std::string url =
      options.endpoint + "/api/" + std::string(common::repoTypePlural(repo.type)) + "/" +
      detail::repoPath(repo) + "/xet-read-token/" + detail::quoteRevision(commit);
  auto response = apiCall("GET", url, {.stop = stop});
  if (!response) {
    return common::Unexpected<HubError>(std::move(response).error());
  }
  auto info = checked("GET", url, detail::parseXetToken(response->body));
  if (!info) {
    return info;
  }
  const std::int64_t now = unixNow();
  std::lock_guard lock(xet_mu);
  if (info->expires - kTokenRefreshMarginS > now) {
    if (xet_tokens.size() >= kMaxCachedXetTokens) {
      std::erase_if(xet_tokens, [&](const auto& entry) {
        return entry.second.expires - kTokenRefreshMarginS <= now;
      });
      if (xet_tokens.size() >= kMaxCachedXetTokens) {
        xet_tokens.clear();  // all alive: start over rather than track recency
      }
    }
    xet_tokens[key] = *info;
  } else {
    xet_tokens.erase(key);  // too short-lived to keep; used for this call only
  }
  return info;
}

void detail::HubClientImpl::dropXetToken(const std::string& key, const std::string& access_token) {
  std::lock_guard lock(xet_mu);
  auto it = xet_tokens.find(key);
  // Another thread may have put a fresh token there already.
  if (it != xet_tokens.end() && it->second.access_token == access_token) {
    xet_tokens.erase(it);
  }
}

detail::HubClientImpl::CasVersion detail::HubClientImpl::casVersion(const std::string& cas_url) {
  std::lock_guard lock(xet_mu);
  auto it = cas_versions.find(cas_url);
  return it == cas_versions.end() ? CasVersion::kUnknown : it->second;
}

void detail::HubClientImpl::setCasVersion(const std::string& cas_url, CasVersion version) {
  std::lock_guard lock(xet_mu);
  if (cas_versions.size() >= kMaxCachedXetTokens && cas_versions.count(cas_url) == 0) {
    cas_versions.clear();
  }
  cas_versions[cas_url] = version;
}

// ---- HubClient -----------------------------------------------------------------------------

HubResult<XetReconstruction> HubClient::xetReconstruction(const common::RepoId& repo,
                                                          const std::string& commit,
                                                          const std::string& xet_hash_in,
                                                          std::uint64_t first, std::uint64_t last,
                                                          const std::stop_token& stop) {
  using CasVersion = detail::HubClientImpl::CasVersion;
  detail::HubClientImpl& impl = *impl_;
  if (!common::isHex(xet_hash_in, 64)) {
    return impl.failInvalid("xetReconstruction: the Xet hash is not 64 hex digits");
  }
  if (first > last) {
    return impl.failInvalid("xetReconstruction: range " + std::to_string(first) + "-" +
                            std::to_string(last) + " is inverted");
  }
  if (commit.empty()) {
    return impl.fail(
        HubError{HubErrorKind::kRevisionNotFound, 0, "xetReconstruction: empty revision", false});
  }
  const std::string hash = detail::lowerHex(xet_hash_in);
  const std::string key = repo.key() + '\n' + commit;
  const std::string range = "Range: bytes=" + std::to_string(first) + "-" + std::to_string(last);
  // What a final non-2xx CAS answer becomes.
  auto statusError = [&](const CasAnswer& answer, const std::string& secret) {
    auto failure = detail::statusFailure(answer.status, answer.headers, answer.body,
                                         impl.context("GET", answer.url));
    return impl.fail(scrubbed(std::move(failure.error), secret));
  };
  // A 2xx answer's reconstruction, or why it was refused (a kBadResponse of the request).
  auto checkedAnswer = [&](const CasAnswer& answer, HubResult<XetReconstruction> parsed,
                           const std::string& secret) -> HubResult<XetReconstruction> {
    if (!parsed) {
      return impl.failBad(impl.context("GET", answer.url),
                          scrubbed(parsed.error(), secret).message);
    }
    return parsed;
  };
  for (int round = 0;; ++round) {
    auto token = impl.xetReadToken(repo, commit, /*fresh=*/round > 0, stop);
    if (!token) {
      return common::Unexpected<HubError>(std::move(token).error());
    }
    const std::string& secret = token->access_token;
    auto unauthorized = [&](const CasAnswer& answer) -> bool {
      if (answer.status != 401 || round > 0) {
        return false;
      }
      impl.dropXetToken(key, secret);  // expired early or revoked: once more with a new one
      return true;
    };
    const CasVersion version = impl.casVersion(token->cas_url);
    bool v2_missing = false;  // v2 answered 404 on a CAS not known to serve v2
    if (version != CasVersion::kV1Only) {
      const std::string url = token->cas_url + "/v2/reconstructions/" + hash;
      auto answer = casGet(impl, url, *token, range, stop);
      if (!answer) {
        return common::Unexpected<HubError>(std::move(answer).error());
      }
      if (is2xx(answer->status)) {
        auto parsed = checkedAnswer(*answer, detail::parseReconstructionV2(answer->body), secret);
        if (parsed) {
          impl.setCasVersion(token->cas_url, CasVersion::kV2);
        }
        return parsed;
      }
      if (unauthorized(*answer)) {
        continue;
      }
      if (answer->status == 501) {
        impl.setCasVersion(token->cas_url, CasVersion::kV1Only);
      } else if (answer->status == 404 && version == CasVersion::kUnknown) {
        v2_missing = true;
      } else {
        return statusError(*answer, secret);
      }
    }
    const std::string url = token->cas_url + "/v1/reconstructions/" + hash;
    auto answer = casGet(impl, url, *token, range, stop);
    if (!answer) {
      return common::Unexpected<HubError>(std::move(answer).error());
    }
    if (is2xx(answer->status)) {
      auto parsed = checkedAnswer(*answer, detail::parseReconstructionV1(answer->body), secret);
      if (parsed && v2_missing) {
        impl.setCasVersion(token->cas_url, CasVersion::kV1Only);
      }
      return parsed;
    }
    if (unauthorized(*answer)) {
      continue;
    }
    return statusError(*answer, secret);
  }
}

HubResult<std::vector<std::string>> HubClient::xetFetch(const XetFetch& fetch,
                                                        const std::stop_token& stop) {
  detail::HubClientImpl& impl = *impl_;
  if (auto problem = detail::xetFetchProblem(fetch)) {
    return impl.failInvalid("xetFetch: " + *problem);
  }
  std::uint64_t data_bytes = 0;
  for (const XetRange& r : fetch.ranges) {
    data_bytes += r.byte_last - r.byte_first + 1;
  }
  const std::string range = "Range: " + detail::xetRangeHeader(fetch.ranges);
  auto deadline = Clock::now() + impl.options.retry_deadline;
  unsigned retry = 0;
  for (unsigned attempt = 1;; ++attempt) {
    AttemptFailure failure;
    std::string url = fetch.url;
    for (int hops = 0;; ++hops) {
      XorbHandler handler(fetch.ranges, data_bytes);
      TransferResult result =
          impl.sendWithoutHubToken("GET", url, {range}, {}, {},
                                   /*compressed=*/false, deadline, stop, handler);
      if (handler.failed()) {
        return impl.failBad(impl.context("GET", url), handler.failure());
      }
      const int status = handler.status();
      const bool complete = result.outcome == TransferOutcome::kComplete;
      if (handler.isData() && handler.done(complete) &&
          (complete || result.outcome == TransferOutcome::kAbortedByHandler)) {
        auto parts = handler.parts();
        if (!parts) {
          return impl.failBad(impl.context("GET", url), parts.error().message);
        }
        impl.bytes_downloaded.fetch_add(data_bytes, std::memory_order_relaxed);
        return parts;
      }
      if (!complete) {
        failure = detail::transportFailure(result, impl.context("GET", url));
        break;
      }
      if (handler.isData()) {
        // Complete, yet short of its Content-Range (no Content-Length to let libcurl notice).
        failure.error = HubError{HubErrorKind::kNetwork, status,
                                 impl.context("GET", url) + ": body shorter than its range", false};
        failure.retryable = true;
        break;
      }
      if (isRedirect(status)) {
        auto next = impl.followRedirect(url, handler.headers(), hops);
        if (!next) {
          return impl.fail(std::move(next).error());
        }
        url = std::move(*next);
        continue;
      }
      if (status == 416) {
        return impl.failBad(impl.context("GET", url),
                            "HTTP 416: the reconstruction named bytes " +
                                detail::xetRangeHeader(fetch.ranges).substr(6) +
                                " the xorb does not have");
      }
      // 403 (expired or forged signature), 404 and other 4xx are final: the caller asks for
      // a new reconstruction.
      failure = detail::statusFailure(status, handler.headers(), handler.body(),
                                      impl.context("GET", url));
      break;
    }
    if (!failure.retryable || !impl.waitBeforeRetry(retry++, failure, deadline, stop)) {
      return impl.fail(impl.givenUp(std::move(failure), stop, attempt));
    }
  }
}

// ---- HubClient: Xet uploads ----------------------------------------------------------------

HubResult<bool> HubClient::xetUploadXorb(const XetWriteAccess& access, const std::string& xorb_hash,
                                         std::span<const std::uint8_t> bytes) {
  detail::HubClientImpl& impl = *impl_;
  if (!common::isHex(xorb_hash, 64)) {
    return impl.failInvalid("xetUploadXorb: the xorb hash is not 64 hex digits");
  }
  if (bytes.empty() || bytes.size() > detail::kXetMaxXorbBytes) {
    return impl.failInvalid("xetUploadXorb: a xorb of " + std::to_string(bytes.size()) +
                            " bytes (1 to 64 MiB)");
  }
  auto answer = casUpload(impl, access, "/v1/xorbs/default/" + detail::lowerHex(xorb_hash), bytes,
                          "xetUploadXorb");
  if (!answer) {
    return common::Unexpected<HubError>(std::move(answer).error());
  }
  return impl.checked("POST", answer->url, detail::parseXorbUploadAnswer(answer->body));
}

HubResult<void> HubClient::xetUploadShard(const XetWriteAccess& access,
                                          std::span<const std::uint8_t> bytes) {
  detail::HubClientImpl& impl = *impl_;
  if (bytes.empty() || bytes.size() > detail::kXetMaxShardBytes) {
    return impl.failInvalid("xetUploadShard: a shard of " + std::to_string(bytes.size()) +
                            " bytes (1 to 64 MiB)");
  }
  auto answer = casUpload(impl, access, "/v1/shards", bytes, "xetUploadShard");
  if (!answer) {
    return common::Unexpected<HubError>(std::move(answer).error());
  }
  auto result = impl.checked("POST", answer->url, detail::parseShardUploadAnswer(answer->body));
  if (!result) {
    return common::Unexpected<HubError>(std::move(result).error());
  }
  return {};
}

HubResult<std::optional<std::string>> HubClient::xetQueryChunk(const XetWriteAccess& access,
                                                               const std::string& chunk_hash) {
  detail::HubClientImpl& impl = *impl_;
  if (!common::isHex(chunk_hash, 64)) {
    return impl.failInvalid("xetQueryChunk: the chunk hash is not 64 hex digits");
  }
  auto answer = casWrite(impl, access, "/v1/chunks/default/" + detail::lowerHex(chunk_hash),
                         {.headers = {"Accept: application/octet-stream"}, .compressed = false},
                         404, "xetQueryChunk");
  if (!answer) {
    return common::Unexpected<HubError>(std::move(answer).error());
  }
  if (answer->status == 404) {
    return std::optional<std::string>();
  }
  if (!detail::looksLikeShard(answer->body)) {
    return impl.failBad(
        impl.context("GET", answer->url),
        "the dedup answer (" + std::to_string(answer->body.size()) + " bytes) is not a shard");
  }
  return std::optional<std::string>(std::move(answer->body));
}

}  // namespace hfm::hub
