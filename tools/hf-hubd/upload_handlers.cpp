// SPDX-License-Identifier: Apache-2.0
// Uploads: preupload, the NDJSON commit, and the git-lfs batch API with its basic and multipart
// transfers. Upload targets are signed URLs on the API listener, so the client sends them no token.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "common/base64.h"
#include "common/file_util.h"
#include "common/hash.h"
#include "common/hex.h"
#include "common/repo_path.h"
#include "common/time_util.h"
#include "hf-hubd/http_text.h"
#include "hf-hubd/hub_service.h"
#include "hf-hubd/upload_requests.h"

namespace hfm::hubd {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxCommitLine = 256u << 20;

bool looksBinary(const std::string& sample) {
  return sample.find('\0') != std::string::npos;
}


std::uint64_t partCount(std::uint64_t size, std::uint64_t chunk) {
  return chunk == 0 ? 0 : (size + chunk - 1) / chunk;
}


// Collects the lines of a commit body into a request, checking them against the stores.
struct CommitParser {
  const ObjectStore& objects;
  const FileMap* head_files;
  CommitRequest request;
  bool has_header = false;
  std::optional<ApiError> error;

  void fail(int status, std::string message) {
    if (!error) {
      error = ApiError{status, status == 422 ? "LfsObjectMissing" : "BadRequest", std::move(message), {}};
    }
  }

