// SPDX-License-Identifier: Apache-2.0
// The Hub API routes about repositories: identity, creation, metadata, listings and refs.

#include <algorithm>
#include <set>

#include "common/hash.h"
#include "common/time_util.h"
#include "common/url.h"
#include "hf-hubd/http_text.h"
#include "hf-hubd/hub_service.h"

namespace hfm::hubd {

using nlohmann::json;

namespace {

// A page size from the query: `fallback` when absent or malformed, within [1, max].
std::size_t pageSize(const std::string& text, std::size_t fallback, std::size_t max) {
  return static_cast<std::size_t>(
      std::clamp<std::uint64_t>(parseDecimal(text).value_or(fallback), 1, max));
}

// A position from the query (a cursor or page number); 0 when absent or malformed.
std::size_t position(const std::string& text) {
  return static_cast<std::size_t>(parseDecimal(text).value_or(0));
}

// The query string of the current request with `key` set to `value` (for Link next URLs).
std::string withParam(const Call& call, const std::string& key, const std::string& value) {
  std::string out;
  for (const auto& [k, v] : call.query) {
    if (k == key) {
      continue;
    }
    out += (out.empty() ? "" : "&") + common::percentEncode(k) + "=" + common::percentEncode(v);
  }
  return out + (out.empty() ? "" : "&") + key + "=" + common::percentEncode(value);
}

void setNextLink(HubService& service, Call& call, const std::string& key, const std::string& value) {
  std::string path(call.req.target.substr(0, call.req.target.find('?')));
  call.res.set_header("Link",
                      "<" + service.baseUrl(call) + path + "?" + withParam(call, key, value) +
                          ">; rel=\"next\"");
}

const std::set<std::string>& knownExpandFields() {
  static const std::set<std::string> fields = {
      "author", "cardData", "config", "createdAt", "disabled", "downloads", "downloadsAllTime",
      "gated", "gguf", "inference", "inferenceProviderMapping", "lastModified", "library_name",
      "likes", "mask_token", "model-index", "pipeline_tag", "private", "safetensors", "sha",
      "siblings", "spaces", "tags", "transformersInfo", "trendingScore", "widgetData",
      "usedStorage", "resourceGroup", "xetEnabled", "sdk", "runtime", "citation", "description",
      "paperswithcode_id", "mainSize", "subdomain", "datasets", "models", "childrenModelCount",
      "baseModels", "securityRepoStatus", "evalResults"};
  return fields;
}

// The repository named by a create or delete body: "name" (possibly "ns/name"), "organization"
// (else the caller's own namespace) and "type".
ApiResult<common::RepoId> repoIdFromBody(const json& body, const std::optional<Identity>& who) {
  std::string name = body.value("name", "");
  std::string ns = body.contains("organization") && body["organization"].is_string()
                       ? body["organization"].get<std::string>()
                       : std::string();
  if (auto slash = name.find('/'); slash != std::string::npos) {
    ns = name.substr(0, slash);
    name = name.substr(slash + 1);
  }
  if (ns.empty() && who) {
    ns = who->user;
  }
  auto type = common::parseRepoType(body.value("type", "model"));
  if (!type) {
    return badRequest("Invalid repo type: " + body.value("type", ""));
  }
  return common::RepoId{*type, ns, name};
}

json gatedJson(const RepoMeta& meta) {
  return meta.gated.empty() ? json(false) : json(meta.gated);
}

}  // namespace

void HubService::whoami(Call& call) {
  if (!call.who) {
    sendError(call, ApiError{401, "", "Invalid credentials in Authorization header", {}});
    return;
  }
  json orgs = json::array();
  for (const auto& org : auth_.orgsOf(call.who->user)) {
    orgs.push_back({{"type", "org"},
                    {"id", common::sha1Hex("org:" + org).substr(0, 24)},
                    {"name", org},
                    {"fullname", org},
                    {"avatarUrl", ""},
                    {"roleInOrg", call.who->can_write ? "write" : "read"}});
  }
  sendJson(call, 200,
           {{"type", "user"},
            {"id", common::sha1Hex("user:" + call.who->user).substr(0, 24)},
            {"name", call.who->user},
            {"fullname", call.who->user},
            {"email", call.who->user + "@users.noreply.hf-hubd"},
            {"emailVerified", true},
            {"isPro", false},
            {"canPay", false},
            {"avatarUrl", ""},
            {"periodEnd", nullptr},
            {"billingMode", "prepaid"},
            {"orgs", orgs},
            {"auth",
             {{"type", "access_token"},
              {"accessToken",
               {{"displayName", call.who->token_name},
                {"role", call.who->can_write ? "write" : "read"},
                {"createdAt", "2024-01-01T00:00:00.000Z"}}}}}});
}

void HubService::createRepo(Call& call) {
  auto body = readJson(call);
  if (!body) {
    return sendError(call, body.error());
  }
  auto parsed = repoIdFromBody(*body, call.who);
  if (!parsed) {
    return sendError(call, parsed.error());
  }
  const common::RepoId& id = *parsed;
  if (auto st = auth_.checkNamespaceWrite(call.who, id.ns); !st) {
    return sendError(call, st.error());
  }
  CreateRepoOptions options;
  options.is_private = body->value("private", false) || body->value("visibility", "") == "private";
  options.sdk = body->value("sdk", id.type == common::RepoType::kSpace ? "static" : "");
  options.author = call.who->user;
  options.xet_enabled = options_.xet_default;
  auto created = repos_->createRepo(id, options);
  if (!created) {
    if (created.error().status == 409) {
      call.res.status = 409;
      call.res.set_header("X-Error-Message", created.error().message);
      call.res.set_content(json{{"error", created.error().message}, {"url", repoUrl(call, id)}}.dump(),
                           "application/json");
      return;
    }
    return sendError(call, created.error());
  }
  sendJson(call, 200, {{"url", repoUrl(call, id)}, {"name", id.fullName()}, {"id", id.fullName()}});
}

void HubService::deleteRepo(Call& call) {
  auto body = readJson(call);
  if (!body) {
    return sendError(call, body.error());
  }
  auto parsed = repoIdFromBody(*body, call.who);
  if (!parsed) {
    return sendError(call, parsed.error());
  }
  call.match.repo = *parsed;
  if (!repoFor(call, true)) {
    return;
  }
  sendOutcome(call, repos_->deleteRepo(call.match.repo));
}

void HubService::validateYaml(Call& call) {
  auto body = readJson(call);
  if (!body) {
    return sendError(call, body.error());
  }
  // A model card's front matter must be closed; that is the one check made here.
  std::string content = body->value("content", "");
  json errors = json::array();
  if (content.rfind("---", 0) == 0 && content.find("\n---", 3) == std::string::npos) {
    errors.push_back({{"message", "YAML front matter is not closed with ---"}});
  }
  if (!errors.empty()) {
    return sendJson(call, 400, {{"errors", errors}, {"error", "Invalid YAML metadata"}});
  }
  sendJson(call, 200, {{"errors", json::array()}, {"warnings", json::array()}});
}

void HubService::listRepos(Call& call) {
  auto all = repos_->listRepos(call.match.list_type);
  std::string author = call.param("author");
  std::vector<std::string> searches = call.params("search");
  std::vector<RepoMeta> matching;
  for (const auto& meta : all) {
    if (!auth_.canSee(call.who, meta) || (!author.empty() && meta.id.ns != author)) {
      continue;
    }
    bool ok = std::all_of(searches.begin(), searches.end(), [&](const std::string& s) {
      return meta.id.fullName().find(s) != std::string::npos;
    });
    if (ok) {
      matching.push_back(meta);
    }
  }
  // The head commit of each repository gives lastModified.
  struct Row {
    RepoMeta meta;
    std::string sha;
    std::chrono::system_clock::time_point modified;
  };
  std::vector<Row> rows;
  for (auto& meta : matching) {
    Row row{meta, {}, meta.created_at};
    if (auto rev = repos_->resolve(meta.id, "HEAD")) {
      row.sha = rev->commit;
      if (auto c = repos_->commit(meta.id, rev->commit)) {
        row.modified = (*c)->date;
      }
    }
    rows.push_back(std::move(row));
  }
  std::string sort = call.param("sort");
  bool descending = call.param("direction") != "1";
  if (sort == "lastModified" || sort == "last_modified") {
    std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
      return descending ? a.modified > b.modified : a.modified < b.modified;
    });
  } else if (sort == "createdAt" || sort == "created_at") {
    std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
      return descending ? a.meta.created_at > b.meta.created_at
                        : a.meta.created_at < b.meta.created_at;
    });
  }
  std::size_t limit = pageSize(call.param("limit"), 1000, 1000);
  std::size_t offset = position(call.param("cursor"));
  json out = json::array();
  for (std::size_t i = offset; i < rows.size() && i < offset + limit; ++i) {
    const Row& row = rows[i];
    json item = {{"_id", row.meta.object_id},
                 {"id", row.meta.id.fullName()},
                 {"author", row.meta.id.ns},
                 {"private", row.meta.is_private},
                 {"gated", gatedJson(row.meta)},
                 {"disabled", false},
                 {"downloads", 0},
                 {"likes", 0},
                 {"tags", json::array()},
                 {"createdAt", common::formatIso8601(row.meta.created_at)},
                 {"lastModified", common::formatIso8601(row.modified)}};
    if (call.match.list_type == common::RepoType::kModel) {
      item["modelId"] = row.meta.id.fullName();
      item["pipeline_tag"] = nullptr;
    }
    if (!row.sha.empty()) {
      item["sha"] = row.sha;
    }
    out.push_back(std::move(item));
  }
  if (offset + limit < rows.size()) {
    setNextLink(*this, call, "cursor", std::to_string(offset + limit));
  }
  sendJson(call, 200, out);
}

