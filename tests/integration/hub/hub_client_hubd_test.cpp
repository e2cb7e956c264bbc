// SPDX-License-Identifier: Apache-2.0
// HubClient against the real hf-hubd: listings with forced pagination, ranged reads of regular
// and LFS files (through the CDN redirect), private repos, fault injection, a dead server and
// concurrent readers. Byte-for-byte checks against the imported sources.

#include <httplib.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "hub/hub_client.h"
#include "tests/integration/hub/hubd_test_support.h"
#include "tests/support/hubd_process.h"

namespace hfm::hub::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const common::RepoId kTiny{common::RepoType::kModel, "alice", "tiny"};
const common::RepoId kSecret{common::RepoType::kModel, "alice", "secret"};
const std::string kAliceToken = "tok-alice-read";
const std::string kBobToken = "tok-bob-read";
constexpr std::size_t kLfsThreshold = 1 << 20;

std::vector<std::string> tokenArgs() {
  return {"--token", kAliceToken + "=alice:read", "--token", kBobToken + "=bob:read"};
}

// Shared by every test: sources, one seeded root, and the server with --tree-page-size 3.
class HubdTest : public HubdSuite<HubdTest> {
 protected:
  static void SetUpTestSuite() {
    makeDir("hub_integration");
    auto src = dir_ / "src";
    files_ = std::make_unique<std::map<std::string, std::string>>();
    auto add = [&](const std::string& path, std::string data) {
      std::filesystem::create_directories((src / path).parent_path());
      std::ofstream(src / path, std::ios::binary) << data;
      (*files_)[path] = std::move(data);
    };
    add("config.json", R"({"hidden_size": 64})");
    add("dir with space/a#b.txt", "hash and space\n");
    for (int i = 0; i < 12; ++i) {
      add("n/a/b/c/f" + std::to_string(i) + ".txt", "deep " + std::to_string(i) + "\n");
    }
    for (int i = 0; i < 4; ++i) {
      add("n/a/x" + std::to_string(i) + ".txt", "mid " + std::to_string(i) + "\n");
    }
    add("n/top.txt", "top\n");
    add("medium.bin", randomText(700 * 1024, 1));  // regular: below the LFS threshold, no NUL
    add("big.bin", randomBytes(3 * 1024 * 1024 + 123, 2));  // LFS
    auto secret_src = dir_ / "secret";
    std::filesystem::create_directories(secret_src);
    std::ofstream(secret_src / "weights.txt") << "top secret\n";

    root_ = dir_ / "root";
    std::string lfs = std::to_string(kLfsThreshold);
    setup_error_ = testing::importRepo(kHubd, root_, "models/alice/tiny", src, {"--lfs-threshold", lfs});
    if (setup_error_.empty()) {
      setup_error_ = testing::importRepo(kHubd, root_, "models/alice/secret", secret_src, {"--private"});
    }
    if (setup_error_.empty()) {
      // A second root for the fault-injection server (each root is locked by one server).
      fault_root_ = dir_ / "fault_root";
      setup_error_ = testing::importRepo(kHubd, fault_root_, "models/alice/tiny", src, {"--lfs-threshold", lfs});
    }
    if (setup_error_.empty()) {
      auto args = tokenArgs();
      args.insert(args.end(), {"--tree-page-size", "3"});
      server_ = HubdProcess::start(kHubd, root_, args, &setup_error_);
    }
  }
  static void TearDownTestSuite() {
    server_.reset();
    files_.reset();
    std::filesystem::remove_all(dir_);
  }