  void line(std::string_view text) {
    if (error || text.find_first_not_of(" \t\r") == std::string_view::npos) {
      return;
    }
    auto parsed = parseCommitLine(text);
    if (!parsed) {
      error = parsed.error();
      return;
    }
    CommitLine& l = *parsed;
    if (l.kind == CommitLine::Kind::kHeader) {
      has_header = true;
      request.title = std::move(l.summary);
      request.message = std::move(l.description);
      if (l.parent_commit) {
        request.parent_commit = std::move(l.parent_commit);
      }
      return;
    }
    if (!has_header) {
      return fail(400, "The first commit line must be the header");
    }
    CommitOperation op;
    op.path = l.path;
    switch (l.kind) {
      case CommitLine::Kind::kFile: {
        auto blob = objects.put(l.content);
        if (!blob) {
          return fail(500, blob.error().message);
        }
        op.entry = FileEntry{blob->sha256, blob->size, false, blob->git_oid, {}, {}};
        break;
      }
      case CommitLine::Kind::kLfsFile:
        if (l.old_path) {
          auto it = head_files ? head_files->find(*l.old_path) : FileMap::const_iterator{};
          if (!head_files || it == head_files->end()) {
            return fail(404, "oldPath " + *l.old_path + " does not exist");
          }
          op.entry = it->second;
          op.entry.last_commit.clear();
        } else {
          auto stored = objects.size(l.oid);
          if (!stored) {
            return fail(422, "LFS object " + l.oid + " for " + op.path +
                                 " was never uploaded: upload it through the LFS batch API first");
          }
          if (l.size && *l.size != *stored) {
            return fail(400, "lfsFile " + op.path + ": size does not match the uploaded object (" +
                                 std::to_string(*stored) + " bytes)");
          }
          op.entry =
              FileEntry{l.oid, *stored, true, common::gitBlobOid(lfsPointer(l.oid, *stored)), {}, {}};
        }
        break;
      case CommitLine::Kind::kDeletedFile:
        op.kind = CommitOperation::Kind::kDeleteFile;
        break;
      case CommitLine::Kind::kDeletedFolder:
        op.kind = CommitOperation::Kind::kDeleteFolder;
        break;
      case CommitLine::Kind::kHeader:
        break;
    }
    request.operations.push_back(std::move(op));
  }
};

const json* field(const json& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

// A string member: `fallback` when absent or null, nullopt when of another type (json::value
// would throw, and a client's type mistake is a 400, not a 500).
std::optional<std::string> stringField(const json& object, const char* name,
                                       std::string fallback) {
  const json* value = field(object, name);
  if (value == nullptr || value->is_null()) {
    return fallback;
  }
  return value->is_string() ? std::optional<std::string>(value->get<std::string>()) : std::nullopt;
}

std::string lowerAscii(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  return text;
}

}  // namespace

ApiResult<CommitLine> parseCommitLine(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  const json* key_json = j.is_object() ? field(j, "key") : nullptr;
  const json* v = j.is_object() ? field(j, "value") : nullptr;
  if (key_json == nullptr || !key_json->is_string() || v == nullptr || !v->is_object()) {
    return badRequest("Malformed commit line: expected {\"key\": ..., \"value\": {...}}");
  }
  const std::string key = key_json->get<std::string>();
  CommitLine line;
  if (key == "header") {
    auto summary = stringField(*v, "summary", "");
    auto description = stringField(*v, "description", "");
    if (!summary || !description) {
      return badRequest("The header's summary and description must be strings");
    }
    line.summary = std::move(*summary);
    line.description = std::move(*description);
    if (const json* parent = field(*v, "parentCommit"); parent != nullptr && parent->is_string()) {
      const auto& text_parent = parent->get_ref<const std::string&>();
      if (text_parent.size() < 5 || text_parent.size() > 40 ||
          !common::isHex(text_parent, text_parent.size())) {
        return badRequest("parentCommit must be 5 to 40 hex digits");
      }
      line.parent_commit = lowerAscii(text_parent);
    }
    return line;
  }
  const json* path = field(*v, "path");
  if (path == nullptr || !path->is_string()) {
    return badRequest("Commit line '" + key + "' has no path");
  }
  line.path = path->get<std::string>();
  if (key == "file") {
    line.kind = CommitLine::Kind::kFile;
    const json* content = field(*v, "content");
    if (content == nullptr || !content->is_string()) {
      return badRequest("file line for " + line.path + " has no content");
    }
    auto encoding = stringField(*v, "encoding", "base64");
    if (encoding == "base64") {
      auto decoded = common::base64Decode(content->get_ref<const std::string&>());
      if (!decoded) {
        return badRequest("file line for " + line.path + ": content is not valid base64");
      }
      line.content = std::move(*decoded);
    } else if (encoding == "utf-8") {
      line.content = content->get<std::string>();
    } else {
      return badRequest("Unknown encoding '" + encoding.value_or("") + "' for " + line.path);
    }
  } else if (key == "lfsFile") {
    line.kind = CommitLine::Kind::kLfsFile;
    const json* old_path = field(*v, "oldPath");
    const json* oid = field(*v, "oid");
    if (old_path != nullptr && old_path->is_string() && oid == nullptr) {
      line.old_path = old_path->get<std::string>();
      return line;
    }
    if (oid == nullptr || !oid->is_string()) {
      return badRequest("lfsFile line for " + line.path + " has no oid");
    }
    auto algo = stringField(*v, "algo", "sha256");
    const auto& oid_text = oid->get_ref<const std::string&>();
    if ((algo != "sha256" && algo != "sha_256") || !common::isHex(oid_text, 64)) {
      return badRequest("lfsFile " + line.path + ": oid must be a sha256");
    }
    line.oid = lowerAscii(oid_text);
    if (const json* size = field(*v, "size")) {
      if (!size->is_number_unsigned()) {
        return badRequest("lfsFile " + line.path + ": size is not a non-negative integer");
      }
      line.size = size->get<std::uint64_t>();
    }
  } else if (key == "deletedFile") {
    line.kind = CommitLine::Kind::kDeletedFile;
  } else if (key == "deletedFolder") {
    line.kind = CommitLine::Kind::kDeletedFolder;
  } else {
    return badRequest("Unknown commit line key '" + key + "'");
  }
  return line;
}

ApiResult<LfsBatchRequest> parseLfsBatchRequest(std::string_view text) {
  json body = text.empty() ? json::object() : json::parse(text, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return badRequest("Request body is not a JSON object");
  }
  LfsBatchRequest request;
  auto operation = stringField(body, "operation", "");
  if (operation != "upload" && operation != "download") {
    return badRequest("operation must be upload or download");
  }
  request.is_upload = operation == "upload";
  auto algo = stringField(body, "hash_algo", "sha256");
  if (algo != "sha256" && algo != "sha_256") {
    return badRequest("Unsupported hash_algo '" + algo.value_or("(not a string)") + "'");
  }
  if (const json* transfers = field(body, "transfers"); transfers != nullptr && transfers->is_array()) {
    for (const auto& t : *transfers) {
      request.accepts_multipart =
          request.accepts_multipart || (t.is_string() && t.get_ref<const std::string&>() == "multipart");
      request.accepts_xet =
          request.accepts_xet || (t.is_string() && t.get_ref<const std::string&>() == "xet");
    }
  }
  if (const json* ref = field(body, "ref"); ref != nullptr && ref->is_object()) {
    request.ref = stringField(*ref, "name", "").value_or("");
  }
  const json* objects = field(body, "objects");
  if (objects == nullptr || !objects->is_array()) {
    return badRequest("objects must be an array");
  }
  for (const auto& o : *objects) {
    LfsBatchObject object;
    const json* oid = o.is_object() ? field(o, "oid") : nullptr;
    const json* size = o.is_object() ? field(o, "size") : nullptr;
    if (oid != nullptr && oid->is_string()) {
      object.oid = oid->get<std::string>();
    }
    bool has_size = size != nullptr && size->is_number_unsigned();
    if (has_size) {
      object.size = size->get<std::uint64_t>();
    }
    object.is_valid = has_size && common::isHex(object.oid, 64);
    if (object.is_valid) {
      object.oid = lowerAscii(std::move(object.oid));
    }
    request.objects.push_back(std::move(object));
  }
  return request;
}

bool HubService::verifyUploadSignature(Call& call) {
  std::string path(call.req.target.substr(0, call.req.target.find('?')));
  std::string resource = path + "?size=" + call.param("size");
  if (!call.param("chunk").empty()) {
    resource += "&chunk=" + call.param("chunk");
  }
  auto verdict = signer_.verify(resource, call.param("X-Expires"), call.param("X-Signature"),
                                common::unixSecondsNow());
  if (verdict == UrlSigner::Verdict::kValid) {
    return true;
  }
  sendError(call, ApiError{403, verdict == UrlSigner::Verdict::kExpired ? "SignatureExpired"
                                                                        : "SignatureInvalid",
                           "Upload URL signature is missing, forged or expired", {}});
  return false;
}

void HubService::preupload(Call& call) {
  auto meta = repoFor(call, true);
  if (!meta) {
    return;
  }
  auto body = readJson(call);
  if (!body) {
    return sendError(call, body.error());
  }
  if (!body->contains("files") || !(*body)["files"].is_array()) {
    return sendError(call, badRequest("Expected {\"files\": [...]}").error());
  }
  std::shared_ptr<const TreeIndex> index;
  std::string head;
  if (auto rev = repos_->resolve(meta->id, call.match.revision); rev) {
    head = rev->commit;
    if (auto t = repos_->tree(meta->id, head)) {
      index = *t;
    }
  } else if (rev.error().code == "RevisionNotFound" && !call.flag("create_pr")) {
    auto refs = repos_->refs(meta->id);
    if (!refs || refs->branches.count(call.match.revision) == 0) {
      return sendError(call, rev.error());
    }
  }
  json files = json::array();
  for (const auto& f : (*body)["files"]) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string()) {
      return sendError(call, badRequest("Each file needs a string path").error());
    }
    std::string path = f["path"].get<std::string>();
    std::uint64_t size = f.contains("size") && f["size"].is_number_unsigned()
                             ? f["size"].get<std::uint64_t>()
                             : 0;
    std::string sample;
    if (f.contains("sample") && f["sample"].is_string()) {
      sample = common::base64Decode(f["sample"].get<std::string>()).value_or("");
    }
    bool lfs = size > 0 && (size > options_.lfs_threshold || looksBinary(sample));
    json entry = {{"path", path},
                  {"uploadMode", lfs ? "lfs" : "regular"},
                  {"shouldIgnore", path == ".git" || path.rfind(".git/", 0) == 0}};
    if (index) {
      if (const FileEntry* existing = index->file(path)) {
        entry["oid"] = existing->is_lfs ? existing->sha256 : existing->oid;
      }
    }
    files.push_back(std::move(entry));
  }
  sendJson(call, 200, {{"files", files}, {"commitOid", head.empty() ? json(nullptr) : json(head)}});
}

