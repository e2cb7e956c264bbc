// SPDX-License-Identifier: Apache-2.0
// Writes to branch views (DESIGN.md §6): staging, the overlay, and the journal that makes them
// survive a crash. Commits are in filesystem_commit.cpp.

#include <fcntl.h>
#include <fnmatch.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "common/hash.h"
#include "common/repo_path.h"
#include "fs/change_record.h"
#include "fs/filesystem.h"
#include "fs/filesystem_internal.h"

namespace hfm::fs {

namespace {

constexpr std::size_t kCopyChunk = 4u << 20;

FsError ioError(const common::Error& e) {
  return FsError{e.kind == common::ErrorKind::kNoSpace ? FsErrorKind::kNoSpace : FsErrorKind::kIo,
                 e.message};
}

// A staged file an earlier write failed on: held back from commits (docs/SEMANTICS.md).
FsError heldBack(const std::string& path, const common::Error& e) {
  FsError out = ioError(e);
  out.message = path + ": held back from commits after a failed write (" + e.message +
                "); truncate, rewrite or remove it";
  return out;
}

}  // namespace

struct Filesystem::WriteTarget {
  std::shared_ptr<View> view;
  std::shared_ptr<const Snapshot> snap;
  std::string path;
};

std::string Filesystem::pathOf(const Node& n) const {
  std::lock_guard lock(table_mu_);
  return n.path;
}

bool Filesystem::ignored(std::string_view path) const {
  for (const auto& pattern : options_.ignore) {
    if (!pattern.empty() && pattern.back() == '/') {
      std::string prefix = pattern;
      if (path.rfind(prefix, 0) == 0 || path.find("/" + prefix) != std::string_view::npos) {
        return true;
      }
      continue;
    }
    std::size_t start = 0;
    while (start <= path.size()) {
      auto end = path.find('/', start);
      std::string part(path.substr(start, end == std::string_view::npos ? end : end - start));
      if (::fnmatch(pattern.c_str(), part.c_str(), 0) == 0) {
        return true;
      }
      if (end == std::string_view::npos) {
        break;
      }
      start = end + 1;
    }
  }
  return false;
}

void Filesystem::noteChange(View& v) {
  std::lock_guard lock(v.mu);
  if (v.writes) {
    v.writes->last_change = std::chrono::steady_clock::now();
  }
}

FsResult<void> Filesystem::ensureWritable(View& v) {
  if (!v.writable) {
    return fsError(FsErrorKind::kReadOnly);
  }
  std::optional<bool> can;
  {
    std::lock_guard lock(v.mu);
    if (v.can_write && *v.can_write && v.writes) {
      return {};
    }
    if (v.not_a_branch) {
      return fsError(FsErrorKind::kReadOnly);
    }
    can = v.can_write;
  }
  if (!can && v.revision.rfind("refs/pr/", 0) != 0) {
    // Only branches take commits: a tag's view stays read-only like a commit's.
    auto refs = hub_->listRefs(v.repo, requests_stop_.token());
    if (!refs) {
      return common::Unexpected<FsError>(fromHubError(refs.error(), v.key));
    }
    if (std::find(refs->branches.begin(), refs->branches.end(), v.revision) ==
        refs->branches.end()) {
      spdlog::info("{}: {} is not a branch; its view is read-only", v.key, v.revision);
      std::lock_guard lock(v.mu);
      v.not_a_branch = true;
      return fsError(FsErrorKind::kReadOnly);
    }
  }
  if (!can) {
    auto asked = hub_->canWrite(v.repo, v.revision, requests_stop_.token());
    if (!asked) {
      return common::Unexpected<FsError>(fromHubError(asked.error(), v.key));
    }
    can = *asked;
    if (!*can) {
      spdlog::warn("{}: the token cannot write to this repository; writes are refused "
                   "(log in with a token that has write access: hf-mount login)",
                   v.key);
    }
  }
  std::lock_guard lock(v.mu);
  v.can_write = can;
  if (!*can) {
    return fsError(FsErrorKind::kAccess);
  }
  if (!v.writes) {
    auto opened = openWriteState(v.repo, v.revision);
    if (!opened) {
      return common::Unexpected<FsError>(opened.error());
    }
    v.writes = std::move(*opened);
    if (v.writes->base_commit.empty() && v.current) {
      v.writes->base_commit = v.current->commit();
    }
  }
  return {};
}

FsResult<Filesystem::WriteTarget> Filesystem::writeTarget(std::uint64_t parent_ino,
                                                          std::string_view name) {
  if (name.size() > 255) {
    return fsError(FsErrorKind::kNameTooLong);
  }
  auto parent = node(parent_ino);
  if (!parent) {
    return fsError(FsErrorKind::kBadHandle);
  }
  if (parent->kind != Node::Kind::kViewDir) {
    return fsError(parent->kind == Node::Kind::kViewFile ? FsErrorKind::kNotDir
                                                         : FsErrorKind::kReadOnly);
  }
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) {
    return fsError(FsErrorKind::kInvalid);
  }
  if (auto ok = ensureWritable(*parent->view); !ok) {
    return common::Unexpected<FsError>(ok.error());
  }
  auto snap = snapshot(*parent->view);
  if (!snap) {
    return common::Unexpected<FsError>(snap.error());
  }
  std::string path = joinPath(pathOf(*parent), name);
  if (!common::isValidRepoPath(path)) {
    return fsError(FsErrorKind::kInvalid, "not a valid path in a repository: " + path);
  }
  return WriteTarget{parent->view, *snap, std::move(path)};
}

