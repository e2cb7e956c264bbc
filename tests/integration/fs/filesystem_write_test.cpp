// SPDX-License-Identifier: Apache-2.0
// The write path (DESIGN.md §6) without the kernel: Filesystem, staging, journal and committer
// against a real hf-hubd, call by call as a FUSE mount would make them, so that the sanitizer
// builds cover it. Every result is checked on the Hub: its commit list, and every path and byte
// of the committed tree read back through a fresh read-only Filesystem.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <array>
#include <atomic>
#include <barrier>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "cache/journal.h"
#include "fs/change_record.h"
#include "tests/support/fs_stack.h"
#include "tests/support/hubd_process.h"

namespace hfm::fs {
namespace {

namespace fsys = std::filesystem;
using hub::testing::HubdProcess;
using testing::FsStack;
using testing::randomBytes;

using Tree = std::map<std::string, std::string>;  // path -> bytes

constexpr const char* kWriteToken = "hf_writer_token";
constexpr const char* kReadToken = "hf_reader_token";
constexpr const char* kView = "models/alice/wr@main";
const common::RepoId kRepo{common::RepoType::kModel, "alice", "wr"};
constexpr auto kNever = std::chrono::hours(1);  // commit_delay: only fsync and commitAll commit
constexpr unsigned kNoReplace = 1;              // RENAME_NOREPLACE

// The error kind of a failed call; nullopt when it succeeded.
template <class T>
std::optional<FsErrorKind> failure(const FsResult<T>& result) {
  return result ? std::nullopt : std::optional<FsErrorKind>(result.error().kind);
}

// Every test gets its own hf-hubd root with a freshly imported repo, and its own write folder.
class FilesystemWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fsys::temp_directory_path() /
           ("hfm-fs-wr-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fsys::remove_all(dir_);
    seed_ = {
        {"README.md", "# write test\n"},
        {"big.bin", randomBytes(3u << 20, 1)},  // binary: LFS
        {"olddir/a.txt", "a\n"},
        {"olddir/sub/b.txt", "b\n"},
        {"olddir/lfs.bin", randomBytes(300u << 10, 2)},
        {"gone.txt", "to be removed\n"},
        {"trunc.txt", std::string(100, '7')},
        {"shrink.txt", "abcdefghijklmnopqrstuvwxyz\n"},
        {"grow.txt", "12345"},
        {"append.txt", "first line\n"},
        {"shared.txt", "original\n"},
        {"other.txt", "other\n"},
    };
    for (const auto& [path, content] : seed_) {
      testing::writeFile(dir_ / "seed" / path, content);
    }
    ASSERT_EQ(
        hub::testing::importRepo(HFM_HUBD_BINARY, dir_ / "root", "models/alice/wr", dir_ / "seed"),
        "");
    serve({});
  }

  void TearDown() override {
    writer_.reset();
    admin_.reset();
    hubd_.reset();
    std::error_code ec;
    fsys::remove_all(dir_, ec);
  }