void HubService::commit(Call& call) {
  auto meta = repoFor(call, true);
  if (!meta) {
    return;
  }
  std::shared_ptr<const Commit> head;
  if (auto rev = repos_->resolve(meta->id, call.match.revision)) {
    if (auto c = repos_->commit(meta->id, rev->commit)) {
      head = *c;
    }
  }
  CommitParser parser{*objects_, head ? &head->files : nullptr, {}, false, std::nullopt};
  std::string pending;
  std::uint64_t received = 0;
  if (call.reader != nullptr) {
    (*call.reader)([&](const char* data, std::size_t len) {
      received += len;
      std::size_t start = 0;
      std::string_view chunk(data, len);
      while (true) {
        auto nl = chunk.find('\n', start);
        if (nl == std::string_view::npos) {
          break;
        }
        if (pending.empty()) {
          parser.line(chunk.substr(start, nl - start));
        } else {
          pending.append(chunk.substr(start, nl - start));
          parser.line(pending);
          pending.clear();
        }
        start = nl + 1;
      }
      if (!parser.error) {
        pending.append(chunk.substr(start));
        if (pending.size() > kMaxCommitLine) {
          parser.fail(413, "A commit line is larger than " + std::to_string(kMaxCommitLine) +
                               " bytes; upload large files through LFS");
          pending.clear();
        }
      }
      return true;  // keep reading so the connection stays in a known state
    });
  }
  stats_.countReceived(call.match.cls, received);
  if (!pending.empty()) {
    parser.line(pending);
  }
  if (parser.error) {
    return sendError(call, *parser.error);
  }
  if (!parser.has_header) {
    return sendError(call, badRequest("Empty commit: the header line is missing").error());
  }
  parser.request.revision = call.match.revision;
  parser.request.author = call.who->user;
  parser.request.create_pr = call.flag("create_pr");
  if (auto st = attachXet(*meta, parser.request); !st) {
    return sendError(call, st.error());
  }
  auto result = repos_->applyCommit(meta->id, parser.request);
  if (!result) {
    return sendError(call, result.error());
  }
  std::string repo_url = repoUrl(call, meta->id);
  json out = {{"success", true},
              {"commitOid", result->commit},
              {"commitUrl", repo_url + "/commit/" + result->commit},
              {"hookOutput", ""}};
  if (result->pull_request) {
    out["pullRequestUrl"] = repo_url + "/discussions/" + std::to_string(*result->pull_request);
  }
  sendJson(call, 200, out);
}

