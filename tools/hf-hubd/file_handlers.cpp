// SPDX-License-Identifier: Apache-2.0
// Downloads: resolve and raw on the API listener, and signed blob URLs on the CDN listener.

#include <algorithm>

#include "common/time_util.h"
#include "hf-hubd/blob_mapping.h"
#include "hf-hubd/byte_ranges.h"
#include "hf-hubd/http_text.h"
#include "hf-hubd/hub_service.h"

namespace hfm::hubd {

namespace {


}  // namespace

std::string HubService::cdnUrl(const Call& call, const std::string& sha256) const {
  std::string path = "/lfs/" + sha256;
  return cdnBaseUrl(call) + path + "?" + signer_.signQuery(path);
}

void HubService::serveBlob(Call& call, const std::string& sha256, std::uint64_t size,
                           const std::string& etag) {
  httplib::Response& res = call.res;
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("ETag", "\"" + etag + "\"");
  ByteRange range;
  RangeKind kind = parseRange(call.req.get_header_value("Range"), size, range);
  if (kind == RangeKind::kUnsatisfiable) {
    res.set_header("Content-Range", "bytes */" + std::to_string(size));
    return sendError(call, ApiError{416, "RangeNotSatisfiable",
                                    "Requested range not satisfiable (size " +
                                        std::to_string(size) + ")",
                                    {}});
  }
  auto fd = objects_->openBlob(sha256);
  if (!fd) {
    return sendError(call, internalError(fd.error()).error());
  }
  auto mapping = BlobMapping::map(fd->get(), size);
  if (!mapping) {
    return sendError(call, apiError(500, "InternalError", "cannot map blob " + sha256).error());
  }
  std::uint64_t first = 0;
  std::uint64_t length = size;
  if (kind == RangeKind::kSatisfiable) {
    first = range.first;
    length = range.last - range.first + 1;
    res.status = 206;
    res.set_header("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                        std::to_string(range.last) + "/" + std::to_string(size));
  } else {
    res.status = 200;
  }
  if (length == 0) {
    res.set_content("", "application/octet-stream");
    return;
  }
  res.set_content_provider(
      static_cast<std::size_t>(length), "application/octet-stream",
      [mapping, first](std::size_t offset, std::size_t len, httplib::DataSink& sink) {
        return sink.write(mapping->data() + first + offset, std::min(len, kBlobSendChunk));
      });
}

void HubService::resolve(Call& call) {
  auto meta = repoFor(call, false);
  if (!meta) {
    return;
  }
  if (auto st = auth_.checkDownload(call.who, *meta); !st) {
    return sendError(call, st.error());
  }
  auto rev = revisionFor(call, call.match.revision);
  if (!rev) {
    return;
  }
  auto index = repos_->tree(meta->id, rev->commit);
  if (!index) {
    return sendError(call, index.error());
  }
  call.res.set_header("X-Repo-Commit", rev->commit);
  const FileEntry* file = (*index)->file(call.match.path);
  if (file == nullptr) {
    return sendError(call, entryNotFound(call.match.path, rev->commit).error());
  }
  bool raw = call.match.route == Route::kRaw;
  if (raw && file->is_lfs) {
    call.res.status = 200;
    call.res.set_header("ETag", "\"" + file->oid + "\"");
    call.res.set_content(lfsPointer(file->sha256, file->size), "text/plain; charset=utf-8");
    return;
  }
  if (!raw && file->is_lfs) {
    std::string etag = "\"" + file->sha256 + "\"";
    call.res.set_header("X-Linked-Etag", etag);
    call.res.set_header("X-Linked-Size", std::to_string(file->size));
    call.res.set_header("ETag", etag);
    if (addXetHeaders(call, *file, rev->commit)) {
      return;
    }
    if (normalizeEtag(call.req.get_header_value("If-None-Match")) == file->sha256) {
      call.res.status = 304;
      return;
    }
    std::string location = cdnUrl(call, file->sha256);
    call.res.status = 302;
    call.res.set_header("Location", location);
    call.res.set_content("Found. Redirecting to " + location, "text/plain; charset=utf-8");
    return;
  }
  if (!raw && normalizeEtag(call.req.get_header_value("If-None-Match")) == file->oid) {
    call.res.status = 304;
    call.res.set_header("ETag", "\"" + file->oid + "\"");
    return;
  }
  serveBlob(call, file->sha256, file->size, file->oid);
}

bool HubService::verifyCdnSignature(Call& call, const std::string& resource) {
  auto verdict = signer_.verify(resource, call.param("X-Expires"), call.param("X-Signature"),
                                common::unixSecondsNow());
  if (verdict == UrlSigner::Verdict::kValid) {
    return true;
  }
  bool expired = verdict == UrlSigner::Verdict::kExpired;
  sendError(call, ApiError{403, expired ? "SignatureExpired" : "SignatureInvalid",
                           expired ? "Request has expired"
                                   : "The request signature is missing or invalid",
                           {}});
  return false;
}

void HubService::cdnBlob(Call& call) {
  if (call.req.has_header("Authorization")) {
    stats_.countCdnAuthorization();
  }
  const std::string& sha256 = call.match.path;
  if (!verifyCdnSignature(call, "/lfs/" + sha256)) {
    return;
  }
  auto size = objects_->size(sha256);
  if (!size) {
    return sendError(call, ApiError{404, "NoSuchKey", "The specified key does not exist.", {}});
  }
  serveBlob(call, sha256, *size, sha256);
}

}  // namespace hfm::hubd
