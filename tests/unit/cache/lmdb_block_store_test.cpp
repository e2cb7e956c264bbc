// SPDX-License-Identifier: Apache-2.0
#include "cache/lmdb_block_store.h"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace hfm::cache {
namespace {

using testing::patternBytes;
using testing::TempDir;

constexpr std::uint32_t kBlock = 64 * 1024;

std::string contentId(int n) {
  std::string id = std::to_string(n);
  return std::string(64 - id.size(), '0') + id;  // shaped like a sha256
}

// Block `index` of file `file`: deterministic, so any thread can check what it reads.
std::string blockData(int file, std::uint64_t index, std::size_t size = kBlock) {
  return patternBytes(static_cast<std::uint64_t>(file) * 100000 + index, size);
}

class LmdbBlockStoreTest : public ::testing::Test {
 protected:
  CacheOptions options() const {
    CacheOptions o;
    o.dir = dir_.path();
    o.block_size = kBlock;
    o.max_bytes = 64 * kMiB;
    o.touch_flush_interval = std::chrono::milliseconds(0);  // deterministic LRU order
    return o;
  }

  std::unique_ptr<LmdbBlockStore> open(const CacheOptions& o) {
    auto store = LmdbBlockStore::open(o);
    EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }

  std::optional<std::string> readAll(BlockStore& store, std::string_view id, std::uint64_t index,
                                     std::size_t size = kBlock) {
    std::string out(size, '\0');
    auto n = store.read(id, index, 0, out);
    if (!n) {
      return std::nullopt;
    }
    out.resize(*n);
    return out;
  }

  std::filesystem::path dataFile() const { return dir_.path() / "blocks" / "data.mdb"; }

  TempDir dir_;
};

TEST_F(LmdbBlockStoreTest, RoundTrip) {
  auto store = open(options());
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->rebuiltOnOpen());
  EXPECT_EQ(store->blockSize(), kBlock);
  EXPECT_FALSE(readAll(*store, contentId(1), 0).has_value());
  EXPECT_FALSE(store->contains(contentId(1), 0));

  for (std::uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(store->write(contentId(1), i, blockData(1, i)));
  }
  for (std::uint64_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(store->contains(contentId(1), i));
    EXPECT_EQ(readAll(*store, contentId(1), i), blockData(1, i)) << i;
  }
  // A git oid (40 hex) is a different id, even where it is a prefix of another.
  EXPECT_FALSE(store->contains(contentId(1).substr(0, 40), 0));

  CacheStats st = store->stats();
  EXPECT_EQ(st.blocks, 4u);
  EXPECT_EQ(st.logical_bytes, 4u * kBlock);
  EXPECT_EQ(st.hits, 4u);
  EXPECT_EQ(st.misses, 1u);
  EXPECT_EQ(st.writes, 4u);
  EXPECT_GE(st.used_bytes, 4u * kBlock);
  EXPECT_LE(st.used_bytes, st.file_bytes);
}

TEST_F(LmdbBlockStoreTest, RewritingABlockKeepsOneCopy) {
  auto store = open(options());
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->write(contentId(1), 0, blockData(1, 0)));
  ASSERT_TRUE(store->write(contentId(1), 0, blockData(1, 0)));
  ASSERT_TRUE(store->write(contentId(1), 0, blockData(1, 0, 100)));  // replaced
  EXPECT_EQ(readAll(*store, contentId(1), 0), blockData(1, 0, 100));
  EXPECT_EQ(store->stats().blocks, 1u);
  EXPECT_EQ(store->stats().logical_bytes, 100u);
}

