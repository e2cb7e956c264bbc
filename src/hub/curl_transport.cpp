// SPDX-License-Identifier: Apache-2.0
#include "hub/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <mutex>
#include <semaphore>

namespace hfm::hub::detail {
namespace {

using Clock = std::chrono::steady_clock;

// libcurl's receive buffer: large buffers mean fewer callbacks and copies on fast links.
constexpr long kBufferBytes = 512L * 1024;
constexpr long kUploadBufferBytes = 2L * 1024 * 1024;  // libcurl's largest

std::once_flag g_global_init_once;
CURLcode g_global_init_result = CURLE_OK;

struct TransferState {
  const HttpRequest* request = nullptr;
  ResponseHandler* handler = nullptr;
  HttpHeaders headers;
  int status = 0;
  bool headers_done = false;
  bool handler_aborted = false;
  bool bad_reply = false;
  bool canceled = false;
  bool stalled = false;
  bool source_failed = false;
  std::uint64_t body_offset = 0;  // next byte of request->body_source to send
  Clock::time_point last_progress;
  curl_off_t last_down = -1;
  curl_off_t last_up = -1;
};

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  return text;
}

// "HTTP/1.1 206 Partial Content" -> 206; 0 when malformed.
int parseStatusLine(std::string_view line) {
  auto space = line.find(' ');
  if (space == std::string_view::npos || line.size() < space + 4) {
    return 0;
  }
  int status = 0;
  for (std::size_t i = space + 1; i < space + 4; ++i) {
    char c = line[i];
    if (c < '0' || c > '9') {
      return 0;
    }
    status = status * 10 + (c - '0');
  }
  if (line.size() > space + 4 && line[space + 4] != ' ') {
    return 0;
  }
  return status >= 100 && status <= 599 ? status : 0;
}

bool finishHeaders(TransferState& st) {
  st.headers_done = true;
  if (st.status == 0) {
    st.bad_reply = true;
    return false;
  }
  if (!st.handler->onHeaders(st.status, st.headers)) {
    st.handler_aborted = true;
    return false;
  }
  return true;
}

size_t headerCallback(char* buffer, size_t size, size_t count, void* userdata) {
  auto& st = *static_cast<TransferState*>(userdata);
  size_t length = size * count;
  std::string_view raw(buffer, length);
  if (raw.rfind("HTTP/", 0) == 0) {
    // A new status line: interim (1xx) responses come before the final one.
    st.headers.clear();
    st.headers_done = false;
    st.status = parseStatusLine(trimmed(raw));
    if (st.status == 0) {
      st.bad_reply = true;
      return 0;
    }
    return length;
  }
  std::string_view line = trimmed(raw);
  if (line.empty()) {
    if (st.headers_done || (st.status >= 100 && st.status < 200)) {
      return length;  // end of trailers, or of an interim response
    }
    return finishHeaders(st) ? length : 0;
  }
  if (st.headers_done) {
    return length;  // trailers: nothing here uses them
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return length;
  }
  std::string name(trimmed(line.substr(0, colon)));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  st.headers.add(std::move(name), std::string(trimmed(line.substr(colon + 1))));
  return length;
}

size_t writeCallback(char* data, size_t size, size_t count, void* userdata) {
  auto& st = *static_cast<TransferState*>(userdata);
  size_t length = size * count;
  if (!st.headers_done && !finishHeaders(st)) {
    return CURL_WRITEFUNC_ERROR;
  }
  if (!st.handler->onBody(data, length)) {
    st.handler_aborted = true;
    return CURL_WRITEFUNC_ERROR;
  }
  return length;
}

size_t readCallback(char* buffer, size_t size, size_t count, void* userdata) {
  auto& st = *static_cast<TransferState*>(userdata);
  if (st.request->stop.stop_requested()) {
    st.canceled = true;
    return CURL_READFUNC_ABORT;
  }
  auto n = st.request->body_source->read(st.body_offset, buffer, size * count);
  if (!n) {
    st.source_failed = true;
    return CURL_READFUNC_ABORT;
  }
  st.body_offset += *n;
  return *n;
}

int seekCallback(void* userdata, curl_off_t offset, int origin) {
  auto& st = *static_cast<TransferState*>(userdata);
  if (origin != SEEK_SET || offset < 0 ||
      static_cast<std::uint64_t>(offset) > st.request->body_source->size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  st.body_offset = static_cast<std::uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

// Called by libcurl at least once a second, and whenever data moves: the place to notice a
// cancellation or a transfer that stopped moving.
int progressCallback(void* userdata, curl_off_t /*dltotal*/, curl_off_t down, curl_off_t /*ultotal*/,
                     curl_off_t up) {
  auto& st = *static_cast<TransferState*>(userdata);
  if (st.request->stop.stop_requested()) {
    st.canceled = true;
    return 1;
  }
  auto now = Clock::now();
  if (down != st.last_down || up != st.last_up) {
    st.last_down = down;
    st.last_up = up;
    st.last_progress = now;
  } else if (now - st.last_progress > st.request->stall_timeout) {
    st.stalled = true;
    return 1;
  }
  return 0;
}

TransferOutcome classify(CURLcode code, const TransferState& st) {
  switch (code) {
    case CURLE_OK:
      return st.headers_done ? TransferOutcome::kComplete : TransferOutcome::kBadReply;
    case CURLE_WRITE_ERROR:
      if (st.bad_reply) {
        return TransferOutcome::kBadReply;
      }
      return st.handler_aborted ? TransferOutcome::kAbortedByHandler : TransferOutcome::kBroken;
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_READ_ERROR:
      if (st.canceled) {
        return TransferOutcome::kCanceled;
      }
      if (st.source_failed) {
        return TransferOutcome::kBodySourceFailed;
      }
      return st.stalled ? TransferOutcome::kTimedOut : TransferOutcome::kBroken;
    case CURLE_OPERATION_TIMEDOUT:
      return TransferOutcome::kTimedOut;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
      return TransferOutcome::kConnectFailed;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_UNSUPPORTED_PROTOCOL:  // also "Received HTTP/0.9 when not allowed"
    case CURLE_TOO_MANY_REDIRECTS:
      return TransferOutcome::kBadReply;
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_FAILED_INIT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
      return TransferOutcome::kFailed;
    default:
      // Resets, short bodies (PARTIAL_FILE), empty replies, TLS handshake hiccups: transient.
      return TransferOutcome::kBroken;
  }
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

}  // namespace

const std::string* HttpHeaders::find(std::string_view lower_name) const {
  for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
    if (it->first == lower_name) {
      return &it->second;
    }
  }
  return nullptr;
}

// One easy handle with its error buffer. Confined to one thread at a time (the pool hands it out).
struct PooledHandle {
  CURL* easy = nullptr;
  std::array<char, CURL_ERROR_SIZE> error{};
  ~PooledHandle() {
    if (easy != nullptr) {
      curl_easy_cleanup(easy);
    }
  }
};

struct CurlTransport::Impl {
  explicit Impl(Options opts)
      : options(std::move(opts)),
        slots(static_cast<std::ptrdiff_t>(std::max(1u, options.max_connections))) {}
  ~Impl() {
    idle.clear();  // easy handles first: they reference the share
    if (share != nullptr) {
      curl_share_cleanup(share);
    }
  }

  // libcurl locks shared DNS and TLS-session data through these; one mutex per kind of data.
  static void lockShare(CURL* /*easy*/, curl_lock_data data, curl_lock_access /*access*/, void* self) {
    static_cast<Impl*>(self)->share_locks[static_cast<std::size_t>(data)].lock();
  }
  static void unlockShare(CURL* /*easy*/, curl_lock_data data, void* self) {
    static_cast<Impl*>(self)->share_locks[static_cast<std::size_t>(data)].unlock();
  }

  std::unique_ptr<PooledHandle> takeHandle() {
    {
      std::lock_guard lock(pool_mutex);
      if (!idle.empty()) {
        auto handle = std::move(idle.back());
        idle.pop_back();
        return handle;
      }
    }
    auto handle = std::make_unique<PooledHandle>();
    handle->easy = curl_easy_init();
    if (handle->easy == nullptr) {
      return nullptr;
    }
    CURL* e = handle->easy;
    curl_easy_setopt(e, CURLOPT_SHARE, share);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for DNS timeouts in a threaded daemon
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);  // small ranged reads stall 40 ms without it
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);  // redirects decide about the token: ours
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(e, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, kBufferBytes);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, handle->error.data());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, headerCallback);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, writeCallback);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, progressCallback);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    return handle;
  }

  void returnHandle(std::unique_ptr<PooledHandle> handle) {
    std::lock_guard lock(pool_mutex);
    idle.push_back(std::move(handle));  // LIFO: the most recently used handle has warm connections
  }

  Options options;
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> share_locks;
  std::counting_semaphore<> slots;
  std::mutex pool_mutex;
  std::vector<std::unique_ptr<PooledHandle>> idle;  // guarded by pool_mutex
};

