// SPDX-License-Identifier: Apache-2.0
#include "hf-mount/mount_registry.h"

#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/file_util.h"
#include "common/hash.h"

namespace hfm::tools {

std::filesystem::path registryDir() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  std::filesystem::path dir = runtime != nullptr && *runtime != '\0'
                                  ? std::filesystem::path(runtime) / "hf-mount"
                                  : std::filesystem::path("/tmp") /
                                        ("hf-mount-" + std::to_string(::getuid()));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  return dir;
}

std::filesystem::path recordPath(const std::filesystem::path& mountpoint) {
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(mountpoint, ec);
  return registryDir() / (common::sha1Hex(canonical.string()).substr(0, 16) + ".mount");
}

bool writeRecord(const std::filesystem::path& path, const Record& record) {
  std::string text;
  for (const auto& [k, v] : record) {
    text += k + "=" + v + "\n";
  }
  return static_cast<bool>(common::writeFileAtomic(path, text));
}

std::optional<Record> readRecord(const std::filesystem::path& path) {
  auto text = common::readFile(path);
  if (!text) {
    return std::nullopt;
  }
  Record r;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) {
      r[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  return r;
}

std::vector<Record> liveRecords() {
  std::vector<Record> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(registryDir(), ec)) {
    if (entry.path().extension() != ".mount") {
      continue;
    }
    auto r = readRecord(entry.path());
    if (!r || r->count("pid") == 0) {
      continue;
    }
    pid_t pid = static_cast<pid_t>(std::atol(r->at("pid").c_str()));
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) {
      std::filesystem::remove(entry.path(), ec);
      continue;
    }
    out.push_back(std::move(*r));
  }
  return out;
}

std::optional<std::uint64_t> parseSize(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || value < 0 || !std::isfinite(value)) {
    return std::nullopt;
  }
  std::string unit(end);
  double scale = 1;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "K" || unit == "KiB" || unit == "k") {
    scale = 1024.0;
  } else if (unit == "M" || unit == "MiB") {
    scale = 1024.0 * 1024;
  } else if (unit == "G" || unit == "GiB") {
    scale = 1024.0 * 1024 * 1024;
  } else if (unit == "T" || unit == "TiB") {
    scale = 1024.0 * 1024 * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(value * scale);
}

std::string formatBytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace hfm::tools