FsResult<void> Filesystem::persist(View& v, const std::vector<std::string>& paths) {
  WriteState& ws = *v.writes;
  std::lock_guard order(ws.persist_mu);
  std::vector<cache::JournalWrite> writes;
  std::vector<std::shared_ptr<StagedFile>> named;
  {
    std::lock_guard lock(v.mu);
    writes.push_back({"base", ws.base_commit});
    for (const auto& path : paths) {
      auto it = ws.overlay.changes().find(path);
      // A file a commit carried while it was open has nothing pending until written again: a
      // record would make the next mount after a crash commit the same bytes a second time.
      bool carried = it != ws.overlay.changes().end() && it->second.staged &&
                     it->second.committed_generation != 0 &&
                     !it->second.staged->changedSince(it->second.committed_generation);
      if (it == ws.overlay.changes().end() || carried) {
        writes.push_back({changeKey(path), std::nullopt});
      } else {
        writes.push_back({changeKey(path), keyedChange(path, it->second)});
        if (it->second.staged) {
          named.push_back(it->second.staged);
        }
      }
    }
  }
  if (auto ok = ws.journal->apply(writes); !ok) {
    spdlog::error("{}: could not record pending changes in the journal: {}", v.key,
                  ok.error().message);
    return fsError(ok.error().kind == cache::CacheErrorKind::kFull ? FsErrorKind::kNoSpace
                                                                    : FsErrorKind::kIo);
  }
  for (const auto& staged : named) {
    staged->forgetSuperseded();  // the journal names their current files now
  }
  return {};
}

