// SPDX-License-Identifier: Apache-2.0
#include "fs/overlay.h"

#include <utility>

namespace hfm::fs {

std::string joinPath(std::string_view dir, std::string_view name) {
  if (dir.empty()) {
    return std::string(name);
  }
  std::string out(dir);
  out += '/';
  out += name;
  return out;
}

std::string_view parentPath(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

RemoteContent RemoteContent::of(const Snapshot& snap, const SnapshotEntry& e) {
  return RemoteContent{snap.commit(), e.path, e.size, e.oid, e.lfs_sha256, e.xet_hash};
}

bool Overlay::baseHidden(std::string_view path) const {
  for (std::size_t slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', slash + 1)) {
    auto it = changes_.find(std::string(path.substr(0, slash)));
    if (it != changes_.end() && (it->second.kind == Change::Kind::kFile || it->second.hides_base)) {
      return true;
    }
  }
  return false;
}

bool Overlay::hasChangesBelow(std::string_view dir) const {
  std::string prefix = dir.empty() ? std::string() : std::string(dir) + "/";
  for (auto it = changes_.lower_bound(prefix); it != changes_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) {
      break;
    }
    if (it->second.kind != Change::Kind::kDeleted && !it->first.empty()) {
      return true;
    }
  }
  return false;
}

Resolved Overlay::resolve(const Snapshot* base, std::string_view path) const {
  if (path.empty()) {
    return Resolved{Resolved::What::kDir, nullptr, base ? &base->root() : nullptr};
  }
  if (auto it = changes_.find(std::string(path)); it != changes_.end()) {
    switch (it->second.kind) {
      case Change::Kind::kFile:
        return Resolved{Resolved::What::kFile, &it->second, nullptr};
      case Change::Kind::kDir:
        return Resolved{Resolved::What::kDir, &it->second, nullptr};
      case Change::Kind::kDeleted:
        return hasChangesBelow(path) ? Resolved{Resolved::What::kDir, nullptr, nullptr}
                                     : Resolved{};
    }
  }
  if (base != nullptr && !baseHidden(path)) {
    if (auto index = base->find(path)) {
      const SnapshotEntry& e = base->entries()[*index];
      return Resolved{e.is_dir ? Resolved::What::kBaseDir : Resolved::What::kBaseFile, nullptr, &e};
    }
  }
  if (hasChangesBelow(path)) {
    return Resolved{Resolved::What::kDir, nullptr, nullptr};
  }
  return Resolved{};
}

std::map<std::string, bool> Overlay::list(const Snapshot* base, std::string_view dir) const {
  std::map<std::string, bool> names;
  auto self = changes_.find(std::string(dir));
  bool base_shows = base != nullptr && !baseHidden(dir) &&
                    (self == changes_.end() || !self->second.hides_base);
  if (base_shows) {
    if (auto index = base->find(dir); index && base->entries()[*index].is_dir) {
      for (std::size_t child : base->entries()[*index].children) {
        names.emplace(std::string(baseName(base->entries()[child].path)), false);
      }
    }
  }
  std::string prefix = dir.empty() ? std::string() : std::string(dir) + "/";
  for (auto it = changes_.lower_bound(prefix); it != changes_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) {
      break;
    }
    std::string_view rest = std::string_view(it->first).substr(prefix.size());
    if (rest.empty()) {
      continue;
    }
    names.emplace(std::string(rest.substr(0, rest.find('/'))), false);
  }
  for (auto it = names.begin(); it != names.end();) {
    Resolved r = resolve(base, joinPath(dir, it->first));
    if (!r.exists()) {
      it = names.erase(it);
    } else {
      it->second = r.isDir();
      ++it;
    }
  }
  return names;
}

void Overlay::walk(const Snapshot* base, std::string_view dir, std::vector<std::string>* files,
                   std::vector<std::string>* folders) const {
  std::vector<std::string> pending{std::string(dir)};
  while (!pending.empty()) {
    std::string d = std::move(pending.back());
    pending.pop_back();
    for (const auto& [name, is_dir] : list(base, d)) {
      std::string path = joinPath(d, name);
      if (is_dir) {
        if (folders != nullptr) {
          folders->push_back(path);
        }
        pending.push_back(std::move(path));
      } else if (files != nullptr) {
        files->push_back(std::move(path));
      }
    }
  }
}