void HubService::repoInfo(Call& call) {
  auto meta = repoFor(call, false);
  if (!meta) {
    return;
  }
  std::vector<std::string> expand = call.params("expand");
  for (const auto& field : expand) {
    if (knownExpandFields().count(field) == 0) {
      return sendError(call, badRequest("Invalid expand value: '" + field + "'").error());
    }
  }
  std::shared_ptr<const TreeIndex> index;
  std::string sha;
  std::string requested = call.match.revision.empty() ? "HEAD" : call.match.revision;
  auto rev = repos_->resolve(meta->id, requested);
  if (rev) {
    sha = rev->commit;
    auto t = repos_->tree(meta->id, sha);
    if (!t) {
      return sendError(call, t.error());
    }
    index = *t;
  } else if (!call.match.revision.empty()) {
    return sendError(call, rev.error());
  }
  bool blobs = call.flag("blobs");
  json siblings = json::array();
  std::uint64_t used = 0;
  if (index) {
    for (const auto& [path, f] : index->commit()->files) {
      json s = {{"rfilename", path}};
      if (blobs) {
        s["size"] = f.size;
        s["blobId"] = f.oid;
        if (f.is_lfs) {
          s["lfs"] = {{"size", f.size},
                      {"sha256", f.sha256},
                      {"pointerSize", lfsPointer(f.sha256, f.size).size()}};
        }
      }
      used += f.size;
      siblings.push_back(std::move(s));
    }
  }
  auto modified = index ? index->commit()->date : meta->created_at;
  json info = {{"_id", meta->object_id},
               {"id", meta->id.fullName()},
               {"author", meta->id.ns},
               {"sha", sha.empty() ? json(nullptr) : json(sha)},
               {"lastModified", common::formatIso8601(modified)},
               {"createdAt", common::formatIso8601(meta->created_at)},
               {"private", meta->is_private},
               {"gated", gatedJson(*meta)},
               {"disabled", false},
               {"downloads", 0},
               {"downloadsAllTime", 0},
               {"likes", 0},
               {"trendingScore", 0},
               {"tags", json::array()},
               {"siblings", siblings},
               {"usedStorage", used},
               {"xetEnabled", false},
               {"cardData", json::object()}};
  switch (meta->id.type) {
    case common::RepoType::kModel:
      info["modelId"] = meta->id.fullName();
      info["pipeline_tag"] = nullptr;
      info["library_name"] = nullptr;
      info["spaces"] = json::array();
      break;
    case common::RepoType::kDataset:
      info["description"] = "";
      info["citation"] = "";
      info["paperswithcode_id"] = nullptr;
      break;
    case common::RepoType::kSpace:
      info["sdk"] = meta->sdk;
      info["subdomain"] = meta->id.ns + "-" + meta->id.name;
      info["runtime"] = {{"stage", "NO_APP_FILE"}};
      break;
  }
  if (!expand.empty()) {
    json selected = {{"_id", info["_id"]}, {"id", info["id"]}};
    for (const auto& field : expand) {
      selected[field] = info.contains(field) ? info[field] : json(nullptr);
    }
    info = std::move(selected);
  }
  sendJson(call, 200, info);
}