FsResult<std::shared_ptr<StagedFile>> Filesystem::stageForWrite(Handle& handle, bool copy) {
  // Held throughout: two first writes through one handle stage (and count a writer) once.
  std::lock_guard handle_lock(handle.mu);
  if (handle.staged) {
    return handle.staged;
  }
  Node& n = *handle.node;
  View& v = *n.view;
  std::lock_guard node_lock(n.staged_mu);
  if (n.staged) {
    handle.staged = n.staged;
    handle.staged->addWriter();
    return handle.staged;
  }
  std::string path = pathOf(n);
  std::filesystem::path dir;
  std::string name;
  {
    std::lock_guard lock(v.mu);
    dir = v.writes->staging_dir;
    name = v.writes->nextStagingName();
  }
  auto staged = StagedFile::create(dir, name);
  if (!staged) {
    return common::Unexpected<FsError>(ioError(staged.error()));
  }
  if (copy && n.file.size > 0) {
    // Editing a file in place: its current bytes come first (DESIGN.md §6).
    std::vector<char> buf(std::min<std::uint64_t>(kCopyChunk, n.file.size));
    ReadState state;
    for (std::uint64_t off = 0; off < n.file.size;) {
      auto got = engine_->read(n.file, off, std::span<char>(buf), &state);
      if (!got || *got == 0) {
        (*staged)->discard();
        return common::Unexpected<FsError>(
            got ? FsError{FsErrorKind::kIo, "short read copying " + path}
                : fromHubError(got.error(), "copying " + path + " into staging"));
      }
      if (auto ok = (*staged)->write(off, std::span<const char>(buf.data(), *got)); !ok) {
        (*staged)->discard();
        return common::Unexpected<FsError>(ioError(ok.error()));
      }
      off += *got;
    }
  }
  {
    std::lock_guard lock(v.mu);
    v.writes->overlay.putFile(path, *staged);
  }
  {
    std::lock_guard lock(table_mu_);
    keys_[stagedKey(v.key, staged->get())] = n.ino;  // later lookups find this same inode
  }
  n.staged = *staged;
  handle.staged = *staged;
  handle.staged->addWriter();
  return handle.staged;
}

void Filesystem::restage(Node& n, const std::shared_ptr<StagedFile>& staged) {
  // A file whose content a commit carried changes again (it was open, or is opened again):
  // it is a pending change again, where it is now, unless something else took that path.
  std::string path = pathOf(n);
  View& v = *n.view;
  std::lock_guard lock(v.mu);
  if (v.writes && v.writes->overlay.changes().count(path) == 0) {
    v.writes->overlay.putFile(path, staged);
  }
}

FsResult<Filesystem::Created> Filesystem::create(std::uint64_t parent, std::string_view name,
                                                 std::uint32_t mode, int flags) {
  auto t = writeTarget(parent, name);
  if (!t) {
    return common::Unexpected<FsError>(t.error());
  }
  View& v = *t->view;
  std::shared_ptr<StagedFile> staged;
  {
    std::lock_guard lock(v.mu);
    Resolved r = v.writes->overlay.resolve(t->snap.get(), t->path);
    if (r.exists() && (flags & O_EXCL) != 0) {
      return fsError(FsErrorKind::kExists);
    }
    if (r.isDir()) {
      return fsError(FsErrorKind::kIsDir);
    }
    auto made = StagedFile::create(v.writes->staging_dir, v.writes->nextStagingName());
    if (!made) {
      return common::Unexpected<FsError>(ioError(made.error()));
    }
    staged = *made;
    if (r.change != nullptr && r.change->staged) {
      r.change->staged->discard();
    }
    v.writes->overlay.putFile(t->path, staged);
    v.writes->last_change = std::chrono::steady_clock::now();
  }
  Found f{Resolved::What::kFile, staged, std::nullopt, nullptr};
  auto n = nodeFor(t->view, *t->snap, t->path, f);
  {
    std::lock_guard lock(n->staged_mu);
    n->mode = mode & 07777;
    n->changed = std::chrono::system_clock::now();
  }
  auto handle = std::make_shared<Handle>();
  handle->node = n;
  handle->writer = true;
  handle->staged = staged;
  staged->addWriter();
  Created out;
  out.entry = entryOf(*n);
  std::lock_guard lock(table_mu_);
  out.fh = next_fh_++;
  handles_[out.fh] = std::move(handle);
  return out;
}

FsResult<std::size_t> Filesystem::write(std::uint64_t fh, std::uint64_t offset,
                                        std::span<const char> data) {
  std::shared_ptr<Handle> handle;
  {
    std::lock_guard lock(table_mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) {
      return fsError(FsErrorKind::kBadHandle, "write to unknown handle");
    }
    handle = it->second;
  }
  if (!handle->writer) {
    return fsError(FsErrorKind::kBadHandle);
  }
  auto staged = stageForWrite(*handle, true);
  if (!staged) {
    return common::Unexpected<FsError>(staged.error());
  }
  bool had_failed = (*staged)->writeFailure().has_value();
  auto revived = (*staged)->write(offset, data);
  if (!revived) {
    if ((*staged)->takeRevived()) {
      // Part of it landed in a file a commit had carried: a (held back) pending change again,
      // so that it is journaled and reported, and not swept as a leftover by the next mount.
      restage(*handle->node, *staged);
    }
    if (!had_failed) {
      spdlog::warn("{}: write failed ({}); the file is held back from commits until it is "
                   "truncated, rewritten or removed",
                   pathOf(*handle->node), revived.error().message);
    }
    return common::Unexpected<FsError>(ioError(revived.error()));
  }
  if (*revived) {
    restage(*handle->node, *staged);
  }
  {
    std::lock_guard lock(handle->node->staged_mu);
    handle->node->changed = std::chrono::system_clock::now();
  }
  noteChange(*handle->node->view);
  return data.size();
}

