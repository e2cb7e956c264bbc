// SPDX-License-Identifier: Apache-2.0
// hf-hubd: a local server speaking the Hugging Face Hub HTTP API.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "common/file_util.h"
#include "common/hex.h"
#include "hf-hubd/http_server.h"
#include "hf-hubd/importer.h"

namespace {

using hfm::common::UniqueFd;

// One process per root: the server keeps refs in memory, so an import must not run beside it.
hfm::common::Result<UniqueFd> lockRoot(const std::filesystem::path& root) {
  if (auto st = hfm::common::makeDirs(root); !st) {
    return hfm::common::Unexpected<hfm::common::Error>(st.error());
  }
  auto fd = hfm::common::openFile(root / ".lock", O_RDWR | O_CREAT, 0644);
  if (!fd) {
    return fd;
  }
  if (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) {
    return hfm::common::makeError(hfm::common::ErrorKind::kConflict,
                                  "another hf-hubd process is using " + root.string());
  }
  return fd;
}

// The key that signs CDN and upload URLs, kept in the root so URLs outlive a restart.
hfm::common::Result<std::string> loadSigningKey(const std::filesystem::path& root) {
  auto path = root / "signing.key";
  if (auto existing = hfm::common::readFile(path)) {
    if (existing->size() >= 32) {
      return *existing;
    }
  }
  std::random_device rd;
  std::array<std::uint8_t, 32> bytes{};
  for (auto& b : bytes) {
    b = static_cast<std::uint8_t>(rd());
  }
  std::string key = hfm::common::toHex(bytes);
  if (auto st = hfm::common::writeFileAtomic(path, key); !st) {
    return hfm::common::Unexpected<hfm::common::Error>(st.error());
  }
  ::chmod(path.c_str(), 0600);
  return key;
}

// The object store and the repositories on top of it; the repository store keeps a pointer to
// the object store, so both live on the heap and are destroyed together.
struct Stores {
  std::unique_ptr<hfm::hubd::ObjectStore> objects;
  std::unique_ptr<hfm::hubd::RepoStore> repos;
  std::unique_ptr<hfm::hubd::XetStore> xet;
};

hfm::common::Result<Stores> openStores(const std::filesystem::path& root) {
  auto objects = hfm::hubd::ObjectStore::open(root);
  if (!objects) {
    return hfm::common::Unexpected<hfm::common::Error>(objects.error());
  }
  Stores stores{std::make_unique<hfm::hubd::ObjectStore>(std::move(*objects)), nullptr, nullptr};
  auto repos = hfm::hubd::RepoStore::open(root, stores.objects.get());
  if (!repos) {
    return hfm::common::Unexpected<hfm::common::Error>(repos.error());
  }
  stores.repos = std::move(*repos);
  auto xet = hfm::hubd::XetStore::open(root, stores.objects.get());
  if (!xet) {
    return hfm::common::Unexpected<hfm::common::Error>(xet.error());
  }
  stores.xet = std::move(*xet);
  return stores;
}

struct ServeArgs {
  std::string root;
  std::string listen = "127.0.0.1:0";
  std::string cdn_listen = "127.0.0.1:0";
  std::vector<std::string> tokens;
  std::vector<std::string> orgs;
  std::vector<std::string> grants;
  std::string faults;
  std::uint64_t seed = 0;
  std::size_t tree_page_size = 1000;
  std::uint64_t lfs_part_size = 16ull << 20;
  std::uint64_t lfs_multipart_threshold = 64ull << 20;
  std::uint64_t lfs_threshold = 10ull << 20;
  std::int64_t cdn_url_ttl = 3600;
  std::size_t workers = 64;
  bool xet_default = false;
};

struct ImportArgs {
  std::string root;
  std::string repo;
  bool is_private = false;
  bool is_gated = false;
  std::string branch = "main";
  std::string message;
  std::string source;
  std::uint64_t lfs_threshold = 10ull << 20;
  bool xet = false;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "hf-hubd: %s\n", message.c_str());
  return 1;
}

int serve(const ServeArgs& args) {
  using namespace hfm::hubd;
  std::filesystem::path root(args.root);
  auto lock = lockRoot(root);
  if (!lock) {
    return fail(lock.error().message);
  }
  auto api = parseListenAddress(args.listen);
  auto cdn = parseListenAddress(args.cdn_listen);
  if (!api || !cdn) {
    return fail(!api ? api.error().message : cdn.error().message);
  }
  auto auth = Auth::make(args.tokens, args.orgs, args.grants);
  if (!auth) {
    return fail(auth.error().message);
  }
  auto faults = FaultPlan::parse(args.faults, args.seed);
  if (!faults) {
    return fail(faults.error().message);
  }
  auto key = loadSigningKey(root);
  if (!key) {
    return fail(key.error().message);
  }
  auto stores = openStores(root);
  if (!stores) {
    return fail(stores.error().message);
  }
  ServiceOptions options;
  options.root = root;
  options.tree_page_size = std::max<std::size_t>(1, args.tree_page_size);
  options.lfs_part_size = args.lfs_part_size;
  options.lfs_multipart_threshold = args.lfs_multipart_threshold;
  options.lfs_threshold = args.lfs_threshold;
  options.cdn_url_ttl_s = args.cdn_url_ttl;
  options.xet_default = args.xet_default;
  HubService service(options, stores->objects.get(), stores->repos.get(), stores->xet.get(),
                     std::move(*auth),
                     UrlSigner(*key, args.cdn_url_ttl), std::move(*faults));

  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto server = HttpServer::start(&service, *api, *cdn, std::max<std::size_t>(8, args.workers));
  if (!server) {
    return fail(server.error().message);
  }
  std::string host = api->host.find(':') != std::string::npos ? "[" + api->host + "]" : api->host;
  std::printf("http://%s:%u\n", host.c_str(), static_cast<unsigned>((*server)->apiPort()));
  std::fflush(stdout);
  std::fprintf(stderr, "hf-hubd: serving %s, API on port %u, CDN on port %u\n", root.c_str(),
               static_cast<unsigned>((*server)->apiPort()),
               static_cast<unsigned>((*server)->cdnPort()));
  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "hf-hubd: stopping on signal %d\n", sig);
  // Everything acknowledged is already on disk, so a shutdown that waits too long on clients'
  // idle connections may simply end the process.
  std::jthread watchdog([](const std::stop_token& stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock guard(mu);
    if (!cv.wait_for(guard, stop, std::chrono::seconds(3), [] { return false; })) {
      if (!stop.stop_requested()) {
        std::fprintf(stderr, "hf-hubd: connections still open after 3 s; exiting\n");
        std::_Exit(0);
      }
    }
  });
  (*server)->stop();
  server->reset();
  watchdog.request_stop();
  return 0;
}