TEST_F(LmdbBlockStoreTest, PartialReadsAtOffsets) {
  auto store = open(options());
  ASSERT_TRUE(store);
  std::string data = blockData(2, 0);
  ASSERT_TRUE(store->write(contentId(2), 0, data));

  std::string out(1000, '\0');
  for (std::uint64_t offset : {0u, 1u, 4095u, 65535u - 999u, 30000u}) {
    auto n = store->read(contentId(2), 0, offset, out);
    ASSERT_EQ(n, 1000u) << offset;
    EXPECT_EQ(out, data.substr(offset, 1000)) << offset;
  }
  // Asking past the end gets what is there.
  auto n = store->read(contentId(2), 0, kBlock - 10, out);
  ASSERT_EQ(n, 10u);
  EXPECT_EQ(out.substr(0, 10), data.substr(kBlock - 10));
  EXPECT_EQ(store->read(contentId(2), 0, kBlock, out), 0u);
  EXPECT_EQ(store->read(contentId(2), 0, kBlock + 5, out), 0u);
  std::span<char> empty;
  EXPECT_EQ(store->read(contentId(2), 0, 7, empty), 0u);
}

TEST_F(LmdbBlockStoreTest, LastShortBlock) {
  auto store = open(options());
  ASSERT_TRUE(store);
  std::string tail = blockData(3, 7, 12345);
  ASSERT_TRUE(store->write(contentId(3), 7, tail));
  EXPECT_EQ(readAll(*store, contentId(3), 7), tail);
  std::string out(100, '\0');
  EXPECT_EQ(store->read(contentId(3), 7, 12300, out), 45u);
  EXPECT_EQ(out.substr(0, 45), tail.substr(12300));
  EXPECT_EQ(store->read(contentId(3), 7, 12345, out), 0u);
  ASSERT_TRUE(store->write(contentId(3), 8, ""));  // an empty block is legal, if useless
  EXPECT_EQ(readAll(*store, contentId(3), 8), "");
}

TEST_F(LmdbBlockStoreTest, RejectsInvalidArguments) {
  auto store = open(options());
  ASSERT_TRUE(store);
  auto too_big = store->write(contentId(1), 0, std::string(kBlock + 1, 'x'));
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().kind, CacheErrorKind::kIo);
  EXPECT_FALSE(store->write("", 0, "x"));
  EXPECT_FALSE(store->write(std::string(65, 'a'), 0, "x"));
  EXPECT_FALSE(readAll(*store, std::string(65, 'a'), 0).has_value());
  EXPECT_EQ(store->stats().failed_writes, 3u);
}

TEST_F(LmdbBlockStoreTest, WriteManyStoresEveryBlockAndFailsOnlyTheBadOnes) {
  auto store = open(options());
  ASSERT_NE(store, nullptr);
  // Many small records, more than one transaction takes, one of them invalid.
  std::vector<std::string> ids;
  std::vector<std::string> values;
  for (int i = 0; i < 1200; ++i) {
    ids.push_back(contentId(i));
    values.push_back(blockData(i, 7, 36));
  }
  std::vector<BlockWrite> writes;
  for (std::size_t i = 0; i < ids.size(); ++i) writes.push_back({ids[i], 7, values[i]});
  const std::string too_big(kBlock + 1, 'x');
  const std::string bad_id = contentId(99999);  // the views must outlive the call
  writes.insert(writes.begin() + 600, BlockWrite{bad_id, 0, too_big});
  const std::uint64_t writes_before = store->stats().writes;

  auto st = store->writeMany(writes);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("exceed the block size"), std::string::npos);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(readAll(*store, ids[i], 7, 36), values[i]) << i;
  }
  EXPECT_FALSE(store->contains(contentId(99999), 0));
  EXPECT_EQ(store->stats().writes - writes_before, ids.size());
  EXPECT_EQ(store->stats().failed_writes, 1u);
  EXPECT_TRUE(store->writeMany({}));
}