void HubService::lfsBatch(Call& call) {
  auto body = readBody(call);
  if (!body) {
    return sendError(call, body.error());
  }
  auto request = parseLfsBatchRequest(*body);
  if (!request) {
    return sendError(call, request.error());
  }
  auto meta = repoFor(call, request->is_upload);
  if (!meta) {
    return;
  }
  if (!request->is_upload) {
    if (auto st = auth_.checkDownload(call.who, *meta); !st) {
      return sendError(call, st.error());
    }
  }
  if (request->is_upload && request->accepts_xet && meta->xet_enabled) {
    return lfsBatchXet(call, *meta, *request);
  }
  bool multipart = request->accepts_multipart;
  std::string base = baseUrl(call);
  std::string expires = common::formatIso8601(std::chrono::system_clock::now() +
                                              std::chrono::seconds(options_.cdn_url_ttl_s));
  json objects = json::array();
  for (const auto& object : request->objects) {
    const std::string& oid = object.oid;
    const std::uint64_t size = object.size;
    json out = {{"oid", oid}, {"size", size}};
    if (!object.is_valid) {
      out["error"] = {{"code", 422}, {"message", "Each object needs a sha256 oid and a size"}};
      objects.push_back(std::move(out));
      continue;
    }
    auto stored = objects_->size(oid);
    if (!request->is_upload) {
      if (!stored) {
        out["error"] = {{"code", 404}, {"message", "Object does not exist"}};
      } else {
        out["authenticated"] = true;
        out["actions"] = {{"download", {{"href", cdnUrl(call, oid)}, {"expires_at", expires}}}};
      }
      objects.push_back(std::move(out));
      continue;
    }
    out["authenticated"] = true;
    if (stored && *stored == size) {
      objects.push_back(std::move(out));  // already stored: nothing to do
      continue;
    }
    std::string path = "/_hubd/lfs/" + oid;
    std::string size_param = "size=" + std::to_string(size);
    json verify = {{"href", repoUrl(call, meta->id) + ".git/info/lfs/objects/verify"},
                   {"header", json::object()}};
    if (multipart && size > options_.lfs_multipart_threshold && options_.lfs_part_size > 0) {
      std::string chunk = std::to_string(options_.lfs_part_size);
      std::string bound = size_param + "&chunk=" + chunk;
      json header = {{"chunk_size", chunk}};
      std::uint64_t parts = partCount(size, options_.lfs_part_size);
      for (std::uint64_t n = 1; n <= parts; ++n) {
        char key[16];
        std::snprintf(key, sizeof key, "%05llu", static_cast<unsigned long long>(n));
        std::string part_path = path + "/part/" + std::to_string(n);
        header[key] = base + part_path + "?" + bound + "&" + signer_.signQuery(part_path + "?" + bound);
      }
      std::string complete = path + "/complete";
      out["actions"] = {{"upload",
                         {{"href", base + complete + "?" + bound + "&" +
                                       signer_.signQuery(complete + "?" + bound)},
                          {"header", header},
                          {"expires_at", expires}}},
                        {"verify", verify}};
    } else {
      out["actions"] = {{"upload",
                         {{"href", base + path + "?" + size_param + "&" +
                                       signer_.signQuery(path + "?" + size_param)},
                          {"header", json::object()},
                          {"expires_at", expires}}},
                        {"verify", verify}};
    }
    objects.push_back(std::move(out));
  }
  call.res.status = 200;
  call.res.set_content(json{{"transfer", "basic"}, {"objects", objects}, {"hash_algo", "sha256"}}.dump(),
                       "application/vnd.git-lfs+json");
}