int import(const ImportArgs& args) {
  using namespace hfm::hubd;
  auto id = hfm::common::parseRepoKey(args.repo);
  if (!id) {
    return fail(id.error().message);
  }
  std::filesystem::path root(args.root);
  auto lock = lockRoot(root);
  if (!lock) {
    return fail(lock.error().message + " (stop the server before importing)");
  }
  auto stores = openStores(root);
  if (!stores) {
    return fail(stores.error().message);
  }
  ImportOptions options;
  options.is_private = args.is_private;
  options.is_gated = args.is_gated;
  options.branch = args.branch;
  options.message = args.message;
  options.lfs_threshold = args.lfs_threshold;
  options.xet = args.xet ? stores->xet.get() : nullptr;
  auto result = importFolder(*stores->repos, *id, args.source, options);
  if (!result) {
    return fail("import failed: " + result.error().message);
  }
  std::printf("imported %zu files (%zu LFS, %llu bytes) into %s@%s as commit %s\n",
              result->files, result->lfs_files, static_cast<unsigned long long>(result->bytes),
              id->key().c_str(), args.branch.c_str(), result->commit.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hf-hubd: a local server speaking the Hugging Face Hub HTTP API"};
  app.require_subcommand(1);

  ServeArgs serve_args;
  auto* serve_cmd = app.add_subcommand("serve", "Serve the repositories under --root");
  serve_cmd->add_option("--root", serve_args.root, "Storage folder")->required();
  serve_cmd->add_option("--listen", serve_args.listen, "API address HOST:PORT (port 0: any free)")
      ->capture_default_str();
  serve_cmd->add_option("--cdn-listen", serve_args.cdn_listen, "CDN address HOST:PORT")
      ->capture_default_str();
  serve_cmd->add_option("--token", serve_args.tokens, "TOKEN=USER:ROLE, ROLE read or write (repeat)");
  serve_cmd->add_option("--org", serve_args.orgs, "ORG=USER[,USER...]: organization members (repeat)");
  serve_cmd->add_option("--grant", serve_args.grants,
                        "USER=TYPE/NS/NAME: access to a gated repository (repeat)");
  serve_cmd->add_option("--faults", serve_args.faults, "Fault injection spec (docs/hubd-faults.md)");
  serve_cmd->add_option("--seed", serve_args.seed, "Seed for fault injection")->capture_default_str();
  serve_cmd->add_option("--tree-page-size", serve_args.tree_page_size, "Entries per tree page")
      ->capture_default_str();
  serve_cmd->add_option("--lfs-part-size", serve_args.lfs_part_size, "Multipart LFS part size, bytes")
      ->capture_default_str();
  serve_cmd->add_option("--lfs-multipart-threshold", serve_args.lfs_multipart_threshold,
                        "LFS uploads larger than this use multipart, bytes")
      ->capture_default_str();
  serve_cmd->add_option("--lfs-threshold", serve_args.lfs_threshold,
                        "Preupload: files larger than this are LFS, bytes")
      ->capture_default_str();
  serve_cmd->add_option("--cdn-url-ttl", serve_args.cdn_url_ttl,
                        "Lifetime of signed CDN and upload URLs, seconds")
      ->capture_default_str();
  serve_cmd->add_option("--workers", serve_args.workers, "Worker threads per listener")
      ->capture_default_str();
  serve_cmd->add_flag("--xet-default", serve_args.xet_default,
                      "Repositories created through the API are Xet-enabled, as on the Hub today");

  ImportArgs import_args;
  auto* import_cmd =
      app.add_subcommand("import", "Seed (or add a commit to) a repository from a local folder");
  import_cmd->add_option("--root", import_args.root, "Storage folder")->required();
  import_cmd->add_option("--repo", import_args.repo, "TYPE/NS/NAME, e.g. models/alice/tiny-bert")
      ->required();
  import_cmd->add_flag("--private", import_args.is_private, "Create the repository private");
  import_cmd->add_flag("--gated", import_args.is_gated, "Create the repository gated");
  import_cmd->add_option("--branch", import_args.branch, "Branch to commit to")->capture_default_str();
  import_cmd->add_option("-m,--message", import_args.message, "Commit message");
  import_cmd->add_option("--lfs-threshold", import_args.lfs_threshold,
                         "Files larger than this are LFS, bytes")
      ->capture_default_str();
  import_cmd->add_flag("--xet", import_args.xet,
                       "Create the repository Xet-enabled and store its LFS files in the CAS");
  import_cmd->add_option("SRC_DIR", import_args.source, "Folder to import")->required();

  CLI11_PARSE(app, argc, argv);
  if (serve_cmd->parsed()) {
    return serve(serve_args);
  }
  return import(import_args);
}
