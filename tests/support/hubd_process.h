// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: runs the real hf-hubd binary. `import` seeds a root; HubdProcess serves one and
// is stopped by pid (SIGTERM, then waitpid) when destroyed, never by name.
//
// Not thread-safe: owned by one test fixture.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hub/hub_client.h"

extern char** environ;

namespace hfm::hub::testing {

inline std::string readText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Spawns `argv` with stdout and stderr sent to files; -1 on failure.
inline pid_t spawnProcess(const std::vector<std::string>& argv, const std::filesystem::path& out,
                          const std::filesystem::path& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// `hf-hubd import`; returns "" on success, else the reason.
inline std::string importRepo(const std::string& hubd, const std::filesystem::path& root,
                              const std::string& repo, const std::filesystem::path& src,
                              std::vector<std::string> flags = {}) {
  std::vector<std::string> argv = {hubd, "import", "--root", root.string(), "--repo", repo};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(src.string());
  auto log = root.parent_path() / ("import-" + std::to_string(::getpid()) + ".log");
  pid_t pid = spawnProcess(argv, log, log.string() + ".err");
  if (pid < 0) {
    return "cannot spawn " + hubd;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "import " + repo + " failed: " + readText(log.string() + ".err");
  }
  return "";
}

class HubdProcess {
 public:
  // Starts `hf-hubd serve --root ROOT ARGS...` and waits for the URL on its first stdout line.
  static std::unique_ptr<HubdProcess> start(const std::string& hubd, const std::filesystem::path& root,
                                            const std::vector<std::string>& args, std::string* error) {
    std::vector<std::string> argv = {hubd, "serve", "--root", root.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto out = root.string() + ".out";
    auto err = root.string() + ".err";
    pid_t pid = spawnProcess(argv, out, err);
    if (pid < 0) {
      *error = "cannot spawn " + hubd;
      return nullptr;
    }
    std::unique_ptr<HubdProcess> process(new HubdProcess(pid));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string text = readText(out);
      if (auto nl = text.find('\n'); nl != std::string::npos) {
        process->url_ = text.substr(0, nl);
        if (process->url_.rfind("http://", 0) == 0) {
          return process;
        }
        break;
      }
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        process->pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    *error = "hf-hubd did not print its URL: " + readText(err);
    return nullptr;
  }

  ~HubdProcess() { stop(); }
  HubdProcess(const HubdProcess&) = delete;
  HubdProcess& operator=(const HubdProcess&) = delete;

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }
  const std::string& url() const { return url_; }

  // A client of this server with `token`, giving up on retries after 5 s; null if it cannot
  // be made (the test then fails on it).
  std::unique_ptr<HubClient> client(const std::string& token) const {
    HubOptions options;
    options.endpoint = url_;
    options.token = token;
    options.retry_deadline = std::chrono::seconds(5);
    auto made = HubClient::create(options);
    return made ? std::move(*made) : nullptr;
  }

 private:
  explicit HubdProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  std::string url_;
};

}  // namespace hfm::hub::testing
