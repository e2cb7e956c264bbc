// SPDX-License-Identifier: Apache-2.0
// Xet through the Filesystem API, without the kernel, against a real hf-hubd (`import --xet`,
// `serve --xet-default`): XetRangeSource reads (concurrent readers, the chunk cache shared by a
// sibling file and by a second revision, a warm read needing no network) and XetUploader writes
// (a file written in a branch view reaches the CAS, never the LFS upload route, gets a xetHash and
// reads back exactly), one of them while two threads read another Xet file. Run under TSan by
// scripts/sanitize.sh thread.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <barrier>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "common/hash.h"
#include "tests/support/fs_stack.h"
#include "tests/support/hubd_process.h"

namespace hfm::fs {
namespace {

namespace fsys = std::filesystem;
using hub::testing::HubdProcess;
using testing::FsStack;
using testing::randomBytes;

constexpr const char* kToken = "hf_xet_writer";
constexpr const char* kRepoPath = "models/alice/xet";
const common::RepoId kRepo{common::RepoType::kModel, "alice", "xet"};
constexpr auto kNever = std::chrono::hours(1);  // commit_delay: only fsync commits
constexpr std::size_t kMaxChunk = 128u << 10;   // largest Xet chunk

// 6 MiB: the first half random, the second repetitive text (LZ4 shrinks it), the first byte NUL
// so that hf-hubd stores it as LFS, hence in the CAS.
std::string xetContent(unsigned seed) {
  constexpr std::size_t kSize = 6u << 20;
  std::string out = randomBytes(kSize / 2, seed);
  for (std::size_t line = 0; out.size() < kSize; ++line) {
    out += "line " + std::to_string(line % 1000) + " of the repetitive half of a Xet file\n";
  }
  out.resize(kSize);
  out[0] = '\0';
  return out;
}

std::string sha256(const std::string& data) {
  common::Digest d(common::Digest::Algorithm::kSha256);
  d.update(data);
  return d.finishHex();
}

XetReadStats minus(const XetReadStats& a, const XetReadStats& b) {
  return {a.chunks_from_cache - b.chunks_from_cache, a.chunks_fetched - b.chunks_fetched,
          a.xorb_bytes_fetched - b.xorb_bytes_fetched, a.reconstructions - b.reconstructions,
          a.hash_mismatches - b.hash_mismatches};
}

std::string describe(const XetReadStats& s) {
  return "chunks_fetched=" + std::to_string(s.chunks_fetched) +
         " chunks_from_cache=" + std::to_string(s.chunks_from_cache) +
         " xorb_bytes_fetched=" + std::to_string(s.xorb_bytes_fetched) +
         " reconstructions=" + std::to_string(s.reconstructions) +
         " hash_mismatches=" + std::to_string(s.hash_mismatches);
}

// Readers on their own threads record the first problem here; the test thread checks it.
class Problems {
 public:
  void add(const std::string& what) {
    std::lock_guard lock(mu_);
    if (count_++ == 0) {
      first_ = what;
    }
  }
  std::string summary() const {
    std::lock_guard lock(mu_);
    return count_ == 0 ? "" : std::to_string(count_) + " problem(s), first: " + first_;
  }

