// SPDX-License-Identifier: Apache-2.0
#include "hub/hub_json.h"

#include <algorithm>
#include <exception>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/hex.h"
#include "common/repo_path.h"
#include "common/time_util.h"
#include "hub/http_util.h"
#include "hub/json_util.h"

namespace hfm::hub::detail {
namespace {

using nlohmann::json;

// A non-negative integer no larger than kMaxJsonSize; floats and negatives are refused.
std::optional<std::uint64_t> sizeValue(const json& value) {
  return unsignedValue(&value, kMaxJsonSize);
}

// A hex id of one of the given lengths, lower-cased.
std::optional<std::string> hexValue(const json& value, std::initializer_list<std::size_t> lengths) {
  if (!value.is_string()) {
    return std::nullopt;
  }
  const auto& text = value.get_ref<const std::string&>();
  for (std::size_t length : lengths) {
    if (common::isHex(text, length)) {
      return lowerHex(text);
    }
  }
  return std::nullopt;
}

// One entry of a tree page; nullopt (no error) for an entry of an unknown type.
HubResult<std::optional<TreeEntry>> parseEntry(const json& item, std::size_t index) {
  std::string where = "entry " + std::to_string(index);
  if (!item.is_object()) {
    return bad(where + " is not an object");
  }
  const json* type = field(item, "type");
  const json* path = field(item, "path");
  if (type == nullptr || !type->is_string()) {
    return bad(where + " has no string \"type\"");
  }
  if (path == nullptr || !path->is_string()) {
    return bad(where + " has no string \"path\"");
  }
  const auto& type_text = type->get_ref<const std::string&>();
  if (type_text != "file" && type_text != "directory") {
    return std::optional<TreeEntry>();
  }
  TreeEntry entry;
  entry.path = path->get<std::string>();
  if (!common::isValidRepoPath(entry.path)) {
    // The path itself may hold control characters: do not echo it.
    return bad(where + " has an invalid path (empty, absolute, '.', '..', control character, "
                       "or a segment over 255 bytes)");
  }
  where += " (" + entry.path + ")";
  entry.is_dir = type_text == "directory";
  const json* oid = field(item, "oid");
  if (oid != nullptr && !oid->is_null()) {
    auto hex = hexValue(*oid, {40, 64});
    if (!hex) {
      return bad(where + ": \"oid\" is not a 40 or 64 digit hex id");
    }
    entry.oid = *hex;
  } else if (!entry.is_dir) {
    return bad(where + ": file without \"oid\"");
  }
  if (entry.is_dir) {
    return std::optional<TreeEntry>(std::move(entry));
  }
  const json* size = field(item, "size");
  auto size_value = size == nullptr ? std::nullopt : sizeValue(*size);
  if (!size_value) {
    return bad(where + ": \"size\" is missing, negative, not an integer or above 2^53");
  }
  entry.size = *size_value;
  if (const json* lfs = field(item, "lfs"); lfs != nullptr && !lfs->is_null()) {
    if (!lfs->is_object()) {
      return bad(where + ": \"lfs\" is not an object");
    }
    // Tree entries name it "oid", repo-info siblings "sha256".
    const json* lfs_oid = field(*lfs, "oid");
    if (lfs_oid == nullptr) {
      lfs_oid = field(*lfs, "sha256");
    }
    auto sha = lfs_oid == nullptr ? std::nullopt : hexValue(*lfs_oid, {64});
    if (!sha) {
      return bad(where + ": \"lfs.oid\" is not a sha256");
    }
    entry.lfs_sha256 = *sha;
    if (const json* lfs_size = field(*lfs, "size"); lfs_size != nullptr) {
      auto v = sizeValue(*lfs_size);
      if (!v || *v != entry.size) {
        return bad(where + ": \"lfs.size\" disagrees with \"size\"");
      }
    }
  }
  if (const json* xet = field(item, "xetHash"); xet != nullptr && !xet->is_null()) {
    auto hash = hexValue(*xet, {64});
    if (!hash) {
      return bad(where + ": \"xetHash\" is not 64 hex digits");
    }
    entry.xet_hash = *hash;
  }
  return std::optional<TreeEntry>(std::move(entry));
}

template <class F>
auto guarded(F&& body) -> decltype(body()) {
  // nlohmann reports misuse by throwing; every access below is type-checked first, so this only
  // turns an oversight (or bad_alloc) into an error instead of an escape through the layer.
  try {
    return body();
  } catch (const std::exception& e) {
    return bad(std::string("unexpected JSON shape: ") + e.what());
  }
}

common::Unexpected<HubError> invalid(std::string reason) {
  return hubError(HubErrorKind::kInvalidArgument, std::move(reason));
}

// Serializes a request body; text that is not UTF-8 (a path, a summary) cannot be sent as JSON.
HubResult<std::string> dumpChecked(const json& value) {
  try {
    return value.dump();
  } catch (const json::type_error& e) {
    return invalid(std::string("cannot be sent as JSON (not UTF-8?): ") + e.what());
  }
}

// Bodies built only from validated hex ids and numbers, which always serialize.
std::string dumpSafe(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// An absolute http(s) URL an upload may be sent to.
std::optional<std::string> urlValue(const json* value) {
  if (value == nullptr || !value->is_string()) {
    return std::nullopt;
  }
  const auto& text = value->get_ref<const std::string&>();
  if (!parseOrigin(text)) {
    return std::nullopt;
  }
  return text;
}

// A positive count sent either as a JSON integer or as a string of digits ("chunk_size").
std::optional<std::uint64_t> countValue(const json& value) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text.empty() || text.size() > 15 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    auto v = std::stoull(text);
    return v > 0 ? std::optional<std::uint64_t>(v) : std::nullopt;
  }
  auto v = sizeValue(value);
  return v && *v > 0 ? v : std::nullopt;
}

// A path as a commit or preupload line carries it: valid, without a trailing '/'.
std::optional<std::string> sendablePath(std::string path) {
  while (!path.empty() && path.back() == '/') {
    path.pop_back();
  }
  if (!common::isValidRepoPath(path)) {
    return std::nullopt;
  }
  return path;
}

constexpr std::size_t kPreuploadSampleBytes = 512;

}  // namespace

