// SPDX-License-Identifier: Apache-2.0
#include "fs/filesystem.h"
#include "fs/filesystem_internal.h"

#include <fcntl.h>

#include <algorithm>

#include "common/hex.h"
#include "common/url.h"

namespace hfm::fs {

using common::RepoId;
using common::RepoType;

namespace {

constexpr std::uint64_t kTypeInos[] = {2, 3, 4};  // models, datasets, spaces
constexpr RepoType kTypes[] = {RepoType::kModel, RepoType::kDataset, RepoType::kSpace};

std::string viewKey(const RepoId& repo, const std::string& revision) {
  return repo.key() + "@" + revision;
}

// "<name>@<rev>" with '/' in the revision written %2F.
std::string viewName(const std::string& name, const std::string& revision) {
  std::string rev;
  for (char c : revision) {
    rev += c == '/' ? std::string("%2F") : std::string(1, c);
  }
  return name + "@" + rev;
}

}  // namespace

Filesystem::Filesystem(hub::HubClient* hub, cache::MetadataStore* metadata,
                       cache::BlockStore* blocks, ReadEngine* engine, FsOptions options)
    : hub_(hub),
      metadata_(metadata),
      blocks_(blocks),
      uploader_(hub, blocks, options.xet_xorb_bytes),
      engine_(engine),
      options_(std::move(options)),
      mount_time_(std::chrono::system_clock::now()) {
  auto root = std::make_shared<Node>();
  root->ino = kRootIno;
  root->pinned = true;
  root->mtime = mount_time_;
  if (options_.single_repo) {
    root->kind = Node::Kind::kViewDir;
    auto v = std::make_shared<View>();
    v->repo = *options_.single_repo;
    v->revision = options_.single_revision;
    v->key = viewKey(v->repo, v->revision);
    v->immutable = common::isHex(v->revision, 40);
    v->writable = !options_.read_only && !v->immutable;
    views_[v->key] = v;
    root->view = v;
  } else {
    for (std::size_t i = 0; i < 3; ++i) {
      auto dir = std::make_shared<Node>();
      dir->kind = Node::Kind::kTypeDir;
      dir->ino = kTypeInos[i];
      dir->type = kTypes[i];
      dir->key = "T:" + std::string(common::repoTypePlural(kTypes[i]));
      dir->pinned = true;
      dir->mtime = mount_time_;
      nodes_[dir->ino] = dir;
      keys_[dir->key] = dir->ino;
    }
  }
  nodes_[kRootIno] = root;
  if (!options_.read_only) {
    committer_ = std::jthread([this](std::stop_token stop) { committerLoop(stop); });
  }
}

Filesystem::~Filesystem() = default;

std::shared_ptr<Filesystem::Node> Filesystem::node(std::uint64_t ino) const {
  std::lock_guard lock(table_mu_);
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? nullptr : it->second;
}

std::shared_ptr<Filesystem::Node> Filesystem::intern(
    const std::string& key, const std::function<std::shared_ptr<Node>()>& make) {
  std::lock_guard lock(table_mu_);
  if (auto it = keys_.find(key); it != keys_.end()) {
    if (auto found = nodes_.find(it->second); found != nodes_.end()) {
      ++found->second->lookups;
      return found->second;
    }
    keys_.erase(it);  // an alias of a forgotten node
  }
  auto n = make();
  n->ino = next_ino_++;
  n->key = key;
  n->lookups = 1;
  nodes_[n->ino] = n;
  keys_[key] = n->ino;
  return n;
}

void Filesystem::forget(std::uint64_t ino, std::uint64_t count) {
  std::lock_guard lock(table_mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end() || it->second->pinned) {
    return;
  }
  auto& n = *it->second;
  n.lookups = count >= n.lookups ? 0 : n.lookups - count;
  if (n.lookups == 0) {
    keys_.erase(n.key);
    nodes_.erase(it);
  }
}

FsResult<std::shared_ptr<Filesystem::View>> Filesystem::view(const RepoId& repo,
                                                             const std::string& revision) {
  std::string key = viewKey(repo, revision);
  std::shared_ptr<View> v;
  {
    std::lock_guard lock(table_mu_);
    auto& slot = views_[key];
    if (!slot) {
      slot = std::make_shared<View>();
      slot->key = key;
      slot->repo = repo;
      slot->revision = revision;
      slot->immutable = common::isHex(revision, 40);
      slot->writable = !options_.read_only && !slot->immutable;
    }
    v = slot;
  }
  auto snap = snapshot(*v);
  if (!snap) {
    std::lock_guard lock(table_mu_);
    if (auto it = views_.find(key); it != views_.end() && it->second == v) {
      std::lock_guard view_lock(v->mu);
      if (!v->current) {
        views_.erase(it);  // never resolved: do not keep a view of nothing
      }
    }
    return common::Unexpected<FsError>(snap.error());
  }
  return v;
}

namespace {

std::string snapshotKey(const RepoId& repo, const std::string& commit) {
  return "snapshot/1/" + repo.key() + "@" + commit;
}

}  // namespace

std::shared_ptr<const Snapshot> Filesystem::cachedSnapshot(const RepoId& repo,
                                                           const std::string& commit) const {
  if (metadata_ == nullptr) {
    return nullptr;
  }
  if (auto text = metadata_->get(snapshotKey(repo, commit))) {
    if (auto parsed = Snapshot::parse(*text); parsed && parsed->commit() == commit) {
      return std::make_shared<const Snapshot>(std::move(*parsed));
    }
  }
  return nullptr;
}

FsResult<std::shared_ptr<const Snapshot>> Filesystem::loadSnapshot(
    const RepoId& repo, const std::string& commit,
    std::optional<std::chrono::system_clock::time_point> date) {
  std::string key = snapshotKey(repo, commit);
  if (auto cached = cachedSnapshot(repo, commit)) {
    return cached;
  }
  if (!date) {
    auto info = hub_->revision(repo, commit, requests_stop_.token());
    if (!info) {
      return common::Unexpected<FsError>(fromHubError(info.error(), repo.key() + "@" + commit));
    }
    date = info->last_modified;
  }
  auto listing = hub_->listTree(repo, commit, "", true, requests_stop_.token());
  if (!listing) {
    return common::Unexpected<FsError>(
        fromHubError(listing.error(), "listing " + repo.key() + "@" + commit));
  }
  std::vector<SnapshotFile> files;
  files.reserve(listing->size());
  for (auto& e : *listing) {
    files.push_back(SnapshotFile{std::move(e.path), e.is_dir, e.size, std::move(e.oid),
                                 e.lfs_sha256.value_or(""), e.xet_hash.value_or("")});
  }
  auto snap = std::make_shared<const Snapshot>(commit, *date, std::move(files));
  if (metadata_ != nullptr) {
    (void)metadata_->put(key, snap->serialize());  // only a later listing saved if it fails
  }
  return snap;
}

FsResult<std::shared_ptr<const Snapshot>> Filesystem::snapshot(View& v) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(v.mu);
    if (v.current && (v.immutable || now - v.checked < options_.revision_ttl)) {
      return v.current;
    }
  }
  std::unique_lock refresh(v.refresh_mu, std::defer_lock);
  {
    std::lock_guard lock(v.mu);
    if (v.current) {
      // Somebody else is refreshing: keep serving the snapshot we have.
      if (!refresh.try_lock()) {
        return v.current;
      }
    }
  }
  if (!refresh.owns_lock()) {
    refresh.lock();
    std::lock_guard lock(v.mu);
    if (v.current) {
      return v.current;  // the first load happened while this thread waited
    }
  }
  std::uint64_t epoch = 0;
  {
    std::lock_guard lock(v.mu);
    epoch = v.epoch;
  }
  std::shared_ptr<const Snapshot> next;
  if (v.immutable) {
    auto loaded = loadSnapshot(v.repo, v.revision, std::nullopt);
    if (!loaded) {
      return loaded;
    }
    next = *loaded;
  } else {
    auto info = hub_->revision(v.repo, v.revision, requests_stop_.token());
    if (!info) {
      std::lock_guard lock(v.mu);
      if (v.current) {
        v.checked = now;  // serve the last known tree rather than fail
        return v.current;
      }
      return common::Unexpected<FsError>(fromHubError(info.error(), v.key));
    }
    {
      std::lock_guard lock(v.mu);
      if (v.current && v.current->commit() == info->commit) {
        v.checked = now;
        return v.current;
      }
    }
    auto loaded = loadSnapshot(v.repo, info->commit, info->last_modified);
    if (!loaded) {
      std::lock_guard lock(v.mu);
      if (v.current) {
        return v.current;
      }
      return loaded;
    }
    next = *loaded;
  }
  std::lock_guard lock(v.mu);
  if (v.current && v.epoch != epoch) {
    return v.current;  // our own commit was installed meanwhile: what we resolved is older
  }
  v.current = next;
  v.checked = now;
  return next;
}