  static HubOptions options(std::optional<std::string> token = kAliceToken) {
    return hubdOptions(server_->url(), std::move(token));
  }
  static std::unique_ptr<HubClient> client(const HubOptions& o) { return hubdClient(o); }
  static std::string commit(HubClient& c) {
    auto info = c.revision(kTiny, "main");
    EXPECT_TRUE(info) << info.error().message;
    return info ? info->commit : std::string();
  }
  // Random ranged reads of `path`, checked against the source. Returns the number of mismatches.
  static int randomReads(HubClient& c, const common::RepoId& repo, const std::string& sha,
                         const std::string& path, int count, std::size_t max_len, std::uint64_t seed) {
    const std::string& data = files_->at(path);
    std::mt19937_64 rng(seed);
    int bad = 0;
    for (int i = 0; i < count; ++i) {
      std::uint64_t offset = rng() % data.size();
      std::size_t len = 1 + rng() % max_len;
      std::vector<char> buf(len);
      auto n = c.readRange(repo, sha, path, offset, buf);
      std::size_t want = std::min<std::size_t>(len, data.size() - offset);
      if (!n) {
        ADD_FAILURE() << path << " @" << offset << "+" << len << ": " << n.error().message;
        ++bad;
      } else if (*n != want || std::memcmp(buf.data(), data.data() + offset, want) != 0) {
        ADD_FAILURE() << path << " @" << offset << "+" << len << ": wrong bytes (" << *n << ")";
        ++bad;
      }
    }
    return bad;
  }

  static inline std::filesystem::path root_;
  static inline std::filesystem::path fault_root_;
  static inline std::unique_ptr<std::map<std::string, std::string>> files_;
  static inline std::unique_ptr<HubdProcess> server_;
};

TEST_F(HubdTest, RevisionOfBranchAndCommit) {
  auto c = client(options());
  auto main = c->revision(kTiny, "main");
  ASSERT_TRUE(main) << main.error().message;
  EXPECT_EQ(main->commit.size(), 40u);
  EXPECT_FALSE(main->is_private);
  auto age = std::chrono::system_clock::now() - main->last_modified;
  EXPECT_LT(age, std::chrono::hours(1));
  EXPECT_GT(age, -std::chrono::minutes(5));
  auto pinned = c->revision(kTiny, main->commit);
  ASSERT_TRUE(pinned) << pinned.error().message;
  EXPECT_EQ(pinned->commit, main->commit);
  EXPECT_EQ(c->revision(kTiny, "no-such-branch").error().kind, HubErrorKind::kRevisionNotFound);
  EXPECT_EQ(c->revision(kTiny, "refs/pr/1").error().kind, HubErrorKind::kRevisionNotFound);
  EXPECT_EQ(c->revision({common::RepoType::kModel, "alice", "nope"}, "main").error().kind,
            HubErrorKind::kNotFound);
}

TEST_F(HubdTest, ListTreeRecursiveAcrossSmallPages) {
  auto c = client(options());
  std::string sha = commit(*c);
  auto before = c->stats().requests;
  auto entries = c->listTree(kTiny, sha, "", true);
  ASSERT_TRUE(entries) << entries.error().message;
  EXPECT_GT(c->stats().requests - before, 5u);  // page size 3
  std::set<std::string> expected;
  for (const auto& [path, data] : *files_) {
    expected.insert(path);
    for (auto p = std::filesystem::path(path).parent_path(); !p.empty(); p = p.parent_path()) {
      expected.insert(p.string());
    }
  }
  expected.insert(".gitattributes");  // import keeps the Hub's convention of tracking LFS rules
  std::set<std::string> got;
  for (const auto& e : *entries) {
    got.insert(e.path);
    if (!e.is_dir && files_->count(e.path) != 0) {
      const std::string& data = files_->at(e.path);
      EXPECT_EQ(e.size, data.size()) << e.path;
      EXPECT_EQ(e.oid.size(), 40u);
      if (data.size() >= kLfsThreshold) {
        EXPECT_EQ(e.lfs_sha256, common::sha256Hex(data)) << e.path;
      } else {
        EXPECT_FALSE(e.lfs_sha256) << e.path;
        EXPECT_EQ(e.oid, common::gitBlobOid(data)) << e.path;
      }
    }
  }
  got.erase(".gitattributes");
  expected.erase(".gitattributes");
  EXPECT_EQ(got, expected);
}