HubResult<RevisionInfo> parseRevisionInfo(std::string_view text) {
  return guarded([&]() -> HubResult<RevisionInfo> {
    auto body = parseJson(text);
    if (!body || !body->is_object()) {
      return bad("malformed JSON (expected an object)");
    }
    RevisionInfo info;
    const json* sha = field(*body, "sha");
    auto commit = sha == nullptr ? std::nullopt : hexValue(*sha, {40});
    if (!commit) {
      return bad("\"sha\" is missing or not a 40 digit hex commit id");
    }
    info.commit = *commit;
    const json* modified = field(*body, "lastModified");
    if (modified == nullptr || !modified->is_string()) {
      return bad("\"lastModified\" is missing");
    }
    auto when = common::parseIso8601(modified->get_ref<const std::string&>());
    if (!when) {
      return bad("\"lastModified\" is not an ISO 8601 date");
    }
    info.last_modified = *when;
    if (const json* priv = field(*body, "private"); priv != nullptr && !priv->is_null()) {
      if (!priv->is_boolean()) {
        return bad("\"private\" is not a boolean");
      }
      info.is_private = priv->get<bool>();
    }
    if (const json* gated = field(*body, "gated"); gated != nullptr && !gated->is_null()) {
      if (gated->is_boolean()) {
        info.gated = gated->get<bool>() ? "true" : "";
      } else if (gated->is_string()) {
        info.gated = gated->get<std::string>();
      } else {
        return bad("\"gated\" is neither a boolean nor a string");
      }
    }
    return info;
  });
}

HubResult<std::vector<TreeEntry>> parseTreeEntries(std::string_view text) {
  return guarded([&]() -> HubResult<std::vector<TreeEntry>> {
    auto body = parseJson(text);
    if (!body || !body->is_array()) {
      return bad("malformed JSON (expected an array of entries)");
    }
    std::vector<TreeEntry> entries;
    entries.reserve(body->size());
    std::size_t index = 0;
    for (const auto& item : *body) {
      auto entry = parseEntry(item, index++);
      if (!entry) {
        return common::Unexpected<HubError>(std::move(entry).error());
      }
      if (*entry) {
        entries.push_back(std::move(**entry));
      }
    }
    return entries;
  });
}