Attr Filesystem::attrOf(const Node& n) const {
  Attr a;
  a.ino = n.ino;
  std::uint32_t mode = 0;
  std::shared_ptr<StagedFile> staged;
  std::optional<std::chrono::system_clock::time_point> changed;
  {
    std::lock_guard lock(n.staged_mu);
    a.mtime = n.mtime;
    mode = n.mode;
    staged = n.staged;
    changed = n.changed;
  }
  a.timeout = options_.revision_ttl;
  switch (n.kind) {
    case Node::Kind::kRoot:
    case Node::Kind::kTypeDir:
    case Node::Kind::kNamespaceDir:
      a.type = NodeType::kDirectory;
      a.nlink = 2;
      break;
    case Node::Kind::kRepoLink:
      a.type = NodeType::kSymlink;
      a.perm = 0777;
      a.size = viewName(n.repo_name, "main").size();
      break;
    case Node::Kind::kViewDir:
      a.type = NodeType::kDirectory;
      a.nlink = 2;
      if (n.view && n.view->immutable) {
        a.timeout = options_.immutable_ttl;
      }
      if (n.view && n.view->writable) {
        a.perm = 0755;
      }
      break;
    case Node::Kind::kViewFile: {
      a.type = NodeType::kFile;
      a.perm = 0444;
      a.size = n.file.size;
      // The inode stands for fixed content: its attributes never change.
      a.timeout = options_.immutable_ttl;
      if (n.view && n.view->writable) {
        // Writable: the same inode gains staged content at its first write.
        a.perm = 0644;
        a.timeout = std::chrono::seconds(1);
        if (mode != 0) {
          a.perm = mode & 07777;
        }
        if (staged) {
          a.size = staged->size();
        }
        if (changed) {
          a.mtime = *changed;
        }
      }
      break;
    }
  }
  return a;
}