std::vector<std::string> Overlay::filesUnder(const Snapshot* base, std::string_view dir) const {
  std::vector<std::string> out;
  walk(base, dir, &out, nullptr);
  return out;
}

std::vector<std::string> Overlay::foldersUnder(const Snapshot* base, std::string_view dir) const {
  std::vector<std::string> out;
  walk(base, dir, nullptr, &out);
  return out;
}

namespace {

void eraseBelow(std::map<std::string, Change>& changes, const std::string& path) {
  std::string prefix = path + "/";
  auto it = changes.lower_bound(prefix);
  while (it != changes.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
    it = changes.erase(it);
  }
}

}  // namespace

void Overlay::putFile(const std::string& path, std::shared_ptr<StagedFile> staged) {
  Change c;
  c.staged = std::move(staged);
  putFileChange(path, std::move(c));
}

void Overlay::putRemote(const std::string& path, RemoteContent remote) {
  Change c;
  c.remote = std::move(remote);
  putFileChange(path, std::move(c));
}

void Overlay::putFileChange(const std::string& path, Change c) {
  eraseBelow(changes_, path);
  c.kind = Change::Kind::kFile;
  c.mtime = std::chrono::system_clock::now();
  changes_[path] = std::move(c);
}

void Overlay::makeDir(const std::string& path) {
  Change c;
  c.kind = Change::Kind::kDir;
  c.mtime = std::chrono::system_clock::now();
  auto it = changes_.find(path);
  // A folder made where something was deleted must not bring the old contents back.
  c.hides_base = it != changes_.end() && it->second.hides_base;
  changes_[path] = std::move(c);
}

void Overlay::remove(const Snapshot* base, const std::string& path) {
  eraseBelow(changes_, path);
  bool base_has = base != nullptr && !baseHidden(path) && base->find(path).has_value();
  if (base_has) {
    Change c;
    c.kind = Change::Kind::kDeleted;
    c.hides_base = true;
    c.mtime = std::chrono::system_clock::now();
    changes_[path] = std::move(c);
  } else {
    changes_.erase(path);
  }
}

void Overlay::rename(const Snapshot* base, const std::string& from, const std::string& to) {
  Resolved source = resolve(base, from);
  // What lands at the destination, computed from the state before anything moves.
  std::vector<std::pair<std::string, Change>> moved;
  auto fileChange = [&](const Resolved& r) {
    if (r.change != nullptr) {
      return *r.change;
    }
    Change c;
    c.kind = Change::Kind::kFile;
    c.remote = RemoteContent::of(*base, *r.base);
    c.mtime = std::chrono::system_clock::now();
    return c;
  };
  if (!source.isDir()) {
    moved.emplace_back(to, fileChange(source));
  } else {
    for (const auto& path : filesUnder(base, from)) {
      moved.emplace_back(to + path.substr(from.size()), fileChange(resolve(base, path)));
    }
    // Every folder moves as a folder of its own, so one emptied later still exists until rmdir.
    for (const auto& path : foldersUnder(base, from)) {
      Change c;
      c.kind = Change::Kind::kDir;
      c.mtime = std::chrono::system_clock::now();
      moved.emplace_back(to + path.substr(from.size()), std::move(c));
    }
  }
  bool target_in_base = base != nullptr && !baseHidden(to) && base->find(to).has_value();
  remove(base, from);
  eraseBelow(changes_, to);
  changes_.erase(to);
  if (source.isDir()) {
    Change dir;
    dir.kind = Change::Kind::kDir;
    dir.hides_base = target_in_base;  // an empty folder replaced by the moved one
    dir.mtime = std::chrono::system_clock::now();
    changes_[to] = std::move(dir);
  }
  for (auto& [path, change] : moved) {
    changes_[path] = std::move(change);
  }
}

}  // namespace hfm::fs