std::optional<std::string> misplacedEntry(const TreeEntry& entry, std::string_view dir,
                                          bool recursive) {
  std::string_view path = entry.path;
  if (!dir.empty()) {
    if (path.size() <= dir.size() + 1 || path.substr(0, dir.size()) != dir ||
        path[dir.size()] != '/') {
      return "\"" + entry.path + "\" is not inside the listed folder \"" + std::string(dir) + "\"";
    }
    path.remove_prefix(dir.size() + 1);
  }
  if (!recursive && path.find('/') != std::string_view::npos) {
    return "\"" + entry.path + "\" is not a direct child of the listed folder";
  }
  return std::nullopt;
}

HubResult<std::vector<RepoListItem>> parseRepoList(std::string_view text) {
  return guarded([&]() -> HubResult<std::vector<RepoListItem>> {
    auto body = parseJson(text);
    if (!body || !body->is_array()) {
      return bad("malformed JSON (expected an array of repositories)");
    }
    std::vector<RepoListItem> items;
    for (const auto& item : *body) {
      const json* id = item.is_object() ? field(item, "id") : nullptr;
      if (id == nullptr || !id->is_string()) {
        return bad("repository without a string \"id\"");
      }
      RepoListItem out{id->get<std::string>(), false};
      if (const json* priv = field(item, "private"); priv != nullptr && !priv->is_null()) {
        if (!priv->is_boolean()) {
          return bad("\"private\" is not a boolean");
        }
        out.is_private = priv->get<bool>();
      }
      items.push_back(std::move(out));
    }
    return items;
  });
}

HubResult<WhoAmI> parseWhoAmI(std::string_view text) {
  return guarded([&]() -> HubResult<WhoAmI> {
    auto body = parseJson(text);
    if (!body || !body->is_object()) {
      return bad("malformed JSON (expected an object)");
    }
    WhoAmI who;
    const json* name = field(*body, "name");
    if (name == nullptr || !name->is_string()) {
      return bad("\"name\" is missing");
    }
    who.name = name->get<std::string>();
    if (const json* orgs = field(*body, "orgs"); orgs != nullptr && orgs->is_array()) {
      for (const auto& org : *orgs) {
        const json* org_name = org.is_object() ? field(org, "name") : nullptr;
        if (org_name != nullptr && org_name->is_string()) {
          who.orgs.push_back(org_name->get<std::string>());
        }
      }
    }
    const json* auth = field(*body, "auth");
    const json* token = auth != nullptr && auth->is_object() ? field(*auth, "accessToken") : nullptr;
    const json* role = token != nullptr && token->is_object() ? field(*token, "role") : nullptr;
    if (role != nullptr && role->is_string()) {
      who.role = role->get<std::string>();
    }
    return who;
  });
}

HubResult<RepoRefs> parseRefs(std::string_view text) {
  return guarded([&]() -> HubResult<RepoRefs> {
    auto body = parseJson(text);
    if (!body || !body->is_object()) {
      return bad("malformed JSON (expected an object)");
    }
    RepoRefs refs;
    for (auto [key, out] : {std::pair{"branches", &refs.branches}, std::pair{"tags", &refs.tags}}) {
      const json* list = field(*body, key);
      if (list == nullptr || !list->is_array()) {
        return bad(std::string("\"") + key + "\" is missing");
      }
      for (const auto& ref : *list) {
        const json* name = ref.is_object() ? field(ref, "name") : nullptr;
        if (name == nullptr || !name->is_string()) {
          return bad(std::string("a ref in \"") + key + "\" has no name");
        }
        out->push_back(name->get<std::string>());
      }
    }
    return refs;
  });
}

HubResult<std::string> preuploadBody(std::span<const PreuploadFile> files) {
  json list = json::array();
  for (const auto& file : files) {
    auto path = sendablePath(file.path);
    if (!path || *path != file.path) {
      return invalid("preupload: invalid path \"" + sanitizeServerText(file.path, 200) + "\"");
    }
    std::string_view sample(file.sample);
    list.push_back({{"path", file.path},
                    {"sample", common::base64Encode(sample.substr(0, kPreuploadSampleBytes))},
                    {"size", file.size}});
  }
  return dumpChecked(json{{"files", std::move(list)}});
}