FsResult<Attr> Filesystem::setattr(std::uint64_t ino, const SetAttrRequest& request) {
  auto n = node(ino);
  if (!n) {
    return fsError(FsErrorKind::kBadHandle);
  }
  bool in_view = n->kind == Node::Kind::kViewFile || n->kind == Node::Kind::kViewDir;
  if (!in_view || !n->view->writable) {
    return fsError(FsErrorKind::kReadOnly);
  }
  if (request.size) {
    if (n->kind != Node::Kind::kViewFile) {
      return fsError(FsErrorKind::kIsDir);
    }
    if (auto ok = ensureWritable(*n->view); !ok) {
      return common::Unexpected<FsError>(ok.error());
    }
    std::shared_ptr<Handle> handle;
    if (request.fh) {
      std::lock_guard lock(table_mu_);
      if (auto it = handles_.find(*request.fh); it != handles_.end() && it->second->writer) {
        handle = it->second;
      }
    }
    bool temporary = !handle;
    if (temporary) {
      handle = std::make_shared<Handle>();
      handle->node = n;
      handle->writer = true;
    }
    auto staged = stageForWrite(*handle, *request.size > 0);
    if (!staged) {
      return common::Unexpected<FsError>(staged.error());
    }
    auto revived = (*staged)->truncate(*request.size);
    if (!revived) {
      return common::Unexpected<FsError>(ioError(revived.error()));
    }
    if (*revived) {
      restage(*n, *staged);
    }
    if (temporary) {
      // truncate(2) by name has no close to wait for: durable now.
      (*staged)->removeWriter();
      if (auto ok = (*staged)->sync(); !ok) {
        return common::Unexpected<FsError>(ioError(ok.error()));
      }
      if (auto ok = persist(*n->view, {pathOf(*n)}); !ok) {
        return common::Unexpected<FsError>(ok.error());
      }
    }
    noteChange(*n->view);
  }
  {
    // Modes and times are the local user's business: the Hub stores neither.
    std::lock_guard lock(n->staged_mu);
    if (request.mode) {
      n->mode = *request.mode & 07777;
    }
    if (request.mtime) {
      n->changed = *request.mtime;
    } else if (request.size) {
      n->changed = std::chrono::system_clock::now();
    }
  }
  return attrOf(*n);
}

FsResult<Entry> Filesystem::mkdir(std::uint64_t parent, std::string_view name) {
  auto t = writeTarget(parent, name);
  if (!t) {
    return common::Unexpected<FsError>(t.error());
  }
  View& v = *t->view;
  {
    std::lock_guard lock(v.mu);
    if (v.writes->overlay.resolve(t->snap.get(), t->path).exists()) {
      return fsError(FsErrorKind::kExists);
    }
    v.writes->overlay.makeDir(t->path);
  }
  if (auto ok = persist(v, {t->path}); !ok) {
    return common::Unexpected<FsError>(ok.error());
  }
  Found f{Resolved::What::kDir, nullptr, std::nullopt, nullptr};
  return entryOf(*nodeFor(t->view, *t->snap, t->path, f));
}