Entry Filesystem::entryOf(Node& n) {
  Entry e;
  e.attr = attrOf(n);
  e.entry_timeout = (n.view && n.view->immutable) ? options_.immutable_ttl : options_.revision_ttl;
  return e;
}

FsResult<Entry> Filesystem::lookup(std::uint64_t parent_ino, std::string_view name) {
  if (name.size() > 255) {
    return fsError(FsErrorKind::kNameTooLong);
  }
  auto parent = node(parent_ino);
  if (!parent) {
    return fsError(FsErrorKind::kBadHandle, "lookup in unknown inode " + std::to_string(parent_ino));
  }
  switch (parent->kind) {
    case Node::Kind::kRoot: {
      for (std::size_t i = 0; i < 3; ++i) {
        if (name == common::repoTypePlural(kTypes[i])) {
          auto n = node(kTypeInos[i]);
          return entryOf(*n);
        }
      }
      return fsError(FsErrorKind::kNotFound);
    }
    case Node::Kind::kTypeDir: {
      if (!common::isValidRepoNamePart(name)) {
        return fsError(FsErrorKind::kNotFound);
      }
      std::string ns(name);
      RepoType type = parent->type;
      std::string key = "N:" + std::string(common::repoTypePlural(type)) + "/" + ns;
      auto n = intern(key, [&] {
        auto made = std::make_shared<Node>();
        made->kind = Node::Kind::kNamespaceDir;
        made->type = type;
        made->ns = ns;
        made->mtime = mount_time_;
        return made;
      });
      {
        std::lock_guard lock(table_mu_);
        visited_namespaces_.insert(std::string(common::repoTypePlural(type)) + "/" + ns);
      }
      return entryOf(*n);
    }
    case Node::Kind::kNamespaceDir:
      return lookupInNamespace(parent, name);
    case Node::Kind::kViewDir:
      return lookupInView(parent, name);
    default:
      return fsError(FsErrorKind::kNotDir);
  }
}