json HubService::entryJson(const TreeIndex::Entry& entry, bool expand,
                           const common::RepoId& repo) const {
  if (entry.is_dir) {
    return {{"type", "directory"}, {"oid", entry.oid}, {"size", 0}, {"path", entry.path}};
  }
  const FileEntry& f = *entry.file;
  json j = {{"type", "file"}, {"oid", f.oid}, {"size", f.size}, {"path", entry.path}};
  if (f.is_lfs) {
    j["lfs"] = {{"oid", f.sha256}, {"size", f.size},
                {"pointerSize", lfsPointer(f.sha256, f.size).size()}};
  }
  if (!f.xet_hash.empty()) {
    j["xetHash"] = f.xet_hash;
  }
  if (expand) {
    j["lastCommit"] = {{"id", f.last_commit}};
    if (auto c = repos_->commit(repo, f.last_commit)) {
      j["lastCommit"]["title"] = (*c)->title;
      j["lastCommit"]["date"] = common::formatIso8601((*c)->date);
    }
    j["securityFileStatus"] = {{"status", "safe"}, {"avScan", nullptr}, {"pickleImportScan", nullptr}};
  }
  return j;
}

void HubService::tree(Call& call) {
  auto meta = repoFor(call, false);
  if (!meta) {
    return;
  }
  auto rev = revisionFor(call, call.match.revision);
  if (!rev) {
    return;
  }
  auto index = repos_->tree(meta->id, rev->commit);
  if (!index) {
    return sendError(call, index.error());
  }
  std::string dir = call.match.path;
  while (!dir.empty() && dir.back() == '/') {
    dir.pop_back();
  }
  if (!(*index)->isDir(dir)) {
    return sendError(call, entryNotFound(dir, rev->commit).error());
  }
  bool expand = call.flag("expand");
  auto entries = (*index)->list(dir, call.flag("recursive"));
  std::size_t page = expand ? std::min<std::size_t>(options_.tree_page_size, 50)
                            : options_.tree_page_size;
  std::size_t offset = position(call.param("cursor"));
  json out = json::array();
  for (std::size_t i = offset; i < entries.size() && i < offset + page; ++i) {
    out.push_back(entryJson(entries[i], expand, meta->id));
  }
  if (offset + page < entries.size()) {
    setNextLink(*this, call, "cursor", std::to_string(offset + page));
  }
  call.res.set_header("X-Repo-Commit", rev->commit);
  sendJson(call, 200, out);
}