TEST_F(HubdTest, ListTreeOneLevel) {
  auto c = client(options());
  std::string sha = commit(*c);
  auto deep = c->listTree(kTiny, sha, "n/a/b/c", false);
  ASSERT_TRUE(deep) << deep.error().message;
  EXPECT_EQ(deep->size(), 12u);
  auto mid = c->listTree(kTiny, sha, "n/a/", false);
  ASSERT_TRUE(mid) << mid.error().message;
  std::set<std::string> names;
  for (const auto& e : *mid) {
    names.insert(e.path + (e.is_dir ? "/" : ""));
  }
  EXPECT_EQ(names, (std::set<std::string>{"n/a/b/", "n/a/x0.txt", "n/a/x1.txt", "n/a/x2.txt", "n/a/x3.txt"}));
  auto root = c->listTree(kTiny, sha, "", false);
  ASSERT_TRUE(root) << root.error().message;
  for (const auto& e : *root) {
    EXPECT_EQ(e.path.find('/'), std::string::npos) << e.path;
  }
  auto spaced = c->listTree(kTiny, sha, "dir with space", false);
  ASSERT_TRUE(spaced) << spaced.error().message;
  ASSERT_EQ(spaced->size(), 1u);
  EXPECT_EQ((*spaced)[0].path, "dir with space/a#b.txt");
  EXPECT_EQ(c->listTree(kTiny, sha, "config.json", false).error().kind, HubErrorKind::kEntryNotFound);
  EXPECT_EQ(c->listTree(kTiny, sha, "missing", true).error().kind, HubErrorKind::kEntryNotFound);
}

TEST_F(HubdTest, PathsInfo) {
  auto c = client(options());
  std::string sha = commit(*c);
  auto entries = c->pathsInfo(kTiny, sha, {"config.json", "n/a", "missing.txt", "big.bin", "dir with space/a#b.txt"});
  ASSERT_TRUE(entries) << entries.error().message;
  std::map<std::string, TreeEntry> by_path;
  for (auto& e : *entries) {
    by_path[e.path] = e;
  }
  ASSERT_EQ(by_path.size(), 4u);
  EXPECT_TRUE(by_path["n/a"].is_dir);
  EXPECT_EQ(by_path["big.bin"].size, files_->at("big.bin").size());
  EXPECT_EQ(by_path["big.bin"].lfs_sha256, common::sha256Hex(files_->at("big.bin")));
  EXPECT_EQ(by_path["config.json"].oid, common::gitBlobOid(files_->at("config.json")));
}

TEST_F(HubdTest, ReadRangeRegularAndLfsFiles) {
  auto c = client(options());
  std::string sha = commit(*c);
  EXPECT_EQ(randomReads(*c, kTiny, sha, "medium.bin", 30, 200000, 11), 0);
  EXPECT_EQ(randomReads(*c, kTiny, sha, "big.bin", 30, 1 << 20, 12), 0);
  EXPECT_EQ(randomReads(*c, kTiny, sha, "dir with space/a#b.txt", 5, 100, 13), 0);
  // Whole LFS file in one call, and a read straddling the end.
  const std::string& big = files_->at("big.bin");
  std::vector<char> all(big.size() + 1000);
  auto n = c->readRange(kTiny, sha, "big.bin", 0, all);
  ASSERT_TRUE(n) << n.error().message;
  ASSERT_EQ(*n, big.size());
  EXPECT_EQ(std::memcmp(all.data(), big.data(), big.size()), 0);
  n = c->readRange(kTiny, sha, "big.bin", big.size(), all);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 0u);
  std::vector<char> small(10);
  EXPECT_EQ(c->readRange(kTiny, sha, "missing.bin", 0, small).error().kind, HubErrorKind::kEntryNotFound);
  EXPECT_GT(c->stats().cdn_url_cache_hits, 25u);  // one resolve, then the remembered CDN URL
}