FsResult<Entry> Filesystem::lookupInNamespace(const std::shared_ptr<Node>& parent,
                                              std::string_view name) {
  auto at = name.find('@');
  std::string repo_name(name.substr(0, at));
  if (!common::isValidRepoNamePart(repo_name)) {
    return fsError(FsErrorKind::kNotFound);
  }
  RepoId repo{parent->type, parent->ns, repo_name};
  if (at == std::string_view::npos) {
    // The bare name is a symlink to the default branch; it exists when the repository does.
    bool known = false;
    {
      std::lock_guard lock(table_mu_);
      known = known_repos_.count(repo.key()) != 0;
    }
    if (!known) {
      auto v = view(repo, "main");
      if (!v) {
        return common::Unexpected<FsError>(v.error());
      }
    }
    auto n = intern("L:" + repo.key(), [&] {
      auto made = std::make_shared<Node>();
      made->kind = Node::Kind::kRepoLink;
      made->type = repo.type;
      made->ns = repo.ns;
      made->repo_name = repo.name;
      made->mtime = mount_time_;
      return made;
    });
    return entryOf(*n);
  }
  auto revision = common::percentDecode(name.substr(at + 1));
  if (!revision || revision->empty()) {
    return fsError(FsErrorKind::kNotFound);
  }
  auto v = view(repo, *revision);
  if (!v) {
    return common::Unexpected<FsError>(v.error());
  }
  auto snap = snapshot(**v);
  if (!snap) {
    return common::Unexpected<FsError>(snap.error());
  }
  {
    std::lock_guard lock(table_mu_);
    known_repos_.insert(repo.key());
  }
  auto n = intern("V:" + (*v)->key + ":d:", [&] {
    auto made = std::make_shared<Node>();
    made->kind = Node::Kind::kViewDir;
    made->view = *v;
    return made;
  });
  n->setMtime((*snap)->date());
  return entryOf(*n);
}

Found Filesystem::find(View& v, const Snapshot& snap, const std::string& path) {
  std::lock_guard lock(v.mu);
  if (v.writes) {
    Resolved r = v.writes->overlay.resolve(&snap, path);
    Found f{r.what, nullptr, std::nullopt, r.base};
    if (r.change != nullptr) {
      f.staged = r.change->staged;
      f.remote = r.change->remote;
    }
    return f;
  }
  auto index = snap.find(path);
  if (!index) {
    return Found{};
  }
  const SnapshotEntry& e = snap.entries()[*index];
  return Found{e.is_dir ? Resolved::What::kBaseDir : Resolved::What::kBaseFile, nullptr,
               std::nullopt, &e};
}

