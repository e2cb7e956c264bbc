// SPDX-License-Identifier: Apache-2.0
#include "cache/journal.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace hfm::cache {
namespace {

using testing::patternBytes;
using testing::TempDir;
using Entries = std::vector<std::pair<std::string, std::string>>;

class JournalTest : public ::testing::Test {
 protected:
  JournalOptions options() const {
    JournalOptions o;
    o.dir = (dir_.path() / "journal").string();
    return o;
  }
  std::filesystem::path dataFile() const { return dir_.path() / "journal" / "data.mdb"; }
  std::unique_ptr<Journal> open() {
    auto journal = Journal::open(options());
    EXPECT_TRUE(journal.has_value()) << (journal ? "" : journal.error().message);
    return journal ? std::move(*journal) : nullptr;
  }
  TempDir dir_;
};

// Runs `body` in a forked child (before this process opens anything it could inherit) and
// returns its exit status; the child never returns into the test framework.
int runInChild(const std::function<int()>& body) {
  pid_t child = ::fork();
  if (child == 0) {
    ::_exit(body());
  }
  int status = 0;
  if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status)) {
    return -1;
  }
  return WEXITSTATUS(status);
}

TEST_F(JournalTest, PutGetEraseAndListByPrefix) {
  auto journal = open();
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->dir(), options().dir);
  EXPECT_FALSE(journal->get("a/1").has_value());
  ASSERT_TRUE(journal->put("a/2", "two"));
  ASSERT_TRUE(journal->put("a/1", "one"));
  ASSERT_TRUE(journal->put("b/1", ""));  // an empty value is a value
  ASSERT_TRUE(journal->put("a", "dir"));
  const std::string binary_key("k\0\xff", 3);
  ASSERT_TRUE(journal->put(binary_key, std::string("v\0w", 3)));
  ASSERT_TRUE(journal->put("a/1", "uno"));  // overwrite

  EXPECT_EQ(journal->get("a/1"), "uno");
  EXPECT_EQ(journal->get("b/1"), "");
  EXPECT_EQ(journal->get(binary_key), std::string("v\0w", 3));
  EXPECT_EQ(journal->list("a/"), (Entries{{"a/1", "uno"}, {"a/2", "two"}}));
  EXPECT_EQ(journal->list("a"), (Entries{{"a", "dir"}, {"a/1", "uno"}, {"a/2", "two"}}));
  EXPECT_EQ(journal->list(std::string("k\0", 2)), (Entries{{binary_key, std::string("v\0w", 3)}}));
  EXPECT_TRUE(journal->list("c").empty());
  EXPECT_TRUE(journal->list("a/3").empty());
  EXPECT_EQ(journal->list().size(), 5u);

  ASSERT_TRUE(journal->erase("a/1"));
  ASSERT_TRUE(journal->erase("a/1"));  // absent: fine
  EXPECT_FALSE(journal->get("a/1").has_value());
  EXPECT_EQ(journal->list("a/"), (Entries{{"a/2", "two"}}));
  EXPECT_EQ(journal->corruptValues(), 0u);
}

TEST_F(JournalTest, KeySizeLimits) {
  auto journal = open();
  ASSERT_TRUE(journal);
  std::string longest(Journal::kMaxKeyBytes, 'k');
  ASSERT_TRUE(journal->put(longest, "v"));
  EXPECT_EQ(journal->get(longest), "v");
  EXPECT_EQ(journal->list(longest), (Entries{{longest, "v"}}));
  for (const std::string& bad : {longest + "k", std::string()}) {
    auto r = journal->put(bad, "v");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, CacheErrorKind::kIo);
    EXPECT_NE(r.error().message.find("invalid argument"), std::string::npos) << r.error().message;
    EXPECT_FALSE(journal->get(bad).has_value());
    EXPECT_FALSE(journal->erase(bad));
  }
  EXPECT_TRUE(journal->list(longest + "k").empty());
}