void HubService::pathsInfo(Call& call) {
  auto meta = repoFor(call, false);
  if (!meta) {
    return;
  }
  auto body = readBody(call);
  if (!body) {
    return sendError(call, body.error());
  }
  std::vector<std::string> paths;
  bool expand = false;
  if (call.req.get_header_value("Content-Type").rfind("application/json", 0) == 0) {
    json parsed = json::parse(*body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("paths") ||
        !parsed["paths"].is_array()) {
      return sendError(call, badRequest("Expected a JSON body {\"paths\": [...]}").error());
    }
    for (const auto& p : parsed["paths"]) {
      if (p.is_string()) {
        paths.push_back(p.get<std::string>());
      }
    }
    expand = parsed.contains("expand") && parsed["expand"].is_boolean() && parsed["expand"].get<bool>();
  } else {
    auto form = common::parseQuery(*body);
    if (!form) {
      return sendError(call, badRequest("Malformed form body").error());
    }
    for (const auto& [k, v] : *form) {
      if (k == "paths" || k == "paths[]") {
        paths.push_back(v);
      } else if (k == "expand") {
        expand = v == "true" || v == "True" || v == "1";
      }
    }
  }
  if (paths.size() > 1000) {
    return sendError(call, apiError(413, "", "Too many paths (at most 1000)").error());
  }
  auto rev = revisionFor(call, call.match.revision);
  if (!rev) {
    return;
  }
  auto index = repos_->tree(meta->id, rev->commit);
  if (!index) {
    return sendError(call, index.error());
  }
  json out = json::array();
  for (auto path : paths) {
    while (!path.empty() && path.back() == '/') {
      path.pop_back();
    }
    if (path.empty()) {
      continue;
    }
    if (auto entry = (*index)->entry(path)) {
      out.push_back(entryJson(*entry, expand, meta->id));
    }
  }
  call.res.set_header("X-Repo-Commit", rev->commit);
  sendJson(call, 200, out);
}

