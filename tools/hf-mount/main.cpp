// SPDX-License-Identifier: Apache-2.0
// hf-mount: Hugging Face Hub repositories as local directories.

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cache/lmdb_block_store.h"
#include "cache/metadata_store.h"
#include "common/file_util.h"
#include "fs/filesystem.h"
#include "fs/fuse_bridge.h"
#include "fs/read_engine.h"
#include "fs/xet_range_source.h"
#include "hf-mount/mount_registry.h"
#include "hub/hub_client.h"
#include "hub/hub_env.h"

namespace {

using namespace hfm;
namespace fsys = std::filesystem;

std::string defaultCacheDir() {
  auto env = hub::processEnv();
  if (auto xdg = env("XDG_CACHE_HOME"); xdg && !xdg->empty()) {
    return (fsys::path(*xdg) / "hf-mount").string();
  }
  auto home = env("HOME");
  return (fsys::path(home ? *home : "/root") / ".cache" / "hf-mount").string();
}

struct MountArgs {
  std::string mountpoint;
  std::string endpoint;
  std::string repo;
  std::string cache_dir = defaultCacheDir();
  std::string cache_size = "10G";
  std::string memory_limit = "512M";
  unsigned revision_ttl = 30;
  unsigned read_timeout = 60;
  unsigned threads = 32;
  bool read_only = false;
  double commit_delay = 5;
  std::string commit_message;
  unsigned commit_wait = 3600;
  std::vector<std::string> ignore;
  bool no_default_ignore = false;
  bool foreground = false;
  bool allow_other = false;
  std::string log_level = "info";
  std::string log_file;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "hf-mount: %s\n", message.c_str());
  return 1;
}

// Sends one line to the parent waiting for the mount to answer, then closes the pipe.
void report(int fd, const std::string& line) {
  if (line != "ok") {
    spdlog::error("{}", line);
    spdlog::default_logger()->flush();
  }
  if (fd >= 0) {
    std::string text = line + "\n";
    (void)common::writeAll(fd, text.data(), text.size());
    ::close(fd);
  }
}

void setupLogging(const MountArgs& args) {
  std::shared_ptr<spdlog::logger> logger;
  if (!args.log_file.empty()) {
    logger = spdlog::basic_logger_mt("hf-mount", args.log_file);
  } else {
    logger = spdlog::stderr_color_mt("hf-mount");
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(args.log_level));
  spdlog::flush_every(std::chrono::seconds(1));
  // Warnings and errors are few and are what a user looks for after something went wrong.
  logger->flush_on(spdlog::level::warn);
}

std::string describe(const hub::HubError& e) {
  return std::string(hub::toString(e.kind)) + ": " + e.message;
}