FsResult<void> Filesystem::unlink(std::uint64_t parent, std::string_view name) {
  auto t = writeTarget(parent, name);
  if (!t) {
    return common::Unexpected<FsError>(t.error());
  }
  View& v = *t->view;
  {
    std::lock_guard lock(v.mu);
    Resolved r = v.writes->overlay.resolve(t->snap.get(), t->path);
    if (!r.exists()) {
      return fsError(FsErrorKind::kNotFound);
    }
    if (r.isDir()) {
      return fsError(FsErrorKind::kIsDir);
    }
    if (r.change != nullptr && r.change->staged) {
      r.change->staged->discard();  // removed once the last open handle lets go
    }
    v.writes->overlay.remove(t->snap.get(), t->path);
    v.writes->last_change = std::chrono::steady_clock::now();
  }
  return persist(v, {t->path});
}

FsResult<void> Filesystem::rmdir(std::uint64_t parent, std::string_view name) {
  auto t = writeTarget(parent, name);
  if (!t) {
    return common::Unexpected<FsError>(t.error());
  }
  View& v = *t->view;
  std::vector<std::string> touched{t->path};
  {
    std::lock_guard lock(v.mu);
    Overlay& o = v.writes->overlay;
    Resolved r = o.resolve(t->snap.get(), t->path);
    if (!r.exists()) {
      return fsError(FsErrorKind::kNotFound);
    }
    if (!r.isDir()) {
      return fsError(FsErrorKind::kNotDir);
    }
    if (!o.list(t->snap.get(), t->path).empty()) {
      return fsError(FsErrorKind::kNotEmpty);
    }
    // Records below the folder (deletions of what it held) go with it.
    std::string prefix = t->path + "/";
    for (auto it = o.changes().lower_bound(prefix);
         it != o.changes().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      touched.push_back(it->first);
    }
    o.remove(t->snap.get(), t->path);
    v.writes->last_change = std::chrono::steady_clock::now();
  }
  return persist(v, touched);
}

void Filesystem::movePaths(const View& v, const std::string& from, const std::string& to) {
  std::lock_guard lock(table_mu_);
  std::string prefix = from + "/";
  for (auto& [ino, n] : nodes_) {
    if (n->view.get() != &v || (n->path != from && n->path.rfind(prefix, 0) != 0)) {
      continue;
    }
    std::string moved = to + n->path.substr(from.size());
    if (n->kind == Node::Kind::kViewDir) {
      // Folders are keyed by path: the old key must not find the moved folder.
      keys_.erase(n->key);
      n->key = "V:" + v.key + ":d:" + moved;
      keys_[n->key] = ino;
    }
    n->path = std::move(moved);
  }
}

FsResult<void> Filesystem::rename(std::uint64_t parent, std::string_view name,
                                  std::uint64_t new_parent, std::string_view new_name,
                                  unsigned flags) {
  constexpr unsigned kNoReplace = 1;  // RENAME_NOREPLACE
  if ((flags & ~kNoReplace) != 0) {
    return fsError(FsErrorKind::kInvalid);  // RENAME_EXCHANGE, RENAME_WHITEOUT
  }
  auto from = writeTarget(parent, name);
  if (!from) {
    return common::Unexpected<FsError>(from.error());
  }
  auto to = writeTarget(new_parent, new_name);
  if (!to) {
    return common::Unexpected<FsError>(to.error());
  }
  if (from->view != to->view) {
    return fsError(FsErrorKind::kCrossDevice);  // mv falls back to copy and delete
  }
  if (from->path == to->path) {
    return {};
  }
  if (to->path.rfind(from->path + "/", 0) == 0) {
    return fsError(FsErrorKind::kInvalid);
  }
  View& v = *from->view;
  std::set<std::string> touched{from->path, to->path};
  {
    std::lock_guard lock(v.mu);
    Overlay& o = v.writes->overlay;
    const Snapshot* snap = from->snap.get();
    Resolved src = o.resolve(snap, from->path);
    if (!src.exists()) {
      return fsError(FsErrorKind::kNotFound);
    }
    Resolved dst = o.resolve(snap, to->path);
    if (dst.exists()) {
      if ((flags & kNoReplace) != 0) {
        return fsError(FsErrorKind::kExists);
      }
      if (src.isDir() && !dst.isDir()) {
        return fsError(FsErrorKind::kNotDir);
      }
      if (!src.isDir() && dst.isDir()) {
        return fsError(FsErrorKind::kIsDir);
      }
      if (dst.isDir() && !o.list(snap, to->path).empty()) {
        return fsError(FsErrorKind::kNotEmpty);
      }
      if (dst.change != nullptr && dst.change->staged &&
          (src.change == nullptr || src.change->staged != dst.change->staged)) {
        dst.change->staged->discard();
      }
    }
    auto collect = [&](const std::string& p) {
      std::string prefix = p + "/";
      for (auto it = o.changes().lower_bound(prefix);
           it != o.changes().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        touched.insert(it->first);
      }
    };
    collect(from->path);
    collect(to->path);
    o.rename(snap, from->path, to->path);
    collect(from->path);
    collect(to->path);
    v.writes->last_change = std::chrono::steady_clock::now();
  }
  movePaths(v, from->path, to->path);
  return persist(v, std::vector<std::string>(touched.begin(), touched.end()));
}

