// SPDX-License-Identifier: Apache-2.0
// HubClient::uploadLfs: the git-lfs batch API with the basic and the Hub's multipart transfer,
// streamed from a local file; and HubClient::offerXetUpload, the same batch request offering
// "xet" too (the CAS uploads that follow are in hub_client_xet.cpp).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <system_error>
#include <thread>

#include "common/file_util.h"
#include "common/hex.h"
#include "hub/hub_client.h"
#include "hub/hub_client_impl.h"
#include "hub/hub_json.h"
#include "hub/xet_json.h"

namespace hfm::hub {
namespace {

constexpr std::string_view kLfsContentType = "application/vnd.git-lfs+json";
constexpr std::size_t kMaxEtagBytes = 1024;

// Bytes [first, first + length) of an open file as a PUT body, read with pread so that parts of
// one file can be sent from several threads. Reports progress past the furthest byte read so
// far, so a part sent again after a failure is not counted twice.
// Not thread-safe: one per part, read by one exchange at a time.
class FileRangeSource final : public detail::BodySource {
 public:
  FileRangeSource(int fd, std::uint64_t first, std::uint64_t length, const UploadProgress& progress)
      : fd_(fd), first_(first), length_(length), progress_(progress) {}

  std::uint64_t size() const override { return length_; }

  std::optional<std::size_t> read(std::uint64_t offset, char* out, std::size_t max) override {
    if (offset >= length_) {
      return std::size_t{0};
    }
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(max, length_ - offset));
    std::size_t got = 0;
    while (got < want) {
      ssize_t n = ::pread(fd_, out + got, want - got, static_cast<off_t>(first_ + offset + got));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return std::nullopt;  // a read error, or the file shrank under us
      }
      got += static_cast<std::size_t>(n);
    }
    std::uint64_t end = offset + got;
    if (end > reported_) {
      if (progress_.on_bytes) {
        progress_.on_bytes(end - reported_);
      }
      reported_ = end;
    }
    return got;
  }

 private:
  int fd_;
  std::uint64_t first_;
  std::uint64_t length_;
  const UploadProgress& progress_;
  std::uint64_t reported_ = 0;
};

detail::ApiCallOptions lfsJson(std::string_view body) {
  return {.body = body,
          .content_type = kLfsContentType,
          .headers = {"Accept: " + std::string(kLfsContentType)}};
}

// POSTs one batch request (`body`) to `url` and returns `parse(answer body)`. A parse failure is
// reported with the request's context: kBadResponse as such, an object error (whose kind its
// code gave) with the context prefixed.
template <class Parse>
auto postLfsBatch(detail::HubClientImpl& impl, const std::string& url, std::string_view body,
                  Parse&& parse) -> decltype(parse(std::string_view())) {
  auto response = impl.apiCall("POST", url, lfsJson(body));
  if (!response) {
    return common::Unexpected<HubError>(std::move(response).error());
  }
  auto parsed = parse(std::string_view(response->body));
  if (!parsed) {
    std::string where = impl.context("POST", url);
    if (parsed.error().kind == HubErrorKind::kBadResponse) {
      return impl.failBad(where, parsed.error().message);
    }
    HubError error = std::move(parsed).error();
    error.message = where + ": " + error.message;
    return impl.fail(std::move(error));
  }
  return parsed;
}