void HubService::lfsVerify(Call& call) {
  auto meta = repoFor(call, true);
  if (!meta) {
    return;
  }
  auto body = readJson(call);
  if (!body) {
    return sendError(call, body.error());
  }
  std::string oid = body->value("oid", "");
  auto stored = objects_->size(oid);
  if (!stored || !body->contains("size") || !(*body)["size"].is_number_unsigned() ||
      (*body)["size"].get<std::uint64_t>() != *stored) {
    return sendError(call, ApiError{404, "", "Object " + oid + " is not stored with that size", {}});
  }
  sendJson(call, 200, {{"message", "Object verified"}});
}

void HubService::lfsUpload(Call& call) {
  if (!verifyUploadSignature(call)) {
    return;
  }
  auto size = parseDecimal(call.param("size"));
  const std::string& oid = call.match.path;
  if (!size) {
    return sendError(call, badRequest("size parameter missing").error());
  }
  auto writer = objects_->create(*size, false);
  if (!writer) {
    return sendError(call, internalError(writer.error()).error());
  }
  std::optional<ApiError> failure;
  std::uint64_t received = 0;
  if (call.reader != nullptr) {
    (*call.reader)([&](const char* data, std::size_t len) {
      received += len;
      if (!failure) {
        if (auto st = writer->write(std::string_view(data, len)); !st) {
          failure = ApiError{400, "BadRequest", st.error().message, {}};
        }
      }
      return true;
    });
  }
  stats_.countReceived(call.match.cls, received);
  if (failure) {
    return sendError(call, *failure);
  }
  auto info = writer->finish(oid);
  if (!info) {
    return sendError(call, badRequest(info.error().message).error());
  }
  call.res.status = 200;
  call.res.set_header("ETag", "\"" + info->sha256 + "\"");
}

