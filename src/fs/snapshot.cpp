// SPDX-License-Identifier: Apache-2.0
#include "fs/snapshot.h"

#include <algorithm>
#include <charconv>

#include "common/repo_path.h"

namespace hfm::fs {

std::string_view baseName(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

namespace {

std::string parentOf(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

}  // namespace

Snapshot::Snapshot(std::string commit, std::chrono::system_clock::time_point date,
                   std::vector<SnapshotFile> files)
    : commit_(std::move(commit)), date_(date) {
  entries_.push_back(SnapshotEntry{"", true, 0, {}, {}, {}, {}});
  by_path_[""] = 0;
  // Folders first (shorter paths first), so a file never shadows a folder it would sit in.
  std::stable_sort(files.begin(), files.end(), [](const SnapshotFile& a, const SnapshotFile& b) {
    return a.is_dir != b.is_dir ? a.is_dir : false;
  });
  auto ensure_dir = [this](const std::string& dir, auto& self) -> std::optional<std::size_t> {
    if (auto it = by_path_.find(dir); it != by_path_.end()) {
      return entries_[it->second].is_dir ? std::optional<std::size_t>(it->second) : std::nullopt;
    }
    auto parent = self(parentOf(dir), self);
    if (!parent) {
      return std::nullopt;
    }
    std::size_t index = entries_.size();
    entries_.push_back(SnapshotEntry{dir, true, 0, {}, {}, {}, {}});
    entries_[*parent].children.push_back(index);
    by_path_[dir] = index;
    return index;
  };
  for (auto& f : files) {
    if (!common::isValidRepoPath(f.path)) {
      ++dropped_;
      continue;
    }
    if (f.is_dir) {
      if (auto dir = ensure_dir(f.path, ensure_dir)) {
        entries_[*dir].oid = f.oid;
      } else {
        ++dropped_;
      }
      continue;
    }
    auto parent = ensure_dir(parentOf(f.path), ensure_dir);
    if (!parent || by_path_.count(f.path) != 0) {
      ++dropped_;
      continue;
    }
    std::size_t index = entries_.size();
    entries_.push_back(SnapshotEntry{f.path, false, f.size, std::move(f.oid),
                                     std::move(f.lfs_sha256), std::move(f.xet_hash), {}});
    entries_[*parent].children.push_back(index);
    by_path_[entries_[index].path] = index;
  }
  for (auto& e : entries_) {
    std::sort(e.children.begin(), e.children.end(), [this](std::size_t a, std::size_t b) {
      return baseName(entries_[a].path) < baseName(entries_[b].path);
    });
  }
}

std::optional<std::size_t> Snapshot::find(std::string_view path) const {
  auto it = by_path_.find(std::string(path));
  return it == by_path_.end() ? std::nullopt : std::optional<std::size_t>(it->second);
}

std::optional<std::size_t> Snapshot::child(std::size_t dir, std::string_view name) const {
  const auto& parent = entries_[dir];
  if (!parent.is_dir) {
    return std::nullopt;
  }
  return find(parent.path.empty() ? std::string(name) : parent.path + "/" + std::string(name));
}

// One line a path: kind, size, oid, lfs, xet, path, separated by tabs (a valid repo path holds
// no control character). The first line is the commit and its date in milliseconds.
std::string Snapshot::serialize() const {
  std::string out = "hfm-snapshot-1\t" + commit_ + "\t" +
                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       date_.time_since_epoch())
                                       .count()) +
                    "\n";
  for (std::size_t i = 1; i < entries_.size(); ++i) {
    const auto& e = entries_[i];
    out += e.is_dir ? "d\t" : "f\t";
    out += std::to_string(e.size) + "\t" + e.oid + "\t" + e.lfs_sha256 + "\t" + e.xet_hash + "\t" +
           e.path + "\n";
  }
  return out;
}

std::optional<Snapshot> Snapshot::parse(std::string_view text) {
  auto next_line = [&text]() -> std::optional<std::string_view> {
    if (text.empty()) {
      return std::nullopt;
    }
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) {
      return std::nullopt;
    }
    auto line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    return line;
  };
  auto split = [](std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    while (true) {
      auto tab = line.find('\t', start);
      fields.push_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
      if (tab == std::string_view::npos) {
        return fields;
      }
      start = tab + 1;
    }
  };
  auto header = next_line();
  if (!header) {
    return std::nullopt;
  }
  auto head = split(*header);
  long long millis = 0;
  if (head.size() != 3 || head[0] != "hfm-snapshot-1" ||
      std::from_chars(head[2].data(), head[2].data() + head[2].size(), millis).ec != std::errc()) {
    return std::nullopt;
  }
  // A date system_clock's nanoseconds cannot hold means a corrupt cache entry (and would overflow).
  constexpr auto kMaxMillis = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::duration::max())
                                  .count();
  if (millis > kMaxMillis || millis < -kMaxMillis) {
    return std::nullopt;
  }
  std::vector<SnapshotFile> files;
  while (auto line = next_line()) {
    auto f = split(*line);
    std::uint64_t size = 0;
    if (f.size() != 6 || (f[0] != "d" && f[0] != "f") ||
        std::from_chars(f[1].data(), f[1].data() + f[1].size(), size).ec != std::errc()) {
      return std::nullopt;
    }
    files.push_back(SnapshotFile{std::string(f[5]), f[0] == "d", size, std::string(f[2]),
                                 std::string(f[3]), std::string(f[4])});
  }
  return Snapshot(std::string(head[1]),
                  std::chrono::system_clock::time_point(std::chrono::milliseconds(millis)),
                  std::move(files));
}

}  // namespace hfm::fs