HubResult<std::vector<PreuploadAnswer>> parsePreuploadAnswers(
    std::string_view text, std::span<const PreuploadFile> files) {
  return guarded([&]() -> HubResult<std::vector<PreuploadAnswer>> {
    auto body = parseJson(text);
    const json* list = body && body->is_object() ? field(*body, "files") : nullptr;
    if (list == nullptr || !list->is_array()) {
      return bad("malformed JSON (expected an object with a \"files\" array)");
    }
    std::unordered_map<std::string, PreuploadAnswer> answers;
    for (const auto& path : files) {
      answers.emplace(path.path, PreuploadAnswer{});
    }
    std::unordered_set<std::string> answered;
    std::size_t index = 0;
    for (const auto& item : *list) {
      std::string where = "file " + std::to_string(index++);
      const json* path = item.is_object() ? field(item, "path") : nullptr;
      if (path == nullptr || !path->is_string()) {
        return bad(where + " has no string \"path\"");
      }
      auto it = answers.find(path->get<std::string>());
      if (it == answers.end()) {
        return bad(where + " answers a path that was not asked");
      }
      where += " (" + sanitizeServerText(it->first, 200) + ")";
      if (!answered.insert(it->first).second) {
        return bad(where + " is answered twice");
      }
      PreuploadAnswer& answer = it->second;
      answer.path = it->first;
      const json* mode = field(item, "uploadMode");
      if (mode == nullptr || !mode->is_string() || (*mode != "regular" && *mode != "lfs")) {
        return bad(where + ": \"uploadMode\" is missing or neither \"regular\" nor \"lfs\"");
      }
      answer.mode = *mode == "lfs" ? UploadMode::kLfs : UploadMode::kRegular;
      if (const json* ignore = field(item, "shouldIgnore");
          ignore != nullptr && !ignore->is_null()) {
        if (!ignore->is_boolean()) {
          return bad(where + ": \"shouldIgnore\" is not a boolean");
        }
        answer.should_ignore = ignore->get<bool>();
      }
      if (const json* oid = field(item, "oid"); oid != nullptr && !oid->is_null()) {
        auto hex = hexValue(*oid, {40, 64});
        if (!hex) {
          return bad(where + ": \"oid\" is not a 40 or 64 digit hex id");
        }
        answer.remote_oid = *hex;
      }
    }
    std::vector<PreuploadAnswer> out;
    out.reserve(files.size());
    for (const auto& file : files) {
      if (answered.count(file.path) == 0) {
        return bad("no answer for \"" + sanitizeServerText(file.path, 200) + "\"");
      }
      out.push_back(answers.at(file.path));
    }
    return out;
  });
}

HubResult<std::string> commitNdjson(const CommitRequest& request) {
  json header = {{"summary", request.summary}, {"description", request.description}};
  if (!request.parent_commit.empty()) {
    const std::string& parent = request.parent_commit;
    if (parent.size() < 5 || parent.size() > 40 || !common::isHex(parent, parent.size())) {
      return invalid("commit: parent commit must be 5 to 40 hex digits");
    }
    header["parentCommit"] = lowerHex(parent);
  }
  auto line = dumpChecked(json{{"key", "header"}, {"value", std::move(header)}});
  if (!line) {
    return line;
  }
  std::string out = std::move(*line) + "\n";
  for (const auto& op : request.operations) {
    auto path = sendablePath(op.path);
    if (!path || (op.kind != CommitOperation::Kind::kDeletedFolder && *path != op.path)) {
      return invalid("commit: invalid path \"" + sanitizeServerText(op.path, 200) + "\"");
    }
    json value = {{"path", *path}};
    std::string key;
    switch (op.kind) {
      case CommitOperation::Kind::kFile:
        key = "file";
        value["content"] = common::base64Encode(op.content);
        value["encoding"] = "base64";
        break;
      case CommitOperation::Kind::kLfsFile:
        if (!common::isHex(op.sha256, 64)) {
          return invalid("commit: the sha256 of \"" + *path + "\" is not 64 hex digits");
        }
        key = "lfsFile";
        value["algo"] = "sha256";
        value["oid"] = lowerHex(op.sha256);
        value["size"] = op.size;
        break;
      case CommitOperation::Kind::kDeletedFile:
        key = "deletedFile";
        break;
      case CommitOperation::Kind::kDeletedFolder:
        key = "deletedFolder";
        break;
    }
    line = dumpChecked(json{{"key", key}, {"value", std::move(value)}});
    if (!line) {
      return line;
    }
    out += *line;
    out += '\n';
  }
  return out;
}