std::shared_ptr<Filesystem::Node> Filesystem::nodeFor(const std::shared_ptr<View>& v,
                                                      const Snapshot& snap,
                                                      const std::string& path, const Found& f) {
  if (f.isDir()) {
    auto n = intern("V:" + v->key + ":d:" + path, [&] {
      auto made = std::make_shared<Node>();
      made->kind = Node::Kind::kViewDir;
      made->view = v;
      made->path = path;
      return made;
    });
    n->setMtime(snap.date());
    return n;
  }
  if (f.staged) {
    return intern(stagedKey(v->key, f.staged.get()), [&] {
      auto made = std::make_shared<Node>();
      made->kind = Node::Kind::kViewFile;
      made->view = v;
      made->path = path;
      made->staged = f.staged;
      made->mtime = std::chrono::system_clock::now();
      return made;
    });
  }
  RemoteContent content = f.remote ? *f.remote : RemoteContent::of(snap, *f.base);
  // A file's inode is tied to its content: new content at the same path is a new inode, so the
  // kernel never mixes pages of two versions (DESIGN.md §4).
  return intern("V:" + v->key + ":f:" + path + ":" + content.contentId(), [&] {
    auto made = std::make_shared<Node>();
    made->kind = Node::Kind::kViewFile;
    made->view = v;
    made->path = path;
    made->file = FileRef{v->repo,           content.commit, content.path, content.contentId(),
                         content.size,      content.xet_hash};
    made->oid = content.oid;
    made->lfs_sha256 = content.lfs_sha256;
    made->xet_hash = content.xet_hash;
    made->mtime = snap.date();
    return made;
  });
}

FsResult<Entry> Filesystem::lookupInView(const std::shared_ptr<Node>& parent, std::string_view name) {
  auto snap = snapshot(*parent->view);
  if (!snap) {
    return common::Unexpected<FsError>(snap.error());
  }
  std::string path = joinPath(pathOf(*parent), name);
  Found f = find(*parent->view, **snap, path);
  if (!f.exists()) {
    return fsError(FsErrorKind::kNotFound);
  }
  return entryOf(*nodeFor(parent->view, **snap, path, f));
}

FsResult<Attr> Filesystem::getattr(std::uint64_t ino) {
  auto n = node(ino);
  if (!n) {
    return fsError(FsErrorKind::kBadHandle, "getattr of unknown inode " + std::to_string(ino));
  }
  if (n->kind == Node::Kind::kViewDir) {
    auto snap = snapshot(*n->view);
    if (!snap) {
      return common::Unexpected<FsError>(snap.error());
    }
    n->setMtime((*snap)->date());
  }
  return attrOf(*n);
}

FsResult<std::string> Filesystem::readlink(std::uint64_t ino) {
  auto n = node(ino);
  if (!n || n->kind != Node::Kind::kRepoLink) {
    return fsError(FsErrorKind::kInvalid);
  }
  return viewName(n->repo_name, "main");
}

FsResult<std::vector<DirEntry>> Filesystem::readdir(std::uint64_t ino) {
  auto n = node(ino);
  if (!n) {
    return fsError(FsErrorKind::kBadHandle, "readdir of unknown inode " + std::to_string(ino));
  }
  std::vector<DirEntry> out;
  switch (n->kind) {
    case Node::Kind::kRoot:
      for (RepoType t : kTypes) {
        out.push_back(DirEntry{std::string(common::repoTypePlural(t)), NodeType::kDirectory});
      }
      return out;
    case Node::Kind::kTypeDir: {
      std::string prefix = std::string(common::repoTypePlural(n->type)) + "/";
      std::lock_guard lock(table_mu_);
      for (const auto& ns : visited_namespaces_) {
        if (ns.rfind(prefix, 0) == 0) {
          out.push_back(DirEntry{ns.substr(prefix.size()), NodeType::kDirectory});
        }
      }
      return out;
    }
    case Node::Kind::kNamespaceDir: {
      auto repos = hub_->listRepos(n->type, n->ns, options_.max_namespace_entries,
                                   requests_stop_.token());
      if (!repos) {
        return common::Unexpected<FsError>(
            fromHubError(repos.error(), "listing namespace " + n->ns));
      }
      std::set<std::string> names;
      std::lock_guard lock(table_mu_);
      for (const auto& r : *repos) {
        if (r.id.ns == n->ns && common::isValidRepoNamePart(r.id.name)) {
          known_repos_.insert(r.id.key());
          names.insert(r.id.name);
        }
      }
      for (const auto& name : names) {
        out.push_back(DirEntry{name, NodeType::kSymlink});
      }
      // Views opened in this namespace are listed too, so `ls` shows what `cd` reached.
      for (const auto& [key, v] : views_) {
        if (v->repo.type == n->type && v->repo.ns == n->ns) {
          out.push_back(DirEntry{viewName(v->repo.name, v->revision), NodeType::kDirectory});
        }
      }
      return out;
    }
    case Node::Kind::kViewDir: {
      auto snap = snapshot(*n->view);
      if (!snap) {
        return common::Unexpected<FsError>(snap.error());
      }
      std::string path = pathOf(*n);
      {
        std::lock_guard lock(n->view->mu);
        if (n->view->writes) {
          if (!n->view->writes->overlay.resolve(snap->get(), path).isDir()) {
            return fsError(FsErrorKind::kNotFound);
          }
          for (const auto& [name, is_dir] : n->view->writes->overlay.list(snap->get(), path)) {
            out.push_back(DirEntry{name, is_dir ? NodeType::kDirectory : NodeType::kFile});
          }
          return out;
        }
      }
      auto dir = (*snap)->find(path);
      if (!dir) {
        return fsError(FsErrorKind::kNotFound);
      }
      for (std::size_t child : (*snap)->entries()[*dir].children) {
        const auto& e = (*snap)->entries()[child];
        out.push_back(DirEntry{std::string(baseName(e.path)),
                               e.is_dir ? NodeType::kDirectory : NodeType::kFile});
      }
      return out;
    }
    default:
      return fsError(FsErrorKind::kNotDir);
  }
}