FsResult<void> Filesystem::flush(std::uint64_t fh) {
  std::shared_ptr<Handle> handle;
  {
    std::lock_guard lock(table_mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) {
      return fsError(FsErrorKind::kBadHandle);
    }
    handle = it->second;
  }
  auto staged = handle->stagedFile();
  if (!handle->writer || !staged) {
    return {};
  }
  auto synced = staged->sync();
  View& v = *handle->node->view;
  std::vector<std::string> paths;
  {
    // The file may have been renamed or removed since it was opened: record where it is now.
    std::lock_guard lock(v.mu);
    for (const auto& [path, change] : v.writes->overlay.changes()) {
      if (change.staged == staged) {
        paths.push_back(path);
      }
    }
  }
  // close() and fsync() report a failed write until the file is truncated or removed. The
  // journal record is still rewritten: one from an earlier close would name the file's hash
  // before the damage, and the next mount would trust it. A failed file's record carries no
  // hash (StagedFile::knownSha256), so the next mount computes it from the bytes as they are.
  auto failed = staged->writeFailure();
  if (!synced || failed) {
    if (!paths.empty()) {
      (void)persist(v, paths);  // best effort: the disk may be full; the error below stands
    }
    if (!synced) {
      return common::Unexpected<FsError>(ioError(synced.error()));
    }
    return common::Unexpected<FsError>(heldBack(pathOf(*handle->node), *failed));
  }
  if (paths.empty()) {
    return {};
  }
  return persist(v, paths);
}

FsResult<void> Filesystem::fsync(std::uint64_t fh) {
  if (auto ok = flush(fh); !ok) {
    return ok;
  }
  std::shared_ptr<Handle> handle;
  {
    std::lock_guard lock(table_mu_);
    auto it = handles_.find(fh);
    if (it == handles_.end()) {
      return fsError(FsErrorKind::kBadHandle);
    }
    handle = it->second;
  }
  View& v = *handle->node->view;
  {
    std::lock_guard lock(v.mu);
    if (!v.writes) {
      return {};  // nothing was ever written in this view
    }
  }
  return waitForCommit(v, handle->stagedFile());
}

FsResult<void> Filesystem::fsyncdir(std::uint64_t ino) {
  auto n = node(ino);
  if (!n || n->kind != Node::Kind::kViewDir) {
    return {};
  }
  {
    std::lock_guard lock(n->view->mu);
    if (!n->view->writes) {
      return {};
    }
  }
  return waitForCommit(*n->view, nullptr);
}

FsResult<void> Filesystem::setxattr(std::uint64_t ino, std::string_view name,
                                    std::string_view value) {
  auto n = node(ino);
  if (!n || n->kind != Node::Kind::kViewDir || name != "user.hf.commit_message") {
    return fsError(n && n->view && n->view->writable ? FsErrorKind::kNotSupported
                                                     : FsErrorKind::kReadOnly);
  }
  if (auto ok = ensureWritable(*n->view); !ok) {
    return ok;
  }
  std::lock_guard lock(n->view->mu);
  n->view->writes->message = std::string(value);
  return {};
}

}  // namespace hfm::fs