TEST_F(JournalTest, ApplyIsAllOrNothing) {
  auto journal = open();
  ASSERT_TRUE(journal);
  ASSERT_TRUE(journal->put("keep", "old"));
  ASSERT_TRUE(journal->put("gone", "x"));

  std::vector<JournalWrite> bad{{"new", "value"},
                                {"keep", std::nullopt},
                                {"keep2", "v"},
                                {std::string(Journal::kMaxKeyBytes + 1, 'z'), "v"}};
  auto r = journal->apply(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, CacheErrorKind::kIo);
  EXPECT_NE(r.error().message.find("invalid argument"), std::string::npos) << r.error().message;
  EXPECT_EQ(journal->list(), (Entries{{"gone", "x"}, {"keep", "old"}}));

  std::vector<JournalWrite> good{{"new", "value"},
                                 {"gone", std::nullopt},
                                 {"absent", std::nullopt},
                                 {"keep", "newer"},
                                 {"new", "last write wins"}};
  ASSERT_TRUE(journal->apply(good));
  EXPECT_EQ(journal->list(), (Entries{{"keep", "newer"}, {"new", "last write wins"}}));
  ASSERT_TRUE(journal->apply({}));
}

TEST_F(JournalTest, ReopenKeepsDataIncludingLargeValues) {
  std::string big = patternBytes(3, 5 * 1024 * 1024);
  {
    auto journal = open();
    ASSERT_TRUE(journal);
    ASSERT_TRUE(journal->put("big", big));
    ASSERT_TRUE(journal->apply({{"op/1", "create a"}, {"op/2", "delete b"}}));
  }
  auto journal = open();
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->get("big"), big);
  EXPECT_EQ(journal->list("op/"), (Entries{{"op/1", "create a"}, {"op/2", "delete b"}}));
}

TEST_F(JournalTest, CreatesPrivateDirectories) {
  JournalOptions o;
  o.dir = (dir_.path() / "a" / "b" / "c").string();
  auto journal = Journal::open(o);
  ASSERT_TRUE(journal) << journal.error().message;
  for (const auto& p :
       {dir_.path() / "a", dir_.path() / "a" / "b", dir_.path() / "a" / "b" / "c"}) {
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << p;
  }
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "a" / "b" / "c" / "lock"));
}

TEST_F(JournalTest, RejectsBadOptions) {
  JournalOptions o;
  auto r = Journal::open(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, CacheErrorKind::kIo);
  std::ofstream(dir_.path() / "file");
  o.dir = (dir_.path() / "file").string();  // not a directory
  r = Journal::open(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, CacheErrorKind::kIo);
}

TEST_F(JournalTest, SecondOpenInThisProcessIsBusyUntilTheFirstIsDestroyed) {
  auto first = open();
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->put("k", "v"));
  auto second = Journal::open(options());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, CacheErrorKind::kBusy);
  EXPECT_NE(second.error().message.find("another hf-mount process"), std::string::npos)
      << second.error().message;
  EXPECT_EQ(first->get("k"), "v");  // the failed open disturbed nothing

  first.reset();
  auto third = open();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->get("k"), "v");
}

TEST_F(JournalTest, OpenFromAnotherProcessIsBusyWhileHeld) {
  const JournalOptions o = options();
  {
    auto journal = open();
    ASSERT_TRUE(journal);
    int code = runInChild([&o] {
      auto other = Journal::open(o);
      return !other && other.error().kind == CacheErrorKind::kBusy ? 0 : 1;
    });
    EXPECT_EQ(code, 0) << "the child's open was not refused with kBusy";
  }
  // Released on destruction: now the child gets it.
  int code = runInChild([&o] {
    auto other = Journal::open(o);
    return other && (*other)->put("from", "child") ? 0 : 1;
  });
  EXPECT_EQ(code, 0);
  auto journal = open();
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->get("from"), "child");
}