TEST_F(LmdbBlockStoreTest, ChecksumMismatchIsAMissAndIsRepairedByTheNextWrite) {
  std::string data = blockData(4, 0);
  {
    auto store = open(options());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->write(contentId(4), 0, data));
    ASSERT_TRUE(store->write(contentId(4), 1, blockData(4, 1)));
  }
  // Damage the first 64 KiB chunk of block 0 on disk.
  ASSERT_TRUE(testing::flipByteAfter(dataFile(), data.substr(0, 64), 1000));

  auto store = open(options());
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->rebuiltOnOpen());
  EXPECT_FALSE(readAll(*store, contentId(4), 0).has_value());
  CacheStats st = store->stats();
  EXPECT_EQ(st.corrupt_blocks, 1u);
  EXPECT_EQ(st.misses, 1u);
  EXPECT_EQ(st.hits, 0u);
  EXPECT_EQ(readAll(*store, contentId(4), 1), blockData(4, 1));  // neighbours are fine

  // The fetcher refills the block; the write replaces the damaged copy.
  ASSERT_TRUE(store->write(contentId(4), 0, data));
  EXPECT_EQ(readAll(*store, contentId(4), 0), data);
  EXPECT_EQ(store->stats().corrupt_blocks, 1u);
}

TEST_F(LmdbBlockStoreTest, DamagedBlockIsDeletedLazily) {
  CacheOptions o = options();
  o.block_size = 4 * kBlock;  // four checksum chunks per block
  std::string data = patternBytes(99, o.block_size);
  {
    auto store = open(o);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->write(contentId(5), 0, data));
  }
  ASSERT_TRUE(testing::flipByteAfter(dataFile(), data.substr(0, 64), 10));  // chunk 0

  auto store = open(o);
  ASSERT_TRUE(store);
  // Reads that avoid the damaged chunk still verify and succeed.
  std::string out(kBlock, '\0');
  EXPECT_EQ(store->read(contentId(5), 0, 2 * kBlock, out), kBlock);
  EXPECT_EQ(out, data.substr(2 * kBlock, kBlock));
  EXPECT_FALSE(store->read(contentId(5), 0, 0, out).has_value());
  EXPECT_TRUE(store->contains(contentId(5), 0));
  store->flush();  // applies the pending deletion
  EXPECT_FALSE(store->contains(contentId(5), 0));
  EXPECT_EQ(store->stats().blocks, 0u);
  EXPECT_EQ(store->stats().logical_bytes, 0u);
}

TEST_F(LmdbBlockStoreTest, EvictionKeepsUsedBytesUnderBudgetAndLeastRecentlyReadGoesFirst) {
  CacheOptions o = options();
  o.max_bytes = 4 * kMiB;  // about 60 blocks of 64 KiB (17 pages each)
  auto store = open(o);
  ASSERT_TRUE(store);
  for (std::uint64_t i = 0; i < 40; ++i) {
    ASSERT_TRUE(store->write(contentId(6), i, blockData(6, i)));
  }
  EXPECT_EQ(store->stats().evicted_blocks, 0u);
  // Block 0 is the oldest written; reading it makes block 1 the least recently used.
  ASSERT_TRUE(readAll(*store, contentId(6), 0).has_value());
  for (std::uint64_t i = 40; i < 80; ++i) {
    ASSERT_TRUE(store->write(contentId(6), i, blockData(6, i)));
    EXPECT_LE(store->stats().used_bytes, o.max_bytes) << i;
  }
  CacheStats st = store->stats();
  EXPECT_GT(st.evicted_blocks, 0u);
  EXPECT_EQ(st.blocks + st.evicted_blocks, 80u);
  EXPECT_EQ(st.logical_bytes, st.blocks * kBlock);
  EXPECT_TRUE(store->contains(contentId(6), 0)) << "the re-read block was evicted";
  EXPECT_FALSE(store->contains(contentId(6), 1));
  EXPECT_TRUE(store->contains(contentId(6), 79));
  EXPECT_EQ(readAll(*store, contentId(6), 0), blockData(6, 0));
  // The survivors are exactly the most recent ones.
  for (std::uint64_t i = 1; i < 80; ++i) {
    bool expected = i >= 80 - (st.blocks - 1);
    EXPECT_EQ(store->contains(contentId(6), i), expected) << i;
  }
}