HubResult<std::unique_ptr<CurlTransport>> CurlTransport::create(Options options) {
  std::call_once(g_global_init_once, [] { g_global_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (g_global_init_result != CURLE_OK) {
    return hubError(HubErrorKind::kNetwork,
                    std::string("libcurl initialization failed: ") + curl_easy_strerror(g_global_init_result));
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->share = curl_share_init();
  if (impl->share == nullptr) {
    return hubError(HubErrorKind::kNetwork, "libcurl share initialization failed");
  }
  curl_share_setopt(impl->share, CURLSHOPT_LOCKFUNC, &Impl::lockShare);
  curl_share_setopt(impl->share, CURLSHOPT_UNLOCKFUNC, &Impl::unlockShare);
  curl_share_setopt(impl->share, CURLSHOPT_USERDATA, impl.get());
  curl_share_setopt(impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  // Not CURL_LOCK_DATA_CONNECT: libcurl documents a shared connection cache as unsafe across
  // threads (KNOWN_BUGS "A shared connection cache is not thread-safe", curl#4915). Each pooled
  // handle keeps its own keep-alive connections instead.
  return std::unique_ptr<CurlTransport>(new CurlTransport(std::move(impl)));
}

CurlTransport::CurlTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CurlTransport::~CurlTransport() = default;

TransferResult CurlTransport::perform(const HttpRequest& request, ResponseHandler& handler) {
  TransferResult result;
  // Wait for a connection slot, still answering cancellation.
  while (!impl_->slots.try_acquire_for(std::chrono::milliseconds(50))) {
    if (request.stop.stop_requested()) {
      result.outcome = TransferOutcome::kCanceled;
      result.error = "canceled while waiting for a connection slot";
      return result;
    }
  }
  struct SlotRelease {
    std::counting_semaphore<>& slots;
    ~SlotRelease() { slots.release(); }
  } slot_release{impl_->slots};
  if (request.stop.stop_requested()) {
    result.outcome = TransferOutcome::kCanceled;
    result.error = "canceled";
    return result;
  }

  const bool is_put = request.method == "PUT";
  if (is_put && request.body_source == nullptr) {
    result.outcome = TransferOutcome::kFailed;
    result.error = "PUT without a body source";
    return result;
  }
  auto handle = impl_->takeHandle();
  if (!handle) {
    result.outcome = TransferOutcome::kFailed;
    result.error = "curl_easy_init failed";
    return result;
  }
  CURL* e = handle->easy;
  handle->error[0] = '\0';

  Slist headers;
  for (const auto& line : request.headers) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (next == nullptr) {
      impl_->returnHandle(std::move(handle));
      result.outcome = TransferOutcome::kFailed;
      result.error = "out of memory building headers";
      return result;
    }
    (void)headers.release();
    headers.reset(next);
  }
  TransferState st;
  st.request = &request;
  st.handler = &handler;
  st.last_progress = Clock::now();

  curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
  if (request.method == "POST") {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, request.body.data());
  } else if (is_put) {
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    // The default 64 KiB means 16,000 read callbacks and sends per GiB.
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBufferBytes);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
                     static_cast<curl_off_t>(request.body_source->size()));
    curl_easy_setopt(e, CURLOPT_READFUNCTION, readCallback);
    curl_easy_setopt(e, CURLOPT_READDATA, &st);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, seekCallback);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, &st);
  } else {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, request.accept_compressed ? "" : nullptr);
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, request.is_fresh_connection ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max<std::int64_t>(1, request.connect_timeout.count())));
  // libcurl's own stall check has whole-second resolution; progressCallback is the precise one.
  auto stall_s = std::max<std::int64_t>(
      1, (request.stall_timeout.count() + 999) / 1000);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(stall_s));
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &st);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, &st);

  CURLcode code = curl_easy_perform(e);
  long request_bytes = 0;
  curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &request_bytes);

  // The handle must not keep pointers to this call's state.
  if (is_put) {
    curl_easy_setopt(e, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(-1));
    curl_easy_setopt(e, CURLOPT_READDATA, nullptr);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, nullptr);
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, nullptr);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, nullptr);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, nullptr);

  result.status = st.status;
  result.outcome = classify(code, st);
  result.request_sent = request_bytes > 0 || st.status != 0;
  if (result.outcome != TransferOutcome::kComplete) {
    result.error = handle->error[0] != '\0' ? std::string(handle->error.data())
                                            : std::string(curl_easy_strerror(code));
    if (st.stalled) {
      result.error = "no progress for " + std::to_string(request.stall_timeout.count()) + " ms";
    } else if (st.canceled) {
      result.error = "canceled";
    } else if (st.source_failed) {
      result.error = "the request body could not be read";
    }
  }
  impl_->returnHandle(std::move(handle));
  return result;
}

}  // namespace hfm::hub::detail