// Builds the object graph, mounts, and serves until unmounted. `ready_fd` (daemon mode) gets
// "ok" once the mount answers, or the reason it could not.
int runMount(const MountArgs& args, int ready_fd) {
  setupLogging(args);
  // Fetch buffers have a pool of their own (fs::BufferPool). What else is large (LMDB's pages of
  // a block being stored, FUSE request buffers) is reused from the heap rather than mapped and
  // faulted in afresh each time, but free memory above 8 MiB at an arena's top goes back to the
  // system, so that the daemon stays within --memory-limit.
  ::mallopt(M_MMAP_THRESHOLD, 64 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 8 << 20);
  ::mallopt(M_ARENA_MAX, 4);
  auto env = hub::processEnv();
  hub::HubOptions hub_options;
  hub_options.endpoint = args.endpoint.empty() ? hub::endpointFromEnv(env) : args.endpoint;
  while (!hub_options.endpoint.empty() && hub_options.endpoint.back() == '/') {
    hub_options.endpoint.pop_back();
  }
  hub_options.token = hub::tokenFromEnv(env);
  hub_options.retry_deadline = std::chrono::seconds(args.read_timeout);
  auto hub = hub::HubClient::create(hub_options);
  if (!hub) {
    report(ready_fd, "error: " + describe(hub.error()));
    return 1;
  }
  hub::HubOptions probe_options = hub_options;
  probe_options.retry_deadline = std::chrono::seconds(5);
  auto probe = hub::HubClient::create(probe_options);

  auto cache_size = tools::parseSize(args.cache_size);
  auto memory_limit = tools::parseSize(args.memory_limit);
  if (!cache_size || !memory_limit) {
    report(ready_fd, "error: --cache-size and --memory-limit take sizes like 10G or 512M");
    return 1;
  }
  cache::CacheOptions cache_options;
  cache_options.dir = args.cache_dir;
  cache_options.max_bytes = *cache_size;
  cache_options.max_readers = args.threads + 64;
  auto blocks = cache::LmdbBlockStore::open(cache_options);
  if (!blocks) {
    report(ready_fd, "error: cache " + args.cache_dir + ": " + blocks.error().message);
    return 1;
  }
  if ((*blocks)->rebuiltOnOpen()) {
    spdlog::warn("block cache was rebuilt: {}", (*blocks)->rebuildReason());
  }
  auto metadata = cache::MetadataStore::open(cache_options);
  if (!metadata) {
    report(ready_fd, "error: cache " + args.cache_dir + ": " + metadata.error().message);
    return 1;
  }

  fs::ReadOptions read_options;
  read_options.memory_limit = *memory_limit / 2;  // the other half: request buffers and FUSE
  fs::HubRangeSource plain_source(hub->get());
  // Taken from the engine's half for Xet: an eighth for the buffers of Xet reads in progress
  // (xorb ranges, decoded chunks), a sixteenth for the xorb an upload holds while it sends it.
  const std::uint64_t xet_reads = *memory_limit / 8;
  const std::uint64_t xet_xorb = *memory_limit / 16;
  read_options.memory_limit -= xet_reads + xet_xorb;
  fs::XetRangeSource source(hub->get(), &plain_source, blocks->get(), xet_reads);
  fs::ReadEngine engine(&source, blocks->get(), (*blocks)->blockSize(), read_options);
  fs::FsOptions fs_options;
  fs_options.revision_ttl = std::chrono::seconds(args.revision_ttl);
  fs_options.uid = ::getuid();
  fs_options.gid = ::getgid();
  fs_options.read_only = args.read_only;
  fs_options.xet_xorb_bytes = static_cast<std::size_t>(
      std::clamp<std::uint64_t>(xet_xorb, 1ull << 20, xet::kMaxXorbBytes));
  fs_options.endpoint = hub_options.endpoint;
  fs_options.write_dir = args.cache_dir;
  fs_options.commit_delay =
      std::chrono::milliseconds(static_cast<std::int64_t>(args.commit_delay * 1000));
  fs_options.commit_message = args.commit_message;
  if (args.no_default_ignore) {
    fs_options.ignore.clear();
  }
  fs_options.ignore.insert(fs_options.ignore.end(), args.ignore.begin(), args.ignore.end());
  if (!args.repo.empty()) {
    std::string spec = args.repo;
    auto at = spec.find('@');
    auto id = common::parseRepoKey(spec.substr(0, at));
    if (!id) {
      report(ready_fd, "error: " + id.error().message);
      return 1;
    }
    fs_options.single_repo = *id;
    if (at != std::string::npos) {
      fs_options.single_revision = spec.substr(at + 1);
    }
  }
  fs::Filesystem filesystem(hub->get(), metadata->get(), blocks->get(), &engine, fs_options);
  // A pinned revision whose tree is cached mounts without asking the server anything, so a
  // warm cache also works offline. Otherwise the endpoint (and repository) are checked with a
  // short deadline: a wrong endpoint or repository fails the mount at once.
  bool cached_pin = fs_options.single_repo && filesystem.singleRepoIsCached();
  if (!probe) {
    report(ready_fd, "error: " + describe(probe.error()));
    return 1;
  }
  if (cached_pin) {
    spdlog::info("{} is served from the metadata cache", args.repo);
  } else if (fs_options.single_repo) {
    auto info = (*probe)->revision(*fs_options.single_repo, fs_options.single_revision);
    if (!info) {
      auto why = fs::fromHubError(info.error(), args.repo);
      report(ready_fd, "error: " + args.repo + ": " +
                           (why.message.empty() ? "repository or revision not found" : why.message));
      return 1;
    }
    auto commit = filesystem.checkSingleRepo();
    if (!commit) {
      report(ready_fd, "error: " + args.repo + ": " + commit.error().message);
      return 1;
    }
    spdlog::info("{} is at commit {}", args.repo, *commit);
  } else {
    // Any Hub answer, even "not found", shows that the endpoint speaks the API.
    auto answer = (*probe)->revision(common::RepoId{common::RepoType::kModel, "hf-mount", "probe"},
                                     "main");
    if (!answer && (answer.error().kind == hub::HubErrorKind::kNetwork ||
                    answer.error().kind == hub::HubErrorKind::kTimeout ||
                    answer.error().kind == hub::HubErrorKind::kBadResponse)) {
      report(ready_fd, "error: endpoint " + hub_options.endpoint + " does not answer like a Hub (" +
                           describe(answer.error()) + ")");
      return 1;
    }
  }
  fs::Filesystem* served = &filesystem;

  // Everything that looks at the mountpoint happens before mounting: afterwards a stat of it
  // would wait for this very process to serve it.
  auto record_path = tools::recordPath(args.mountpoint);
  std::string canonical_mountpoint = fsys::weakly_canonical(args.mountpoint).string();
  fs::MountOptions mount_options;
  mount_options.mountpoint = args.mountpoint;
  mount_options.allow_other = args.allow_other;
  mount_options.read_only = args.read_only;
  mount_options.max_threads = args.threads;
  mount_options.fs_name = "hf-mount:" + hub_options.endpoint;
  auto mount = fs::FuseMount::mount(served, mount_options);
  if (!mount) {
    report(ready_fd, "error: " + mount.error().message);
    return 1;
  }
  tools::Record record{{"pid", std::to_string(::getpid())},
                       {"mountpoint", canonical_mountpoint},
                       {"endpoint", hub_options.endpoint},
                       {"repo", args.repo},
                       {"cache_dir", args.cache_dir}};
  tools::writeRecord(record_path, record);
  spdlog::info("mounted {} at {} (cache {})", hub_options.endpoint, args.mountpoint, args.cache_dir);
  report(ready_fd, "ok");

  std::jthread reporter([&](const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      auto h = (*hub)->stats();
      auto r = engine.stats();
      auto c = (*blocks)->stats();
      tools::Record live = record;
      live["requests"] = std::to_string(h.requests);
      live["retries"] = std::to_string(h.retries);
      live["errors"] = std::to_string(h.errors);
      live["bytes_fetched"] = std::to_string(h.bytes_downloaded);
      live["blocks_from_cache"] = std::to_string(r.blocks_from_cache);
      live["blocks_from_memory"] = std::to_string(r.blocks_from_memory);
      live["blocks_fetched"] = std::to_string(r.blocks_fetched);
      live["cache_used_bytes"] = std::to_string(c.used_bytes);
      live["cache_budget_bytes"] = std::to_string(c.budget_bytes);
      const fs::XetReadStats xr = source.stats();
      const fs::XetUploadStats xu = served->xetUploadStats();
      live["xet_chunks_from_cache"] = std::to_string(xr.chunks_from_cache);
      live["xet_chunks_fetched"] = std::to_string(xr.chunks_fetched);
      live["xet_xorb_bytes_fetched"] = std::to_string(xr.xorb_bytes_fetched);
      live["xet_reconstructions"] = std::to_string(xr.reconstructions);
      live["xet_hash_mismatches"] = std::to_string(xr.hash_mismatches);
      live["xet_files_uploaded"] = std::to_string(xu.files);
      live["xet_chunks_uploaded"] = std::to_string(xu.chunks);
      live["xet_chunks_deduped"] = std::to_string(xu.chunks_known_locally + xu.chunks_found_by_query);
      live["xet_xorbs_sent"] = std::to_string(xu.xorbs_sent);
      live["xet_xorb_bytes_sent"] = std::to_string(xu.xorb_bytes_sent);
      std::size_t changes = 0;
      std::string views;
      for (const auto& p : served->pending()) {
        changes += p.changes;
        views += p.view + " " + std::to_string(p.changes) + " " +
                 (p.last_commit.empty() ? "-" : p.last_commit) +
                 (p.last_error.empty() ? "" : " " + p.last_error) + "\x1f";
      }
      live["pending_changes"] = std::to_string(changes);
      live["pending_views"] = views;
      tools::writeRecord(record_path, live);
      for (int i = 0; i < 10 && !stop.stop_requested(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
  int rc = (*mount)->run();
  mount->reset();  // unmounts if still mounted
  // The kernel does not wait for this: the daemon stays until what is pending is committed, and
  // what cannot be is left in the journal for the next mount (DESIGN.md §6).
  if (!filesystem.pending().empty()) {
    spdlog::info("committing pending changes before exiting");
    if (!filesystem.commitAll(std::chrono::seconds(args.commit_wait))) {
      spdlog::warn("some changes are still pending; the next mount with cache {} commits them",
                   args.cache_dir);
    }
  }
  reporter.request_stop();
  reporter.join();
  (*blocks)->flush();
  std::error_code ec;
  fsys::remove(record_path, ec);
  spdlog::info("unmounted {}", args.mountpoint);
  spdlog::shutdown();  // the daemon ends with _Exit: flush the log now
  return rc == 0 ? 0 : 1;
}

// True when something is mounted exactly at `path` (checked without touching the mount).
bool isMountpoint(const std::string& path) {
  std::ifstream info("/proc/self/mountinfo");
  std::string line;
  while (std::getline(info, line)) {
    std::istringstream fields(line);
    std::string id, parent, majmin, root, point;
    fields >> id >> parent >> majmin >> root >> point;
    if (point == path) {
      return true;
    }
  }
  return false;
}

int mountCommand(const MountArgs& args) {
  std::error_code ec;
  std::string canonical = fsys::weakly_canonical(args.mountpoint, ec).string();
  if (isMountpoint(canonical)) {
    return fail("mountpoint " + args.mountpoint + " is busy: something is already mounted there");
  }
  if (!fsys::is_directory(args.mountpoint, ec)) {
    return fail("mountpoint " + args.mountpoint + " is not a directory");
  }
  if (!fsys::is_empty(args.mountpoint, ec)) {
    return fail("mountpoint " + args.mountpoint + " is not empty");
  }
  if (args.foreground) {
    return runMount(args, -1);
  }
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    return fail("pipe failed");
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    return fail("fork failed");
  }
  if (pid == 0) {
    ::close(pipefd[0]);
    ::setsid();
    // The daemon works from "/": every path it was given must not depend on the caller's cwd.
    MountArgs child = args;
    child.mountpoint = fsys::absolute(args.mountpoint).string();
    child.cache_dir = fsys::absolute(args.cache_dir).string();
    if (!child.log_file.empty()) {
      child.log_file = fsys::absolute(args.log_file).string();
    }
    if (child.log_file.empty()) {
      fsys::create_directories(child.cache_dir, ec);
      child.log_file = (fsys::path(child.cache_dir) / "hf-mount.log").string();
    }
    (void)::chdir("/");
    int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::close(null);
    }
    std::_Exit(runMount(child, pipefd[1]));
  }
  ::close(pipefd[1]);
  std::string answer;
  char buf[512];
  while (true) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipefd[0]);
  while (!answer.empty() && answer.back() == '\n') {
    answer.pop_back();
  }
  if (answer == "ok") {
    std::printf("hf-mount: mounted at %s (pid %d)\n", args.mountpoint.c_str(), pid);
    return 0;
  }
  int status = 0;
  ::waitpid(pid, &status, WNOHANG);
  return fail(answer.empty() ? "the mount daemon exited before the mount answered" : answer);
}

int unmountCommand(const std::string& mountpoint, unsigned timeout_s) {
  auto record = tools::readRecord(tools::recordPath(mountpoint));
  pid_t child = ::fork();
  if (child == 0) {
    ::execlp("fusermount3", "fusermount3", "-u", mountpoint.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail("fusermount3 -u " + mountpoint + " failed (busy? try `fusermount3 -u -z`)");
  }
  if (record && record->count("pid") != 0) {
    pid_t pid = static_cast<pid_t>(std::atol(record->at("pid").c_str()));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    std::string shown;
    while (pid > 0 && ::kill(pid, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
      // The daemon commits what is pending before it exits: say so while waiting.
      if (auto live = tools::readRecord(tools::recordPath(mountpoint))) {
        std::string pending = (*live)["pending_changes"];
        if (!pending.empty() && pending != "0" && pending != shown) {
          std::fprintf(stderr, "hf-mount: committing %s pending changes...\n", pending.c_str());
          shown = pending;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (pid > 0 && ::kill(pid, 0) == 0) {
      return fail("unmounted " + mountpoint + ", but the daemon (pid " + std::to_string(pid) +
                  ") is still committing; it goes on in the background and the next mount "
                  "with the same cache finishes what it leaves");
    }
  }
  std::printf("hf-mount: unmounted %s\n", mountpoint.c_str());
  return 0;
}

int statusCommand() {
  auto records = tools::liveRecords();
  if (records.empty()) {
    std::printf("no hf-mount mounts\n");
    return 0;
  }
  for (auto& r : records) {
    auto num = [&](const char* k) { return std::strtoull(r[k].c_str(), nullptr, 10); };
    // Blocks found on disk against blocks that had to come over the network (prefetched ones
    // included): how much the cache saved.
    double hits = static_cast<double>(num("blocks_from_cache"));
    double total = hits + static_cast<double>(num("blocks_fetched"));
    std::printf("%s\n  pid %s, endpoint %s%s\n  cache %s: %s used of %s\n"
                "  requests %llu (retries %llu, errors %llu), fetched %s, cache hit rate %.1f%%\n",
                r["mountpoint"].c_str(), r["pid"].c_str(), r["endpoint"].c_str(),
                r["repo"].empty() ? "" : (", repo " + r["repo"]).c_str(), r["cache_dir"].c_str(),
                tools::formatBytes(num("cache_used_bytes")).c_str(),
                tools::formatBytes(num("cache_budget_bytes")).c_str(),
                static_cast<unsigned long long>(num("requests")),
                static_cast<unsigned long long>(num("retries")),
                static_cast<unsigned long long>(num("errors")),
                tools::formatBytes(num("bytes_fetched")).c_str(),
                total > 0 ? 100.0 * hits / total : 0.0);
    // Xet: chunks read (from this machine's cache or fetched from the CAS) and files uploaded.
    if (num("xet_reconstructions") > 0 || num("xet_files_uploaded") > 0) {
      std::printf("  xet: %llu chunks read (%llu from the cache, %llu fetched: %s of xorbs), "
                  "%llu files uploaded (%llu chunks, %llu already stored; %s in %llu xorbs)\n",
                  static_cast<unsigned long long>(num("xet_chunks_from_cache") +
                                                  num("xet_chunks_fetched")),
                  static_cast<unsigned long long>(num("xet_chunks_from_cache")),
                  static_cast<unsigned long long>(num("xet_chunks_fetched")),
                  tools::formatBytes(num("xet_xorb_bytes_fetched")).c_str(),
                  static_cast<unsigned long long>(num("xet_files_uploaded")),
                  static_cast<unsigned long long>(num("xet_chunks_uploaded")),
                  static_cast<unsigned long long>(num("xet_chunks_deduped")),
                  tools::formatBytes(num("xet_xorb_bytes_sent")).c_str(),
                  static_cast<unsigned long long>(num("xet_xorbs_sent")));
      if (num("xet_hash_mismatches") > 0) {
        std::printf("  xet: %llu chunks did not match their hash (reads failed; see the log)\n",
                    static_cast<unsigned long long>(num("xet_hash_mismatches")));
      }
    }
    if (num("pending_changes") > 0 || !r["pending_views"].empty()) {
      std::printf("  pending changes: %llu\n",
                  static_cast<unsigned long long>(num("pending_changes")));
      std::string views = r["pending_views"];
      for (std::size_t start = 0, end; (end = views.find('\x1f', start)) != std::string::npos;
           start = end + 1) {
        std::printf("    %s\n", views.substr(start, end - start).c_str());
      }
    }
  }
  return 0;
}

// Commits what a view has pending now, optionally with a message, and prints the commit.
int commitCommand(const std::string& path, const std::string& message) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail(path + ": " + std::strerror(errno));
  }
  std::string dir = S_ISDIR(st.st_mode) ? path : fsys::path(path).parent_path().string();
  if (dir.empty()) {
    dir = ".";
  }
  if (!message.empty() && ::setxattr(dir.c_str(), "user.hf.commit_message", message.data(),
                                     message.size(), 0) != 0) {
    return fail(dir + ": cannot set the commit message (" + std::strerror(errno) +
                "); is it a writable branch view of an hf-mount mount?");
  }
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return fail(dir + ": " + std::strerror(errno));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return fail("commit failed: " + std::string(std::strerror(err)) +
                " (the changes stay staged; `hf-mount status` and the log say why)");
  }
  std::string commit(64, '\0');
  ssize_t n = ::getxattr(dir.c_str(), "user.hf.commit", commit.data(), commit.size());
  commit.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  std::printf("hf-mount: committed%s%s\n", commit.empty() ? "" : " ", commit.c_str());
  return 0;
}

hub::HubResult<std::unique_ptr<hub::HubClient>> clientWith(std::optional<std::string> token,
                                                          const std::string& endpoint) {
  hub::HubOptions options;
  options.endpoint = endpoint.empty() ? hub::endpointFromEnv(hub::processEnv()) : endpoint;
  options.token = std::move(token);
  options.retry_deadline = std::chrono::seconds(10);
  return hub::HubClient::create(options);
}

int whoamiCommand(const std::string& endpoint) {
  auto token = hub::tokenFromEnv(hub::processEnv());
  if (!token) {
    return fail("not logged in (set HF_TOKEN or run `hf-mount login`)");
  }
  auto client = clientWith(token, endpoint);
  if (!client) {
    return fail(describe(client.error()));
  }
  auto who = (*client)->whoami();
  if (!who) {
    return fail(describe(who.error()));
  }
  std::printf("%s", who->name.c_str());
  if (!who->orgs.empty()) {
    std::printf(" (orgs:");
    for (const auto& o : who->orgs) {
      std::printf(" %s", o.c_str());
    }
    std::printf(")");
  }
  std::printf(", token role %s\n", who->role.c_str());
  return 0;
}

int loginCommand(const std::string& endpoint) {
  std::string token;
  if (::isatty(0) != 0) {
    std::fprintf(stderr, "Token: ");
    termios old{};
    ::tcgetattr(0, &old);
    termios silent = old;
    silent.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(0, TCSANOW, &silent);
    std::getline(std::cin, token);
    ::tcsetattr(0, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  } else {
    std::getline(std::cin, token);
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.empty()) {
    return fail("no token given");
  }
  auto client = clientWith(token, endpoint);
  if (!client) {
    return fail(describe(client.error()));
  }
  auto who = (*client)->whoami();
  if (!who) {
    return fail("the token was not accepted: " + describe(who.error()));
  }
  auto path = hub::tokenPath(hub::processEnv());
  std::error_code ec;
  fsys::create_directories(path.parent_path(), ec);
  // Created 0600: a temporary file made with the default mode would be readable by others until
  // a chmod after the rename.
  if (auto st = common::writeFileAtomic(path, token, 0600); !st) {
    return fail(st.error().message);
  }
  ::chmod(path.c_str(), 0600);
  std::printf("logged in as %s; token saved to %s\n", who->name.c_str(), path.c_str());
  return 0;
}

int logoutCommand() {
  auto path = hub::tokenPath(hub::processEnv());
  std::error_code ec;
  if (!fsys::remove(path, ec)) {
    std::printf("no token at %s\n", path.c_str());
    return 0;
  }
  std::printf("removed %s\n", path.c_str());
  return 0;
}

int cacheCommand(const std::string& action, const std::string& cache_dir, const std::string& to) {
  cache::CacheOptions options;
  options.dir = cache_dir;
  options.touch_flush_interval = std::chrono::milliseconds(0);
  auto blocks = cache::LmdbBlockStore::open(options);
  if (!blocks) {
    return fail(blocks.error().message);
  }
  if (action == "clear") {
    if (auto st = (*blocks)->clear(); !st) {
      return fail(st.error().message);
    }
  } else if (action == "prune") {
    auto size = tools::parseSize(to);
    if (!size) {
      return fail("prune needs --to SIZE, e.g. --to 5G");
    }
    if (auto st = (*blocks)->prune(*size); !st) {
      return fail(st.error().message);
    }
  }
  auto s = (*blocks)->stats();
  std::printf("cache %s\n  blocks %llu (%s of data), %s in use of a %s budget, file %s, block size %s\n",
              cache_dir.c_str(), static_cast<unsigned long long>(s.blocks),
              tools::formatBytes(s.logical_bytes).c_str(), tools::formatBytes(s.used_bytes).c_str(),
              tools::formatBytes(s.budget_bytes).c_str(), tools::formatBytes(s.file_bytes).c_str(),
              tools::formatBytes((*blocks)->blockSize()).c_str());
  return 0;
}

// Reads every file under the given paths through the mount, which warms the cache.
int prefetchCommand(const std::vector<std::string>& paths) {
  std::vector<std::pair<fsys::path, std::uint64_t>> files;
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& p : paths) {
    if (fsys::is_regular_file(p, ec)) {
      auto size = fsys::file_size(p, ec);
      files.emplace_back(p, size);
      total += size;
      continue;
    }
    for (auto it = fsys::recursive_directory_iterator(p, ec); !ec && it != fsys::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_regular_file(ec)) {
        auto size = it->file_size(ec);
        files.emplace_back(it->path(), size);
        total += size;
      }
    }
    if (ec) {
      return fail("cannot walk " + p + ": " + ec.message());
    }
  }
  bool tty = ::isatty(2) != 0;
  std::vector<char> buf(8u << 20);
  std::uint64_t done = 0;
  auto start = std::chrono::steady_clock::now();
  auto last_draw = start;
  int failures = 0;
  for (const auto& [path, size] : files) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "\nhf-mount: cannot open %s\n", path.c_str());
      ++failures;
      continue;
    }
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    while (true) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0) {
        std::fprintf(stderr, "\nhf-mount: read error in %s\n", path.c_str());
        ++failures;
        break;
      }
      if (n == 0) {
        break;
      }
      done += static_cast<std::uint64_t>(n);
      auto now = std::chrono::steady_clock::now();
      if (tty && now - last_draw > std::chrono::milliseconds(200)) {
        last_draw = now;
        double secs = std::chrono::duration<double>(now - start).count();
        double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
        double eta = rate > 0 ? static_cast<double>(total - std::min(done, total)) / rate : 0;
        int width = 30;
        int filled = total > 0 ? static_cast<int>(width * static_cast<double>(done) / static_cast<double>(total)) : width;
        std::fprintf(stderr, "\r[%s%s] %s / %s  %s/s  ETA %.0fs   ",
                     std::string(static_cast<std::size_t>(std::min(filled, width)), '#').c_str(),
                     std::string(static_cast<std::size_t>(width - std::min(filled, width)), '.').c_str(),
                     tools::formatBytes(done).c_str(), tools::formatBytes(total).c_str(),
                     tools::formatBytes(static_cast<std::uint64_t>(rate)).c_str(), eta);
      }
    }
    ::close(fd);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "%sprefetched %zu files, %s in %.1f s\n", tty ? "\r" : "", files.size(),
               tools::formatBytes(done).c_str(), secs);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hf-mount: Hugging Face Hub repositories as local directories"};
  app.require_subcommand(1);

  MountArgs m;
  auto* mount = app.add_subcommand("mount", "Mount the Hub (or one repository) at MOUNTPOINT");
  mount->add_option("MOUNTPOINT", m.mountpoint, "An existing empty directory")->required();
  mount->add_option("--endpoint", m.endpoint, "Hub URL (default: HF_ENDPOINT or https://huggingface.co)");
  mount->add_option("--repo", m.repo, "Mount one repository at the root: TYPE/NS/NAME[@REV]");
  mount->add_option("--cache-dir", m.cache_dir, "Block and metadata cache")->capture_default_str();
  mount->add_option("--cache-size", m.cache_size, "Cache budget, e.g. 10G")->capture_default_str();
  mount->add_option("--memory-limit", m.memory_limit, "Memory budget for read buffers")->capture_default_str();
  mount->add_option("--revision-ttl", m.revision_ttl, "Seconds a branch view trusts its commit")
      ->capture_default_str();
  mount->add_option("--read-timeout", m.read_timeout, "Seconds a read retries before EIO")
      ->capture_default_str();
  mount->add_option("--threads", m.threads, "FUSE worker threads")->capture_default_str();
  mount->add_flag("--read-only", m.read_only, "Refuse every write (EROFS)");
  mount->add_option("--commit-delay", m.commit_delay,
                    "Seconds without writes before pending changes are committed")
      ->capture_default_str();
  mount->add_option("--commit-message", m.commit_message,
                    "Summary of each commit (default: names the number of files)");
  mount->add_option("--ignore", m.ignore,
                    "Never commit names matching this shell pattern (or path prefix ending in /); "
                    "repeatable, added to the defaults");
  mount->add_flag("--no-default-ignore", m.no_default_ignore,
                  "Drop the default ignore list (*.swp, *~, .#*, 4913, *.incomplete, "
                  ".cache/huggingface/)");
  mount->add_option("--commit-wait", m.commit_wait,
                    "Seconds the daemon keeps committing after an unmount")
      ->capture_default_str();
  mount->add_flag("--foreground,-f", m.foreground, "Stay in the foreground and log to stderr");
  mount->add_flag("--allow-other", m.allow_other, "Let other users see the mount");
  mount->add_option("--log-level", m.log_level, "trace, debug, info, warn, error")->capture_default_str();
  mount->add_option("--log-file", m.log_file, "Log file (daemon default: CACHE_DIR/hf-mount.log)");

  std::string unmount_point;
  unsigned unmount_timeout = 600;
  auto* unmount = app.add_subcommand("unmount", "Unmount and wait for the daemon to finish");
  unmount->add_option("MOUNTPOINT", unmount_point)->required();
  unmount->add_option("--timeout", unmount_timeout, "Seconds to wait")->capture_default_str();

  auto* status = app.add_subcommand("status", "Mounts, endpoints, cache use, traffic and pending changes");

  std::string commit_path;
  std::string commit_message;
  auto* commit = app.add_subcommand("commit", "Commit the pending changes of the view holding PATH now");
  commit->add_option("PATH", commit_path, "A folder or file inside a writable branch view")->required();
  commit->add_option("-m,--message", commit_message, "Summary of this commit");

  std::string endpoint;
  auto* login = app.add_subcommand("login", "Store a token (from stdin or a prompt) where huggingface_hub does");
  login->add_option("--endpoint", endpoint, "Hub URL to check the token against");
  auto* whoami = app.add_subcommand("whoami", "Who the stored token belongs to");
  whoami->add_option("--endpoint", endpoint, "Hub URL");
  auto* logout = app.add_subcommand("logout", "Remove the stored token");

  std::string cache_dir = defaultCacheDir();
  std::string prune_to;
  auto* cache_cmd = app.add_subcommand("cache", "Inspect or shrink the cache");
  cache_cmd->require_subcommand(1);
  auto* cache_stats = cache_cmd->add_subcommand("stats", "Blocks and bytes in the cache");
  auto* cache_prune = cache_cmd->add_subcommand("prune", "Evict least recently used blocks");
  auto* cache_clear = cache_cmd->add_subcommand("clear", "Remove every cached block");
  for (auto* c : {cache_stats, cache_prune, cache_clear}) {
    c->add_option("--cache-dir", cache_dir, "Cache directory")->capture_default_str();
  }
  cache_prune->add_option("--to", prune_to, "Target size, e.g. 5G")->required();

  std::vector<std::string> prefetch_paths;
  auto* prefetch = app.add_subcommand("prefetch", "Warm the cache for files or folders in a mount");
  prefetch->add_option("PATH", prefetch_paths)->required();

  CLI11_PARSE(app, argc, argv);
  if (mount->parsed()) {
    return mountCommand(m);
  }
  if (unmount->parsed()) {
    return unmountCommand(unmount_point, unmount_timeout);
  }
  if (status->parsed()) {
    return statusCommand();
  }
  if (commit->parsed()) {
    return commitCommand(commit_path, commit_message);
  }
  if (login->parsed()) {
    return loginCommand(endpoint);
  }
  if (whoami->parsed()) {
    return whoamiCommand(endpoint);
  }
  if (logout->parsed()) {
    return logoutCommand();
  }
  if (cache_cmd->parsed()) {
    return cacheCommand(cache_stats->parsed() ? "stats" : cache_prune->parsed() ? "prune" : "clear",
                        cache_dir, prune_to);
  }
  return prefetchCommand(prefetch_paths);
}