TEST_F(HubdTest, CdnNeverSeesTheToken) {
  auto c = client(options(kAliceToken));
  std::string sha = commit(*c);
  auto before = hubdStats(server_->url());
  EXPECT_EQ(randomReads(*c, kTiny, sha, "big.bin", 10, 65536, 21), 0);
  EXPECT_GE(c->stats().redirects_followed, 1u);
  auto after = hubdStats(server_->url());
  EXPECT_GT(after["requests"]["cdn"].get<std::uint64_t>(), before["requests"]["cdn"].get<std::uint64_t>());
  EXPECT_EQ(after["cdn_requests_with_authorization"].get<std::uint64_t>(), 0u);
}

TEST_F(HubdTest, PrivateRepo) {
  auto anonymous = client(options(std::nullopt));
  auto e = anonymous->revision(kSecret, "main");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().kind, HubErrorKind::kNotFound);
  EXPECT_TRUE(e.error().maybe_private);
  auto stranger = client(options(kBobToken));
  e = stranger->revision(kSecret, "main");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().kind, HubErrorKind::kNotFound);
  EXPECT_FALSE(e.error().maybe_private);
  auto owner = client(options(kAliceToken));
  auto info = owner->revision(kSecret, "main");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_TRUE(info->is_private);
  std::vector<char> buf(100);
  auto n = owner->readRange(kSecret, info->commit, "weights.txt", 0, buf);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(std::string(buf.data(), *n), "top secret\n");
  auto listed = owner->listRepos(common::RepoType::kModel, "alice", 100);
  ASSERT_TRUE(listed) << listed.error().message;
  std::set<std::string> names;
  for (const auto& r : *listed) {
    names.insert(r.id.fullName() + (r.is_private ? " (private)" : ""));
  }
  EXPECT_EQ(names, (std::set<std::string>{"alice/secret (private)", "alice/tiny"}));
  auto public_only = anonymous->listRepos(common::RepoType::kModel, "alice", 100);
  ASSERT_TRUE(public_only) << public_only.error().message;
  EXPECT_EQ(public_only->size(), 1u);
  auto who = owner->whoami();
  ASSERT_TRUE(who) << who.error().message;
  EXPECT_EQ(who->name, "alice");
  EXPECT_EQ(who->role, "read");
  auto bad = client(options("tok-invalid"));
  EXPECT_EQ(bad->whoami().error().kind, HubErrorKind::kUnauthorized);
}

TEST_F(HubdTest, RetriesThroughInjectedFaults) {
  std::string error;
  auto args = tokenArgs();
  args.insert(args.end(), {"--faults", "resolve+cdn:503=0.3,cut=0.2:100000;all:latency=5ms", "--seed", "7"});
  auto faulty = HubdProcess::start(kHubd, fault_root_, args, &error);
  ASSERT_TRUE(faulty) << error;
  HubOptions o = options();
  o.endpoint = faulty->url();
  o.retry_deadline = milliseconds(30000);
  auto c = client(o);
  auto info = c->revision(kTiny, "main");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(randomReads(*c, kTiny, info->commit, "big.bin", 50, 1 << 20, 31), 0);
  EXPECT_GT(c->stats().retries, 0u);
  std::cerr << "fault run: " << c->stats().requests << " requests, " << c->stats().retries
            << " retries\n";
  c.reset();  // close keep-alive connections first: hf-hubd waits for idle ones when stopping
  faulty->stop();
}