// An ETag worth sending back in the completion: present, short, printable ASCII.
bool isUsableEtag(const std::string& etag) {
  return !etag.empty() && etag.size() <= kMaxEtagBytes &&
         std::all_of(etag.begin(), etag.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// One uploadLfs call. Confined to the calling thread, except uploadMultipart, whose workers share
// only the atomics and the mutex-guarded fields below.
class LfsUpload {
 public:
  LfsUpload(detail::HubClientImpl& impl, const common::RepoId& repo, const std::string& revision,
            std::string oid, std::uint64_t size, int fd, const UploadProgress& progress)
      : impl_(impl),
        revision_(revision),
        oid_(std::move(oid)),
        size_(size),
        fd_(fd),
        progress_(progress),
        batch_url_(detail::lfsBatchUrl(impl.options.endpoint, repo)) {}

  HubResult<void> run() {
    auto plan = batch();
    if (!plan) {
      return common::Unexpected<HubError>(std::move(plan).error());
    }
    HubResult<void> sent;
    switch (plan->kind) {
      case detail::LfsUploadPlan::Kind::kAlreadyStored:
        return {};
      case detail::LfsUploadPlan::Kind::kBasic:
        sent = putWhole(plan->upload_url);
        break;
      case detail::LfsUploadPlan::Kind::kMultipart:
        sent = uploadMultipart(*plan);
        break;
    }
    if (!sent) {
      return sent;
    }
    if (plan->verify_url) {
      std::string body = detail::lfsVerifyBody(oid_, size_);
      auto verified = impl_.apiCall("POST", *plan->verify_url, lfsJson(body));
      if (!verified) {
        return common::Unexpected<HubError>(std::move(verified).error());
      }
    }
    return {};
  }

 private:
  HubResult<detail::LfsUploadPlan> batch() {
    auto body = detail::lfsBatchBody(oid_, size_, revision_);
    if (!body) {
      return impl_.fail(std::move(body).error());
    }
    return postLfsBatch(impl_, batch_url_, *body, [&](std::string_view answer) {
      return detail::parseLfsBatchAnswer(answer, oid_, size_);
    });
  }

  HubResult<void> putWhole(const std::string& url) {
    FileRangeSource source(fd_, 0, size_, progress_);
    auto response = impl_.apiCall("PUT", url, {.source = &source});
    if (!response) {
      return common::Unexpected<HubError>(std::move(response).error());
    }
    return {};
  }

  // PUTs part `index` (0-based) and returns its ETag.
  HubResult<std::string> putPart(const detail::LfsUploadPlan& plan, std::size_t index,
                                 const std::stop_token& stop) {
    std::uint64_t first = plan.chunk_size * index;
    FileRangeSource source(fd_, first, std::min(plan.chunk_size, size_ - first), progress_);
    const std::string& url = plan.part_urls[index];
    auto response = impl_.apiCall("PUT", url, {.source = &source, .stop = stop});
    if (!response) {
      return common::Unexpected<HubError>(std::move(response).error());
    }
    std::string etag = response->headers.get("etag");
    if (!isUsableEtag(etag)) {
      return impl_.failBad(impl_.context("PUT", url),
                           "part " + std::to_string(index + 1) + " answered without a usable ETag");
    }
    return etag;
  }

  // Parts go out on up to `workers` threads (this one included), each taking the next part not
  // yet claimed; the first failure stops the others.
  HubResult<void> uploadMultipart(const detail::LfsUploadPlan& plan) {
    const std::size_t count = plan.part_urls.size();
    std::vector<std::string> etags(count);
    std::atomic<std::size_t> next{0};
    std::stop_source stop;
    std::mutex mu;
    std::optional<HubError> first_error;  // guarded by mu
    auto work = [&] {
      while (!stop.stop_requested()) {
        std::size_t index = next.fetch_add(1);
        if (index >= count) {
          return;
        }
        auto etag = putPart(plan, index, stop.get_token());
        if (!etag) {
          std::lock_guard lock(mu);
          if (!first_error) {
            first_error = std::move(etag).error();
          }
          stop.request_stop();
          return;
        }
        etags[index] = std::move(*etag);  // each index is written by one worker only
      }
    };
    std::size_t workers = std::min<std::size_t>(
        {count, std::max(1u, impl_.options.max_parallel_parts), impl_.options.max_connections});
    {
      std::vector<std::jthread> helpers;
      for (std::size_t i = 1; i < workers; ++i) {
        try {
          helpers.emplace_back(work);
        } catch (const std::system_error&) {
          break;  // fewer threads: the parts still all get sent
        }
      }
      work();
    }  // joins the helpers
    if (first_error) {
      return common::Unexpected<HubError>(std::move(*first_error));
    }
    std::string body = detail::multipartCompletionBody(oid_, etags);
    auto completed = impl_.apiCall("POST", plan.upload_url, lfsJson(body));
    if (!completed) {
      // A completion whose answer was lost and was sent again may be refused although the first
      // one worked: ask the server whether it now has the object.
      auto again = batch();
      if (again && again->kind == detail::LfsUploadPlan::Kind::kAlreadyStored) {
        return {};
      }
      return common::Unexpected<HubError>(std::move(completed).error());
    }
    return {};
  }

  detail::HubClientImpl& impl_;
  const std::string& revision_;
  const std::string oid_;
  const std::uint64_t size_;
  const int fd_;
  const UploadProgress& progress_;
  const std::string batch_url_;
};

}  // namespace

HubResult<void> HubClient::uploadLfs(const common::RepoId& repo, const std::string& revision,
                                     const std::string& sha256, std::uint64_t size,
                                     const std::string& local_path,
                                     const UploadProgress& progress) {
  if (!common::isHex(sha256, 64)) {
    return impl_->failInvalid("uploadLfs: the sha256 is not 64 hex digits");
  }
  common::UniqueFd fd(::open(local_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return impl_->fail(HubError{HubErrorKind::kLocalIo, 0,
                                "uploadLfs: " + common::errnoMessage("open", local_path, errno),
                                false});
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::uint64_t>(st.st_size) != size) {
    return impl_->fail(HubError{
        HubErrorKind::kLocalIo, 0,
        "uploadLfs: " + local_path + " is not a regular file of " + std::to_string(size) + " bytes",
        false});
  }
  std::string oid = common::toHex(*common::fromHex(sha256));  // lower case, as the Hub names it
  return LfsUpload(*impl_, repo, revision, std::move(oid), size, fd.get(), progress).run();
}

HubResult<std::optional<XetUploadOffer>> HubClient::offerXetUpload(const common::RepoId& repo,
                                                                   const std::string& revision,
                                                                   const std::string& sha256,
                                                                   std::uint64_t size) {
  if (!common::isHex(sha256, 64)) {
    return impl_->failInvalid("offerXetUpload: the sha256 is not 64 hex digits");
  }
  std::string oid = common::toHex(*common::fromHex(sha256));  // lower case, as the Hub names it
  auto body = detail::xetBatchBody(oid, size, revision);
  if (!body) {
    return impl_->fail(std::move(body).error());
  }
  return postLfsBatch(
      *impl_, detail::lfsBatchUrl(impl_->options.endpoint, repo), *body,
      [&](std::string_view answer) { return detail::parseXetBatchAnswer(answer, oid, size); });
}

}  // namespace hfm::hub