  // (Re)starts hf-hubd on the test's root; the URL changes.
  void serve(const std::vector<std::string>& extra) {
    admin_.reset();
    hubd_.reset();
    std::vector<std::string> args = {"--token", std::string(kWriteToken) + "=alice:write",
                                     "--token", std::string(kReadToken) + "=alice:read"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string error;
    hubd_ = HubdProcess::start(HFM_HUBD_BINARY, dir_ / "root", args, &error);
    ASSERT_NE(hubd_, nullptr) << error;
    admin_ = hubd_->client(kWriteToken);
    ASSERT_NE(admin_, nullptr);
    base_commits_ = commits();
  }

  FsOptions writeOptions(std::chrono::milliseconds delay) const {
    FsOptions options;
    options.read_only = false;
    options.endpoint = hubd_->url();
    options.write_dir = (dir_ / "write").string();
    options.commit_delay = delay;
    return options;
  }

  std::unique_ptr<FsStack> stack(const std::string& token, FsOptions options) {
    std::string error;
    auto s = FsStack::open(hubd_->url(), token, dir_ / ("cache-" + std::to_string(caches_++)),
                           std::move(options), &error);
    EXPECT_NE(s, nullptr) << error;
    return s;
  }

  // The writable mount of the test, with the branch view looked up.
  void openWriter(std::chrono::milliseconds delay) {
    writer_.reset();
    writer_ = stack(kWriteToken, writeOptions(delay));
    ASSERT_NE(writer_, nullptr);
    auto view = writer_->walk(kView);
    ASSERT_TRUE(view) << view.error().message;
    view_ = *view;
  }

  Filesystem& fs() { return writer_->fs(); }

  std::uint64_t ino(const std::string& path) {
    auto found = writer_->walk(std::string(kView) + "/" + path);
    EXPECT_TRUE(found) << path;
    return found ? *found : 0;
  }

  std::uint64_t commits() {
    auto list = admin_->listCommits(kRepo, "main", 1000);
    EXPECT_TRUE(list) << (list ? "" : list.error().message);
    return list ? list->size() : 0;
  }

  std::string head() {
    auto info = admin_->revision(kRepo, "main");
    EXPECT_TRUE(info);
    return info ? info->commit : "";
  }

  // Every file of `commit`, read through a fresh read-only Filesystem with an empty cache.
  Tree committedTree(const std::string& commit) {
    auto reader = stack(kReadToken, FsOptions{});
    Tree out;
    if (!reader) {
      return out;
    }
    std::string view = "models/alice/wr@" + commit;
    std::vector<std::string> dirs{""};
    while (!dirs.empty()) {
      std::string dir = std::move(dirs.back());
      dirs.pop_back();
      auto dino = reader->walk(dir.empty() ? view : view + "/" + dir);
      if (!dino) {
        ADD_FAILURE() << "no folder " << dir << " in " << view;
        return out;
      }
      auto entries = reader->fs().readdir(*dino);
      if (!entries) {
        ADD_FAILURE() << "cannot list " << dir << " in " << view;
        return out;
      }
      for (const auto& e : *entries) {
        std::string path = dir.empty() ? e.name : dir + "/" + e.name;
        if (e.type == NodeType::kDirectory) {
          dirs.push_back(path);
          continue;
        }
        auto file = reader->walk(view + "/" + path);
        auto bytes = file ? reader->readAll(*file)
                          : FsResult<std::string>(common::Unexpected<FsError>(file.error()));
        EXPECT_TRUE(bytes) << path;
        out[path] = bytes ? *bytes : "<unreadable>";
      }
    }
    return out;
  }

  // Paths whose bytes differ, are missing or are extra: empty when the trees are equal.
  static std::string diff(const Tree& got, const Tree& want) {
    std::string out;
    for (const auto& [path, bytes] : want) {
      auto it = got.find(path);
      if (it == got.end()) {
        out += " missing:" + path;
      } else if (it->second != bytes) {
        out += " differs:" + path + "(" + std::to_string(it->second.size()) + " bytes, want " +
               std::to_string(bytes.size()) + ")";
      }
    }
    for (const auto& [path, bytes] : got) {
      if (want.count(path) == 0) {
        out += " extra:" + path;
      }
    }
    return out;
  }

  std::uint64_t uploadedBytes() {
    httplib::Client client(hubd_->url());
    auto res = client.Get("/_hubd/stats");
    if (!res) {
      ADD_FAILURE() << "no stats";
      return 0;
    }
    auto group = res->body.find("\"bytes_received\"");
    auto at = res->body.find("\"upload\":", group);
    return std::stoull(res->body.substr(at + 9));
  }

  void remoteCommit(const std::string& path, const std::string& content) {
    hub::CommitRequest request;
    request.summary = "remote edit of " + path;
    hub::CommitOperation op;
    op.path = path;
    op.content = content;
    request.operations.push_back(op);
    auto done = admin_->commit(kRepo, "main", request);
    ASSERT_TRUE(done) << done.error().message;
  }

  // Writes `data` at `offset` through `fh` in `chunks` sequential calls.
  void writeAt(std::uint64_t fh, std::uint64_t offset, const std::string& data, int chunks = 1) {
    std::size_t step = std::max<std::size_t>(1, data.size() / static_cast<std::size_t>(chunks));
    for (std::size_t done = 0; done < data.size();) {
      std::size_t n = std::min(step + (done == 0 ? 7 : 0), data.size() - done);  // uneven sizes
      auto wrote = fs().write(fh, offset + done, std::span<const char>(data.data() + done, n));
      ASSERT_TRUE(wrote) << wrote.error().message;
      ASSERT_EQ(*wrote, n);
      done += n;
    }
  }

  // create + writes + close (flush, release), as `cp` does it; the new inode.
  std::uint64_t putFile(std::uint64_t parent, const std::string& name, const std::string& content,
                        int chunks = 1) {
    auto made = fs().create(parent, name, 0644, O_WRONLY | O_CREAT | O_TRUNC);
    EXPECT_TRUE(made) << name << ": " << (made ? "" : made.error().message);
    if (!made) {
      return 0;
    }
    writeAt(made->fh, 0, content, chunks);
    closeFile(made->fh);
    return made->entry.attr.ino;
  }

  // close(): flush, then release.
  void closeFile(std::uint64_t fh) {
    auto flushed = fs().flush(fh);
    EXPECT_TRUE(flushed) << flushed.error().message;
    fs().release(fh);
  }

  // The branch's head holds exactly `want`.
  void expectHead(const Tree& want) { EXPECT_EQ(diff(committedTree(head()), want), ""); }

  std::string viewBytes(const std::string& path) {
    auto file = writer_->walk(std::string(kView) + "/" + path);
    if (!file) {
      return "<missing>";
    }
    auto bytes = writer_->readAll(*file);
    return bytes ? *bytes : "<unreadable>";
  }

  std::size_t pendingChanges() {
    auto info = fs().pending();
    return info.empty() ? 0 : info.front().changes;
  }

  // Waits until the branch has `n` commits more than at start; false after `limit`.
  bool waitForCommits(std::uint64_t n, std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (commits() < base_commits_ + n) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
  }

  // Waits until the committer of a new Filesystem has reopened the journal of the branch view
  // (recoverPending runs in its thread, beside the test's own calls).
  bool waitForRecovery() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (fs().pending().empty()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  fsys::path dir_;
  Tree seed_;
  std::unique_ptr<HubdProcess> hubd_;
  std::unique_ptr<hub::HubClient> admin_;  // another client of the same Hub, with a write token
  std::unique_ptr<FsStack> writer_;
  std::uint64_t view_ = 0;
  std::uint64_t base_commits_ = 0;
  int caches_ = 0;
};

TEST_F(FilesystemWriteTest, NewFilesWrittenInChunksLandAsOneCommit) {
  openWriter(kNever);
  Tree want = seed_;
  want["weights.bin"] = randomBytes((1u << 20) + 12345, 3);  // LFS (binary)
  want["notes.txt"] = std::string(70000, 'n') + "end\n";     // regular
  want["fresh/deeper/x.txt"] = "in a new folder\n";
  putFile(view_, "weights.bin", want["weights.bin"], 9);
  putFile(view_, "notes.txt", want["notes.txt"], 3);
  auto fresh = fs().mkdir(view_, "fresh");
  ASSERT_TRUE(fresh);
  auto deeper = fs().mkdir(fresh->attr.ino, "deeper");
  ASSERT_TRUE(deeper);
  putFile(deeper->attr.ino, "x.txt", want["fresh/deeper/x.txt"], 2);

  // Read-your-writes before anything is committed.
  EXPECT_EQ(commits(), base_commits_);
  EXPECT_TRUE(viewBytes("weights.bin") == want["weights.bin"]);
  EXPECT_EQ(fs().getattr(ino("notes.txt"))->size, want["notes.txt"].size());
  EXPECT_EQ(pendingChanges(), 3u);

  ASSERT_TRUE(fs().fsyncdir(view_));
  EXPECT_EQ(commits(), base_commits_ + 1) << "fsyncdir returns after exactly one commit";
  EXPECT_TRUE(fs().commitAll(std::chrono::seconds(20)));
  EXPECT_EQ(commits(), base_commits_ + 1) << "nothing left to commit";
  std::string sha = head();
  auto info = fs().pending();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].changes, 0u);
  EXPECT_EQ(info[0].last_commit, sha);
  EXPECT_EQ(info[0].last_error, "");
  auto titles = admin_->listCommits(kRepo, "main", 1);
  ASSERT_TRUE(titles && !titles->empty());
  EXPECT_EQ(titles->front().title, "Update 3 files with hf-mount");
  EXPECT_EQ(diff(committedTree(sha), want), "");
  EXPECT_TRUE(viewBytes("fresh/deeper/x.txt") == want["fresh/deeper/x.txt"]);
}

TEST_F(FilesystemWriteTest, EditsRenamesAndRemovalsLandAfterFsync) {
  openWriter(kNever);
  Tree want = seed_;

  // Edit in the middle of an LFS file: the first write copies it into staging.
  {
    auto fh = fs().open(ino("big.bin"), O_RDWR);
    ASSERT_TRUE(fh);
    std::string patch;
    for (int i = 0; i < 1000; ++i) {
      patch += "EDITED IN THE MIDDLE";
    }
    writeAt(*fh, 1500000, patch, 3);
    want["big.bin"].replace(1500000, patch.size(), patch);
    std::string back(patch.size() + 20, '\0');
    auto got = fs().read(*fh, 1500000 - 10, std::span<char>(back.data(), back.size()));
    ASSERT_TRUE(got);
    EXPECT_EQ(back, want["big.bin"].substr(1500000 - 10, back.size()));
    closeFile(*fh);
  }
  // truncate(2) by name, shorter and longer.
  SetAttrRequest shorter;
  shorter.size = 15;
  ASSERT_TRUE(fs().setattr(ino("trunc.txt"), shorter));
  want["trunc.txt"].resize(15);
  SetAttrRequest longer;
  longer.size = 9;
  ASSERT_TRUE(fs().setattr(ino("grow.txt"), longer));
  want["grow.txt"] = std::string("12345") + std::string(4, '\0');
  // ftruncate(2) on an open handle, then a write behind the new end.
  {
    std::uint64_t file = ino("shrink.txt");
    auto fh = fs().open(file, O_WRONLY);
    ASSERT_TRUE(fh);
    SetAttrRequest cut;
    cut.size = 7;
    cut.fh = *fh;
    auto attr = fs().setattr(file, cut);
    ASSERT_TRUE(attr);
    EXPECT_EQ(attr->size, 7u);
    writeAt(*fh, 7, "XYZ");
    closeFile(*fh);
    want["shrink.txt"] = "abcdefgXYZ";
  }
  // O_APPEND: the kernel passes the end as the offset.
  {
    std::uint64_t file = ino("append.txt");
    auto fh = fs().open(file, O_WRONLY | O_APPEND);
    ASSERT_TRUE(fh);
    writeAt(*fh, fs().getattr(file)->size, "second line\n");
    closeFile(*fh);
    want["append.txt"] += "second line\n";
  }
  ASSERT_TRUE(fs().unlink(view_, "gone.txt"));
  want.erase("gone.txt");
  EXPECT_EQ(failure(fs().lookup(view_, "gone.txt")), FsErrorKind::kNotFound);
  ASSERT_TRUE(fs().rename(view_, "README.md", view_, "README2.md", 0));
  want["README2.md"] = want["README.md"];
  want.erase("README.md");

  // A folder with base files, a new closed file and a file still open, moved as a whole.
  std::uint64_t olddir = ino("olddir");
  putFile(olddir, "new.txt", "new in olddir\n");
  auto open_file = fs().create(olddir, "open.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(open_file);
  writeAt(open_file->fh, 0, "before the move, ");
  ASSERT_TRUE(fs().rename(view_, "olddir", view_, "newdir", 0));
  writeAt(open_file->fh, 17, "after it");
  closeFile(open_file->fh);
  for (const char* name : {"a.txt", "sub/b.txt", "lfs.bin"}) {
    want[std::string("newdir/") + name] = want[std::string("olddir/") + name];
    want.erase(std::string("olddir/") + name);
  }
  want["newdir/new.txt"] = "new in olddir\n";
  want["newdir/open.txt"] = "before the move, after it";
  EXPECT_EQ(failure(fs().lookup(view_, "olddir")), FsErrorKind::kNotFound);
  EXPECT_EQ(viewBytes("newdir/open.txt"), want["newdir/open.txt"]);

  // Folders.
  ASSERT_TRUE(fs().mkdir(view_, "emptydir"));
  EXPECT_EQ(failure(fs().mkdir(view_, "emptydir")), FsErrorKind::kExists);
  ASSERT_TRUE(fs().rmdir(view_, "emptydir"));
  EXPECT_EQ(failure(fs().rmdir(view_, "emptydir")), FsErrorKind::kNotFound);
  auto kept = fs().mkdir(view_, "keptdir");
  ASSERT_TRUE(kept);
  putFile(kept->attr.ino, "k.txt", "kept\n");
  want["keptdir/k.txt"] = "kept\n";

  // Refusals, none of which may change anything.
  std::uint64_t newdir = ino("newdir");
  EXPECT_EQ(failure(fs().rmdir(view_, "newdir")), FsErrorKind::kNotEmpty);
  EXPECT_EQ(failure(fs().rmdir(newdir, "sub")), FsErrorKind::kNotEmpty);
  EXPECT_EQ(failure(fs().rmdir(view_, "other.txt")), FsErrorKind::kNotDir);
  EXPECT_EQ(failure(fs().unlink(view_, "keptdir")), FsErrorKind::kIsDir);
  EXPECT_EQ(failure(fs().rename(view_, "other.txt", view_, "keptdir", 0)), FsErrorKind::kIsDir);
  EXPECT_EQ(failure(fs().rename(view_, "keptdir", view_, "other.txt", 0)), FsErrorKind::kNotDir);
  EXPECT_EQ(failure(fs().rename(view_, "keptdir", view_, "newdir", 0)), FsErrorKind::kNotEmpty);
  EXPECT_EQ(failure(fs().rename(view_, "other.txt", view_, "shared.txt", kNoReplace)),
            FsErrorKind::kExists);
  EXPECT_EQ(failure(fs().rename(view_, "newdir", newdir, "inside", 0)), FsErrorKind::kInvalid);
  EXPECT_EQ(failure(fs().create(view_, "other.txt", 0644, O_CREAT | O_EXCL | O_WRONLY)),
            FsErrorKind::kExists);
  EXPECT_EQ(failure(fs().create(view_, "keptdir", 0644, O_CREAT | O_WRONLY)), FsErrorKind::kIsDir);
  EXPECT_EQ(failure(fs().create(ino("other.txt"), "x", 0644, O_CREAT | O_WRONLY)),
            FsErrorKind::kNotDir);
  EXPECT_EQ(failure(fs().unlink(view_, "nope.txt")), FsErrorKind::kNotFound);
  EXPECT_EQ(failure(fs().rename(view_, "nope.txt", view_, "nope2.txt", 0)), FsErrorKind::kNotFound);
  EXPECT_EQ(failure(fs().create(view_, std::string(256, 'n'), 0644, O_CREAT)),
            FsErrorKind::kNameTooLong);

  // A moved file edited after the move: copied up from its old path in the base commit.
  {
    auto fh = fs().open(ino("newdir/sub/b.txt"), O_WRONLY | O_APPEND);
    ASSERT_TRUE(fh);
    writeAt(*fh, 2, "more\n");
    closeFile(*fh);
    want["newdir/sub/b.txt"] = "b\nmore\n";
  }
  // A rename over an existing file replaces it; a base file removed from a base folder.
  ASSERT_TRUE(fs().rename(view_, "other.txt", view_, "shared.txt", 0));
  want["shared.txt"] = want["other.txt"];
  want.erase("other.txt");
  ASSERT_TRUE(fs().unlink(newdir, "a.txt"));
  want.erase("newdir/a.txt");
  // The summary of the next commit, set through the view's folder.
  ASSERT_TRUE(fs().setxattr(view_, "user.hf.commit_message", "edits through the API"));
  EXPECT_EQ(failure(fs().setxattr(view_, "user.other", "x")), FsErrorKind::kNotSupported);

  // One fsync commits it all; only the edited LFS file is uploaded (the moved one is referenced).
  std::uint64_t uploaded = uploadedBytes();
  auto fh = fs().open(ino("keptdir/k.txt"), O_RDONLY);
  ASSERT_TRUE(fh);
  auto synced = fs().fsync(*fh);
  ASSERT_TRUE(synced) << synced.error().message;
  fs().release(*fh);
  EXPECT_EQ(commits(), base_commits_ + 1);
  // grow.txt is binary now (NUL bytes from the truncate): LFS too.
  EXPECT_EQ(uploadedBytes() - uploaded, want["big.bin"].size() + want["grow.txt"].size());
  std::string sha = head();
  auto last = admin_->listCommits(kRepo, "main", 1);
  ASSERT_TRUE(last && !last->empty());
  EXPECT_EQ(last->front().title, "edits through the API");
  EXPECT_EQ(diff(committedTree(sha), want), "");
  // The view now shows the commit, with nothing left pending.
  EXPECT_EQ(pendingChanges(), 0u);
  EXPECT_EQ(viewBytes("README2.md"), want["README2.md"]);
  EXPECT_TRUE(viewBytes("big.bin") == want["big.bin"]);
}

TEST_F(FilesystemWriteTest, ConcurrentWritersFsyncdirAndLookups) {
  openWriter(kNever);
  constexpr int kThreads = 8;
  constexpr int kFiles = 5;
  Tree want = seed_;
  auto content = [](int t, int f) {
    std::size_t size = 1000u + static_cast<std::size_t>(t * 7919 + f * 104729) % 150000u;
    // Every third file is binary (LFS), the others text (inline in the commit).
    return f % 3 == 0 ? randomBytes(size, static_cast<unsigned>(100 + t * kFiles + f))
                      : std::string(size, static_cast<char>('a' + (t + f) % 26));
  };
  for (int t = 0; t < kThreads; ++t) {
    for (int f = 0; f < kFiles; ++f) {
      want["t" + std::to_string(t) + "/f" + std::to_string(f) + ".bin"] = content(t, f);
    }
  }
  std::atomic<int> writing{kThreads};
  std::atomic<int> failures{0};
  std::atomic<int> syncs{0};
  std::atomic<int> lookups{0};
  // Each writer publishes its folder's inode here once it made it; the reader lists folders and
  // looks up files (concurrent lookups of one folder: ConcurrentLookupsOfOneFolder below).
  std::array<std::atomic<std::uint64_t>, kThreads> dirs{};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto made = fs().mkdir(view_, "t" + std::to_string(t));
      if (!made) {
        failures.fetch_add(1);
      } else {
        dirs[static_cast<std::size_t>(t)].store(made->attr.ino);
        for (int f = 0; f < kFiles; ++f) {
          std::string bytes = content(t, f);
          auto file = fs().create(made->attr.ino, "f" + std::to_string(f) + ".bin", 0644,
                                  O_WRONLY | O_CREAT | O_TRUNC);
          if (!file) {
            failures.fetch_add(1);
            continue;
          }
          for (std::size_t off = 0; off < bytes.size(); off += 16384) {
            std::size_t n = std::min<std::size_t>(16384, bytes.size() - off);
            auto wrote = fs().write(file->fh, off, std::span<const char>(bytes.data() + off, n));
            if (!wrote || *wrote != n) {
              failures.fetch_add(1);
            }
          }
          if (!fs().flush(file->fh)) {
            failures.fetch_add(1);
          }
          // Some files are fsynced while others are still being written: commits and writes
          // overlap, and concurrent fsyncs share rounds.
          if (f == 1 && !fs().fsync(file->fh)) {
            failures.fetch_add(1);
          }
          fs().release(file->fh);
        }
      }
      writing.fetch_sub(1);
    });
  }
  threads.emplace_back([&] {
    while (writing.load() > 0) {
      if (auto ok = fs().fsyncdir(view_); !ok) {
        failures.fetch_add(1);
      }
      syncs.fetch_add(1);
    }
  });
  threads.emplace_back([&] {
    while (writing.load() > 0) {
      if (!fs().readdir(view_)) {
        failures.fetch_add(1);
      }
      for (const auto& dir : dirs) {
        std::uint64_t dino = dir.load();
        if (dino == 0) {
          continue;  // not made yet
        }
        auto names = fs().readdir(dino);
        if (!names) {
          failures.fetch_add(1);
          continue;
        }
        for (const auto& name : *names) {
          if (auto e = fs().lookup(dino, name.name); e) {
            lookups.fetch_add(1);
            if (!fs().getattr(e->attr.ino)) {
              failures.fetch_add(1);
            }
            fs().forget(e->attr.ino, 1);  // as the kernel does when it drops the entry
          }
        }
      }
    }
  });
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(syncs.load(), 0);
  EXPECT_GT(lookups.load(), 0);
  ASSERT_TRUE(fs().commitAll(std::chrono::seconds(60)));
  EXPECT_EQ(pendingChanges(), 0u);
  EXPECT_GT(commits(), base_commits_);
  expectHead(want);
}