void HubService::refs(Call& call) {
  auto meta = repoFor(call, false);
  if (!meta) {
    return;
  }
  auto refs = repos_->refs(meta->id);
  if (!refs) {
    return sendError(call, refs.error());
  }
  json branches = json::array();
  for (const auto& [name, sha] : refs->branches) {
    if (!sha.empty()) {
      branches.push_back({{"name", name}, {"ref", "refs/heads/" + name}, {"targetCommit", sha}});
    }
  }
  json tags = json::array();
  for (const auto& [name, tag] : refs->tags) {
    tags.push_back({{"name", name}, {"ref", "refs/tags/" + name}, {"targetCommit", tag.commit}});
  }
  json out = {{"branches", branches}, {"converts", json::array()}, {"tags", tags}};
  if (call.flag("include_prs")) {
    json prs = json::array();
    for (const auto& [num, pr] : refs->pulls) {
      std::string ref = "refs/pr/" + std::to_string(num);
      prs.push_back({{"name", ref}, {"ref", ref}, {"targetCommit", pr.commit}});
    }
    out["pullRequests"] = prs;
  }
  sendJson(call, 200, out);
}

void HubService::commits(Call& call) {
  auto meta = repoFor(call, false);
  if (!meta) {
    return;
  }
  auto rev = revisionFor(call, call.match.revision);
  if (!rev) {
    return;
  }
  auto history = repos_->history(meta->id, rev->commit);
  if (!history) {
    return sendError(call, history.error());
  }
  std::size_t limit = pageSize(call.param("limit"), 50, 1000);
  std::size_t page = position(call.param("p"));
  bool formatted = false;
  for (const auto& e : call.params("expand")) {
    formatted = formatted || e == "formatted";
  }
  json out = json::array();
  for (std::size_t i = page * limit; i < history->size() && i < (page + 1) * limit; ++i) {
    const Commit& c = *(*history)[i];
    json item = {{"id", c.id},
                 {"title", c.title},
                 {"message", c.message},
                 {"authors", json::array({{{"user", c.author}, {"avatar", ""}}})},
                 {"date", common::formatIso8601(c.date)}};
    if (formatted) {
      item["formatted"] = {{"title", c.title}, {"message", c.message}};
    }
    out.push_back(std::move(item));
  }
  call.res.set_header("X-Total-Count", std::to_string(history->size()));
  if ((page + 1) * limit < history->size()) {
    setNextLink(*this, call, "p", std::to_string(page + 1));
  }
  sendJson(call, 200, out);
}

void HubService::createBranch(Call& call) {
  auto meta = repoFor(call, true);
  if (!meta) {
    return;
  }
  auto body = readJson(call);
  if (!body) {
    return sendError(call, body.error());
  }
  std::string start = body->contains("startingPoint") && (*body)["startingPoint"].is_string()
                          ? (*body)["startingPoint"].get<std::string>()
                          : std::string();
  auto rev = revisionFor(call, start);
  if (!rev) {
    return;
  }
  sendOutcome(call, repos_->createBranch(meta->id, call.match.path, rev->commit));
}

void HubService::deleteBranch(Call& call) {
  auto meta = repoFor(call, true);
  if (!meta) {
    return;
  }
  sendOutcome(call, repos_->deleteBranch(meta->id, call.match.path));
}

void HubService::createTag(Call& call) {
  auto meta = repoFor(call, true);
  if (!meta) {
    return;
  }
  auto body = readJson(call);
  if (!body) {
    return sendError(call, body.error());
  }
  std::string tag = body->value("tag", "");
  auto rev = revisionFor(call, call.match.revision);
  if (!rev) {
    return;
  }
  sendOutcome(call, repos_->createTag(meta->id, tag, rev->commit, body->value("message", "")));
}

void HubService::deleteTag(Call& call) {
  auto meta = repoFor(call, true);
  if (!meta) {
    return;
  }
  sendOutcome(call, repos_->deleteTag(meta->id, call.match.path));
}

}  // namespace hfm::hubd
