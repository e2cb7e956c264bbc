// SPDX-License-Identifier: Apache-2.0
#pragma once

// How a pending change is written in a view's journal, so that the next mount after a crash
// finds it again: key "c/<path>", value one field per line (paths may hold spaces, not newlines).
//   F <staging file> <sha256 or empty> <mtime ns>   new content in a staging file
//   R <commit> <size> <oid> <lfs sha256> <xet hash> <path>   a remote file moved here unchanged
//   D <hides base: 0|1>                              a folder made locally
//   X                                                deleted

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fs/overlay.h"

namespace hfm::fs {

inline constexpr std::string_view kChangePrefix = "c/";
// A commit sent but not known to have landed: key "i/<commit id>", value the records (path,
// keyedChange(path)) of the changes it carries, taken from the overlay when it was sent, and only
// for paths whose change was still the planned one. If the commit landed, the next round drops
// each change whose in-memory record is still the same (a staged file: also still at the
// generation the commit froze, since an in-place write leaves its record unchanged).
inline constexpr std::string_view kInflightPrefix = "i/";

// The journal key of a change: "c/<path>", or for a path too long for a key,
// "c/#<sha256 of path>" with the path on the value's first line (see keyedChange).
std::string changeKey(std::string_view path);
// The value stored under changeKey(path).
std::string keyedChange(std::string_view path, const Change& change);
// Splits a journal entry back into its path and record; nullopt when malformed.
std::optional<std::pair<std::string, std::string>> splitChangeEntry(std::string_view key,
                                                                   std::string_view value);

// The staging file a change record names ("F" records), or nullopt.
std::optional<std::string> stagingNameOf(std::string_view record);

// Inflight records: "<path bytes> <value bytes>\n<path><value>" per change.
std::string encodeInflight(const std::vector<std::pair<std::string, std::string>>& records);
// nullopt when malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> decodeInflight(
    std::string_view value);

std::string encodeChange(const Change& change);
// nullopt with `error` set when the record is malformed or its staging file is gone.
std::optional<Change> decodeChange(std::string_view value, const std::filesystem::path& staging_dir,
                                   std::string& error);

}  // namespace hfm::fs
