// SPDX-License-Identifier: Apache-2.0
#include "hub/hub_client.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "common/hex.h"
#include "common/repo_path.h"
#include "common/url.h"
#include "hub/hub_client_impl.h"
#include "hub/hub_json.h"

namespace hfm::hub {
namespace detail {

bool BufferingHandler::onHeaders(int status, const HttpHeaders& headers) {
  status_ = status;
  headers_ = headers;
  body_.clear();
  return true;
}

bool BufferingHandler::onBody(const char* data, std::size_t size) {
  if (is2xx(status_)) {
    if (body_.size() + size > kMaxApiBodyBytes) {
      too_large_ = true;
      return false;
    }
    body_.append(data, size);
  } else {
    appendErrorBody(body_, data, size);
  }
  return true;
}

bool CheckingHandler::startAnswer(int status, const HttpHeaders& headers, std::string_view what,
                                  std::optional<std::uint64_t>* length) {
  status_ = status;
  headers_ = headers;
  if (!is2xx(status)) {
    return true;
  }
  std::string encoding = headers.get("content-encoding");
  if (!encoding.empty() && encoding != "identity") {
    return fail("compressed body (Content-Encoding: " + sanitizeServerText(encoding, 40) +
                ") for " + std::string(what));
  }
  if (const std::string* cl = headers.find("content-length")) {
    if (cl->empty() || cl->size() > 19 ||
        !std::all_of(cl->begin(), cl->end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return fail("malformed Content-Length");
    }
    *length = std::stoull(*cl);
  }
  return true;
}

bool CheckingHandler::fail(std::string reason) {
  if (failure_.empty()) {
    failure_ = std::move(reason);
  }
  return false;
}

AttemptFailure transportFailure(const TransferResult& result, const std::string& context) {
  AttemptFailure f;
  f.error.http_status = result.status;
  f.error.message = context + ": " + result.error;
  switch (result.outcome) {
    case TransferOutcome::kCanceled:
      f.error.kind = HubErrorKind::kCanceled;
      break;
    case TransferOutcome::kTimedOut:
      f.error.kind = HubErrorKind::kTimeout;
      f.retryable = true;
      break;
    case TransferOutcome::kConnectFailed:
    case TransferOutcome::kBroken:
      f.error.kind = HubErrorKind::kNetwork;
      f.retryable = true;
      break;
    case TransferOutcome::kBadReply:
    case TransferOutcome::kAbortedByHandler:
      f.error.kind = HubErrorKind::kBadResponse;
      break;
    case TransferOutcome::kBodySourceFailed:
      f.error.kind = HubErrorKind::kLocalIo;
      break;
    case TransferOutcome::kFailed:
    case TransferOutcome::kComplete:
      f.error.kind = HubErrorKind::kNetwork;
      break;
  }
  return f;
}

AttemptFailure statusFailure(int status, const HttpHeaders& headers, const std::string& body,
                             const std::string& context) {
  std::string message = headers.get("x-error-message");
  if (message.empty()) {
    message = detail::errorMessageFromBody(body);
  }
  AttemptFailure f;
  f.error = detail::errorFromStatus(status, headers.get("x-error-code"), message, context);
  f.retryable = detail::isRetryableStatus(status);
  if (auto after = detail::parseRetryAfter(headers.get("retry-after"))) {
    f.retry_after = std::chrono::duration_cast<std::chrono::milliseconds>(*after);
  }
  return f;
}

}  // namespace detail

namespace {

using detail::ApiResponse;
using detail::AttemptFailure;
using detail::Clock;
using detail::HttpHeaders;
using detail::is2xx;
using detail::isRedirect;
using detail::TransferOutcome;
using detail::TransferResult;
using std::chrono::milliseconds;

constexpr int kMaxRedirects = 10;
constexpr std::size_t kPathsInfoBatch = 500;  // huggingface_hub's batch; the Hub refuses ~1000
constexpr std::size_t kRepoListPageLimit = 1000;
constexpr milliseconds kMinAttemptConnect{200};
constexpr milliseconds kMinAttemptStall{1000};
constexpr std::chrono::hours kMaxSignedUrlLifetime{24};

// Debug lines are compiled out with SPDLOG_ACTIVE_LEVEL above debug (release builds), logger
// lookup and arguments included. The "hub" logger is registered by tools/, or nothing is logged.
#if SPDLOG_ACTIVE_LEVEL <= SPDLOG_LEVEL_DEBUG
#define HFM_HUB_LOG_DEBUG(...)                      \
  do {                                              \
    if (auto hub_logger = ::spdlog::get("hub")) {   \
      SPDLOG_LOGGER_DEBUG(hub_logger, __VA_ARGS__); \
    }                                               \
  } while (false)
#else
#define HFM_HUB_LOG_DEBUG(...) \
  do {                         \
  } while (false)
#endif

void logWarn(const std::string& message) {
  if (auto logger = spdlog::get("hub")) {
    logger->warn("{}", message);
  }
}

double unitRandom() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// Sleeps unless `stop` fires first; false when it did.
bool sleepUnlessStopped(milliseconds delay, const std::stop_token& stop) {
  if (delay.count() > 0) {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    cv.wait_for(lock, stop, delay, [] { return false; });
  }
  return !stop.stop_requested();
}

// Receives one attempt of a ranged read straight into the caller's buffer, checking that the
// server answers the range that was asked for. `out` starts at byte `first` of the file.
class RangeHandler final : public detail::CheckingHandler {
 public:
  RangeHandler(std::span<char> out, std::uint64_t first, std::uint64_t last)
      : out_(out), first_(first), last_(last) {}

