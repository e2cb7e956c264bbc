// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/repo_store.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/hash.h"
#include "common/hex.h"
#include "common/repo_path.h"
#include "common/time_util.h"

namespace hfm::hubd {

using common::RepoId;
using nlohmann::json;

namespace {

constexpr std::size_t kCacheLimit = 512;

constexpr const char* kDefaultGitattributes =
    "*.7z filter=lfs diff=lfs merge=lfs -text\n*.arrow filter=lfs diff=lfs merge=lfs -text\n"
    "*.bin filter=lfs diff=lfs merge=lfs -text\n*.bz2 filter=lfs diff=lfs merge=lfs -text\n"
    "*.ckpt filter=lfs diff=lfs merge=lfs -text\n*.gguf filter=lfs diff=lfs merge=lfs -text\n"
    "*.gz filter=lfs diff=lfs merge=lfs -text\n*.h5 filter=lfs diff=lfs merge=lfs -text\n"
    "*.joblib filter=lfs diff=lfs merge=lfs -text\n*.model filter=lfs diff=lfs merge=lfs -text\n"
    "*.msgpack filter=lfs diff=lfs merge=lfs -text\n*.npy filter=lfs diff=lfs merge=lfs -text\n"
    "*.npz filter=lfs diff=lfs merge=lfs -text\n*.onnx filter=lfs diff=lfs merge=lfs -text\n"
    "*.parquet filter=lfs diff=lfs merge=lfs -text\n*.pb filter=lfs diff=lfs merge=lfs -text\n"
    "*.pickle filter=lfs diff=lfs merge=lfs -text\n*.pkl filter=lfs diff=lfs merge=lfs -text\n"
    "*.pt filter=lfs diff=lfs merge=lfs -text\n*.pth filter=lfs diff=lfs merge=lfs -text\n"
    "*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.tar filter=lfs diff=lfs merge=lfs -text\n"
    "*.tflite filter=lfs diff=lfs merge=lfs -text\n*.tgz filter=lfs diff=lfs merge=lfs -text\n"
    "*.xz filter=lfs diff=lfs merge=lfs -text\n*.zip filter=lfs diff=lfs merge=lfs -text\n"
    "*.zst filter=lfs diff=lfs merge=lfs -text\n*tfevents* filter=lfs diff=lfs merge=lfs -text\n";

common::Unexpected<ApiError> ioError(const common::Error& e) { return internalError(e); }

std::string newObjectId() {
  // 24 hex digits, the shape of the Hub's `_id`.
  std::string seed = std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) +
                     std::to_string(common::unixSecondsNow());
  return common::sha1Hex(seed + common::uniqueTempPath("").string()).substr(0, 24);
}

json metaToJson(const RepoMeta& m) {
  return json{{"type", common::repoTypePlural(m.id.type)},
              {"namespace", m.id.ns},
              {"name", m.id.name},
              {"private", m.is_private},
              {"gated", m.gated},
              {"_id", m.object_id},
              {"sdk", m.sdk},
              {"createdAt", common::formatIso8601(m.created_at)},
              {"defaultBranch", m.default_branch},
              {"xetEnabled", m.xet_enabled}};
}

std::optional<RepoMeta> metaFromJson(const json& j) {
  auto type = common::parseRepoTypePlural(j.at("type").get<std::string>());
  if (!type) {
    return std::nullopt;
  }
  RepoMeta m;
  m.id = RepoId{*type, j.at("namespace").get<std::string>(), j.at("name").get<std::string>()};
  m.is_private = j.value("private", false);
  m.gated = j.value("gated", "");
  m.object_id = j.value("_id", "");
  m.sdk = j.value("sdk", "");
  m.created_at = common::parseIso8601(j.value("createdAt", "")).value_or(
      std::chrono::system_clock::time_point{});
  m.default_branch = j.value("defaultBranch", "main");
  m.xet_enabled = j.value("xetEnabled", false);
  return m;
}

json refsToJson(const Refs& r) {
  json tags = json::object();
  for (const auto& [name, tag] : r.tags) {
    tags[name] = {{"commit", tag.commit}, {"message", tag.message}};
  }
  json pulls = json::object();
  for (const auto& [num, pr] : r.pulls) {
    pulls[std::to_string(num)] = {{"commit", pr.commit}, {"title", pr.title}, {"author", pr.author}};
  }
  return json{{"branches", r.branches}, {"tags", tags}, {"pulls", pulls}};
}

Refs refsFromJson(const json& j) {
  Refs r;
  r.branches = j.value("branches", std::map<std::string, std::string>{});
  const json tag_map = j.value("tags", json::object());
  const json pull_map = j.value("pulls", json::object());
  for (const auto& [name, tag] : tag_map.items()) {
    r.tags[name] = TagRef{tag.at("commit").get<std::string>(), tag.value("message", "")};
  }
  for (const auto& [num, pr] : pull_map.items()) {
    r.pulls[std::stoi(num)] = PullRequest{pr.at("commit").get<std::string>(),
                                          pr.value("title", ""), pr.value("author", "")};
  }
  return r;
}

json commitToJson(const Commit& c) {
  json files = json::array();
  for (const auto& [path, f] : c.files) {
    json row = json::array({path, f.sha256, f.size, f.is_lfs, f.oid, f.last_commit});
    if (!f.xet_hash.empty()) {
      row.push_back(f.xet_hash);
    }
    files.push_back(std::move(row));
  }
  return json{{"id", c.id},         {"parents", c.parents}, {"tree", c.tree_oid},
              {"title", c.title},   {"message", c.message}, {"author", c.author},
              {"date", common::formatIso8601(c.date)}, {"files", files}};
}

Commit commitFromJson(const json& j) {
  Commit c;
  c.id = j.at("id").get<std::string>();
  c.parents = j.at("parents").get<std::vector<std::string>>();
  c.tree_oid = j.at("tree").get<std::string>();
  c.title = j.at("title").get<std::string>();
  c.message = j.at("message").get<std::string>();
  c.author = j.at("author").get<std::string>();
  c.date = common::parseIso8601(j.at("date").get<std::string>())
               .value_or(std::chrono::system_clock::time_point{});
  for (const auto& f : j.at("files")) {
    c.files.emplace(f.at(0).get<std::string>(),
                    FileEntry{f.at(1).get<std::string>(), f.at(2).get<std::uint64_t>(),
                              f.at(3).get<bool>(), f.at(4).get<std::string>(),
                              f.at(5).get<std::string>(),
                              f.size() > 6 ? f.at(6).get<std::string>() : std::string()});
  }
  return c;
}

bool isValidRefName(const std::string& name) {
  if (name.empty() || name.size() > 200 || name.front() == '/' || name.back() == '/' ||
      name.find("..") != std::string::npos || name.find("//") != std::string::npos ||
      name.rfind("refs/", 0) == 0 || name == "HEAD" || common::isHex(name, 40)) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '/';
  });
}