TEST_F(LmdbBlockStoreTest, BackgroundFlusherAppliesTouchesWithoutWrites) {
  CacheOptions o = options();
  o.max_bytes = 4 * kMiB;
  o.touch_flush_interval = std::chrono::milliseconds(5);
  auto store = open(o);
  ASSERT_TRUE(store);
  for (std::uint64_t i = 0; i < 40; ++i) {
    ASSERT_TRUE(store->write(contentId(7), i, blockData(7, i)));
  }
  ASSERT_TRUE(readAll(*store, contentId(7), 0).has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(store->prune(store->stats().used_bytes - 2 * kMiB));
  EXPECT_TRUE(store->contains(contentId(7), 0));
  EXPECT_FALSE(store->contains(contentId(7), 1));
}

TEST_F(LmdbBlockStoreTest, ReopenKeepsBlocksAndBlockSize) {
  {
    auto store = open(options());
    ASSERT_TRUE(store);
    for (std::uint64_t i = 0; i < 5; ++i) {
      ASSERT_TRUE(store->write(contentId(8), i, blockData(8, i)));
    }
    ASSERT_TRUE(readAll(*store, contentId(8), 0).has_value());  // touch pending at close
  }
  CacheOptions o = options();
  o.block_size = 2 * kBlock;
  auto store = open(o);
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->rebuiltOnOpen()) << store->rebuildReason();
  EXPECT_EQ(store->blockSize(), kBlock);  // the recorded one wins
  CacheStats st = store->stats();
  EXPECT_EQ(st.blocks, 5u);
  EXPECT_EQ(st.logical_bytes, 5u * kBlock);
  // The touch of block 0 survived the restart: block 1 is now the oldest.
  ASSERT_TRUE(store->prune(st.used_bytes - 1));
  EXPECT_TRUE(store->contains(contentId(8), 0));
  EXPECT_FALSE(store->contains(contentId(8), 1));
  for (std::uint64_t i : {0u, 2u, 3u, 4u}) {
    EXPECT_EQ(readAll(*store, contentId(8), i), blockData(8, i)) << i;
  }
  EXPECT_FALSE(store->write(contentId(8), 9, std::string(2 * kBlock, 'x')));
}

TEST_F(LmdbBlockStoreTest, CorruptHeaderRebuildsOnOpen) {
  {
    auto store = open(options());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->write(contentId(9), 0, blockData(9, 0)));
  }
  // Both LMDB meta pages (pages 0 and 1) become garbage.
  auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  testing::writeWholeFile(dataFile(), std::string(2 * page, '\x5A'));

  auto store = open(options());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->rebuiltOnOpen());
  EXPECT_FALSE(store->rebuildReason().empty());
  EXPECT_FALSE(store->contains(contentId(9), 0));
  ASSERT_TRUE(store->write(contentId(9), 0, blockData(9, 0)));
  EXPECT_EQ(readAll(*store, contentId(9), 0), blockData(9, 0));
  store.reset();
  store = open(options());
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->rebuiltOnOpen());
  EXPECT_TRUE(store->contains(contentId(9), 0));
}

TEST_F(LmdbBlockStoreTest, TruncatedDataFileRebuildsInsteadOfFaulting) {
  {
    auto store = open(options());
    ASSERT_TRUE(store);
    for (std::uint64_t i = 0; i < 8; ++i) {
      ASSERT_TRUE(store->write(contentId(15), i, blockData(15, i)));
    }
  }
  std::filesystem::resize_file(dataFile(), std::filesystem::file_size(dataFile()) / 2);
  auto store = open(options());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->rebuiltOnOpen());
  EXPECT_NE(store->rebuildReason().find("data file holds"), std::string::npos)
      << store->rebuildReason();
  EXPECT_EQ(store->stats().blocks, 0u);
}