TEST_F(HubdTest, ServerDownFailsWithinTheDeadline) {
  std::string error;
  auto down_root = dir_ / "down_root";
  auto down = HubdProcess::start(kHubd, down_root, {}, &error);
  ASSERT_TRUE(down) << error;
  std::string url = down->url();
  down->stop();
  HubOptions o;
  o.endpoint = url;
  o.retry_deadline = milliseconds(2000);
  auto c = client(o);
  std::vector<char> buf(4096);
  auto start = Clock::now();
  auto n = c->readRange(kTiny, std::string(40, 'a'), "big.bin", 0, buf);
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(n);
  EXPECT_TRUE(n.error().kind == HubErrorKind::kNetwork || n.error().kind == HubErrorKind::kTimeout)
      << n.error().message;
  EXPECT_LT(elapsed, milliseconds(3500));
  EXPECT_GT(c->stats().retries, 0u);
  auto info = c->revision(kTiny, "main");
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().kind, HubErrorKind::kNetwork) << info.error().message;
}

TEST_F(HubdTest, ConcurrentReaders) {
  auto c = client(options());
  std::string sha = commit(*c);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const char* path = t % 2 == 0 ? "big.bin" : "medium.bin";
      bad += randomReads(*c, kTiny, sha, path, 25, 300000, 100 + static_cast<std::uint64_t>(t));
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(bad.load(), 0);
}

// Not a correctness test: single-stream throughput and small-read latency on a 1 GiB LFS file.
// Run with HFM_HUB_BENCH=1 (it imports 1 GiB).
TEST_F(HubdTest, Benchmark) {
  const char* enabled = std::getenv("HFM_HUB_BENCH");
  if (enabled == nullptr || std::string(enabled) != "1") {
    GTEST_SKIP() << "set HFM_HUB_BENCH=1 to run";
  }
  auto src = dir_ / "bench_src";
  std::filesystem::create_directories(src);
  constexpr std::size_t kSize = 1ull << 30;
  {
    std::string chunk = randomBytes(16 << 20, 99);
    std::ofstream out(src / "huge.bin", std::ios::binary);
    for (std::size_t i = 0; i < kSize / chunk.size(); ++i) {
      chunk[0] = static_cast<char>(i);
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    }
  }
  auto bench_root = dir_ / "bench_root";
  ASSERT_EQ(testing::importRepo(kHubd, bench_root, "models/alice/huge", src), "");
  std::filesystem::remove_all(src);
  std::string error;
  auto server = HubdProcess::start(kHubd, bench_root, {}, &error);
  ASSERT_TRUE(server) << error;
  HubOptions o;
  o.endpoint = server->url();
  auto c = client(o);
  const common::RepoId repo{common::RepoType::kModel, "alice", "huge"};
  auto info = c->revision(repo, "main");
  ASSERT_TRUE(info) << info.error().message;
  std::vector<char> buf(16 << 20);
  for (int run = 0; run < 3; ++run) {
    auto start = Clock::now();
    std::uint64_t total = 0;
    for (std::uint64_t offset = 0; offset < kSize; offset += buf.size()) {
      auto n = c->readRange(repo, info->commit, "huge.bin", offset, buf);
      ASSERT_TRUE(n) << n.error().message;
      total += *n;
    }
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::cerr << "sequential 16 MiB readRange: " << static_cast<double>(total) / secs / 1e6 << " MB/s\n";
  }
  std::mt19937_64 rng(5);
  std::vector<char> small(4096);
  std::vector<double> micros;
  for (int i = 0; i < 2000; ++i) {
    std::uint64_t offset = (rng() % (kSize / 4096)) * 4096;
    auto start = Clock::now();
    auto n = c->readRange(repo, info->commit, "huge.bin", offset, small);
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    ASSERT_TRUE(n) << n.error().message;
  }
  c.reset();
  std::sort(micros.begin(), micros.end());
  std::cerr << "random 4 KiB readRange: median " << micros[micros.size() / 2] << " us, p90 "
            << micros[micros.size() * 9 / 10] << " us, p99 " << micros[micros.size() * 99 / 100] << " us\n";
}

}  // namespace
}  // namespace hfm::hub::testing