// Applies one operation to `files`, keeping files and folders from sharing a path.
ApiStatus applyOperation(FileMap& files, const CommitOperation& op, const std::string& parent) {
  if (!common::isValidRepoPath(op.path) || op.path == ".git" || op.path.rfind(".git/", 0) == 0) {
    return badRequest("Invalid path in commit: '" + op.path + "'");
  }
  switch (op.kind) {
    case CommitOperation::Kind::kAddFile: {
      // A file may not sit where a folder is, nor under a path that is a file.
      auto below = files.lower_bound(op.path + "/");
      if (below != files.end() && below->first.rfind(op.path + "/", 0) == 0) {
        return badRequest("Cannot add file '" + op.path + "': a folder of that name exists");
      }
      for (auto slash = op.path.find('/'); slash != std::string::npos;
           slash = op.path.find('/', slash + 1)) {
        if (files.count(op.path.substr(0, slash)) != 0) {
          return badRequest("Cannot add file '" + op.path + "': '" + op.path.substr(0, slash) +
                            "' is a file");
        }
      }
      files[op.path] = op.entry;
      return {};
    }
    case CommitOperation::Kind::kDeleteFile:
      if (files.erase(op.path) == 0) {
        return entryNotFound(op.path + " (A file with this name doesn't exist)", parent);
      }
      return {};
    case CommitOperation::Kind::kDeleteFolder: {
      std::string prefix = op.path;
      while (!prefix.empty() && prefix.back() == '/') {
        prefix.pop_back();
      }
      prefix += "/";
      auto first = files.lower_bound(prefix);
      auto last = first;
      while (last != files.end() && last->first.rfind(prefix, 0) == 0) {
        ++last;
      }
      if (first == last) {
        return entryNotFound(op.path + " (A folder with this name doesn't exist)", parent);
      }
      files.erase(first, last);
      return {};
    }
  }
  return {};
}

}  // namespace