TEST_F(LmdbBlockStoreTest, RuntimeCorruptionMarkerRebuildsOnNextOpen) {
  {
    auto store = open(options());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->write(contentId(16), 0, blockData(16, 0)));
  }
  // What the store leaves when LMDB reports a damaged page while running.
  std::ofstream(dir_.path() / "blocks" / "CORRUPT") << "read block: MDB_PAGE_NOTFOUND\n";
  auto store = open(options());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->rebuiltOnOpen());
  EXPECT_NE(store->rebuildReason().find("MDB_PAGE_NOTFOUND"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "blocks" / "CORRUPT"));
}

// Sets the page flags of the "blocks" tree's root page to 0 in the data file (through the file,
// as outside damage would), so that LMDB answers MDB_CORRUPTED when it reaches that page.
void damageBlocksTreeRoot(const std::filesystem::path& data_file) {
  std::string file = testing::readWholeFile(data_file);
  auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  auto u64 = [&](std::size_t at) {
    std::uint64_t v = 0;
    std::memcpy(&v, file.data() + at, 8);
    return v;
  };
  // Meta page layout (LMDB 0.9): page header 16, magic+version 8, address 8, map size 8, then
  // two MDB_db of 48 bytes (root at +40), last page 8, txnid 8.
  constexpr std::size_t kMeta = 16;
  std::size_t newest = u64(kMeta + 24 + 96 + 8) >= u64(page + kMeta + 24 + 96 + 8) ? 0 : page;
  std::uint64_t main_root = u64(newest + kMeta + 24 + 48 + 40);
  std::string_view main_page(file.data() + main_root * page, page);
  auto at = main_page.find("blocks");
  ASSERT_NE(at, std::string_view::npos);
  std::uint64_t root = u64(main_root * page + at + 6 + 40);
  ASSERT_LT((root + 1) * page, file.size() + 1);
  std::fstream f(data_file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(root * page + 10));
  const char zero[2] = {0, 0};
  f.write(zero, 2);
}

TEST_F(LmdbBlockStoreTest, DamagedTreeAtRunTimeIsRebuiltWhileOpen) {
  auto store = open(options());
  ASSERT_TRUE(store);
  for (std::uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(store->write(contentId(17), i, blockData(17, i)));
  }
  ASSERT_EQ(readAll(*store, contentId(17), 0), blockData(17, 0));
  damageBlocksTreeRoot(dataFile());

  // The read that meets the damage is a miss; the store replaces the environment at once.
  EXPECT_EQ(readAll(*store, contentId(17), 1), std::nullopt);
  auto st = store->stats();
  EXPECT_EQ(st.rebuilds, 1u);
  EXPECT_EQ(st.blocks, 0u);
  EXPECT_FALSE(store->contains(contentId(17), 0));
  // The rebuilt cache caches again, with the same block size.
  EXPECT_EQ(store->blockSize(), kBlock);
  ASSERT_TRUE(store->write(contentId(17), 2, blockData(17, 2)));
  EXPECT_EQ(readAll(*store, contentId(17), 2), blockData(17, 2));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "blocks" / "CORRUPT"));
  store.reset();
  store = open(options());
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->rebuiltOnOpen());
  EXPECT_EQ(readAll(*store, contentId(17), 2), blockData(17, 2));
}

TEST_F(LmdbBlockStoreTest, DamageSeenByContainsIsRebuiltByTheNextRead) {
  auto store = open(options());
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->write(contentId(18), 0, blockData(18, 0)));
  damageBlocksTreeRoot(dataFile());
  EXPECT_FALSE(store->contains(contentId(18), 0));
  EXPECT_EQ(store->stats().rebuilds, 0u);  // contains() is const: it only asks for the rebuild
  EXPECT_EQ(readAll(*store, contentId(18), 0), std::nullopt);
  EXPECT_EQ(store->stats().rebuilds, 1u);
  ASSERT_TRUE(store->write(contentId(18), 0, blockData(18, 0)));
  EXPECT_EQ(readAll(*store, contentId(18), 0), blockData(18, 0));
}