// Generation `g` of the file below: 8-byte words (g << 32 | index), so any mix of two
// generations shows, and the NUL bytes make it an LFS file.
std::string generation(std::uint64_t g, std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    std::uint64_t word = (g << 32) | (i / 8);
    std::memcpy(out.data() + i, &word, 8);
  }
  return out;
}

TEST_F(FilesystemWriteTest, WritesDuringAnUploadGoToTheNextCommit) {
  // Each LFS upload waits a second, so the writer below keeps writing while it runs.
  serve({"--faults", "upload:latency=1s"});
  openWriter(kNever);
  constexpr std::size_t kSize = 1u << 20;
  auto made = fs().create(view_, "moving.bin", 0644, O_RDWR | O_CREAT);
  ASSERT_TRUE(made);
  std::uint64_t fh = made->fh;
  std::atomic<std::uint64_t> written{0};  // the last generation written in full
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    for (std::uint64_t g = 1; !stop.load(); ++g) {
      std::string bytes = generation(g, kSize);
      // One call per generation: a freeze sees a whole generation or none of it.
      auto wrote = fs().write(fh, 0, std::span<const char>(bytes.data(), bytes.size()));
      if (!wrote) {
        failures.fetch_add(1);
      }
      written.store(g);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  while (written.load() < 3) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::uint64_t before = written.load();
  auto synced = fs().fsync(fh);
  std::uint64_t after = written.load();
  ASSERT_TRUE(synced) << synced.error().message;
  std::string first = head();
  EXPECT_EQ(commits(), base_commits_ + 1);
  EXPECT_GT(after, before + 5) << "the writer should have gone on during the upload";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop.store(true);
  writer.join();
  std::uint64_t last = written.load();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(viewBytes("moving.bin") == generation(last, kSize));

  // The first commit holds one whole generation, written before fsync and after it started.
  Tree committed = committedTree(first);
  const std::string& frozen = committed["moving.bin"];
  ASSERT_EQ(frozen.size(), kSize);
  std::uint64_t word = 0;
  std::memcpy(&word, frozen.data(), 8);
  std::uint64_t g = word >> 32;
  EXPECT_GE(g, before);
  EXPECT_LE(g, after);
  EXPECT_TRUE(frozen == generation(g, kSize)) << "the first commit mixes generations";

  closeFile(fh);
  ASSERT_TRUE(fs().commitAll(std::chrono::seconds(30)));
  EXPECT_EQ(commits(), base_commits_ + 2);
  Tree want = seed_;
  want["moving.bin"] = generation(last, kSize);
  expectHead(want);
}

TEST_F(FilesystemWriteTest, PendingChangesSurviveARestart) {
  openWriter(kNever);
  Tree want = seed_;
  want["late/big.bin"] = randomBytes((2u << 20) + 3, 9);
  want["late/small.txt"] = "small\n";
  auto late = fs().mkdir(view_, "late");
  ASSERT_TRUE(late);
  putFile(late->attr.ino, "big.bin", want["late/big.bin"], 4);
  putFile(late->attr.ino, "small.txt", want["late/small.txt"]);
  ASSERT_TRUE(fs().unlink(view_, "gone.txt"));
  want.erase("gone.txt");
  ASSERT_TRUE(fs().rename(view_, "README.md", view_, "README2.md", 0));
  want["README2.md"] = want["README.md"];
  want.erase("README.md");
  SetAttrRequest cut;
  cut.size = 3;
  ASSERT_TRUE(fs().setattr(ino("trunc.txt"), cut));
  want["trunc.txt"].resize(3);
  // Written but never closed: not acknowledged, so it need not survive, but must not break
  // the recovery of the rest.
  auto unclosed = fs().create(view_, "unclosed.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(unclosed);
  writeAt(unclosed->fh, 0, "never closed");
  EXPECT_EQ(pendingChanges(), 7u);

  writer_.reset();  // a crash, as near as one process gets: no commitAll, no release
  EXPECT_EQ(commits(), base_commits_);

  writer_ = stack(kWriteToken, writeOptions(kNever));
  ASSERT_NE(writer_, nullptr);
  ASSERT_TRUE(waitForCommits(1, std::chrono::seconds(30)))
      << "the next Filesystem with the same write folder commits what was left";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(commits(), base_commits_ + 1);
  Tree got = committedTree(head());
  got.erase("unclosed.txt");
  EXPECT_EQ(diff(got, want), "");
  auto view = writer_->walk(kView);
  ASSERT_TRUE(view);
  view_ = *view;
  EXPECT_EQ(pendingChanges(), 0u);
}

TEST_F(FilesystemWriteTest, RemoteCommitOnAnotherPathComesFirstAndOursGoesOnTop) {
  openWriter(kNever);
  putFile(view_, "ours.txt", "ours\n");
  remoteCommit("other.txt", "remote other\n");
  auto synced = fs().fsyncdir(view_);
  ASSERT_TRUE(synced) << synced.error().message;
  EXPECT_EQ(commits(), base_commits_ + 2);
  Tree want = seed_;
  want["ours.txt"] = "ours\n";
  want["other.txt"] = "remote other\n";
  expectHead(want);
  EXPECT_EQ(viewBytes("other.txt"), "remote other\n") << "the view shows the commit it made";
}

TEST_F(FilesystemWriteTest, RemoteCommitOnTheSamePathIsAConflictAndTheirsSurvives) {
  openWriter(kNever);
  {
    auto fh = fs().open(ino("shared.txt"), O_WRONLY | O_TRUNC);
    ASSERT_TRUE(fh);
    writeAt(*fh, 0, "our version\n");
    closeFile(*fh);
  }
  remoteCommit("shared.txt", "their version\n");
  auto synced = fs().fsyncdir(view_);
  ASSERT_FALSE(synced);
  EXPECT_EQ(synced.error().kind, FsErrorKind::kIo);
  auto info = fs().pending();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0].changes, 1u) << "our change stays staged";
  EXPECT_NE(info[0].last_error.find("conflict"), std::string::npos) << info[0].last_error;
  EXPECT_EQ(commits(), base_commits_ + 1) << "only theirs";
  Tree want = seed_;
  want["shared.txt"] = "their version\n";
  expectHead(want);
  EXPECT_EQ(viewBytes("shared.txt"), "our version\n");
}