common::Result<std::unique_ptr<RepoStore>> RepoStore::open(const std::filesystem::path& root,
                                                           const ObjectStore* objects) {
  auto dir = root / "repos";
  if (auto st = common::makeDirs(dir); !st) {
    return common::Unexpected<common::Error>(st.error());
  }
  std::unique_ptr<RepoStore> store(new RepoStore(dir, objects));
  if (auto st = store->loadAll(); !st) {
    return common::Unexpected<common::Error>(st.error());
  }
  return store;
}

common::Status RepoStore::loadAll() {
  std::error_code ec;
  for (auto type : {common::RepoType::kModel, common::RepoType::kDataset, common::RepoType::kSpace}) {
    auto type_dir = repos_dir_ / std::string(common::repoTypePlural(type));
    if (!std::filesystem::is_directory(type_dir, ec)) {
      continue;
    }
    for (const auto& ns : std::filesystem::directory_iterator(type_dir, ec)) {
      for (const auto& repo : std::filesystem::directory_iterator(ns.path(), ec)) {
        auto meta_text = common::readFile(repo.path() / "meta.json");
        auto refs_text = common::readFile(repo.path() / "refs.json");
        if (!meta_text || !refs_text) {
          continue;  // a repository whose creation never completed
        }
        try {
          auto meta = metaFromJson(json::parse(*meta_text));
          if (!meta) {
            continue;
          }
          auto state = std::make_shared<RepoState>();
          state->meta = *meta;
          state->refs = refsFromJson(json::parse(*refs_text));
          state->dir = repo.path();
          repos_[meta->id.key()] = std::move(state);
        } catch (const json::exception& e) {
          return common::makeError(common::ErrorKind::kCorrupt,
                                   "corrupt repository " + repo.path().string() + ": " + e.what());
        }
      }
    }
  }
  return {};
}

std::shared_ptr<RepoStore::RepoState> RepoStore::state(const RepoId& id) const {
  std::shared_lock lock(repos_mu_);
  auto it = repos_.find(id.key());
  return it == repos_.end() ? nullptr : it->second;
}

std::optional<RepoMeta> RepoStore::meta(const RepoId& id) const {
  auto repo = state(id);
  if (!repo) {
    return std::nullopt;
  }
  std::lock_guard lock(repo->mu);
  return repo->meta;
}

std::vector<RepoMeta> RepoStore::listRepos(common::RepoType type) const {
  std::vector<std::shared_ptr<RepoState>> states;
  {
    std::shared_lock lock(repos_mu_);
    for (const auto& [key, repo] : repos_) {
      states.push_back(repo);
    }
  }
  std::vector<RepoMeta> out;
  for (const auto& repo : states) {
    std::lock_guard lock(repo->mu);
    if (repo->meta.id.type == type) {
      out.push_back(repo->meta);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const RepoMeta& a, const RepoMeta& b) { return a.id.fullName() < b.id.fullName(); });
  return out;
}