TEST_F(LmdbBlockStoreTest, FullDiskKeepsTheCacheWithinItsDataFile) {
  auto store = open(options());
  ASSERT_TRUE(store);
  for (std::uint64_t i = 0; i < 32; ++i) {
    ASSERT_TRUE(store->write(contentId(19), i, blockData(19, i)));
  }
  store->flush();
  auto file = std::filesystem::file_size(dataFile());
  int stored = 0;
  {
    // The data file may not grow any more (EFBIG, as ENOSPC on a full disk).
    rlimit old{};
    ::getrlimit(RLIMIT_FSIZE, &old);
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old;
    lim.rlim_cur = file;
    ::setrlimit(RLIMIT_FSIZE, &lim);
    for (std::uint64_t i = 32; i < 96; ++i) {
      stored += store->write(contentId(19), i, blockData(19, i)) ? 1 : 0;
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::signal(SIGXFSZ, old_handler);
  }
  auto st = store->stats();
  EXPECT_GE(st.disk_full, 1u);
  EXPECT_GT(stored, 48) << "evicting inside the data file should make room for most writes";
  EXPECT_LT(st.budget_bytes, 64 * kMiB);
  EXPECT_EQ(readAll(*store, contentId(19), 95), blockData(19, 95));
  EXPECT_LE(std::filesystem::file_size(dataFile()), file);
}

TEST_F(LmdbBlockStoreTest, FormatVersionMismatchRebuilds) {
  {
    auto store = open(options());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->write(contentId(10), 0, blockData(10, 0)));
  }
  {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 4);
    ASSERT_EQ(mdb_env_open(env, (dir_.path() / "blocks").c_str(), 0, 0644), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi meta = 0;
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    std::string name = "format_version";
    char version[4] = {99, 0, 0, 0};
    MDB_val k{name.size(), name.data()};
    MDB_val v{4, version};
    ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto store = open(options());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->rebuiltOnOpen());
  EXPECT_NE(store->rebuildReason().find("format version 99"), std::string::npos)
      << store->rebuildReason();
  EXPECT_FALSE(store->contains(contentId(10), 0));
}

TEST_F(LmdbBlockStoreTest, EnvironmentOpenAcrossARebootIsRebuilt) {
  {
    auto store = open(options());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->write(contentId(11), 0, blockData(11, 0)));
  }
  // What a process that had the cache open without sync leaves behind when the machine dies.
  std::ofstream(dir_.path() / "blocks" / "open.00000000-dead-beef-0000-000000000000.4242");
  auto store = open(options());
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->rebuiltOnOpen());
  EXPECT_NE(store->rebuildReason().find("machine went down"), std::string::npos);
  EXPECT_FALSE(store->contains(contentId(11), 0));
}

TEST_F(LmdbBlockStoreTest, ProcessCrashIsNotARebuild) {
  {
    auto store = open(options());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->write(contentId(12), 0, blockData(12, 0)));
  }
  // A marker of this boot whose process is gone: a kill -9 loses nothing that was committed.
  std::string boot;
  std::ifstream("/proc/sys/kernel/random/boot_id") >> boot;
  std::ofstream(dir_.path() / "blocks" / ("open." + boot + ".999999999"));
  auto store = open(options());
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->rebuiltOnOpen()) << store->rebuildReason();
  EXPECT_TRUE(store->contains(contentId(12), 0));
}

