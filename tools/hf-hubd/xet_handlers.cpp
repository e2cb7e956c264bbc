// SPDX-License-Identifier: Apache-2.0
// Xet: CAS tokens on the Hub API, the CAS routes (reconstructions, xorbs, shards, dedup
// queries), signed multi-range xorb fetches on the CDN listener, and the Hub-side links to the
// CAS (resolve headers, LFS batch negotiation, commits of Xet content).

#include <fcntl.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "common/file_util.h"
#include "common/time_util.h"
#include "common/url.h"
#include "hf-hubd/blob_mapping.h"
#include "hf-hubd/byte_ranges.h"
#include "hf-hubd/hub_service.h"

namespace hfm::hubd {

using nlohmann::json;
using xet::MerkleHash;

namespace {

constexpr std::string_view kFileInfoType = "application/vnd.xet-fileinfo+json";
constexpr std::size_t kMaxSignedRangeText = 3000;

std::string rangeText(const std::vector<XorbFetch>& fetches) {
  std::string out;
  for (const XorbFetch& f : fetches) {
    if (!out.empty()) out.push_back(',');
    out += std::to_string(f.byte_first) + "-" + std::to_string(f.byte_last);
  }
  return out;
}

json termsJson(const Reconstruction& r) {
  json terms = json::array();
  for (const xet::FileTerm& t : r.terms) {
    terms.push_back({{"hash", t.xorb_hash.hex()},
                     {"unpacked_length", t.unpacked_bytes},
                     {"range", {{"start", t.chunk_start}, {"end", t.chunk_end}}}});
  }
  return terms;
}

ApiError notFound(const std::string& what) { return ApiError{404, "NotFound", what + " not found", {}}; }

}  // namespace

std::string HubService::casUrl(const Call& call) const { return baseUrl(call) + "/_hubd/cas"; }

std::optional<XetGrant> HubService::casGrant(Call& call, bool write) {
  auto grant = checkXetToken(signer_, call.req.get_header_value("Authorization"),
                             common::unixSecondsNow());
  if (!grant) {
    sendError(call, grant.error());
    return std::nullopt;
  }
  if (write && !grant->write) {
    sendError(call, ApiError{403, "Forbidden", "This CAS token is read-only", {}});
    return std::nullopt;
  }
  return *grant;
}

void HubService::xetToken(Call& call) {
  const bool write = call.match.path == "write";
  auto meta = repoFor(call, write);
  if (!meta) {
    return;
  }
  if (auto st = auth_.checkDownload(call.who, *meta); !write && !st) {
    return sendError(call, st.error());
  }
  if (!revisionFor(call, call.match.revision)) {
    return;
  }
  XetToken token = issueXetToken(signer_, write, meta->id.key(), common::unixSecondsNow());
  std::string cas = casUrl(call);
  // Older clients read the headers, current ones the body.
  call.res.set_header("X-Xet-Cas-Url", cas);
  call.res.set_header("X-Xet-Access-Token", token.value);
  call.res.set_header("X-Xet-Token-Expiration", std::to_string(token.expires));
  sendJson(call, 200, {{"accessToken", token.value}, {"exp", token.expires}, {"casUrl", cas}});
}

void HubService::casReconstruction(Call& call) {
  auto grant = casGrant(call, false);
  if (!grant) {
    return;
  }
  auto hash = MerkleHash::fromHex(call.match.path);
  auto file = hash ? xet_->file(*hash) : std::nullopt;
  if (!file || !xet_->readableBy(*hash, grant->repo_key)) {
    return sendError(call, notFound("file " + call.match.path));
  }
  std::optional<std::pair<std::uint64_t, std::uint64_t>> wanted;
  std::string header = call.req.get_header_value("Range");
  if (!header.empty() && file->size > 0) {
    ByteRange r;
    switch (parseRange(header, file->size, r)) {
      case RangeKind::kUnsatisfiable:
        return sendError(call, ApiError{416, "RangeNotSatisfiable", "range not satisfiable", {}});
      case RangeKind::kSatisfiable:
        wanted = std::make_pair(r.first, r.last);
        break;
      case RangeKind::kNone:
        break;
    }
  }
  auto plan = xet_->reconstruct(*file, wanted);
  if (!plan) {
    return sendError(call, plan.error());
  }
  json out = {{"offset_into_first_range", plan->offset_into_first_range},
              {"terms", termsJson(*plan)}};
  const std::string cdn = cdnBaseUrl(call);
  json by_xorb = json::object();
  for (const auto& [xorb, fetches] : plan->fetches) {
    const std::string path = "/xorbs/" + xorb.hex();
    json list = json::array();
    if (call.match.part == 1) {
      for (const XorbFetch& f : fetches) {
        std::string resource = path + "?r=" + rangeText({f});
        list.push_back({{"range", {{"start", f.chunk_start}, {"end", f.chunk_end}}},
                        {"url", cdn + resource + "&" + signer_.signQuery(resource)},
                        {"url_range", {{"start", f.byte_first}, {"end", f.byte_last}}}});
      }
    } else {
      // One entry per group of ranges whose URL and Range header stay well under the 8 KiB
      // a request line or header may take (XET.md §5.4).
      for (std::size_t begin = 0; begin < fetches.size();) {
        std::size_t end = begin;
        std::size_t text = 0;
        while (end < fetches.size() && (end == begin || text < kMaxSignedRangeText)) {
          text += rangeText({fetches[end]}).size() + 1;
          ++end;
        }
        std::vector<XorbFetch> group(fetches.begin() + static_cast<std::ptrdiff_t>(begin),
                                     fetches.begin() + static_cast<std::ptrdiff_t>(end));
        std::string resource = path + "?r=" + rangeText(group);
        json ranges = json::array();
        for (const XorbFetch& f : group) {
          ranges.push_back({{"chunks", {{"start", f.chunk_start}, {"end", f.chunk_end}}},
                            {"bytes", {{"start", f.byte_first}, {"end", f.byte_last}}}});
        }
        list.push_back({{"url", cdn + resource + "&" + signer_.signQuery(resource)},
                        {"ranges", std::move(ranges)}});
        begin = end;
      }
    }
    by_xorb[xorb.hex()] = std::move(list);
  }
  out[call.match.part == 1 ? "fetch_info" : "xorbs"] = std::move(by_xorb);
  sendJson(call, 200, out);
}

void HubService::cdnXorb(Call& call) {
  if (call.req.has_header("Authorization")) {
    stats_.countCdnAuthorization();
  }
  const std::string signed_ranges = call.param("r");
  if (!verifyCdnSignature(call, "/xorbs/" + call.match.path + "?r=" + signed_ranges)) {
    return;
  }
  auto hash = MerkleHash::fromHex(call.match.path);
  auto size = hash ? xet_->xorbSize(*hash) : std::nullopt;
  if (!size) {
    return sendError(call, ApiError{404, "NoSuchKey", "The specified key does not exist.", {}});
  }
  auto allowed = parseRangeList("bytes=" + signed_ranges);
  std::string header = call.req.get_header_value("Range");
  auto wanted = header.empty() ? allowed : parseRangeList(header);
  if (!allowed || !wanted) {
    return sendError(call, badRequest("malformed byte ranges").error());
  }
  for (std::size_t i = 1; i < wanted->size(); ++i) {
    if ((*wanted)[i].first <= (*wanted)[i - 1].last) {
      return sendError(call, badRequest("byte ranges must be ascending and disjoint").error());
    }
  }
  for (const ByteRange& w : *wanted) {
    bool inside = false;
    for (const ByteRange& a : *allowed) inside = inside || (w.first >= a.first && w.last <= a.last);
    if (!inside) {
      return sendError(call, ApiError{403, "SignatureInvalid",
                                      "the requested range is not one this URL was signed for", {}});
    }
    if (w.last >= *size) {
      call.res.set_header("Content-Range", "bytes */" + std::to_string(*size));
      return sendError(call, ApiError{416, "RangeNotSatisfiable", "range past the xorb's end", {}});
    }
  }
  auto fd = common::openFile(xet_->xorbPath(*hash), O_RDONLY);
  if (!fd) return sendError(call, internalError(fd.error()).error());
  auto mapping = BlobMapping::map(fd->get(), static_cast<std::size_t>(*size));
  if (!mapping) {
    return sendError(call, apiError(500, "InternalError", "cannot map xorb " + hash->hex()).error());
  }
  const std::string total = std::to_string(*size);
  auto contentRange = [&](const ByteRange& r) {
    return "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" + total;
  };
  call.res.status = 206;
  if (wanted->size() == 1) {
    const ByteRange r = wanted->front();
    call.res.set_header("Content-Range", contentRange(r));
    call.res.set_content_provider(
        static_cast<std::size_t>(r.last - r.first + 1), "application/octet-stream",
        [mapping, first = r.first](std::size_t offset, std::size_t len, httplib::DataSink& sink) {
          return sink.write(mapping->data() + first + offset, std::min(len, kBlobSendChunk));
        });
    return;
  }
  // A multipart body streamed from the mapping: each part's header text, then its bytes. A fresh
  // boundary per answer, so stored bytes cannot imitate it.
  std::random_device rd;
  const std::string boundary = "hubd-" + std::to_string(rd()) + std::to_string(rd());
  struct Piece {
    std::string text;             // sent first
    std::uint64_t first = 0;      // then `length` bytes of the xorb from here
    std::uint64_t length = 0;
  };
  auto pieces = std::make_shared<std::vector<Piece>>();
  std::size_t body_bytes = 0;
  for (const ByteRange& r : *wanted) {
    Piece p{(pieces->empty() ? "" : "\r\n") + std::string("--") + boundary +
                "\r\nContent-Type: application/octet-stream\r\nContent-Range: " +
                contentRange(r) + "\r\n\r\n",
            r.first, r.last - r.first + 1};
    body_bytes += p.text.size() + p.length;
    pieces->push_back(std::move(p));
  }
  pieces->push_back(Piece{"\r\n--" + boundary + "--\r\n", 0, 0});
  body_bytes += pieces->back().text.size();
  call.res.set_content_provider(
      body_bytes, "multipart/byteranges; boundary=" + boundary,
      [mapping, pieces](std::size_t offset, std::size_t len, httplib::DataSink& sink) {
        for (const Piece& p : *pieces) {
          if (offset < p.text.size()) {
            return sink.write(p.text.data() + offset, std::min(len, p.text.size() - offset));
          }
          offset -= p.text.size();
          if (offset < p.length) {
            return sink.write(mapping->data() + p.first + offset,
                              std::min({len, static_cast<std::size_t>(p.length - offset),
                                        kBlobSendChunk}));
          }
          offset -= p.length;
        }
        return false;
      });
}

void HubService::casXorb(Call& call) {
  const bool upload = call.req.method == "POST";
  auto grant = casGrant(call, upload);
  if (!grant) {
    return;
  }
  auto hash = MerkleHash::fromHex(call.match.path);
  if (!upload) {
    if (!call.is_head) {
      return sendError(call, ApiError{405, "", "xorbs are read through reconstructions", {}});
    }
    auto size = xet_->xorbSize(*hash);
    if (!size) {
      return sendError(call, notFound("xorb " + call.match.path));
    }
    call.res.status = 200;
    call.res.set_content_provider(static_cast<std::size_t>(*size), "application/octet-stream",
                                  [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
    return;
  }
  auto body = readBody(call, xet::kMaxXorbBytes + 1);
  if (!body) {
    return sendError(call, body.error());
  }
  auto inserted = xet_->putXorb(*hash, *body);
  if (!inserted) {
    return sendError(call, inserted.error());
  }
  sendJson(call, 200, {{"was_inserted", *inserted}});
}

void HubService::casShard(Call& call) {
  auto grant = casGrant(call, true);
  if (!grant) {
    return;
  }
  auto body = readBody(call, 64u << 20);
  if (!body) {
    return sendError(call, body.error());
  }
  auto result = xet_->registerShard(
      {reinterpret_cast<const std::uint8_t*>(body->data()), body->size()}, grant->repo_key);
  if (call.match.part == 1) {
    if (!result) {
      return sendError(call, result.error());
    }
    return sendJson(call, 200, {{"result", *result}});
  }
  // v2 streams progress events; the last line is the outcome.
  std::string events = json{{"type", "validating"}, {"verified", 0}, {"total", 1}}.dump() + "\n";
  if (result) {
    events += json{{"type", "result"}, {"result", *result}}.dump() + "\n";
  } else {
    events += json{{"type", "error"},
                   {"message", result.error().message},
                   {"retryable", result.error().status >= 500}}
                  .dump() +
              "\n";
  }
  call.res.status = 200;
  call.res.set_content(events, "application/x-ndjson");
}

void HubService::casChunk(Call& call) {
  if (!casGrant(call, false)) {
    return;
  }
  auto hash = MerkleHash::fromHex(call.match.path);
  auto shard = xet_->dedupShard(*hash, common::unixSecondsNow(), options_.cdn_url_ttl_s);
  if (!shard) {
    return sendError(call, notFound("chunk " + call.match.path));
  }
  call.res.status = 200;
  call.res.set_content(std::string(shard->begin(), shard->end()), "application/octet-stream");
}

void HubService::casFile(Call& call) {
  auto grant = casGrant(call, false);
  if (!grant) {
    return;
  }
  if (!call.is_head) {
    return sendError(call, ApiError{405, "", "files are read through reconstructions", {}});
  }
  auto hash = MerkleHash::fromHex(call.match.path);
  auto file = xet_->file(*hash);
  if (!file || !xet_->readableBy(*hash, grant->repo_key)) {
    return sendError(call, notFound("file " + call.match.path));
  }
  call.res.status = 200;
  call.res.set_content_provider(static_cast<std::size_t>(file->size), "application/octet-stream",
                                [](std::size_t, std::size_t, httplib::DataSink&) { return false; });
}

bool HubService::addXetHeaders(Call& call, const FileEntry& file, const std::string& commit) {
  if (file.xet_hash.empty()) {
    return false;
  }
  const common::RepoId& repo = call.match.repo;
  std::string refresh_route = "/api/" + std::string(common::repoTypePlural(repo.type)) + "/" +
                              repo.fullName() + "/xet-read-token/" + commit;
  std::string refresh = baseUrl(call) + refresh_route;
  std::string reconstruction = casUrl(call) + "/v1/reconstructions/" + file.xet_hash;
  call.res.set_header("X-Xet-Hash", file.xet_hash);
  call.res.set_header("X-Xet-Refresh-Route", refresh_route);
  call.res.set_header("Link", "<" + refresh + ">; rel=\"xet-auth\", <" + reconstruction +
                                  ">; rel=\"xet-reconstruction-info\"");
  if (call.req.get_header_value("Accept").find(kFileInfoType) == std::string::npos) {
    return false;
  }
  call.res.status = 200;
  call.res.set_content(json{{"hash", file.xet_hash},
                            {"size", file.size},
                            {"etag", file.sha256},
                            {"refreshUrl", refresh},
                            {"reconstructionUrl", reconstruction}}
                           .dump(),
                       std::string(kFileInfoType));
  return true;
}

void HubService::lfsBatchXet(Call& call, const RepoMeta& meta, const LfsBatchRequest& request) {
  const std::string cas = casUrl(call);
  XetToken token = issueXetToken(signer_, true, meta.id.key(), common::unixSecondsNow());
  const std::string refresh = baseUrl(call) + "/api/" +
                              std::string(common::repoTypePlural(meta.id.type)) + "/" +
                              meta.id.fullName() + "/xet-write-token/" +
                              common::percentEncode(request.ref.empty() ? meta.default_branch
                                                                        : request.ref);
  json objects = json::array();
  for (const auto& object : request.objects) {
    json out = {{"oid", object.oid}, {"size", object.size}};
    if (!object.is_valid) {
      out["error"] = {{"code", 422}, {"message", "Each object needs a sha256 oid and a size"}};
    } else if (!xet_->fileBySha256(object.oid) && objects_->size(object.oid) != object.size) {
      out["actions"] = {
          {"upload",
           {{"href", refresh},
            {"header",
             {{"X-Xet-Cas-Url", cas},
              {"X-Xet-Access-Token", token.value},
              {"X-Xet-Token-Expiration", std::to_string(token.expires)},
              {"X-Xet-Session-Id", object.oid.substr(0, 16)}}}}}};
    }
    objects.push_back(std::move(out));
  }
  call.res.status = 200;
  call.res.set_content(
      json{{"transfer", "xet"}, {"objects", objects}, {"hash_algo", "sha256"}}.dump(),
      "application/vnd.git-lfs+json");
}

ApiStatus HubService::attachXet(const RepoMeta& meta, CommitRequest& request) {
  const std::string key = meta.id.key();
  for (CommitOperation& op : request.operations) {
    if (op.kind != CommitOperation::Kind::kAddFile || !op.entry.is_lfs ||
        !op.entry.xet_hash.empty()) {
      continue;
    }
    if (auto known = xet_->fileBySha256(op.entry.sha256)) {
      if (auto st = xet_->grant(*known, key); !st) return st;
      op.entry.xet_hash = known->hex();
    } else if (meta.xet_enabled) {
      auto hash = xet_->ingestBlob(op.entry.sha256, key);
      if (!hash) return common::Unexpected<ApiError>(hash.error());
      op.entry.xet_hash = hash->hex();
    }
  }
  return {};
}

}  // namespace hfm::hubd