HubResult<CommitInfo> parseCommitInfo(std::string_view text) {
  return guarded([&]() -> HubResult<CommitInfo> {
    auto body = parseJson(text);
    const json* oid = body && body->is_object() ? field(*body, "commitOid") : nullptr;
    auto commit = oid == nullptr ? std::nullopt : hexValue(*oid, {40});
    if (!commit) {
      return bad("\"commitOid\" is missing or not a 40 digit hex commit id");
    }
    return CommitInfo{*commit};
  });
}

HubResult<std::vector<CommitSummary>> parseCommitList(std::string_view text) {
  return guarded([&]() -> HubResult<std::vector<CommitSummary>> {
    auto body = parseJson(text);
    if (!body || !body->is_array()) {
      return bad("malformed JSON (expected an array of commits)");
    }
    std::vector<CommitSummary> commits;
    std::size_t index = 0;
    for (const auto& item : *body) {
      std::string where = "commit " + std::to_string(index++);
      if (!item.is_object()) {
        return bad(where + " is not an object");
      }
      CommitSummary commit;
      const json* id = field(item, "id");
      auto hex = id == nullptr ? std::nullopt : hexValue(*id, {40});
      if (!hex) {
        return bad(where + ": \"id\" is missing or not a 40 digit hex commit id");
      }
      commit.id = *hex;
      for (auto [name, target] :
           {std::pair{"title", &commit.title}, std::pair{"message", &commit.message}}) {
        if (const json* value = field(item, name); value != nullptr && !value->is_null()) {
          if (!value->is_string()) {
            return bad(where + ": \"" + name + "\" is not a string");
          }
          *target = value->get<std::string>();
        }
      }
      const json* date = field(item, "date");
      auto when = date != nullptr && date->is_string()
                      ? common::parseIso8601(date->get_ref<const std::string&>())
                      : std::nullopt;
      if (!when) {
        return bad(where + ": \"date\" is missing or not an ISO 8601 date");
      }
      commit.date = *when;
      commits.push_back(std::move(commit));
    }
    return commits;
  });
}

HubResult<std::string> lfsBatchBody(std::string_view oid, std::uint64_t size,
                                    std::string_view revision, bool offer_xet) {
  json transfers = {"basic", "multipart"};
  if (offer_xet) {
    transfers.push_back("xet");
  }
  json body = {{"operation", "upload"},
               {"transfers", std::move(transfers)},
               {"objects", json::array({{{"oid", oid}, {"size", size}}})},
               {"hash_algo", "sha256"}};
  if (!revision.empty()) {
    body["ref"] = {{"name", revision}};
  }
  return dumpChecked(body);
}