 private:
  mutable std::mutex mu_;
  std::size_t count_ = 0;
  std::string first_;
};

// Reads [offset, offset+len) of `want` through its own handle `fh`; false on a problem.
bool readAndCompare(Filesystem& fs, std::uint64_t fh, std::uint64_t offset, std::size_t len,
                    const std::string& want, const std::string& who, Problems& problems) {
  std::string got(len, '\0');
  std::size_t done = 0;
  while (done < len) {
    auto n = fs.read(fh, offset + done, std::span<char>(got.data() + done, len - done));
    if (!n) {
      problems.add(who + ": read at " + std::to_string(offset + done) + " failed: " +
                   n.error().message);
      return false;
    }
    if (*n == 0) {
      break;
    }
    done += *n;
  }
  std::size_t expected = offset >= want.size() ? 0 : std::min(len, want.size() - offset);
  if (done != expected || got.compare(0, done, want, offset, done) != 0) {
    problems.add(who + ": bytes at " + std::to_string(offset) + " (+" + std::to_string(len) +
                 ") differ");
    return false;
  }
  return true;
}

// One reader thread's work on its own handle: `kind` 0 reads the whole file sequentially in
// 128 KiB pieces (as the kernel would, so the engine prefetches), 1 in uneven 300 KiB pieces,
// otherwise 48 reads at random offsets of random lengths up to 256 KiB.
void readerWork(Filesystem& fs, std::uint64_t ino, const std::string& want, int kind,
                Problems& problems) {
  std::string who = "reader " + std::to_string(kind);
  auto fh = fs.open(ino, O_RDONLY);
  if (!fh) {
    problems.add(who + ": open failed: " + fh.error().message);
    return;
  }
  if (kind == 0 || kind == 1) {
    std::size_t step = kind == 0 ? (128u << 10) : (300u << 10) + 17;
    for (std::uint64_t off = 0; off < want.size(); off += step) {
      if (!readAndCompare(fs, *fh, off, step, want, who, problems)) {
        break;
      }
    }
  } else {
    std::mt19937_64 rng(static_cast<std::uint64_t>(kind) * 7919);
    for (int i = 0; i < 48; ++i) {
      std::uint64_t off = rng() % want.size();
      std::size_t len = 1 + static_cast<std::size_t>(rng() % (256u << 10));
      if (!readAndCompare(fs, *fh, off, len, want, who, problems)) {
        break;
      }
    }
  }
  fs.release(*fh);
}

// Every test gets its own hf-hubd root holding models/alice/xet with two commits:
//   v1: model.bin (xetContent), README.md
//   v2: model.bin with three small edits, and sibling.bin (v1's model.bin with bytes 1..63
//       changed). Imported after model.bin, both reference its xorb for every chunk they share.
class FilesystemXetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fsys::temp_directory_path() /
           ("hfm-fs-xet-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fsys::remove_all(dir_);
    model_ = xetContent(21);
    sibling_ = model_;
    for (std::size_t i = 1; i < 64; ++i) {
      sibling_[i] = static_cast<char>('a' + i % 26);
    }
    v2_ = model_;
    for (std::size_t at : {std::size_t{1u << 20}, std::size_t{(4u << 20) + 333},
                           std::size_t{(5u << 20) + 77777}}) {
      v2_.replace(at, 5, "EDIT!");
    }
    testing::writeFile(dir_ / "v1" / "model.bin", model_);
    testing::writeFile(dir_ / "v1" / "README.md", "# xet\n");
    testing::writeFile(dir_ / "v2" / "model.bin", v2_);
    testing::writeFile(dir_ / "v2" / "sibling.bin", sibling_);
    for (const char* version : {"v1", "v2"}) {
      ASSERT_EQ(hub::testing::importRepo(HFM_HUBD_BINARY, dir_ / "root", kRepoPath,
                                         dir_ / version, {"--xet", "-m", version}),
                "");
    }
    std::string error;
    hubd_ = HubdProcess::start(HFM_HUBD_BINARY, dir_ / "root",
                               {"--xet-default", "--token", std::string(kToken) + "=alice:write"},
                               &error);
    ASSERT_NE(hubd_, nullptr) << error;
    admin_ = hubd_->client(kToken);
    ASSERT_NE(admin_, nullptr);
    auto commits = admin_->listCommits(kRepo, "main", 10);
    ASSERT_TRUE(commits) << commits.error().message;
    ASSERT_EQ(commits->size(), 2u);
    v2_commit_ = (*commits)[0].id;
    v1_commit_ = (*commits)[1].id;
    for (const auto& [commit, path] : {std::pair{v1_commit_, "model.bin"},
                                       std::pair{v2_commit_, "sibling.bin"},
                                       std::pair{v2_commit_, "model.bin"}}) {
      ASSERT_TRUE(xetHash(commit, path)) << path << " at " << commit << " has no xetHash";
    }
    startLoggingOnThisThread();
  }

  // The first spdlog call of the process builds spdlog's registry, a function-local static of
  // the uninstrumented libspdlog: when that first call happens on two threads at once (the
  // readers below, or a committer thread), TSan cannot see the guard's synchronization and
  // reports a race inside spdlog. hf-mount's main() logs before it starts any thread; here a
  // read on the test's thread (the engine logs each fetch) does the same, once per process.
  void startLoggingOnThisThread() {
    static bool started = false;  // test thread only
    if (started) {
      return;
    }
    auto s = stack("cache-log");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(readAll(*s, view(v1_commit_) + "/README.md"), "# xet\n");
    started = true;
  }

  void TearDown() override {
    admin_.reset();
    hubd_.reset();
    std::error_code ec;
    fsys::remove_all(dir_, ec);
  }

  // A stack over the cache folder `cache`; writable (branch views) when `write`.
  std::unique_ptr<FsStack> stack(const std::string& cache, bool write = false) {
    FsOptions options;
    if (write) {
      options.read_only = false;
      options.endpoint = hubd_->url();
      options.write_dir = (dir_ / ("write-" + cache)).string();
      options.commit_delay = kNever;
    }
    std::string error;
    auto s = FsStack::open(hubd_->url(), kToken, dir_ / cache, std::move(options), &error);
    EXPECT_NE(s, nullptr) << error;
    return s;
  }