FsResult<std::uint64_t> Filesystem::open(std::uint64_t ino, int flags) {
  auto n = node(ino);
  if (!n) {
    return fsError(FsErrorKind::kBadHandle, "open of unknown inode " + std::to_string(ino));
  }
  if (n->kind != Node::Kind::kViewFile) {
    return fsError(FsErrorKind::kIsDir);
  }
  auto handle = std::make_shared<Handle>();
  handle->node = n;
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0) {
    if (!n->view->writable) {
      return fsError(FsErrorKind::kReadOnly);
    }
    if (auto ok = ensureWritable(*n->view); !ok) {
      return common::Unexpected<FsError>(ok.error());
    }
    handle->writer = true;
    if ((flags & O_TRUNC) != 0) {
      // Nothing of the old content is needed: stage an empty file at once.
      auto staged = stageForWrite(*handle, false);
      if (!staged) {
        return common::Unexpected<FsError>(staged.error());
      }
      auto revived = (*staged)->truncate(0);
      if (!revived) {
        return fsError(FsErrorKind::kIo, revived.error().message);
      }
      if (*revived) {
        restage(*n, *staged);
      }
    } else if (auto staged = n->stagedFile()) {
      handle->staged = staged;
      staged->addWriter();
    }
  }
  std::lock_guard lock(table_mu_);
  std::uint64_t fh = next_fh_++;
  handles_[fh] = std::move(handle);
  return fh;
}

FsResult<std::size_t> Filesystem::read(std::uint64_t fh, std::uint64_t offset, std::span<char> out,
                                       std::vector<ReadPiece>* pieces) {
  std::shared_ptr<Handle> handle;
  {
    std::lock_guard lock(table_mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) {
      return fsError(FsErrorKind::kBadHandle, "read of unknown handle");
    }
    handle = it->second;
  }
  if (auto staged = handle->node->stagedFile()) {
    auto got = staged->read(offset, out);
    if (!got) {
      return fsError(FsErrorKind::kIo, got.error().message);
    }
    if (pieces != nullptr) {
      pieces->assign(1, ReadPiece{out.data(), *got, nullptr});
    }
    return *got;
  }
  const FileRef& file = handle->node->file;
  auto got = engine_->read(file, offset, out, &handle->state, pieces);
  if (!got) {
    return common::Unexpected<FsError>(
        fromHubError(got.error(), "reading " + file.repo.key() + "@" + file.commit + "/" + file.path));
  }
  return *got;
}