ApiResult<RepoMeta> RepoStore::createRepo(const RepoId& id, const CreateRepoOptions& options) {
  if (!common::isValidRepoNamePart(id.ns) || !common::isValidRepoNamePart(id.name)) {
    return badRequest("Invalid repo name: " + id.fullName());
  }
  auto repo = std::make_shared<RepoState>();
  repo->dir = repos_dir_ / std::string(common::repoTypePlural(id.type)) / id.ns / id.name;
  repo->meta.id = id;
  repo->meta.is_private = options.is_private;
  repo->meta.gated = options.gated;
  repo->meta.sdk = options.sdk;
  repo->meta.xet_enabled = options.xet_enabled;
  repo->meta.object_id = newObjectId();
  repo->meta.created_at = std::chrono::system_clock::now();

  std::unique_lock lock(repos_mu_);
  if (repos_.count(id.key()) != 0) {
    return apiError(409, "RepoExists", "You already created this " +
                                           std::string(common::repoTypeSingular(id.type)) +
                                           " repo: " + id.fullName());
  }
  // A directory left by an earlier, unfinished creation is discarded.
  std::error_code ec;
  std::filesystem::remove_all(repo->dir, ec);
  if (auto st = common::makeDirs(repo->dir / "commits"); !st) {
    return ioError(st.error());
  }
  Refs refs;
  if (options.initial_commit) {
    auto blob = objects_->put(kDefaultGitattributes);
    if (!blob) {
      return ioError(blob.error());
    }
    Commit initial;
    initial.title = "initial commit";
    initial.author = options.author;
    initial.date = repo->meta.created_at;
    initial.files[".gitattributes"] = FileEntry{blob->sha256, blob->size, false, blob->git_oid, {}, {}};
    auto sha = writeCommit(*repo, std::move(initial));
    if (!sha) {
      return common::Unexpected<ApiError>(sha.error());
    }
    refs.branches["main"] = *sha;
  } else {
    refs.branches["main"] = "";  // an empty branch: no commit yet
  }
  if (auto st = writeRefs(*repo, refs); !st) {
    return common::Unexpected<ApiError>(st.error());
  }
  if (auto st = common::writeFileAtomic(repo->dir / "meta.json", metaToJson(repo->meta).dump());
      !st) {
    return ioError(st.error());
  }
  repo->refs = std::move(refs);
  repos_[id.key()] = repo;
  return repo->meta;
}

ApiStatus RepoStore::deleteRepo(const RepoId& id) {
  std::unique_lock lock(repos_mu_);
  auto it = repos_.find(id.key());
  if (it == repos_.end()) {
    return repoNotFound(id.fullName());
  }
  auto repo = it->second;
  std::lock_guard repo_lock(repo->mu);
  // meta.json goes first: without it the directory is not a repository after a crash.
  std::error_code ec;
  std::filesystem::remove(repo->dir / "meta.json", ec);
  std::filesystem::remove_all(repo->dir, ec);
  repos_.erase(it);
  return {};
}

ApiResult<Refs> RepoStore::refs(const RepoId& id) const {
  auto repo = state(id);
  if (!repo) {
    return repoNotFound(id.fullName());
  }
  std::lock_guard lock(repo->mu);
  return repo->refs;
}

