// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/tree_index.h"

#include <algorithm>

#include "common/hash.h"
#include "common/hex.h"

namespace hfm::hubd {
namespace {

std::string parentOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string_view baseName(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

TreeIndex::TreeIndex(std::shared_ptr<const Commit> commit) : commit_(std::move(commit)) {
  build(commit_->files);
}

TreeIndex::TreeIndex(const FileMap& files) { build(files); }

void TreeIndex::build(const FileMap& files) {
  files_ = &files;
  dirs_[""];
  for (const auto& [path, entry] : files) {
    std::string child = path;
    std::string parent = parentOf(child);
    dirs_[parent].children.push_back(child);
    // Register each ancestor folder once, in its own parent.
    while (!parent.empty() && dirs_.find(parent)->second.oid.empty()) {
      dirs_[parent].oid = "pending";
      child = parent;
      parent = parentOf(child);
      dirs_[parent].children.push_back(child);
    }
  }
  // Git orders tree entries by name, comparing a folder's name as if it ended in '/'.
  auto sort_key = [this](const std::string& path) {
    std::string key(baseName(path));
    if (dirs_.count(path) != 0) {
      key.push_back('/');
    }
    return key;
  };
  std::vector<std::string> by_depth;
  by_depth.reserve(dirs_.size());
  for (auto& [path, dir] : dirs_) {
    std::sort(dir.children.begin(), dir.children.end(),
              [&](const std::string& a, const std::string& b) { return sort_key(a) < sort_key(b); });
    by_depth.push_back(path);
  }
  std::sort(by_depth.begin(), by_depth.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') + (a.empty() ? 0 : 1) >
           std::count(b.begin(), b.end(), '/') + (b.empty() ? 0 : 1);
  });
  for (const auto& path : by_depth) {
    Dir& dir = dirs_[path];
    std::string body;
    for (const auto& child : dir.children) {
      auto sub = dirs_.find(child);
      bool is_dir = sub != dirs_.end();
      const std::string& oid = is_dir ? sub->second.oid : files.at(child).oid;
      body += is_dir ? "40000 " : "100644 ";
      body += baseName(child);
      body.push_back('\0');
      auto raw = common::fromHex(oid);
      if (raw) {
        body.append(reinterpret_cast<const char*>(raw->data()), raw->size());
      }
    }
    std::string object = "tree " + std::to_string(body.size());
    object.push_back('\0');
    object += body;
    dir.oid = common::sha1Hex(object);
  }
}

bool TreeIndex::isDir(std::string_view path) const { return dirs_.count(std::string(path)) != 0; }

const FileEntry* TreeIndex::file(std::string_view path) const {
  auto it = files_->find(std::string(path));
  return it == files_->end() ? nullptr : &it->second;
}

std::optional<TreeIndex::Entry> TreeIndex::entry(std::string_view path) const {
  std::string key(path);
  if (auto dir = dirs_.find(key); dir != dirs_.end()) {
    return Entry{key, true, nullptr, dir->second.oid};
  }
  if (const FileEntry* f = file(key)) {
    return Entry{key, false, f, f->oid};
  }
  return std::nullopt;
}

void TreeIndex::appendChildren(const std::string& dir, bool recursive,
                               std::vector<Entry>& out) const {
  for (const auto& child : dirs_.at(dir).children) {
    auto sub = dirs_.find(child);
    if (sub != dirs_.end()) {
      out.push_back(Entry{child, true, nullptr, sub->second.oid});
      if (recursive) {
        appendChildren(child, true, out);
      }
    } else {
      const FileEntry& f = files_->at(child);
      out.push_back(Entry{child, false, &f, f.oid});
    }
  }
}

std::vector<TreeIndex::Entry> TreeIndex::list(std::string_view dir, bool recursive) const {
  std::vector<Entry> out;
  std::string key(dir);
  if (dirs_.count(key) != 0) {
    appendChildren(key, recursive, out);
  }
  return out;
}

}  // namespace hfm::hubd