  bool onHeaders(int status, const HttpHeaders& headers) override {
    std::optional<std::uint64_t> length;
    if (!startAnswer(status, headers, "a ranged read", &length)) {
      return false;
    }
    if (!is2xx(status)) {
      mode_ = Mode::kErrorBody;
      return true;
    }
    if (status == 206) {
      const std::string* header = headers.find("content-range");
      auto range = header == nullptr ? std::nullopt : detail::parseContentRange(*header);
      if (!range || !range->first) {
        return fail("206 without a valid Content-Range");
      }
      if (*range->first != first_ || *range->last > last_) {
        return fail("Content-Range " + detail::sanitizeServerText(*header, 80) +
                    " does not match the requested bytes " + std::to_string(first_) + "-" +
                    std::to_string(last_));
      }
      if (*range->last < last_ && !(range->total && *range->last + 1 == *range->total)) {
        return fail("Content-Range " + detail::sanitizeServerText(*header, 80) +
                    " is shorter than requested and does not reach the end of the file");
      }
      expected_ = *range->last - *range->first + 1;
      if (length && *length != expected_) {
        return fail("Content-Length " + std::to_string(*length) +
                    " disagrees with Content-Range " + detail::sanitizeServerText(*header, 80));
      }
      mode_ = Mode::kRange;
      return true;
    }
    if (status == 200) {
      // The server ignored Range: usable only from the start of the file.
      if (first_ != 0) {
        return fail("server ignored Range (200 instead of 206) for a read at offset " +
                    std::to_string(first_));
      }
      expected_ = length ? std::min<std::uint64_t>(*length, out_.size()) : out_.size();
      mode_ = Mode::kWhole;
      return true;
    }
    return fail("unexpected status " + std::to_string(status) + " for a ranged read");
  }

  bool onBody(const char* data, std::size_t size) override {
    switch (mode_) {
      case Mode::kErrorBody:
        detail::appendErrorBody(error_body_, data, size);
        return true;
      case Mode::kRange:
        if (received_ + size > expected_) {
          return fail("body longer than its Content-Range");
        }
        std::memcpy(out_.data() + received_, data, size);
        received_ += size;
        return true;
      case Mode::kWhole: {
        std::size_t take = std::min<std::size_t>(size, out_.size() - received_);
        std::memcpy(out_.data() + received_, data, take);
        received_ += take;
        // Stop once the buffer is full: the rest of the file is not wanted.
        return received_ < out_.size();
      }
      case Mode::kNone:
        return fail("body before headers");
    }
    return false;
  }

  const std::string& errorBody() const { return error_body_; }
  std::size_t received() const { return static_cast<std::size_t>(received_); }
  // Whether this attempt delivered everything it can: the whole range, a full buffer, or (for
  // a complete 200) the whole, shorter file.
  bool done(bool complete) const {
    if (mode_ == Mode::kRange) {
      return received_ == expected_;
    }
    if (mode_ == Mode::kWhole) {
      return received_ == out_.size() || (complete && received_ == expected_) ||
             (complete && !headers().find("content-length"));
    }
    return false;
  }