void Filesystem::release(std::uint64_t fh) {
  std::shared_ptr<Handle> handle;
  {
    std::lock_guard lock(table_mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) {
      return;
    }
    handle = std::move(it->second);
    handles_.erase(it);
  }
  if (auto staged = handle->stagedFile(); handle->writer && staged) {
    staged->removeWriter();
    noteChange(*handle->node->view);  // a closed file may now be committed
  }
}

FsResult<std::string> Filesystem::getxattr(std::uint64_t ino, std::string_view name) {
  // Tools ask for security.* and system.* names on every file (`ls -l` asks twice): those are
  // answered at once, without touching anything.
  if (name.rfind("user.hf.", 0) != 0) {
    return fsError(FsErrorKind::kNoData);
  }
  auto n = node(ino);
  if (!n) {
    return fsError(FsErrorKind::kBadHandle);
  }
  if (n->kind != Node::Kind::kViewFile && n->kind != Node::Kind::kViewDir) {
    return fsError(FsErrorKind::kNoData);
  }
  if (name == "user.hf.repo") {
    return n->view->repo.key();
  }
  if (name == "user.hf.revision") {
    return n->view->revision;
  }
  if (n->kind == Node::Kind::kViewDir) {
    if (name == "user.hf.commit") {
      auto snap = snapshot(*n->view);
      if (!snap) {
        return common::Unexpected<FsError>(snap.error());
      }
      return (*snap)->commit();
    }
    return fsError(FsErrorKind::kNoData);
  }
  if (name == "user.hf.commit") {
    return n->file.commit;
  }
  if (name == "user.hf.oid") {
    return n->oid;
  }
  if (name == "user.hf.lfs.sha256" && !n->lfs_sha256.empty()) {
    return n->lfs_sha256;
  }
  if (name == "user.hf.xet.hash" && !n->xet_hash.empty()) {
    return n->xet_hash;
  }
  return fsError(FsErrorKind::kNoData);
}

FsResult<std::vector<std::string>> Filesystem::listxattr(std::uint64_t ino) {
  auto n = node(ino);
  if (!n) {
    return fsError(FsErrorKind::kBadHandle);
  }
  std::vector<std::string> names;
  if (n->kind == Node::Kind::kViewDir || n->kind == Node::Kind::kViewFile) {
    names = {"user.hf.repo", "user.hf.revision", "user.hf.commit"};
  }
  if (n->kind == Node::Kind::kViewFile) {
    names.push_back("user.hf.oid");
    if (!n->lfs_sha256.empty()) {
      names.emplace_back("user.hf.lfs.sha256");
    }
    if (!n->xet_hash.empty()) {
      names.emplace_back("user.hf.xet.hash");
    }
  }
  return names;
}

void Filesystem::cancelRequests() {
  requests_stop_.cancel();
  engine_->cancelFetches();
}

FsStat Filesystem::statfs() const {
  FsStat s;
  s.block_size = engine_->blockSize();
  if (blocks_ != nullptr) {
    auto st = blocks_->stats();
    s.blocks = st.budget_bytes / s.block_size;
    s.blocks_free = st.budget_bytes > st.used_bytes ? (st.budget_bytes - st.used_bytes) / s.block_size : 0;
  }
  std::lock_guard lock(table_mu_);
  s.files = nodes_.size();
  return s;
}

bool Filesystem::singleRepoIsCached() {
  auto root = node(kRootIno);
  if (!root || !root->view || !root->view->immutable) {
    return false;
  }
  auto snap = cachedSnapshot(root->view->repo, root->view->revision);
  if (!snap) {
    return false;
  }
  std::lock_guard lock(root->view->mu);
  root->view->current = std::move(snap);
  root->view->checked = std::chrono::steady_clock::now();
  return true;
}

FsResult<std::string> Filesystem::checkSingleRepo() {
  auto root = node(kRootIno);
  if (!root || !root->view) {
    return std::string();
  }
  auto snap = snapshot(*root->view);
  if (!snap) {
    return common::Unexpected<FsError>(snap.error());
  }
  return (*snap)->commit();
}

}  // namespace hfm::fs
