// SPDX-License-Identifier: Apache-2.0
#pragma once

// Running mounts leave a small record in a per-user runtime folder so `hf-mount status` and
// `hf-mount unmount` can find them: the daemon's pid, endpoint and cache dir, and counters it
// rewrites every second. Plain "key=value" lines.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hfm::tools {

using Record = std::map<std::string, std::string>;

std::filesystem::path registryDir();
std::filesystem::path recordPath(const std::filesystem::path& mountpoint);
bool writeRecord(const std::filesystem::path& path, const Record& record);
std::optional<Record> readRecord(const std::filesystem::path& path);
std::vector<Record> liveRecords();  // records whose daemon still runs; stale ones are removed

// "10G", "512M", "4096", "1.5G" -> bytes.
std::optional<std::uint64_t> parseSize(const std::string& text);
std::string formatBytes(std::uint64_t bytes);

}  // namespace hfm::tools