TEST_F(FilesystemWriteTest, ReadTokenGetsAccessDeniedAndReadOnlyMountsRefuse) {
  auto reader = stack(kReadToken, writeOptions(kNever));
  ASSERT_NE(reader, nullptr);
  auto view = reader->walk(kView);
  ASSERT_TRUE(view);
  auto made = reader->fs().create(*view, "new.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().kind, FsErrorKind::kAccess);
  EXPECT_EQ(failure(reader->fs().mkdir(*view, "d")), FsErrorKind::kAccess);
  auto readme = reader->walk(std::string(kView) + "/README.md");
  ASSERT_TRUE(readme);
  EXPECT_EQ(failure(reader->fs().open(*readme, O_WRONLY)), FsErrorKind::kAccess);
  EXPECT_EQ(failure(reader->fs().unlink(*view, "README.md")), FsErrorKind::kAccess);
  auto bytes = reader->readAll(*readme);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, seed_["README.md"]) << "reads still work";
  reader.reset();

  FsOptions read_only = writeOptions(kNever);
  read_only.read_only = true;
  auto ro = stack(kWriteToken, read_only);
  ASSERT_NE(ro, nullptr);
  view = ro->walk(kView);
  ASSERT_TRUE(view);
  EXPECT_EQ(failure(ro->fs().create(*view, "new.txt", 0644, O_WRONLY | O_CREAT)),
            FsErrorKind::kReadOnly);
  EXPECT_EQ(failure(ro->fs().mkdir(*view, "d")), FsErrorKind::kReadOnly);
  readme = ro->walk(std::string(kView) + "/README.md");
  ASSERT_TRUE(readme);
  SetAttrRequest cut;
  cut.size = 1;
  EXPECT_EQ(failure(ro->fs().setattr(*readme, cut)), FsErrorKind::kReadOnly);
  ro.reset();

  // A commit view is read-only even with a write token on a writable mount.
  openWriter(kNever);
  std::string sha = head();
  auto pinned = writer_->walk("models/alice/wr@" + sha);
  ASSERT_TRUE(pinned);
  EXPECT_EQ(failure(fs().create(*pinned, "new.txt", 0644, O_WRONLY | O_CREAT)),
            FsErrorKind::kReadOnly);
  EXPECT_EQ(commits(), base_commits_);
}