ApiResult<ResolvedRevision> RepoStore::resolveLocked(const RepoState& repo,
                                                     const std::string& rev) const {
  using Kind = ResolvedRevision::Kind;
  std::string name = rev == "HEAD" ? repo.meta.default_branch : rev;
  if (name.rfind("refs/heads/", 0) == 0) {
    name = name.substr(11);
  } else if (name.rfind("refs/tags/", 0) == 0) {
    auto tag = repo.refs.tags.find(name.substr(10));
    if (tag == repo.refs.tags.end()) {
      return revisionNotFound(rev);
    }
    return ResolvedRevision{tag->second.commit, Kind::kTag, tag->first};
  } else if (name.rfind("refs/pr/", 0) == 0) {
    try {
      std::size_t used = 0;
      int num = std::stoi(name.substr(8), &used);
      auto pr = repo.refs.pulls.find(num);
      if (used == name.size() - 8 && pr != repo.refs.pulls.end()) {
        return ResolvedRevision{pr->second.commit, Kind::kPullRequest, name};
      }
    } catch (const std::exception&) {
    }
    return revisionNotFound(rev);
  }
  if (auto branch = repo.refs.branches.find(name); branch != repo.refs.branches.end()) {
    if (branch->second.empty()) {
      return revisionNotFound(rev + " (the branch has no commit yet)");
    }
    return ResolvedRevision{branch->second, Kind::kBranch, name};
  }
  if (auto tag = repo.refs.tags.find(name); tag != repo.refs.tags.end()) {
    return ResolvedRevision{tag->second.commit, Kind::kTag, name};
  }
  if (common::isHex(name, 40)) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](char c) { return static_cast<char>(std::tolower(c)); });
    std::error_code ec;
    if (std::filesystem::exists(repo.dir / "commits" / (lower + ".json"), ec)) {
      return ResolvedRevision{lower, Kind::kCommit, lower};
    }
  }
  return revisionNotFound(rev);
}

ApiResult<ResolvedRevision> RepoStore::resolve(const RepoId& id, const std::string& rev) const {
  auto repo = state(id);
  if (!repo) {
    return repoNotFound(id.fullName());
  }
  std::lock_guard lock(repo->mu);
  return resolveLocked(*repo, rev);
}

ApiResult<std::shared_ptr<const Commit>> RepoStore::loadCommit(const RepoState& repo,
                                                               const std::string& sha) const {
  std::string key = repo.meta.id.key() + "@" + sha;
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = commit_cache_.find(key); it != commit_cache_.end()) {
      return it->second;
    }
  }
  if (!common::isHex(sha, 40)) {
    return revisionNotFound(sha);
  }
  auto text = common::readFile(repo.dir / "commits" / (sha + ".json"));
  if (!text) {
    if (text.error().kind == common::ErrorKind::kNotFound) {
      return revisionNotFound(sha);
    }
    return ioError(text.error());
  }
  std::shared_ptr<const Commit> commit;
  try {
    commit = std::make_shared<const Commit>(commitFromJson(json::parse(*text)));
  } catch (const json::exception& e) {
    return apiError(500, "InternalError", "corrupt commit " + sha + ": " + e.what());
  }
  std::lock_guard lock(cache_mu_);
  if (commit_cache_.size() >= kCacheLimit) {
    commit_cache_.clear();
  }
  commit_cache_[key] = commit;
  return commit;
}

ApiResult<std::shared_ptr<const Commit>> RepoStore::commit(const RepoId& id,
                                                           const std::string& sha) const {
  auto repo = state(id);
  if (!repo) {
    return repoNotFound(id.fullName());
  }
  return loadCommit(*repo, sha);
}

ApiResult<std::shared_ptr<const TreeIndex>> RepoStore::tree(const RepoId& id,
                                                            const std::string& sha) const {
  std::string key = id.key() + "@" + sha;
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = tree_cache_.find(key); it != tree_cache_.end()) {
      return it->second;
    }
  }
  auto c = commit(id, sha);
  if (!c) {
    return common::Unexpected<ApiError>(c.error());
  }
  auto index = std::make_shared<const TreeIndex>(*c);
  std::lock_guard lock(cache_mu_);
  if (tree_cache_.size() >= kCacheLimit / 4) {
    tree_cache_.clear();
  }
  tree_cache_[key] = index;
  return index;
}