// A mount killed right after recording a change: the lock dies with it, the change does not.
TEST_F(JournalTest, KilledHolderReleasesTheLockAndKeepsItsChanges) {
  const JournalOptions o = options();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    auto journal = Journal::open(o);
    char ok = journal && (*journal)->put("pending/a.txt", "staged") ? '1' : '0';
    (void)::write(ready[1], &ok, 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(ok, '1');

  auto busy = Journal::open(o);  // no ASSERT before the child is reaped
  EXPECT_TRUE(!busy && busy.error().kind == CacheErrorKind::kBusy);

  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  auto journal = open();
  ASSERT_TRUE(journal);
  EXPECT_EQ(journal->get("pending/a.txt"), "staged");
}

TEST_F(JournalTest, DamagedEnvironmentFailsOpenAndIsLeftAsFound) {
  struct Damage {
    const char* name;
    std::function<void(const std::filesystem::path& data)> apply;
  };
  const std::vector<Damage> damages{
      {"truncated to zero", [](const auto& p) { std::filesystem::resize_file(p, 0); }},
      {"truncated inside the header", [](const auto& p) { std::filesystem::resize_file(p, 100); }},
      {"truncated to half",
       [](const auto& p) { std::filesystem::resize_file(p, std::filesystem::file_size(p) / 2); }},
      {"header overwritten",
       [](const auto& p) { testing::writeWholeFile(p, std::string(64, 'X')); }},
      {"data file deleted", [](const auto& p) { std::filesystem::remove(p); }},
      {"damage reported at run time",
       [](const auto& p) { std::ofstream(p.parent_path() / "CORRUPT") << "mdb_get: corrupted\n"; }},
  };
  for (const Damage& damage : damages) {
    SCOPED_TRACE(damage.name);
    std::filesystem::remove_all(options().dir);
    {
      auto journal = open();
      ASSERT_TRUE(journal);
      ASSERT_TRUE(journal->put("big", patternBytes(9, 512 * 1024)));
      ASSERT_TRUE(journal->put("pending", "change"));
    }
    damage.apply(dataFile());
    const bool had_file = std::filesystem::exists(dataFile());
    const std::string damaged = had_file ? testing::readWholeFile(dataFile()) : std::string();
    for (int attempt = 0; attempt < 2; ++attempt) {  // not repaired by a failed open either
      auto r = Journal::open(options());
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().kind, CacheErrorKind::kCorrupt);
      EXPECT_NE(r.error().message.find(options().dir), std::string::npos) << r.error().message;
      EXPECT_NE(r.error().message.find("damaged"), std::string::npos) << r.error().message;
      ASSERT_EQ(std::filesystem::exists(dataFile()), had_file);
      if (had_file) {
        EXPECT_EQ(testing::readWholeFile(dataFile()), damaged);
      }
    }
  }
}

TEST_F(JournalTest, FlippedValueByteIsDetected) {
  std::string value = patternBytes(11, 10000);
  {
    auto journal = open();
    ASSERT_TRUE(journal);
    ASSERT_TRUE(journal->put("k", value));
    ASSERT_TRUE(journal->put("k2", "intact"));
  }
  ASSERT_TRUE(testing::flipByteAfter(dataFile(), value.substr(0, 64), 500));
  auto journal = open();
  ASSERT_TRUE(journal);
  EXPECT_FALSE(journal->get("k").has_value());
  EXPECT_EQ(journal->corruptValues(), 1u);
  EXPECT_EQ(journal->list(), (Entries{{"k2", "intact"}}));
  EXPECT_EQ(journal->corruptValues(), 2u);
  ASSERT_TRUE(journal->put("k", value));  // writing it again replaces the damaged value
  EXPECT_EQ(journal->get("k"), value);
}

TEST_F(JournalTest, FlippedKeyByteIsDetected) {
  const std::string key = "pending/some-distinctive-path.bin";
  {
    auto journal = open();
    ASSERT_TRUE(journal);
    ASSERT_TRUE(journal->put(key, "value"));
  }
  ASSERT_TRUE(testing::flipByteAfter(dataFile(), key, key.size() - 1));
  auto journal = open();
  ASSERT_TRUE(journal);
  EXPECT_FALSE(journal->get(key).has_value());
  EXPECT_TRUE(journal->list().empty());  // the entry under the damaged key fails its check
  EXPECT_EQ(journal->corruptValues(), 1u);
}

TEST_F(JournalTest, ConcurrentWritersAndReaders) {
  auto journal = open();
  ASSERT_TRUE(journal);
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerWriter; ++i) {
        std::string key = "w" + std::to_string(t) + "/" + std::to_string(100 + i);
        EXPECT_TRUE(journal->apply({{key, key + "=v"}, {key + ".tmp", std::nullopt}}));
      }
    });
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerWriter; ++i) {
        for (const auto& [key, value] : journal->list("w" + std::to_string(t) + "/")) {
          EXPECT_EQ(value, key + "=v");
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(journal->list().size(), static_cast<std::size_t>(kWriters * kPerWriter));
  EXPECT_EQ(journal->corruptValues(), 0u);
}

}  // namespace
}  // namespace hfm::cache
