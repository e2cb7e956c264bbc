// SPDX-License-Identifier: Apache-2.0
#include "hub/hub_env.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string_view>
#include <vector>

namespace hfm::hub {
namespace {

constexpr std::string_view kDefaultEndpoint = "https://huggingface.co";
// A token file larger than this is not a token file.
constexpr std::streamsize kMaxTokenFileBytes = 64 * 1024;

std::optional<std::string> nonEmpty(const EnvLookup& env, const char* name) {
  auto value = env(name);
  if (!value || value->empty()) {
    return std::nullopt;
  }
  return value;
}

std::string homeDir(const EnvLookup& env) {
  if (auto home = nonEmpty(env, "HOME")) {
    return *home;
  }
  // Daemons started without HOME (systemd units) still have a passwd entry.
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr &&
      found->pw_dir != nullptr) {
    return found->pw_dir;
  }
  return "/";
}

// Python's os.path.expanduser for the forms that matter: "~" and "~/...".
std::filesystem::path expandUser(const EnvLookup& env, const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    return std::filesystem::path(homeDir(env)) / path.substr(path.size() > 1 ? 2 : 1);
  }
  return path;
}

}  // namespace

EnvLookup processEnv() {
  return [](const char* name) -> std::optional<std::string> {
    // Read-only access; the process never calls setenv while clients run.
    const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

std::string endpointFromEnv(const EnvLookup& env) {
  std::string endpoint(nonEmpty(env, "HF_ENDPOINT").value_or(std::string(kDefaultEndpoint)));
  while (!endpoint.empty() && endpoint.back() == '/') {
    endpoint.pop_back();
  }
  return endpoint.empty() ? std::string(kDefaultEndpoint) : endpoint;
}

std::filesystem::path tokenPath(const EnvLookup& env) {
  if (auto path = nonEmpty(env, "HF_TOKEN_PATH")) {
    return expandUser(env, *path);
  }
  if (auto home = nonEmpty(env, "HF_HOME")) {
    return expandUser(env, *home) / "token";
  }
  auto xdg = nonEmpty(env, "XDG_CACHE_HOME");
  std::filesystem::path cache =
      xdg ? expandUser(env, *xdg) : std::filesystem::path(homeDir(env)) / ".cache";
  return cache / "huggingface" / "token";
}

std::optional<std::string> cleanToken(std::string_view raw) {
  std::string token;
  token.reserve(raw.size());
  for (char c : raw) {
    if (c != '\r' && c != '\n') {
      token.push_back(c);
    }
  }
  constexpr std::string_view kSpace = " \t\f\v";
  auto first = token.find_first_not_of(kSpace);
  if (first == std::string::npos) {
    return std::nullopt;
  }
  auto last = token.find_last_not_of(kSpace);
  return token.substr(first, last - first + 1);
}

std::optional<std::string> tokenFromEnv(const EnvLookup& env) {
  // huggingface_hub: clean(HF_TOKEN or HUGGING_FACE_HUB_TOKEN) or token file. An empty HF_TOKEN
  // falls through to the legacy name; a blank one (spaces only) falls through to the file.
  auto from_env = nonEmpty(env, "HF_TOKEN");
  if (!from_env) {
    from_env = nonEmpty(env, "HUGGING_FACE_HUB_TOKEN");
  }
  if (from_env) {
    if (auto token = cleanToken(*from_env)) {
      return token;
    }
  }
  std::ifstream in(tokenPath(env), std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::string content(static_cast<std::size_t>(kMaxTokenFileBytes), '\0');
  in.read(content.data(), kMaxTokenFileBytes);
  content.resize(static_cast<std::size_t>(in.gcount()));
  return cleanToken(content);
}

}  // namespace hfm::hub