ApiResult<std::vector<std::shared_ptr<const Commit>>> RepoStore::history(
    const RepoId& id, const std::string& sha) const {
  auto repo = state(id);
  if (!repo) {
    return repoNotFound(id.fullName());
  }
  std::vector<std::shared_ptr<const Commit>> out;
  std::string next = sha;
  while (!next.empty()) {
    auto c = loadCommit(*repo, next);
    if (!c) {
      return common::Unexpected<ApiError>(c.error());
    }
    out.push_back(*c);
    next = (*c)->parents.empty() ? std::string() : (*c)->parents.front();
  }
  return out;
}

ApiResult<std::string> RepoStore::writeCommit(RepoState& repo, Commit commit) const {
  commit.tree_oid = TreeIndex(commit.files).rootOid();
  commit.id = gitCommitOid(commit);
  for (auto& [path, entry] : commit.files) {
    if (entry.last_commit.empty()) {
      entry.last_commit = commit.id;
    }
  }
  auto path = repo.dir / "commits" / (commit.id + ".json");
  if (auto st = common::writeFileAtomic(path, commitToJson(commit).dump()); !st) {
    return ioError(st.error());
  }
  return commit.id;
}

ApiStatus RepoStore::writeRefs(const RepoState& repo, const Refs& refs) const {
  if (auto st = common::writeFileAtomic(repo.dir / "refs.json", refsToJson(refs).dump()); !st) {
    return ioError(st.error());
  }
  return {};
}

ApiResult<CommitResult> RepoStore::applyCommit(const RepoId& id, const CommitRequest& request) {
  auto repo = state(id);
  if (!repo) {
    return repoNotFound(id.fullName());
  }
  std::lock_guard lock(repo->mu);
  using Kind = ResolvedRevision::Kind;

  // The head the commit builds on: a branch (possibly still empty) or a pull request.
  std::string head;
  std::string branch;
  std::optional<int> pr_number;
  std::string rev = request.revision == "HEAD" ? repo->meta.default_branch : request.revision;
  if (rev.rfind("refs/heads/", 0) == 0) {
    rev = rev.substr(11);
  }
  if (auto it = repo->refs.branches.find(rev); it != repo->refs.branches.end()) {
    head = it->second;
    branch = rev;
  } else {
    auto resolved = resolveLocked(*repo, rev);
    if (!resolved) {
      return common::Unexpected<ApiError>(resolved.error());
    }
    if (resolved->kind != Kind::kPullRequest && !request.create_pr) {
      return badRequest("Invalid rev id: " + request.revision +
                        " is not a branch (commits go to a branch or a pull request)");
    }
    head = resolved->commit;
    if (resolved->kind == Kind::kPullRequest) {
      pr_number = std::stoi(resolved->name.substr(8));
    }
  }
  if (request.parent_commit && !request.create_pr && *request.parent_commit != head) {
    // A parent may be given as a prefix (the Python client accepts 5-40 hex digits).
    if (request.parent_commit->size() < 5 || head.rfind(*request.parent_commit, 0) != 0) {
      return apiError(412, "PreconditionFailed",
                      "The branch was updated since you opened this page. Please refresh and try "
                      "again. (parentCommit " + *request.parent_commit + ", head " + head + ")");
    }
  }
  std::string base = head;
  if (request.create_pr && request.parent_commit) {
    auto parent = resolveLocked(*repo, *request.parent_commit);
    if (!parent) {
      return common::Unexpected<ApiError>(parent.error());
    }
    base = parent->commit;
  }

  Commit next;
  if (!base.empty()) {
    auto parent = loadCommit(*repo, base);
    if (!parent) {
      return common::Unexpected<ApiError>(parent.error());
    }
    next.files = (*parent)->files;
    next.parents.push_back(base);
  }
  for (const auto& op : request.operations) {
    if (auto st = applyOperation(next.files, op, base); !st) {
      return common::Unexpected<ApiError>(st.error());
    }
    if (op.kind == CommitOperation::Kind::kAddFile) {
      next.files[op.path].last_commit.clear();  // filled with this commit's id
    }
  }
  next.title = request.title;
  next.message = request.message;
  next.author = request.author;
  next.date = std::chrono::system_clock::now();
  auto sha = writeCommit(*repo, std::move(next));
  if (!sha) {
    return common::Unexpected<ApiError>(sha.error());
  }

  Refs refs = repo->refs;
  CommitResult result{*sha, std::nullopt};
  if (request.create_pr) {
    int num = refs.pulls.empty() ? 1 : refs.pulls.rbegin()->first + 1;
    refs.pulls[num] = PullRequest{*sha, request.title, request.author};
    result.pull_request = num;
  } else if (pr_number) {
    refs.pulls[*pr_number].commit = *sha;
  } else {
    refs.branches[branch] = *sha;
  }
  if (auto st = writeRefs(*repo, refs); !st) {
    return common::Unexpected<ApiError>(st.error());
  }
  repo->refs = std::move(refs);
  return result;
}