 private:
  enum class Mode { kNone, kErrorBody, kRange, kWhole };

  std::span<char> out_;
  std::uint64_t first_;
  std::uint64_t last_;
  Mode mode_ = Mode::kNone;
  std::uint64_t expected_ = 0;
  std::uint64_t received_ = 0;
  std::string error_body_;
};

}  // namespace

// ---- HubClientImpl plumbing -----------------------------------------------------------------

bool detail::HubClientImpl::isEndpointOrigin(std::string_view url) const {
  auto origin = detail::parseOrigin(url);
  return origin && *origin == endpoint_origin;
}

std::string detail::HubClientImpl::context(std::string_view method, std::string_view url) const {
  return std::string(method) + " " + detail::describeUrl(url, options.endpoint);
}

common::Unexpected<HubError> detail::HubClientImpl::fail(HubError error) {
  errors.fetch_add(1, std::memory_order_relaxed);
  if (options.token && !options.token->empty()) {
    const std::string& token = *options.token;
    for (auto pos = error.message.find(token); pos != std::string::npos;
         pos = error.message.find(token, pos)) {
      error.message.replace(pos, token.size(), "[token]");
    }
  }
  HFM_HUB_LOG_DEBUG("{} ({})", error.message, toString(error.kind));
  return common::Unexpected<HubError>(std::move(error));
}

common::Unexpected<HubError> detail::HubClientImpl::failBad(const std::string& context_text,
                                                            const std::string& reason) {
  std::string message = context_text + ": " + reason;
  logWarn("rejected a response: " + message);
  return fail(HubError{HubErrorKind::kBadResponse, 0, std::move(message), false});
}

common::Unexpected<HubError> detail::HubClientImpl::failInvalid(std::string message) {
  return fail(HubError{HubErrorKind::kInvalidArgument, 0, std::move(message), false});
}

TransferResult detail::HubClientImpl::send(std::string_view method, const std::string& url,
                                           std::vector<std::string> headers, std::string_view body,
                                           std::string_view content_type, bool compressed,
                                           Clock::time_point deadline, const std::stop_token& stop,
                                           detail::ResponseHandler& handler,
                                           detail::BodySource* source, bool is_fresh_connection) {
  if (options.token && isEndpointOrigin(url)) {
    headers.push_back("Authorization: Bearer " + *options.token);
  }
  return sendWithoutHubToken(method, url, std::move(headers), body, content_type, compressed,
                             deadline, stop, handler, source, is_fresh_connection);
}

TransferResult detail::HubClientImpl::sendWithoutHubToken(
    std::string_view method, const std::string& url, std::vector<std::string> headers,
    std::string_view body, std::string_view content_type, bool compressed,
    Clock::time_point deadline, const std::stop_token& stop, detail::ResponseHandler& handler,
    detail::BodySource* source, bool is_fresh_connection) {
  detail::HttpRequest request;
  request.method = method;
  request.url = url;
  request.headers = std::move(headers);
  if (method == "POST" || method == "PUT") {
    request.headers.emplace_back("Expect:");  // no 100-continue round trip
  }
  if (method == "POST") {
    request.headers.push_back("Content-Type: " + std::string(content_type));
    request.body = body;
  }
  if (method == "PUT") {
    request.body_source = source;
  }
  request.accept_compressed = compressed;
  request.is_fresh_connection = is_fresh_connection;
  // The deadline bounds waiting: an attempt that starts late gets short connect and stall
  // limits, but a transfer that keeps moving is never cut.
  auto remaining = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  request.connect_timeout =
      std::min(options.connect_timeout, std::max(remaining, kMinAttemptConnect));
  request.stall_timeout = std::min(options.stall_timeout, std::max(remaining, kMinAttemptStall));
  request.stop = stop;
  requests.fetch_add(1, std::memory_order_relaxed);
  TransferResult result = transport->perform(request, handler);
  if (result.outcome == TransferOutcome::kComplete && is2xx(result.status)) {
    std::uint64_t sent = request.body_source != nullptr ? request.body_source->size() : body.size();
    bytes_uploaded.fetch_add(sent, std::memory_order_relaxed);
  }
  return result;
}

bool detail::HubClientImpl::waitBeforeRetry(unsigned retry, const AttemptFailure& failure,
                                            Clock::time_point deadline,
                                            const std::stop_token& stop) {
  milliseconds delay = detail::backoffDelay(retry, failure.retry_after, unitRandom(),
                                            options.backoff_base, options.backoff_cap);
  if (Clock::now() + delay >= deadline) {
    return false;
  }
  HFM_HUB_LOG_DEBUG("retry {} in {} ms after: {}", retry + 1, delay.count(), failure.error.message);
  if (!sleepUnlessStopped(delay, stop)) {
    return false;
  }
  retries.fetch_add(1, std::memory_order_relaxed);
  return true;
}

HubError detail::HubClientImpl::givenUp(AttemptFailure failure, const std::stop_token& stop,
                                        unsigned attempts) {
  if (stop.stop_requested()) {
    failure.error.kind = HubErrorKind::kCanceled;
    failure.error.message += " (canceled)";
  } else if (failure.retryable) {
    failure.error.message += " (gave up after " + std::to_string(attempts) + " attempt" +
                             (attempts == 1 ? "" : "s") + " within " +
                             std::to_string(options.retry_deadline.count()) + " ms)";
  }
  return std::move(failure.error);
}

HubResult<ApiResponse> detail::HubClientImpl::apiCall(std::string_view method,
                                                      const std::string& url,
                                                      const detail::ApiCallOptions& call) {
  const std::stop_token& stop = call.stop;
  auto deadline = Clock::now() + options.retry_deadline;
  unsigned retry = 0;
  for (unsigned attempt = 1;; ++attempt) {
    AttemptFailure failure;
    std::string current = url;
    std::string_view current_method = method;
    std::string_view current_body = call.body;
    for (int hops = 0;; ++hops) {
      detail::BufferingHandler handler;
      TransferResult result = send(current_method, current, call.headers, current_body,
                                   call.content_type, /*compressed=*/true, deadline, stop, handler,
                                   call.source, /*is_fresh_connection=*/!call.is_idempotent);
      if (result.outcome == TransferOutcome::kAbortedByHandler && handler.tooLarge()) {
        return failBad(
            context(current_method, current),
            "response body larger than " + std::to_string(detail::kMaxApiBodyBytes) + " bytes");
      }
      if (result.outcome != TransferOutcome::kComplete) {
        failure = detail::transportFailure(result, context(current_method, current));
        failure.retryable = failure.retryable && (call.is_idempotent || !result.request_sent);
        break;
      }
      int status = handler.status();
      if (is2xx(status)) {
        bytes_downloaded.fetch_add(handler.body().size(), std::memory_order_relaxed);
        return ApiResponse{status, handler.headers(), std::move(handler.body()), current};
      }
      if (isRedirect(status)) {
        auto next = followRedirect(current, handler.headers(), hops);
        if (!next) {
          return fail(std::move(next).error());
        }
        if (status == 303 || ((status == 301 || status == 302) && current_method == "POST")) {
          current_method = "GET";
          current_body = {};
        }
        current = std::move(*next);
        continue;
      }
      failure = detail::statusFailure(status, handler.headers(), handler.body(),
                                      context(current_method, current));
      failure.retryable = failure.retryable && call.is_idempotent;
      break;
    }
    if (!failure.retryable || !waitBeforeRetry(retry++, failure, deadline, stop)) {
      return fail(givenUp(std::move(failure), stop, attempt));
    }
  }
}

HubResult<std::string> detail::HubClientImpl::followRedirect(const std::string& current,
                                                             const HttpHeaders& headers, int hops) {
  const std::string* location = headers.find("location");
  std::string where = context("GET", current);
  if (location == nullptr) {
    return hubError(HubErrorKind::kBadResponse, where + ": redirect without Location");
  }
  if (hops + 1 > kMaxRedirects) {
    return hubError(HubErrorKind::kBadResponse,
                    where + ": more than " + std::to_string(kMaxRedirects) + " redirects");
  }
  auto next = detail::resolveReference(current, *location);
  if (!next) {
    return hubError(HubErrorKind::kBadResponse,
                    where + ": redirect to a malformed or non-http(s) URL");
  }
  redirects.fetch_add(1, std::memory_order_relaxed);
  return std::move(*next);
}

void detail::HubClientImpl::rememberSignedUrl(const std::string& key, const std::string& url) {
  auto now = std::chrono::system_clock::now();
  milliseconds ttl = std::chrono::duration_cast<milliseconds>(options.cdn_url_default_ttl);
  if (auto expiry = detail::signedUrlExpiry(url)) {
    auto remaining = std::chrono::duration_cast<milliseconds>(*expiry - now);
    // Keep a margin for clock skew and for the time a request takes to arrive.
    auto margin = std::min<milliseconds>(std::chrono::seconds(30), remaining / 10);
    ttl = std::min<milliseconds>(remaining - margin, kMaxSignedUrlLifetime);
  }
  if (ttl.count() > 0) {
    cdn_urls.put(key, url, Clock::now() + ttl);
  }
}

// ---- reads ----------------------------------------------------------------------------------

HubResult<std::size_t> detail::HubClientImpl::readRange(const common::RepoId& repo,
                                                        const std::string& commit,
                                                        const std::string& path,
                                                        std::uint64_t offset, std::span<char> out,
                                                        const std::stop_token& stop) {
  if (out.empty()) {
    return std::size_t{0};
  }
  if (commit.empty()) {
    return fail(HubError{HubErrorKind::kRevisionNotFound, 0, "readRange: empty revision", false});
  }
  if (!common::isValidRepoPath(path)) {
    return fail(HubError{HubErrorKind::kEntryNotFound, 0, "readRange: invalid path", false});
  }
  if (offset > UINT64_MAX - out.size()) {
    return fail(HubError{HubErrorKind::kRangeNotSatisfiable, 0, "readRange: range overflows", false});
  }
  const std::string resolve = detail::resolveUrl(options.endpoint, repo, commit, path);
  const std::string key = repo.key() + '\n' + commit + '\n' + path;
  const std::uint64_t last = offset + out.size() - 1;
  auto deadline = Clock::now() + options.retry_deadline;
  std::size_t got = 0;
  unsigned retry = 0;
  bool refreshed = false;  // a remembered URL was refused and dropped once already
  for (unsigned attempt = 1;; ++attempt) {
    AttemptFailure failure;
    bool progressed = false;
    bool restart = false;
    auto cached = cdn_urls.get(key, Clock::now());
    if (cached) {
      cdn_url_cache_hits.fetch_add(1, std::memory_order_relaxed);
    }
    const std::string start = cached ? *cached : resolve;
    std::string url = start;
    for (int hops = 0;; ++hops) {
      const std::uint64_t first = offset + got;
      RangeHandler handler(out.subspan(got), first, last);
      TransferResult result =
          send("GET", url, {"Range: bytes=" + std::to_string(first) + "-" + std::to_string(last)},
               {}, {}, /*compressed=*/false, deadline, stop, handler);
      if (handler.failed()) {
        return failBad(context("GET", url), handler.failure());
      }
      int status = handler.status();
      if (handler.received() > 0) {
        got += handler.received();
        progressed = true;
        bytes_downloaded.fetch_add(handler.received(), std::memory_order_relaxed);
      }
      if (is2xx(status) && url != start) {
        rememberSignedUrl(key, url);
      }
      bool complete = result.outcome == TransferOutcome::kComplete;
      if (is2xx(status) && handler.done(complete) &&
          (complete || result.outcome == TransferOutcome::kAbortedByHandler)) {
        return got;
      }
      if (!complete) {
        failure = detail::transportFailure(result, context("GET", url));
        break;
      }
      if (is2xx(status)) {
        // Complete, yet fewer bytes than the Content-Range promised (no Content-Length to let
        // libcurl notice): a broken body, resumed like one.
        failure.error = HubError{HubErrorKind::kNetwork, status,
                                 context("GET", url) + ": body shorter than its Content-Range", false};
        failure.retryable = true;
        break;
      }
      if (isRedirect(status)) {
        auto next = followRedirect(url, handler.headers(), hops);
        if (!next) {
          return fail(std::move(next).error());
        }
        url = std::move(*next);
        continue;
      }
      if (cached && url == start && !refreshed && (status == 403 || status == 404 || status == 410)) {
        // The remembered URL expired early or was revoked: resolve again, once.
        cdn_urls.erase(key);
        refreshed = true;
        restart = true;
        break;
      }
      if (status == 416) {
        auto range = detail::parseContentRange(handler.headers().get("content-range"));
        if (range && range->total && !range->first && *range->total <= first) {
          return got;  // at or past the end of the file: EOF, as read(2) would say
        }
      }
      failure = detail::statusFailure(status, handler.headers(), handler.errorBody(),
                                      context("GET", url));
      break;
    }
    if (restart) {
      continue;
    }
    if (!failure.retryable) {
      return fail(givenUp(std::move(failure), stop, attempt));
    }
    if (progressed && Clock::now() < deadline && !stop.stop_requested()) {
      // The body broke after delivering bytes: resume from the next byte at once.
      retry = 0;
      retries.fetch_add(1, std::memory_order_relaxed);
      HFM_HUB_LOG_DEBUG("resuming at byte {} after: {}", offset + got, failure.error.message);
      continue;
    }
    if (!waitBeforeRetry(retry++, failure, deadline, stop)) {
      return fail(givenUp(std::move(failure), stop, attempt));
    }
  }
}

// ---- HubClient ----------------------------------------------------------------------------

HubResult<std::unique_ptr<HubClient>> HubClient::create(HubOptions options) {
  while (!options.endpoint.empty() && options.endpoint.back() == '/') {
    options.endpoint.pop_back();
  }
  auto origin = detail::parseOrigin(options.endpoint);
  if (!origin || options.endpoint.find_first_of("?#") != std::string::npos) {
    return hubError(HubErrorKind::kBadResponse,
                    "endpoint must be an http(s) URL without query: '" +
                        detail::sanitizeServerText(options.endpoint, 200) + "'");
  }
  if (options.token) {
    if (options.token->empty()) {
      options.token.reset();
    } else if (std::any_of(options.token->begin(), options.token->end(), [](char c) {
                 auto u = static_cast<unsigned char>(c);
                 return u < 0x20 || u == 0x7f;
               })) {
      return hubError(HubErrorKind::kUnauthorized, "the token contains control characters");
    }
  }
  std::erase_if(options.user_agent, [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
  options.max_connections = std::max(1u, options.max_connections);
  options.max_pages = std::max<std::size_t>(1, options.max_pages);
  auto transport = detail::CurlTransport::create({options.user_agent, options.max_connections});
  if (!transport) {
    return common::Unexpected<HubError>(std::move(transport).error());
  }
  auto impl = std::make_unique<detail::HubClientImpl>(std::move(options), std::move(*origin),
                                                      std::move(*transport));
  return std::unique_ptr<HubClient>(new HubClient(std::move(impl)));
}

HubClient::HubClient(std::unique_ptr<detail::HubClientImpl> impl) : impl_(std::move(impl)) {}
HubClient::~HubClient() = default;

const HubOptions& HubClient::options() const { return impl_->options; }

HubStats HubClient::stats() const {
  HubStats s;
  s.requests = impl_->requests.load(std::memory_order_relaxed);
  s.retries = impl_->retries.load(std::memory_order_relaxed);
  s.errors = impl_->errors.load(std::memory_order_relaxed);
  s.bytes_downloaded = impl_->bytes_downloaded.load(std::memory_order_relaxed);
  s.bytes_uploaded = impl_->bytes_uploaded.load(std::memory_order_relaxed);
  s.redirects_followed = impl_->redirects.load(std::memory_order_relaxed);
  s.cdn_url_cache_hits = impl_->cdn_url_cache_hits.load(std::memory_order_relaxed);
  return s;
}

HubResult<RevisionInfo> HubClient::revision(const common::RepoId& repo, const std::string& revision,
                                            const std::stop_token& stop) {
  if (revision.empty()) {
    return impl_->fail(HubError{HubErrorKind::kRevisionNotFound, 0, "empty revision", false});
  }
  std::string url = detail::revisionUrl(impl_->options.endpoint, repo, revision);
  auto response = impl_->apiCall("GET", url, {.stop = stop});
  if (!response) {
    return common::Unexpected<HubError>(std::move(response).error());
  }
  auto info = impl_->checked("GET", url, detail::parseRevisionInfo(response->body));
  if (!info) {
    return info;
  }
  if (common::isHex(revision, 40)) {
    std::string wanted = revision;
    std::transform(wanted.begin(), wanted.end(), wanted.begin(),
                   [](char c) { return (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c; });
    if (wanted != info->commit) {
      return impl_->failBad(impl_->context("GET", url),
                            "asked for commit " + wanted + ", answered " + info->commit);
    }
  }
  return info;
}

HubResult<std::vector<TreeEntry>> HubClient::listTree(const common::RepoId& repo,
                                                      const std::string& commit,
                                                      const std::string& dir_in, bool recursive,
                                                      const std::stop_token& stop) {
  std::string dir = dir_in;
  while (!dir.empty() && dir.back() == '/') {
    dir.pop_back();
  }
  if (commit.empty()) {
    return impl_->fail(HubError{HubErrorKind::kRevisionNotFound, 0, "listTree: empty revision", false});
  }
  if (!dir.empty() && !common::isValidRepoPath(dir)) {
    return impl_->fail(HubError{HubErrorKind::kEntryNotFound, 0, "listTree: invalid folder path", false});
  }
  std::vector<TreeEntry> entries;
  std::unordered_set<std::string> seen;
  auto done = impl_->paginate(
      detail::treeUrl(impl_->options.endpoint, repo, commit, dir, recursive),
      [&](const ApiResponse& page) -> HubResult<bool> {
        std::string where = impl_->context("GET", page.url);
        auto parsed = detail::parseTreeEntries(page.body);
        if (!parsed) {
          return impl_->failBad(where, parsed.error().message);
        }
        if (const std::string* link = page.headers.find("link");
            parsed->empty() && link != nullptr && detail::parseLinkNext(*link)) {
          // The Hub never links an empty page to a next one. A server that does would hold the
          // listing (and the FUSE request waiting on it) for max_pages requests.
          return impl_->failBad(where, "empty page with a Link to a next page");
        }
        for (auto& entry : *parsed) {
          if (auto why = detail::misplacedEntry(entry, dir, recursive)) {
            return impl_->failBad(where, *why);
          }
          if (!seen.insert(entry.path).second) {
            return impl_->failBad(where, "duplicate entry \"" + entry.path + "\"");
          }
          entries.push_back(std::move(entry));
        }
        return true;
      },
      stop);
  if (!done) {
    return common::Unexpected<HubError>(std::move(done).error());
  }
  if (recursive) {
    // A path cannot be a file and a folder at once: no file may be the parent of an entry.
    std::unordered_set<std::string_view> files;
    for (const auto& e : entries) {
      if (!e.is_dir) {
        files.insert(e.path);
      }
    }
    for (const auto& e : entries) {
      std::string_view p = e.path;
      for (auto slash = p.rfind('/'); slash != std::string_view::npos; slash = p.rfind('/')) {
        p = p.substr(0, slash);
        if (files.count(p) != 0) {
          return impl_->failBad(impl_->context("GET", detail::treeUrl(impl_->options.endpoint, repo,
                                                                      commit, dir, recursive)),
                                "\"" + std::string(p) + "\" is listed as a file and as a folder");
        }
      }
    }
  }
  return entries;
}

HubResult<std::vector<TreeEntry>> HubClient::pathsInfo(const common::RepoId& repo,
                                                       const std::string& commit,
                                                       const std::vector<std::string>& paths) {
  if (commit.empty()) {
    return impl_->fail(HubError{HubErrorKind::kRevisionNotFound, 0, "pathsInfo: empty revision", false});
  }
  // Paths that cannot exist are answered by omission, as the Hub does for missing ones.
  std::vector<std::string> wanted;
  std::unordered_set<std::string> unique;
  for (std::string p : paths) {
    while (!p.empty() && p.back() == '/') {
      p.pop_back();
    }
    if (common::isValidRepoPath(p) && unique.insert(p).second) {
      wanted.push_back(std::move(p));
    }
  }
  std::vector<TreeEntry> entries;
  std::unordered_set<std::string> seen;
  const std::string url = detail::pathsInfoUrl(impl_->options.endpoint, repo, commit);
  for (std::size_t begin = 0; begin < wanted.size(); begin += kPathsInfoBatch) {
    std::size_t end = std::min(wanted.size(), begin + kPathsInfoBatch);
    std::unordered_set<std::string_view> batch;
    std::string body;
    for (std::size_t i = begin; i < end; ++i) {
      batch.insert(wanted[i]);
      body += "paths=" + common::percentEncode(wanted[i]) + "&";
    }
    body += "expand=false";
    auto response = impl_->apiCall(
        "POST", url, {.body = body, .content_type = "application/x-www-form-urlencoded"});
    if (!response) {
      return common::Unexpected<HubError>(std::move(response).error());
    }
    std::string where = impl_->context("POST", url);
    auto parsed = detail::parseTreeEntries(response->body);
    if (!parsed) {
      return impl_->failBad(where, parsed.error().message);
    }
    for (auto& entry : *parsed) {
      if (batch.count(entry.path) == 0) {
        return impl_->failBad(where, "answered for \"" + entry.path + "\", which was not asked for");
      }
      if (!seen.insert(entry.path).second) {
        return impl_->failBad(where, "duplicate entry \"" + entry.path + "\"");
      }
      entries.push_back(std::move(entry));
    }
  }
  return entries;
}

HubResult<std::vector<RepoSummary>> HubClient::listRepos(common::RepoType type,
                                                         const std::string& author,
                                                         std::size_t max_results,
                                                         const std::stop_token& stop) {
  std::vector<RepoSummary> repos;
  if (max_results == 0 || !common::isValidRepoNamePart(author)) {
    return repos;  // such a namespace cannot exist; the Hub answers [] too
  }
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
    return s;
  };
  const std::string author_key = lower(author);
  std::unordered_set<std::string> seen;
  auto done = impl_->paginate(
      detail::repoListUrl(impl_->options.endpoint, type, author,
                          std::min(max_results, kRepoListPageLimit)),
      [&](const ApiResponse& page) -> HubResult<bool> {
        auto items = detail::parseRepoList(page.body);
        if (!items) {
          return impl_->failBad(impl_->context("GET", page.url), items.error().message);
        }
        for (auto& item : *items) {
          auto slash = item.id.find('/');
          if (slash == std::string::npos) {
            continue;  // a legacy repo without namespace belongs to no author
          }
          common::RepoId id{type, item.id.substr(0, slash), item.id.substr(slash + 1)};
          if (!common::isValidRepoNamePart(id.ns) || !common::isValidRepoNamePart(id.name)) {
            return impl_->failBad(impl_->context("GET", page.url),
                                  "invalid repository id \"" + detail::sanitizeServerText(item.id, 200) + "\"");
          }
          if (lower(id.ns) != author_key || !seen.insert(lower(id.name)).second) {
            continue;  // another author's, or listed twice across shifting pages
          }
          repos.push_back(RepoSummary{std::move(id), item.is_private});
          if (repos.size() >= max_results) {
            return false;
          }
        }
        return true;
      },
      stop);
  if (!done) {
    return common::Unexpected<HubError>(std::move(done).error());
  }
  return repos;
}

HubResult<std::size_t> HubClient::readRange(const common::RepoId& repo, const std::string& commit,
                                            const std::string& path, std::uint64_t offset,
                                            std::span<char> out, const std::stop_token& stop) {
  return impl_->readRange(repo, commit, path, offset, out, stop);
}

HubResult<RepoRefs> HubClient::listRefs(const common::RepoId& repo, const std::stop_token& stop) {
  std::string url = detail::refsUrl(impl_->options.endpoint, repo);
  auto response = impl_->apiCall("GET", url, {.stop = stop});
  if (!response) {
    return common::Unexpected<HubError>(std::move(response).error());
  }
  return impl_->checked("GET", url, detail::parseRefs(response->body));
}

HubResult<WhoAmI> HubClient::whoami() {
  if (!impl_->options.token) {
    return impl_->fail(HubError{HubErrorKind::kUnauthorized, 0, "whoami: no token configured", false});
  }
  std::string url = detail::whoamiUrl(impl_->options.endpoint);
  auto response = impl_->apiCall("GET", url);
  if (!response) {
    return common::Unexpected<HubError>(std::move(response).error());
  }
  return impl_->checked("GET", url, detail::parseWhoAmI(response->body));
}

}  // namespace hfm::hub