  static std::string view(const std::string& revision) {
    return std::string(kRepoPath) + "@" + revision;
  }

  std::uint64_t walk(FsStack& s, const std::string& path) {
    auto ino = s.walk(path);
    EXPECT_TRUE(ino) << "lookup of " << path << ": " << (ino ? "" : ino.error().message);
    return ino ? *ino : 0;
  }

  std::string readAll(FsStack& s, const std::string& path) {
    auto bytes = s.readAll(walk(s, path));
    EXPECT_TRUE(bytes) << path << ": " << (bytes ? "" : bytes.error().message);
    return bytes ? *bytes : "<unreadable>";
  }

  std::optional<std::string> xetHash(const std::string& commit, const std::string& path) {
    auto info = admin_->pathsInfo(kRepo, commit, {path});
    if (!info || info->size() != 1) {
      return std::nullopt;
    }
    return info->front().xet_hash;
  }

  std::string head() {
    auto info = admin_->revision(kRepo, "main");
    EXPECT_TRUE(info);
    return info ? info->commit : "";
  }

  // hf-hubd's counter `group` ("requests", "bytes_received", "bytes_sent") of route class `cls`.
  std::uint64_t hubdCounter(const std::string& group, const std::string& cls) {
    httplib::Client client(hubd_->url());
    auto res = client.Get("/_hubd/stats");
    if (!res || res->status != 200) {
      ADD_FAILURE() << "no /_hubd/stats";
      return 0;
    }
    auto g = res->body.find("\"" + group + "\"");
    auto c = res->body.find("\"" + cls + "\":", g);
    if (g == std::string::npos || c == std::string::npos) {
      ADD_FAILURE() << "no " << group << "." << cls << " in " << res->body;
      return 0;
    }
    return std::stoull(res->body.substr(c + cls.size() + 3));
  }

  // create + writes in 256 KiB pieces + close (flush, release), as `cp` does it.
  void putFile(Filesystem& fs, std::uint64_t parent, const std::string& name,
               const std::string& content) {
    auto made = fs.create(parent, name, 0644, O_WRONLY | O_CREAT | O_TRUNC);
    ASSERT_TRUE(made) << name << ": " << made.error().message;
    for (std::size_t done = 0; done < content.size();) {
      std::size_t n = std::min<std::size_t>(256u << 10, content.size() - done);
      auto wrote = fs.write(made->fh, done, std::span<const char>(content.data() + done, n));
      ASSERT_TRUE(wrote) << wrote.error().message;
      ASSERT_EQ(*wrote, n);
      done += n;
    }
    auto flushed = fs.flush(made->fh);
    EXPECT_TRUE(flushed) << flushed.error().message;
    fs.release(made->fh);
  }

  // The committed file at `commit`: a Xet file with this SHA-256, read back exactly through a
  // fresh stack (empty cache), whose reads go through the CAS.
  void expectCommittedXetFile(const std::string& commit, const std::string& path,
                              const std::string& want) {
    auto info = admin_->pathsInfo(kRepo, commit, {path});
    ASSERT_TRUE(info) << info.error().message;
    ASSERT_EQ(info->size(), 1u) << path << " missing at " << commit;
    EXPECT_TRUE(info->front().xet_hash.has_value()) << path << " has no xetHash";
    EXPECT_EQ(info->front().lfs_sha256.value_or(""), sha256(want));
    EXPECT_EQ(info->front().size, want.size());
    auto reader = stack("cache-check-" + std::to_string(checks_++));
    ASSERT_NE(reader, nullptr);
    EXPECT_TRUE(readAll(*reader, view(commit) + "/" + path) == want) << path << " differs";
    XetReadStats st = reader->xet().stats();
    EXPECT_GT(st.chunks_fetched, 0u) << describe(st);
    EXPECT_EQ(st.hash_mismatches, 0u);
  }