TEST_F(LmdbBlockStoreTest, SmallMapEvictsOrReportsFullButNeverFails) {
  CacheOptions o = options();
  o.map_size = 1 * kMiB;  // 256 pages; a block takes 17, the budget becomes 7/8 of the map
  o.max_bytes = 100 * kMiB;
  auto store = open(o);
  ASSERT_TRUE(store);
  int ok = 0;
  for (std::uint64_t i = 0; i < 200; ++i) {
    auto r = store->write(contentId(13), i, blockData(13, i));
    if (r) {
      ++ok;
      EXPECT_EQ(readAll(*store, contentId(13), i), blockData(13, i)) << i;
    } else {
      EXPECT_EQ(r.error().kind, CacheErrorKind::kFull) << r.error().message;
    }
  }
  EXPECT_GT(ok, 150);
  CacheStats st = store->stats();
  EXPECT_GT(st.map_full, 0u) << "the test no longer reaches MDB_MAP_FULL";
  EXPECT_LE(st.file_bytes, st.map_bytes);
  EXPECT_LE(st.used_bytes, st.budget_bytes);
  EXPECT_GT(st.evicted_blocks, 0u);
}

TEST_F(LmdbBlockStoreTest, MapFullFromConcurrentBatchesRecovers) {
  CacheOptions o = options();
  o.map_size = 768 * kKiB;
  o.max_bytes = 100 * kMiB;
  auto store = open(o);
  ASSERT_TRUE(store);
  std::atomic<int> ok{0};
  std::atomic<int> full{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < 50; ++i) {
        auto r = store->write(contentId(100 + t), i, blockData(100 + t, i));
        if (r) {
          ok.fetch_add(1);
        } else if (r.error().kind == CacheErrorKind::kFull) {
          full.fetch_add(1);
        } else {
          ADD_FAILURE() << r.error().message;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok + full, 200);
  EXPECT_GT(store->stats().map_full, 0u);
  EXPECT_GT(ok.load(), 0);
  // Afterwards single writes go through again.
  ASSERT_TRUE(store->write(contentId(200), 0, blockData(200, 0)));
  EXPECT_EQ(readAll(*store, contentId(200), 0), blockData(200, 0));
}

TEST_F(LmdbBlockStoreTest, ConcurrentReadersAndWriters) {
  CacheOptions o = options();
  o.max_bytes = 8 * kMiB;  // small enough that eviction runs during the test
  o.touch_flush_interval = std::chrono::milliseconds(1);
  auto store = open(o);
  ASSERT_TRUE(store);
  constexpr int kWriters = 4;
  constexpr int kReaders = 4;
  constexpr std::uint64_t kBlocksPerWriter = 60;
  std::atomic<bool> writers_done{false};
  std::atomic<std::uint64_t> hits{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (std::uint64_t i = 0; i < kBlocksPerWriter; ++i) {
        auto r = store->write(contentId(w), i, blockData(w, i));
        EXPECT_TRUE(r) << r.error().message;
        if (i % 16 == 0) {
          (void)store->stats();
        }
      }
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      std::string out(kBlock, '\0');
      std::uint64_t x = static_cast<std::uint64_t>(r) + 1;
      while (!writers_done.load()) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int file = static_cast<int>((x >> 33) % kWriters);
        std::uint64_t index = (x >> 40) % kBlocksPerWriter;
        std::uint64_t offset = (x >> 20) % 4 * 16384;
        auto n = store->read(contentId(file), index, offset, out);
        if (n) {
          ASSERT_EQ(*n, kBlock - offset);
          ASSERT_EQ(std::string_view(out.data(), *n),
                    std::string_view(blockData(file, index)).substr(offset));
          hits.fetch_add(1);
        }
        if ((x & 0xFF) == 0) {
          store->flush();
        }
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) {
    threads[static_cast<std::size_t>(w)].join();
  }
  writers_done = true;
  for (std::size_t i = kWriters; i < threads.size(); ++i) {
    threads[i].join();
  }
  CacheStats st = store->stats();
  EXPECT_EQ(st.writes, kWriters * kBlocksPerWriter);
  EXPECT_EQ(st.corrupt_blocks, 0u);
  EXPECT_LE(st.used_bytes, o.max_bytes);
  EXPECT_GT(st.evicted_blocks, 0u);
  EXPECT_EQ(st.hits, hits.load());
}

TEST_F(LmdbBlockStoreTest, TwoProcessesShareACacheDir) {
  CacheOptions o = options();
  o.max_bytes = 3 * kMiB;  // both processes evict
  constexpr std::uint64_t kPerProcess = 60;
  // Fork before either side opens the environment: a child must not inherit an open one.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = LmdbBlockStore::open(o);
    int failures = store ? 0 : 100;
    for (std::uint64_t i = 0; store && i < kPerProcess; ++i) {
      failures += (*store)->write(contentId(21), i, blockData(21, i)) ? 0 : 1;
    }
    ::_exit(failures);
  }
  {
    auto store = open(o);
    ASSERT_TRUE(store);
    for (std::uint64_t i = 0; i < kPerProcess; ++i) {
      auto r = store->write(contentId(20), i, blockData(20, i));
      EXPECT_TRUE(r) << r.error().message;
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "write failures in the child";

  auto store = open(o);
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->rebuiltOnOpen()) << store->rebuildReason();
  CacheStats st = store->stats();
  EXPECT_LE(st.used_bytes, o.max_bytes);
  EXPECT_EQ(st.logical_bytes, st.blocks * kBlock);  // one consistent total across processes
  // The newest blocks of both survive, and further writes keep working.
  EXPECT_TRUE(store->contains(contentId(20), kPerProcess - 1) ||
              store->contains(contentId(21), kPerProcess - 1));
  ASSERT_TRUE(store->write(contentId(22), 0, blockData(22, 0)));
  EXPECT_EQ(readAll(*store, contentId(22), 0), blockData(22, 0));
}

TEST_F(LmdbBlockStoreTest, PruneAndClear) {
  auto store = open(options());
  ASSERT_TRUE(store);
  for (std::uint64_t i = 0; i < 20; ++i) {
    ASSERT_TRUE(store->write(contentId(14), i, blockData(14, i)));
  }
  CacheStats before = store->stats();
  ASSERT_TRUE(store->prune(before.used_bytes / 2));
  CacheStats after = store->stats();
  EXPECT_LE(after.used_bytes, before.used_bytes / 2);
  EXPECT_LT(after.blocks, 20u);
  EXPECT_GT(after.blocks, 0u);
  EXPECT_FALSE(store->contains(contentId(14), 0));
  EXPECT_TRUE(store->contains(contentId(14), 19));
  EXPECT_EQ(after.logical_bytes, after.blocks * kBlock);

  ASSERT_TRUE(store->clear());
  CacheStats cleared = store->stats();
  EXPECT_EQ(cleared.blocks, 0u);
  EXPECT_EQ(cleared.logical_bytes, 0u);
  EXPECT_LT(cleared.used_bytes, 64 * kKiB);
  EXPECT_FALSE(store->contains(contentId(14), 19));
  ASSERT_TRUE(store->write(contentId(14), 0, blockData(14, 0)));
  EXPECT_EQ(readAll(*store, contentId(14), 0), blockData(14, 0));

  ASSERT_TRUE(store->prune(0));
  EXPECT_EQ(store->stats().blocks, 0u);
}

TEST_F(LmdbBlockStoreTest, RejectsBadOptions) {
  CacheOptions o = options();
  o.block_size = 1000;
  EXPECT_FALSE(LmdbBlockStore::open(o).has_value());
  o = options();
  o.dir.clear();
  EXPECT_FALSE(LmdbBlockStore::open(o).has_value());
  o = options();
  std::ofstream(dir_.path() / "file");
  o.dir = dir_.path() / "file";  // not a directory
  auto r = LmdbBlockStore::open(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, CacheErrorKind::kIo);
}

}  // namespace
}  // namespace hfm::cache