TEST_F(FilesystemWriteTest, IgnoredNamesStayLocal) {
  openWriter(kNever);
  auto cache = fs().mkdir(view_, ".cache");
  ASSERT_TRUE(cache);
  auto hf = fs().mkdir(cache->attr.ino, "huggingface");
  ASSERT_TRUE(hf);
  putFile(hf->attr.ino, "download.lock", "lock\n");
  for (const char* name : {"draft.txt.swp", "notes.txt~", ".#notes.txt", "4913", "w.incomplete"}) {
    putFile(view_, name, std::string("dropping ") + name);
  }
  putFile(view_, "kept.txt", "kept\n");
  EXPECT_EQ(pendingChanges(), 1u) << "only kept.txt waits for a commit";
  ASSERT_TRUE(fs().fsyncdir(view_));
  EXPECT_EQ(commits(), base_commits_ + 1);
  Tree want = seed_;
  want["kept.txt"] = "kept\n";
  expectHead(want);
  EXPECT_EQ(viewBytes("draft.txt.swp"), "dropping draft.txt.swp") << "still there locally";
  EXPECT_EQ(viewBytes(".cache/huggingface/download.lock"), "lock\n");
  EXPECT_EQ(pendingChanges(), 0u);
}

TEST_F(FilesystemWriteTest, ConcurrentFsyncsShareCommits) {
  openWriter(kNever);
  constexpr int kThreads = 8;
  std::barrier start(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  Tree want = seed_;
  for (int t = 0; t < kThreads; ++t) {
    std::string name = "sync" + std::to_string(t) + ".txt";
    want[name] = "synced by thread " + std::to_string(t) + "\n";
    threads.emplace_back([&, name, bytes = want[name]] {
      auto made = fs().create(view_, name, 0644, O_WRONLY | O_CREAT);
      if (!made || !fs().write(made->fh, 0, std::span<const char>(bytes.data(), bytes.size()))) {
        failures.fetch_add(1);
        start.arrive_and_drop();
        return;
      }
      start.arrive_and_wait();
      if (!fs().fsync(made->fh)) {  // still open: fsync alone puts it into a commit
        failures.fetch_add(1);
      }
      fs().release(made->fh);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  std::uint64_t made = commits() - base_commits_;
  EXPECT_GE(made, 1u);
  EXPECT_LE(made, 3u) << "eight fsyncs at once should share commits, not make one each";
  expectHead(want);
}

// ---- Regressions: each test below once failed; the comment says what was wrong. ----

// Was (filesystem_commit.cpp, commitRound's clean-up after a commit landed): a staged file that
// the commit carried unchanged is erased from the overlay and discarded, although a handle (or
// the inode the kernel still holds) keeps the StagedFile. The next write goes to that
// StagedFile: stageForWrite returns handle.staged at once (and open() hands out node.staged), so
// nothing puts it back into the overlay, flush() finds no path for it and records nothing, and
// no commit ever carries it. The view even shows the new bytes (the node reads its StagedFile)
// until the inode is forgotten. A program that writes a log and fsyncs it now and then loses
// everything after the first fsync.
// Was (filesystem_commit.cpp, the clean-up after a commit landed): a file committed by fsync
// while still open lost its change, so a later lookup of its name (after the entry TTL) made a
// new inode from the committed content: truncate(path) went there while the descriptor kept
// writing to the old staged file, and those writes were never committed.
TEST_F(FilesystemWriteTest, AFileCommittedWhileOpenKeepsItsInodeForItsName) {
  openWriter(kNever);
  auto f = fs().create(view_, "open.txt", 0644, O_RDWR | O_CREAT);
  ASSERT_TRUE(f);
  writeAt(f->fh, 0, std::string(100, 'a'));
  ASSERT_TRUE(fs().fsync(f->fh));
  // What the kernel does once the entry timed out: look the name up again.
  std::uint64_t again = ino("open.txt");
  EXPECT_EQ(again, f->entry.attr.ino) << "the open file's name must keep its inode";
  SetAttrRequest truncate;
  truncate.size = 50;
  ASSERT_TRUE(fs().setattr(again, truncate));
  writeAt(f->fh, 0, std::string(10, 'b'));
  closeFile(f->fh);
  EXPECT_EQ(pendingChanges(), 1u);
  ASSERT_TRUE(fs().commitAll(std::chrono::seconds(20)));
  Tree want = seed_;
  want["open.txt"] = std::string(10, 'b') + std::string(40, 'a');
  expectHead(want);
  EXPECT_EQ(pendingChanges(), 0u);
}

TEST_F(FilesystemWriteTest, WritesAfterACommitThroughTheSameHandleOrInodeAreCommitted) {
  openWriter(kNever);
  // Through the handle that was fsynced.
  auto log = fs().create(view_, "log.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(log);
  writeAt(log->fh, 0, "line 1\n");
  ASSERT_TRUE(fs().fsync(log->fh));
  // Through a new open() of an inode the kernel still holds (its entry has not timed out).
  std::uint64_t notes = putFile(view_, "notes.txt", "first\n");
  ASSERT_TRUE(fs().fsyncdir(view_));
  EXPECT_EQ(commits(), base_commits_ + 2);
  writeAt(log->fh, 7, "line 2\n");
  closeFile(log->fh);
  auto fh = fs().open(notes, O_WRONLY);
  ASSERT_TRUE(fh);
  writeAt(*fh, 6, "second\n");
  closeFile(*fh);
  EXPECT_EQ(pendingChanges(), 2u) << "the second lines are pending";
  ASSERT_TRUE(fs().commitAll(std::chrono::seconds(20)));
  Tree want = seed_;
  want["log.txt"] = "line 1\nline 2\n";
  want["notes.txt"] = "first\nsecond\n";
  expectHead(want);
}

// A close acknowledged the bytes; a failed commit froze them; a later write (never closed) moved
// the staged bytes to a copy. A crash now must not lose what the close acknowledged.
// Was (staged_file.cpp, StagedFile::unfreezeLocked): the copy-on-write discards the frozen staging
// file at once, so it is deleted as soon as the failed round lets go of it, while the journal
// record still names it (only flush() or a successful commit rewrites the record). The next
// Filesystem cannot reopen it ("a pending change to shared.txt cannot be restored: ... No such
// file or directory"), sweeps the copy as unreferenced, and the view shows the remote bytes.
TEST_F(FilesystemWriteTest, ClosedBytesSurviveACrashAfterAFailedCommitAndAnotherWrite) {
  openWriter(kNever);
  std::uint64_t shared = ino("shared.txt");
  auto fh = fs().open(shared, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(fh);
  writeAt(*fh, 0, "our version\n");
  closeFile(*fh);
  remoteCommit("shared.txt", "their version\n");
  ASSERT_FALSE(fs().fsyncdir(view_)) << "a conflict";
  fh = fs().open(shared, O_WRONLY);
  ASSERT_TRUE(fh);
  writeAt(*fh, 0, "OUR");
  writer_.reset();  // crash, with the last write neither closed nor committed

  openWriter(kNever);
  ASSERT_TRUE(waitForRecovery());
  std::string after = viewBytes("shared.txt");
  EXPECT_TRUE(after == "our version\n" || after == "OUR version\n")
      << "the closed version is gone; the view shows " << after;
  EXPECT_EQ(pendingChanges(), 1u);
}

// Two threads write through one handle at once (a process writing one fd from two threads);
// the first write of each copies the file into staging.
// Was (filesystem_write.cpp, stageForWrite): Handle::staged is read and written without a lock.
// Both threads see it empty; the first copies the file under the node's staged_mu, the second
// waits for that lock, then finds node.staged set and calls addWriter() a second time for the
// same handle. release() removes one writer, so the file counts as open for writing forever and
// only fsync or commitAll (which force it) ever commit it; the quiet period never does. TSan also
// reports the unsynchronized access to Handle::staged.
TEST_F(FilesystemWriteTest, ConcurrentFirstWritesThroughOneHandleStillCommitAfterClose) {
  openWriter(std::chrono::milliseconds(200));
  auto fh = fs().open(ino("big.bin"), O_RDWR);
  ASSERT_TRUE(fh);
  std::barrier start(2);
  Tree want = seed_;
  std::vector<std::thread> threads;
  for (std::uint64_t i = 0; i < 2; ++i) {
    std::string patch(1000, static_cast<char>('A' + i));
    want["big.bin"].replace(i * 1000000, patch.size(), patch);
    threads.emplace_back([&, i, patch] {
      start.arrive_and_wait();
      auto wrote = fs().write(*fh, i * 1000000, std::span<const char>(patch.data(), patch.size()));
      EXPECT_TRUE(wrote);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  closeFile(*fh);
  // Closed: the quiet period commits it, with no fsync.
  EXPECT_TRUE(waitForCommits(1, std::chrono::seconds(30)))
      << "the file stays \"open for writing\" after its only handle was released";
  // The bytes themselves are right: forcing the commit shows it.
  ASSERT_TRUE(fs().commitAll(std::chrono::seconds(20)));
  expectHead(want);
}

// Found by ConcurrentWritersFsyncdirAndLookups under TSan: two threads looking up (or making, or stat-ing) the same folder both
// write its Node::mtime without a lock (filesystem.cpp, nodeFor's `n->mtime = snap.date()`, and
// the same store in getattr and lookupInNamespace), while attrOf reads it. A FUSE mount does
// this all the time. Under TSan it reported the data race (Node::setMtime now locks).
TEST_F(FilesystemWriteTest, ConcurrentLookupsOfOneFolder) {
  openWriter(kNever);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto e = fs().lookup(view_, "olddir");
        if (!e || !fs().getattr(e->attr.ino)) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
}

// A subfolder of a moved folder is a folder like any other: emptying it leaves it in place until
// rmdir, as `rm -r` expects. Overlay::rename records only the destination folder itself and the
// folders made locally below the source, so a base subfolder that moved exists only while
// something lies below it.
TEST_F(FilesystemWriteTest, EmptiedSubfolderOfAMovedFolderStaysUntilRmdir) {
  openWriter(kNever);
  ASSERT_TRUE(fs().rename(view_, "olddir", view_, "newdir", 0));
  std::uint64_t sub = ino("newdir/sub");
  ASSERT_TRUE(fs().unlink(sub, "b.txt"));
  auto listed = fs().readdir(ino("newdir"));
  ASSERT_TRUE(listed);
  std::set<std::string> names;
  for (const auto& e : *listed) {
    names.insert(e.name);
  }
  EXPECT_EQ(names, (std::set<std::string>{"a.txt", "lfs.bin", "sub"}));
  EXPECT_TRUE(fs().rmdir(ino("newdir"), "sub")) << "rm -r newdir/sub would fail here";
}


namespace {

// The one journal folder of the test's write folder (one writable view).
fsys::path onlyJournal(const fsys::path& write_dir) {
  fsys::path found;
  for (const auto& entry : fsys::directory_iterator(write_dir / "journal")) {
    found = entry.path();
  }
  return found;
}

std::size_t filesIn(const fsys::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& entry : fsys::directory_iterator(dir, ec)) {
    n += entry.is_regular_file() ? 1u : 0u;
  }
  return n;
}

}  // namespace

// kill -9 after the commit POST landed and before the journal learned it (crash_test.sh hit it).
// Was (filesystem_commit.cpp, commitRound): nothing recorded that the commit had been sent, so
// the next mount sent the same changes again on the old parent; the Hub answered 412, and since
// our own commit had changed the same paths, it was reported as a conflict at every round: the
// journal never drained. Here the crash is rebuilt by hand: the journal gets the record a commit
// writes before its POST, and the POST itself is made by another client.
TEST_F(FilesystemWriteTest, ACommitThatLandedBeforeACrashIsNotSentAgain) {
  openWriter(kNever);
  Tree want = seed_;
  want["landed/a.txt"] = "a\n";
  want["landed/b.bin"] = randomBytes(200u << 10, 21);
  auto d = fs().mkdir(view_, "landed");
  ASSERT_TRUE(d);
  putFile(d->attr.ino, "a.txt", want["landed/a.txt"]);
  putFile(d->attr.ino, "b.bin", want["landed/b.bin"]);
  writer_.reset();  // crash

  const std::string id = "0123456789abcdef0123456789abcdef";
  {
    auto journal = cache::Journal::open(cache::JournalOptions{onlyJournal(dir_ / "write").string()});
    ASSERT_TRUE(journal) << journal.error().message;
    std::vector<std::pair<std::string, std::string>> records;
    for (const std::string path : {"landed/a.txt", "landed/b.bin"}) {
      auto value = (*journal)->get(changeKey(path));
      ASSERT_TRUE(value) << path;
      records.emplace_back(path, *value);
    }
    ASSERT_TRUE((*journal)->put(std::string(kInflightPrefix) + id, encodeInflight(records)));
  }
  hub::CommitRequest request;
  request.summary = "Update 2 files with hf-mount";
  request.description = "hf-mount-commit-id: " + id;
  for (const std::string path : {"landed/a.txt", "landed/b.bin"}) {
    hub::CommitOperation op;
    op.path = path;
    op.content = want[path];
    request.operations.push_back(op);
  }
  ASSERT_TRUE(admin_->commit(kRepo, "main", request));
  std::string landed = head();

  openWriter(kNever);
  ASSERT_TRUE(waitForRecovery());
  auto synced = fs().fsyncdir(view_);
  ASSERT_TRUE(synced) << synced.error().message;
  EXPECT_EQ(commits(), base_commits_ + 1) << "the landed commit is not sent a second time";
  EXPECT_EQ(head(), landed);
  EXPECT_EQ(pendingChanges(), 0u);
  auto info = fs().pending();
  ASSERT_FALSE(info.empty());
  EXPECT_EQ(info.front().last_error, "");
  // What comes next goes on top of it.
  putFile(view_, "after.txt", "after\n");
  want["after.txt"] = "after\n";
  synced = fs().fsyncdir(view_);
  ASSERT_TRUE(synced) << synced.error().message;
  EXPECT_EQ(commits(), base_commits_ + 2);
  expectHead(want);
}

// A file edited in place (its record names no sha256) goes into a commit whose outcome is unknown;
// after a restart it is edited in place again before the next round finds the commit landed.
// Was (filesystem_commit.cpp, settleInflight): the second edit leaves the record as it was (same
// staging file, no sha256, same time), and markCommitted() was given the file's current
// generation, so it always agreed: the change was dropped and its staging file deleted with the
// second edit in it. A reopened file counts as carried only while it is still as reopened.
TEST_F(FilesystemWriteTest, AnInPlaceEditAfterACommitOfUnknownOutcomeIsNotLost) {
  openWriter(kNever);
  const std::string first = "first version of the middle, edited in place\n";
  auto fh = fs().open(ino("other.txt"), O_WRONLY | O_TRUNC);
  ASSERT_TRUE(fh);
  writeAt(*fh, 0, std::string(first.size(), '-'));
  writeAt(*fh, 0, first);  // not written from start to end once: no sha256 in the record
  closeFile(*fh);
  writer_.reset();  // crash

  const std::string id = "00112233445566778899aabbccddeeff";
  {
    auto journal = cache::Journal::open(cache::JournalOptions{onlyJournal(dir_ / "write").string()});
    ASSERT_TRUE(journal) << journal.error().message;
    auto value = (*journal)->get(changeKey("other.txt"));
    ASSERT_TRUE(value);
    auto split = splitChangeEntry(changeKey("other.txt"), *value);
    ASSERT_TRUE(split);
    ASSERT_NE(split->second.find("\n\n"), std::string::npos) << "the record names a sha256";
    ASSERT_TRUE((*journal)->put(std::string(kInflightPrefix) + id,
                                encodeInflight({{"other.txt", *value}})));
  }
  hub::CommitRequest request;
  request.summary = "Update 1 file with hf-mount";
  request.description = "hf-mount-commit-id: " + id;
  hub::CommitOperation op;
  op.path = "other.txt";
  op.content = first;
  request.operations.push_back(op);
  ASSERT_TRUE(admin_->commit(kRepo, "main", request));  // the commit landed

  openWriter(kNever);
  ASSERT_TRUE(waitForRecovery());
  fh = fs().open(ino("other.txt"), O_WRONLY);
  ASSERT_TRUE(fh);
  writeAt(*fh, 6, "SECOND");
  closeFile(*fh);
  std::string second = first;
  second.replace(6, 6, "SECOND");
  ASSERT_EQ(viewBytes("other.txt"), second);

  auto synced = fs().fsyncdir(view_);
  ASSERT_TRUE(synced) << synced.error().message;
  EXPECT_EQ(viewBytes("other.txt"), second);
  Tree want = seed_;
  want["other.txt"] = second;
  expectHead(want);
  EXPECT_EQ(commits(), base_commits_ + 2) << "the landed commit, then the second edit";
  EXPECT_EQ(pendingChanges(), 0u);
}

// The record of a commit that never landed is dropped and its changes are committed.
TEST_F(FilesystemWriteTest, ACommitSentBeforeACrashThatNeverLandedIsSentAgain) {
  openWriter(kNever);
  putFile(view_, "sent.txt", "sent\n");
  writer_.reset();
  {
    auto journal = cache::Journal::open(cache::JournalOptions{onlyJournal(dir_ / "write").string()});
    ASSERT_TRUE(journal) << journal.error().message;
    auto value = (*journal)->get(changeKey("sent.txt"));
    ASSERT_TRUE(value);
    ASSERT_TRUE((*journal)->put(std::string(kInflightPrefix) + "fedcba9876543210fedcba9876543210",
                                encodeInflight({{"sent.txt", *value}})));
  }
  openWriter(kNever);
  ASSERT_TRUE(waitForRecovery());
  auto synced = fs().fsyncdir(view_);
  ASSERT_TRUE(synced) << synced.error().message;
  EXPECT_EQ(commits(), base_commits_ + 1);
  Tree want = seed_;
  want["sent.txt"] = "sent\n";
  expectHead(want);
}

// kill -9 after an fsync committed a file that is still open, or closed since, and before the next
// commit round (crash_test.sh hit it: a commit whose tree equals its parent's).
// Was (filesystem_write.cpp, persist): the change of a file committed while open stays in the
// overlay until the next round, and persist (after the commit, and at close) wrote its record
// again; the next mount committed the same bytes a second time.
TEST_F(FilesystemWriteTest, AFileCommittedWhileOpenIsNotCommittedAgainAfterACrash) {
  openWriter(kNever);
  auto f = fs().create(view_, "synced.txt", 0644, O_WRONLY | O_CREAT);
  ASSERT_TRUE(f);
  writeAt(f->fh, 0, "synced\n");
  ASSERT_TRUE(fs().fsync(f->fh));
  closeFile(f->fh);
  EXPECT_EQ(commits(), base_commits_ + 1);
  writer_.reset();  // crash before the round that would have settled it

  openWriter(kNever);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // recoverPending's turn
  auto synced = fs().fsyncdir(view_);
  ASSERT_TRUE(synced) << synced.error().message;
  EXPECT_EQ(commits(), base_commits_ + 1) << "the same bytes were committed twice";
  Tree want = seed_;
  want["synced.txt"] = "synced\n";
  expectHead(want);
}

// The journal is deleted while a change is pending: the next Filesystem reports it and keeps the
// staging file (nothing names its path any more, so nothing commits it).
// Was (filesystem_commit.cpp, openWriteState): a new journal was started in silence and the first
// write to the view deleted the staging file as a leftover.
TEST_F(FilesystemWriteTest, AMissingJournalIsReportedAndItsStagingFilesKept) {
  openWriter(kNever);
  putFile(view_, "orphan.txt", "orphan\n");
  writer_.reset();
  fsys::path journal = onlyJournal(dir_ / "write");
  fsys::path staging = dir_ / "write" / "staging" / journal.filename();
  ASSERT_EQ(filesIn(staging), 1u);
  fsys::path orphan = fsys::directory_iterator(staging)->path();
  fsys::remove_all(journal);

  openWriter(kNever);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<PendingInfo> info;
  while ((info = fs().pending()).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(info.size(), 1u);
  EXPECT_NE(info[0].last_error.find("is missing"), std::string::npos) << info[0].last_error;
  EXPECT_EQ(info[0].changes, 1u);
  putFile(view_, "new.txt", "new\n");  // a new journal for the view
  EXPECT_EQ(filesIn(staging), 2u) << "the staging file of the lost journal was deleted";
  ASSERT_TRUE(fs().fsyncdir(view_));
  EXPECT_TRUE(fsys::exists(orphan)) << "deleted after the view's next commit";
  bool reported = false;
  for (const auto& p : fs().pending()) {
    reported = reported || p.last_error.find("journal") != std::string::npos;
  }
  EXPECT_TRUE(reported);
}

// A journal LMDB cannot open: the mount still starts, the problem is reported, nothing is
// committed or deleted.
TEST_F(FilesystemWriteTest, AnUnreadableJournalIsReportedAndKept) {
  openWriter(kNever);
  putFile(view_, "kept.txt", "kept\n");
  writer_.reset();
  fsys::path journal = onlyJournal(dir_ / "write");
  fsys::resize_file(journal / "data.mdb", 4096);

  openWriter(kNever);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<PendingInfo> info;
  while ((info = fs().pending()).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(info.size(), 1u);
  EXPECT_NE(info[0].last_error.find("cannot be read"), std::string::npos) << info[0].last_error;
  EXPECT_EQ(filesIn(dir_ / "write" / "staging" / journal.filename()), 1u);
  EXPECT_EQ(commits(), base_commits_);
}

}  // namespace
}  // namespace hfm::fs