void HubService::lfsPart(Call& call) {
  if (!verifyUploadSignature(call)) {
    return;
  }
  auto size = parseDecimal(call.param("size"));
  auto chunk = parseDecimal(call.param("chunk"));
  const std::string& oid = call.match.path;
  std::uint64_t parts = size && chunk ? partCount(*size, *chunk) : 0;
  auto n = static_cast<std::uint64_t>(call.match.part);
  if (parts == 0 || n < 1 || n > parts) {
    return sendError(call, badRequest("Part number out of range").error());
  }
  std::uint64_t expected = n < parts ? *chunk : *size - (parts - 1) * *chunk;
  auto dir = options_.root / "uploads" / oid;
  if (auto st = common::makeDirs(dir); !st) {
    return sendError(call, internalError(st.error()).error());
  }
  auto temp = common::uniqueTempPath(dir);
  auto fd = common::openFile(temp, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (!fd) {
    return sendError(call, internalError(fd.error()).error());
  }
  common::Digest digest(common::Digest::Algorithm::kSha256);
  std::uint64_t received = 0;
  std::optional<ApiError> failure;
  if (call.reader != nullptr) {
    (*call.reader)([&](const char* data, std::size_t len) {
      received += len;
      if (!failure && received <= expected) {
        if (auto st = common::writeAll(fd->get(), data, len); !st) {
          failure = ApiError{500, "InternalError", st.error().message, {}};
        }
        digest.update(data, len);
      }
      return true;
    });
  }
  stats_.countReceived(call.match.cls, received);
  if (!failure && received != expected) {
    failure = ApiError{400, "BadRequest",
                       "Part " + std::to_string(n) + " has " + std::to_string(received) +
                           " bytes, expected " + std::to_string(expected),
                       {}};
  }
  if (failure) {
    ::unlink(temp.c_str());
    return sendError(call, *failure);
  }
  std::string etag = digest.finishHex();
  auto st = common::writeFileAtomic(dir / (std::to_string(n) + ".etag"), etag);
  if (st) {
    st = common::commitTempFile(fd->get(), temp, dir / std::to_string(n));
  }
  if (!st) {
    ::unlink(temp.c_str());
    return sendError(call, internalError(st.error()).error());
  }
  call.res.status = 200;
  call.res.set_header("ETag", "\"" + etag + "\"");
}

void HubService::lfsComplete(Call& call) {
  if (!verifyUploadSignature(call)) {
    return;
  }
  auto size = parseDecimal(call.param("size"));
  auto chunk = parseDecimal(call.param("chunk"));
  const std::string& oid = call.match.path;
  auto body = readJson(call);
  if (!body) {
    return sendError(call, body.error());
  }
  std::uint64_t parts = size && chunk ? partCount(*size, *chunk) : 0;
  if (!body->contains("parts") || !(*body)["parts"].is_array() ||
      (*body)["parts"].size() != parts) {
    return sendError(call, badRequest("Expected " + std::to_string(parts) + " parts").error());
  }
  auto dir = options_.root / "uploads" / oid;
  std::vector<bool> seen(parts + 1, false);
  for (const auto& p : (*body)["parts"]) {
    if (!p.is_object() || !p.contains("partNumber") || !p["partNumber"].is_number_unsigned() ||
        !p.contains("etag") || !p["etag"].is_string()) {
      return sendError(call, badRequest("Each part needs partNumber and etag").error());
    }
    auto n = p["partNumber"].get<std::uint64_t>();
    if (n < 1 || n > parts || seen[n]) {
      return sendError(call, badRequest("Bad or repeated partNumber").error());
    }
    seen[n] = true;
    auto stored = common::readFile(dir / (std::to_string(n) + ".etag"));
    if (!stored) {
      return sendError(call, badRequest("Part " + std::to_string(n) + " was not uploaded").error());
    }
    if (*stored != normalizeEtag(p["etag"].get<std::string>())) {
      return sendError(call, badRequest("ETag of part " + std::to_string(n) + " does not match").error());
    }
  }
  auto writer = objects_->create(*size, false);
  if (!writer) {
    return sendError(call, internalError(writer.error()).error());
  }
  std::vector<char> buf(1 << 20);
  for (std::uint64_t n = 1; n <= parts; ++n) {
    auto fd = common::openFile(dir / std::to_string(n), O_RDONLY);
    if (!fd) {
      return sendError(call, internalError(fd.error()).error());
    }
    while (true) {
      ssize_t got = ::read(fd->get(), buf.data(), buf.size());
      if (got < 0) {
        return sendError(call, apiError(500, "InternalError", "read of a stored part failed").error());
      }
      if (got == 0) {
        break;
      }
      if (auto st = writer->write(std::string_view(buf.data(), static_cast<std::size_t>(got))); !st) {
        return sendError(call, badRequest(st.error().message).error());
      }
    }
  }
  auto info = writer->finish(oid);
  if (!info) {
    return sendError(call, badRequest(info.error().message).error());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  sendJson(call, 200, {{"message", "Upload completed"}, {"oid", oid}, {"size", info->size}});
}

}  // namespace hfm::hubd