ApiStatus RepoStore::createBranch(const RepoId& id, const std::string& name,
                                  const std::string& commit) {
  auto repo = state(id);
  if (!repo) {
    return repoNotFound(id.fullName());
  }
  if (!isValidRefName(name)) {
    return badRequest("Invalid branch name: '" + name + "'");
  }
  std::lock_guard lock(repo->mu);
  if (repo->refs.branches.count(name) != 0) {
    return apiError(409, "BranchExists", "Reference already exists: refs/heads/" + name);
  }
  Refs refs = repo->refs;
  refs.branches[name] = commit;
  if (auto st = writeRefs(*repo, refs); !st) {
    return st;
  }
  repo->refs = std::move(refs);
  return {};
}

ApiStatus RepoStore::deleteBranch(const RepoId& id, const std::string& name) {
  auto repo = state(id);
  if (!repo) {
    return repoNotFound(id.fullName());
  }
  std::lock_guard lock(repo->mu);
  if (name == repo->meta.default_branch) {
    return apiError(403, "Forbidden", "Cannot delete the default branch " + name);
  }
  if (repo->refs.branches.count(name) == 0) {
    return revisionNotFound(name);
  }
  Refs refs = repo->refs;
  refs.branches.erase(name);
  if (auto st = writeRefs(*repo, refs); !st) {
    return st;
  }
  repo->refs = std::move(refs);
  return {};
}

ApiStatus RepoStore::createTag(const RepoId& id, const std::string& name,
                               const std::string& commit, const std::string& message) {
  auto repo = state(id);
  if (!repo) {
    return repoNotFound(id.fullName());
  }
  if (!isValidRefName(name)) {
    return badRequest("Invalid tag name: '" + name + "'");
  }
  std::lock_guard lock(repo->mu);
  if (repo->refs.tags.count(name) != 0) {
    return apiError(409, "TagExists", "Reference already exists: refs/tags/" + name);
  }
  Refs refs = repo->refs;
  refs.tags[name] = TagRef{commit, message};
  if (auto st = writeRefs(*repo, refs); !st) {
    return st;
  }
  repo->refs = std::move(refs);
  return {};
}

ApiStatus RepoStore::deleteTag(const RepoId& id, const std::string& name) {
  auto repo = state(id);
  if (!repo) {
    return repoNotFound(id.fullName());
  }
  std::lock_guard lock(repo->mu);
  if (repo->refs.tags.count(name) == 0) {
    return revisionNotFound(name);
  }
  Refs refs = repo->refs;
  refs.tags.erase(name);
  if (auto st = writeRefs(*repo, refs); !st) {
    return st;
  }
  repo->refs = std::move(refs);
  return {};
}

}  // namespace hfm::hubd