  fsys::path dir_;
  std::string model_;
  std::string sibling_;
  std::string v2_;
  std::string v1_commit_;
  std::string v2_commit_;
  std::unique_ptr<HubdProcess> hubd_;
  std::unique_ptr<hub::HubClient> admin_;
  int checks_ = 0;
};

TEST_F(FilesystemXetTest, FourConcurrentReadersThenTheCacheServesASecondStack) {
  auto a = stack("cache-a");
  ASSERT_NE(a, nullptr);
  std::uint64_t ino = walk(*a, view(v1_commit_) + "/model.bin");
  ASSERT_NE(ino, 0u);
  std::uint64_t cas_before = hubdCounter("requests", "cas");
  {
    Problems problems;
    std::barrier start(4);
    std::vector<std::thread> threads;
    for (int kind = 0; kind < 4; ++kind) {
      threads.emplace_back([&, kind] {
        start.arrive_and_wait();
        readerWork(a->fs(), ino, model_, kind, problems);
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    EXPECT_EQ(problems.summary(), "");
  }
  XetReadStats cold = a->xet().stats();
  // Every chunk was fetched at least once (a chunk is at most 128 KiB); the repetitive half is
  // compressed in its xorb, so fewer serialized bytes than file bytes came over.
  EXPECT_GE(cold.chunks_fetched, model_.size() / kMaxChunk) << describe(cold);
  EXPECT_GT(cold.reconstructions, 0u);
  EXPECT_EQ(cold.hash_mismatches, 0u);
  EXPECT_LT(cold.xorb_bytes_fetched, model_.size()) << describe(cold);
  EXPECT_GT(hubdCounter("requests", "cas"), cas_before);
  a.reset();  // one LMDB environment per folder per process

  // The same file through a second stack on the same cache: the engine's file blocks answer,
  // so nothing reaches XetRangeSource and no CAS request is made.
  auto b = stack("cache-a");
  ASSERT_NE(b, nullptr);
  cas_before = hubdCounter("requests", "cas");
  EXPECT_TRUE(readAll(*b, view(v1_commit_) + "/model.bin") == model_);
  XetReadStats warm = b->xet().stats();
  EXPECT_EQ(warm.chunks_fetched, 0u) << describe(warm);
  EXPECT_EQ(warm.reconstructions, 0u) << describe(warm);
  EXPECT_GE(b->engine().stats().blocks_from_cache, model_.size() >> 20);
  EXPECT_EQ(hubdCounter("requests", "cas"), cas_before);

  // sibling.bin differs from model.bin in its first 64 bytes: a file the cache has no block of,
  // whose chunks but the first are model.bin's (hf-hubd deduplicates them at import), now taken
  // from the chunk cache.
  EXPECT_TRUE(readAll(*b, view(v2_commit_) + "/sibling.bin") == sibling_);
  XetReadStats sib = minus(b->xet().stats(), warm);
  EXPECT_GE(sib.chunks_from_cache, model_.size() / kMaxChunk - 2) << describe(sib);
  EXPECT_GT(sib.chunks_fetched, 0u) << describe(sib);
  EXPECT_LE(sib.chunks_fetched, 4u) << describe(sib);
  EXPECT_EQ(sib.hash_mismatches, 0u);
}

TEST_F(FilesystemXetTest, ASecondRevisionFetchesOnlyItsChangedChunks) {
  auto s = stack("cache");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(readAll(*s, view(v1_commit_) + "/model.bin") == model_);
  XetReadStats first = s->xet().stats();
  EXPECT_GE(first.chunks_fetched, model_.size() / kMaxChunk) << describe(first);

  EXPECT_TRUE(readAll(*s, view(v2_commit_) + "/model.bin") == v2_);
  XetReadStats second = minus(s->xet().stats(), first);
  // Three 5-byte edits: a few new chunks (each edit changes the chunk it falls in, maybe the
  // next when it moves a boundary); every other chunk comes from the cache.
  EXPECT_GT(second.chunks_fetched, 0u) << describe(second);
  EXPECT_LE(second.chunks_fetched, 12u) << describe(second);
  EXPECT_LE(second.chunks_fetched * 8, first.chunks_fetched)
      << "first: " << describe(first) << "; second: " << describe(second);
  EXPECT_LE(second.xorb_bytes_fetched * 8, first.xorb_bytes_fetched)
      << "first: " << describe(first) << "; second: " << describe(second);
  EXPECT_GE(second.chunks_from_cache, model_.size() / kMaxChunk - 12) << describe(second);
  EXPECT_EQ(second.hash_mismatches, 0u);
}

TEST_F(FilesystemXetTest, AWrittenFileGoesToTheCasAndReadsBack) {
  auto w = stack("cache-w", true);
  ASSERT_NE(w, nullptr);
  std::uint64_t branch = walk(*w, view("main"));
  ASSERT_NE(branch, 0u);
  std::string data = randomBytes((3u << 20) + 4321, 5);
  data[0] = '\0';  // binary: the preupload answers LFS, the LFS batch offers Xet
  std::uint64_t cas_in = hubdCounter("bytes_received", "cas");
  std::uint64_t upload_in = hubdCounter("bytes_received", "upload");
  std::string before = head();
  putFile(w->fs(), branch, "written.bin", data);
  ASSERT_TRUE(w->fs().fsyncdir(branch));
  std::string commit = head();
  ASSERT_NE(commit, before);
  auto pending = w->fs().pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].last_commit, commit);
  EXPECT_EQ(pending[0].last_error, "");

  // Random bytes do not compress: the xorb carries them all, plus headers and the shard.
  std::uint64_t cas = hubdCounter("bytes_received", "cas") - cas_in;
  EXPECT_GE(cas, data.size());
  EXPECT_LE(cas, data.size() + data.size() / 20 + (64u << 10));
  EXPECT_EQ(hubdCounter("bytes_received", "upload"), upload_in);
  // The writer sees its own file (now the committed one).
  EXPECT_TRUE(readAll(*w, view("main") + "/written.bin") == data);
  w.reset();
  expectCommittedXetFile(commit, "written.bin", data);
}

TEST_F(FilesystemXetTest, AnUploadWhileTwoThreadsReadAnotherXetFile) {
  auto w = stack("cache-w", true);
  ASSERT_NE(w, nullptr);
  std::uint64_t branch = walk(*w, view("main"));
  ASSERT_NE(branch, 0u);
  std::uint64_t sibling = walk(*w, view(v2_commit_) + "/sibling.bin");
  ASSERT_NE(sibling, 0u);
  // Two files in one commit round: one new, one that is model.bin with an edit, whose chunks but
  // one or two the CAS holds; the uploader's dedup query for the first chunk finds the rest.
  std::string fresh = randomBytes((2u << 20) + 99, 8);
  fresh[0] = '\0';
  std::string edited = model_;
  edited.replace(3u << 20, 11, "EDITED HERE");
  putFile(w->fs(), branch, "fresh.bin", fresh);
  putFile(w->fs(), branch, "edited.bin", edited);
  std::uint64_t cas_in = hubdCounter("bytes_received", "cas");
  std::uint64_t upload_in = hubdCounter("bytes_received", "upload");

  Problems problems;
  std::barrier start(3);
  std::vector<std::thread> readers;
  for (int kind : {0, 2}) {
    readers.emplace_back([&, kind] {
      start.arrive_and_wait();
      readerWork(w->fs(), sibling, sibling_, kind, problems);
    });
  }
  start.arrive_and_wait();
  auto synced = w->fs().fsyncdir(branch);  // the committer thread uploads meanwhile
  for (auto& t : readers) {
    t.join();
  }
  ASSERT_TRUE(synced) << synced.error().message;
  EXPECT_EQ(problems.summary(), "");
  EXPECT_EQ(w->xet().stats().hash_mismatches, 0u);

  std::uint64_t cas = hubdCounter("bytes_received", "cas") - cas_in;
  EXPECT_GE(cas, fresh.size());
  EXPECT_LE(cas, fresh.size() + edited.size() / 8) << "edited.bin was not deduplicated";
  EXPECT_EQ(hubdCounter("bytes_received", "upload"), upload_in);
  std::string commit = head();
  w.reset();
  expectCommittedXetFile(commit, "fresh.bin", fresh);
  expectCommittedXetFile(commit, "edited.bin", edited);
}

// A file whose first chunks this machine has read (so its local index knows them) and whose
// other chunks it has never seen: the dedup query for the first chunk still runs and finds them.
TEST_F(FilesystemXetTest, AnEditedCopyOfAPartlyReadFileSendsOnlyItsChanges) {
  auto w = stack("cache-w", true);
  ASSERT_NE(w, nullptr);
  std::uint64_t model = walk(*w, view(v1_commit_) + "/model.bin");
  ASSERT_NE(model, 0u);
  auto fh = w->fs().open(model, O_RDONLY);
  ASSERT_TRUE(fh);
  std::string head_bytes(4096, '\0');
  ASSERT_TRUE(w->fs().read(*fh, 0, std::span<char>(head_bytes)));
  w->fs().release(*fh);
  std::uint64_t branch = walk(*w, view("main"));
  std::string edited = model_;
  edited.replace(3u << 20, 11, "EDITED HERE");
  std::uint64_t cas_in = hubdCounter("bytes_received", "cas");
  putFile(w->fs(), branch, "edited.bin", edited);
  ASSERT_TRUE(w->fs().fsyncdir(branch));
  std::uint64_t cas = hubdCounter("bytes_received", "cas") - cas_in;
  EXPECT_LE(cas, edited.size() / 8) << "edited.bin was not deduplicated";
  std::string commit = head();
  w.reset();
  expectCommittedXetFile(commit, "edited.bin", edited);
}

}  // namespace
}  // namespace hfm::fs