HubResult<LfsUploadPlan> parseLfsBatchAnswer(std::string_view text, std::string_view oid,
                                             std::uint64_t size) {
  return guarded([&]() -> HubResult<LfsUploadPlan> {
    auto body = parseJson(text);
    const json* objects = body && body->is_object() ? field(*body, "objects") : nullptr;
    if (objects == nullptr || !objects->is_array()) {
      return bad("malformed JSON (expected an object with an \"objects\" array)");
    }
    if (const json* transfer = field(*body, "transfer");
        transfer != nullptr && !transfer->is_null()) {
      if (!transfer->is_string() || (*transfer != "basic" && *transfer != "multipart")) {
        return bad("unsupported \"transfer\" (only basic and multipart are offered)");
      }
    }
    if (objects->size() != 1) {
      return bad("expected an answer about exactly one object, got " +
                 std::to_string(objects->size()));
    }
    const json& object = (*objects)[0];
    const json* object_oid = object.is_object() ? field(object, "oid") : nullptr;
    auto answered = object_oid == nullptr ? std::nullopt : hexValue(*object_oid, {64});
    if (!answered || *answered != oid) {
      return bad("the answer is not about the object asked for");
    }
    const json* object_size = field(object, "size");
    auto answered_size = object_size == nullptr ? std::nullopt : sizeValue(*object_size);
    if (!answered_size || *answered_size != size) {
      return bad("the answer's \"size\" is not the size asked for");
    }
    if (auto refused = batchObjectError(object)) {
      return std::move(*refused);
    }
    LfsUploadPlan plan;
    const json* actions = field(object, "actions");
    const json* upload =
        actions != nullptr && actions->is_object() ? field(*actions, "upload") : nullptr;
    if (actions != nullptr && !actions->is_null() && !actions->is_object()) {
      return bad("\"actions\" is not an object");
    }
    if (upload == nullptr || upload->is_null()) {
      return plan;  // the server has the object already
    }
    auto href = upload->is_object() ? urlValue(field(*upload, "href")) : std::nullopt;
    if (!href) {
      return bad("\"actions.upload.href\" is missing or not an absolute http(s) URL");
    }
    plan.kind = LfsUploadPlan::Kind::kBasic;
    plan.upload_url = std::move(*href);
    if (const json* verify = field(*actions, "verify"); verify != nullptr && !verify->is_null()) {
      plan.verify_url = verify->is_object() ? urlValue(field(*verify, "href")) : std::nullopt;
      if (!plan.verify_url) {
        return bad("\"actions.verify.href\" is missing or not an absolute http(s) URL");
      }
    }
    const json* header = field(*upload, "header");
    if (header == nullptr || header->is_null()) {
      return plan;
    }
    if (!header->is_object()) {
      return bad("\"actions.upload.header\" is not an object");
    }
    const json* chunk = field(*header, "chunk_size");
    if (chunk == nullptr) {
      return plan;
    }
    auto chunk_size = countValue(*chunk);
    if (!chunk_size) {
      return bad("\"chunk_size\" is not a positive integer");
    }
    // Every key made only of digits names a part ("00001", ...), numbered from 1.
    std::map<std::uint64_t, std::string> parts;
    for (const auto& [key, value] : header->items()) {
      if (key.empty() ||
          !std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        continue;
      }
      auto url = urlValue(&value);
      if (key.size() > 15 || !url) {
        return bad("part \"" + sanitizeServerText(key, 20) + "\" has no absolute http(s) URL");
      }
      if (!parts.emplace(std::stoull(key), std::move(*url)).second) {
        return bad("part " + key + " is listed twice");
      }
    }
    const std::uint64_t expected = size / *chunk_size + (size % *chunk_size != 0 ? 1 : 0);
    if (parts.empty() || parts.size() != expected || parts.begin()->first != 1 ||
        parts.rbegin()->first != expected) {
      return bad("multipart upload with " + std::to_string(parts.size()) +
                 " part URLs numbered 1..n expected, for " + std::to_string(size) +
                 " bytes in chunks of " + std::to_string(*chunk_size) + " (" +
                 std::to_string(expected) + " parts)");
    }
    plan.kind = LfsUploadPlan::Kind::kMultipart;
    plan.chunk_size = *chunk_size;
    for (auto& [number, url] : parts) {
      plan.part_urls.push_back(std::move(url));
    }
    return plan;
  });
}

std::string multipartCompletionBody(std::string_view oid, const std::vector<std::string>& etags) {
  json parts = json::array();
  for (std::size_t i = 0; i < etags.size(); ++i) {
    parts.push_back({{"partNumber", i + 1}, {"etag", etags[i]}});
  }
  return dumpSafe(json{{"oid", oid}, {"parts", std::move(parts)}});
}

std::string lfsVerifyBody(std::string_view oid, std::uint64_t size) {
  return dumpSafe(json{{"oid", oid}, {"size", size}});
}

std::string errorMessageFromBody(std::string_view text) {
  try {
    auto body = parseJson(text);
    if (!body || !body->is_object()) {
      return {};
    }
    std::string message;
    auto append = [&](const json& value) {
      if (value.is_string()) {
        message += (message.empty() ? "" : "; ") + value.get<std::string>();
      }
    };
    if (const json* error = field(*body, "error")) {
      if (error->is_array()) {
        for (const auto& e : *error) {
          append(e);
        }
      } else {
        append(*error);
      }
    } else if (const json* msg = field(*body, "message")) {
      append(*msg);
    }
    if (const json* description = field(*body, "error_description")) {
      append(*description);
    }
    return message;
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace hfm::hub::detail
