// SPDX-License-Identifier: Apache-2.0
#include "fs/change_record.h"

#include <charconv>
#include <vector>

#include "common/hash.h"
#include "common/hex.h"

namespace hfm::fs {

namespace {

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    auto end = text.find('\n', start);
    out.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) {
      return out;
    }
    start = end + 1;
  }
}

template <class T>
bool parseNumber(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

bool isStagingName(std::string_view name) {
  return !name.empty() && name.find('/') == std::string_view::npos && name != "." && name != "..";
}

}  // namespace

namespace {
constexpr std::size_t kMaxPlainKey = 500;  // the journal takes keys up to 511 bytes
}  // namespace

std::string changeKey(std::string_view path) {
  if (kChangePrefix.size() + path.size() <= kMaxPlainKey) {
    return std::string(kChangePrefix) + std::string(path);
  }
  return std::string(kChangePrefix) + "#" + common::sha256Hex(path);
}

std::string keyedChange(std::string_view path, const Change& change) {
  std::string key = changeKey(path);
  if (key.compare(kChangePrefix.size(), 1, "#") == 0) {
    return std::string(path) + "\n" + encodeChange(change);
  }
  return encodeChange(change);
}

std::optional<std::pair<std::string, std::string>> splitChangeEntry(std::string_view key,
                                                                   std::string_view value) {
  if (key.substr(0, kChangePrefix.size()) != kChangePrefix) {
    return std::nullopt;
  }
  std::string_view rest = key.substr(kChangePrefix.size());
  if (rest.empty() || rest[0] != '#') {
    return std::pair{std::string(rest), std::string(value)};
  }
  auto nl = value.find('\n');
  if (nl == std::string_view::npos || changeKey(value.substr(0, nl)) != key) {
    return std::nullopt;
  }
  return std::pair{std::string(value.substr(0, nl)), std::string(value.substr(nl + 1))};
}

std::optional<std::string> stagingNameOf(std::string_view record) {
  auto f = lines(record);
  if (f.size() == 4 && f[0] == "F" && isStagingName(f[1])) {
    return std::string(f[1]);
  }
  return std::nullopt;
}

std::string encodeInflight(const std::vector<std::pair<std::string, std::string>>& records) {
  std::string out;
  for (const auto& [path, value] : records) {
    out += std::to_string(path.size()) + " " + std::to_string(value.size()) + "\n" + path + value;
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> decodeInflight(
    std::string_view value) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!value.empty()) {
    auto space = value.find(' ');
    auto nl = value.find('\n');
    std::size_t path_size = 0;
    std::size_t value_size = 0;
    if (space == std::string_view::npos || nl == std::string_view::npos || space > nl ||
        !parseNumber(value.substr(0, space), path_size) ||
        !parseNumber(value.substr(space + 1, nl - space - 1), value_size)) {
      return std::nullopt;
    }
    value.remove_prefix(nl + 1);
    if (path_size == 0 || value.size() < path_size || value.size() - path_size < value_size) {
      return std::nullopt;
    }
    out.emplace_back(std::string(value.substr(0, path_size)),
                     std::string(value.substr(path_size, value_size)));
    value.remove_prefix(path_size + value_size);
  }
  return out;
}

std::string encodeChange(const Change& c) {
  switch (c.kind) {
    case Change::Kind::kFile:
      if (c.staged) {
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(c.mtime.time_since_epoch());
        return "F\n" + c.staged->name() + "\n" + c.staged->knownSha256().value_or("") + "\n" +
               std::to_string(ns.count());
      } else {
        const RemoteContent& r = *c.remote;
        return "R\n" + r.commit + "\n" + std::to_string(r.size) + "\n" + r.oid + "\n" +
               r.lfs_sha256 + "\n" + r.xet_hash + "\n" + r.path;
      }
    case Change::Kind::kDir:
      return std::string("D\n") + (c.hides_base ? "1" : "0");
    case Change::Kind::kDeleted:
      return "X";
  }
  return "X";
}

std::optional<Change> decodeChange(std::string_view value, const std::filesystem::path& staging_dir,
                                   std::string& error) {
  auto f = lines(value);
  Change c;
  if (f[0] == "F" && f.size() == 4 && isStagingName(f[1]) &&
      (f[2].empty() || common::isHex(f[2], 64))) {
    std::int64_t ns = 0;
    if (!parseNumber(f[3], ns)) {
      error = "bad time in a staged file record";
      return std::nullopt;
    }
    std::optional<std::string> sha;
    if (!f[2].empty()) {
      sha = std::string(f[2]);
    }
    auto staged = StagedFile::reopen(staging_dir, std::string(f[1]), std::move(sha));
    if (!staged) {
      error = staged.error().message;
      return std::nullopt;
    }
    c.kind = Change::Kind::kFile;
    c.staged = std::move(*staged);
    c.mtime = std::chrono::system_clock::time_point(std::chrono::nanoseconds(ns));
    return c;
  }
  if (f[0] == "R" && f.size() == 7 && common::isHex(f[1], 40)) {
    RemoteContent r;
    r.commit = std::string(f[1]);
    if (!parseNumber(f[2], r.size)) {
      error = "bad size in a moved file record";
      return std::nullopt;
    }
    r.oid = std::string(f[3]);
    r.lfs_sha256 = std::string(f[4]);
    r.xet_hash = std::string(f[5]);
    r.path = std::string(f[6]);
    c.kind = Change::Kind::kFile;
    c.remote = std::move(r);
    c.mtime = std::chrono::system_clock::now();
    return c;
  }
  if (f[0] == "D" && f.size() == 2 && (f[1] == "0" || f[1] == "1")) {
    c.kind = Change::Kind::kDir;
    c.hides_base = f[1] == "1";
    return c;
  }
  if (f[0] == "X" && f.size() == 1) {
    c.kind = Change::Kind::kDeleted;
    c.hides_base = true;
    return c;
  }
  error = "unknown change record";
  return std::nullopt;
}

}  // namespace hfm::fs
