// SPDX-License-Identifier: Apache-2.0
// hfm-fsx: seeded random file operations checked against an in-memory model, in the spirit of
// fsx (the file system exerciser of BSD and xfstests).
//
//   hfm-fsx DIR --model MODEL_DIR [--seed N] [--ops N] [--files N] [--max-size BYTES]
//           [--check-every K] [--fsync-per-mille N] [--msync-sync-percent N]
//   hfm-fsx DIR --model MODEL_DIR --verify-only
//
// A run keeps files DIR/fsx.0 .. fsx.N-1 open (O_RDWR) and applies random operations to them:
// pwrite at random offsets (past EOF too, which leaves holes), appends, ftruncate and truncate by
// path (up and down), pread of a random range, mmap MAP_SHARED reads, mmap MAP_SHARED writes with
// msync (MS_SYNC for --msync-sync-percent of them, default 10: on FUSE it is an fsync), fsync (rare: in hf-mount each one waits for a Hub commit) and close/reopen (sometimes
// with O_TRUNC). The model is one std::vector<char> per file. After every operation the file's
// size (fstat) must equal the model's; every --check-every operations, after each fsync and after
// each reopen the whole content is compared. At the end the files are closed, compared once more
// through fresh descriptors, and the model is written to MODEL_DIR (one file per test file plus a
// `manifest`), so that --verify-only, run later against another mount (for example a fresh
// read-only mount at the commit that landed), checks every file byte for byte, with read() and
// with mmap.
//
// On the first difference it prints the seed, the operation number, the last 50 operations and
// the first differing offset (with the operations that touched it) and exits 1. Exit 2 is a usage
// error. Written bytes are never 0 (holes are), and each operation writes its own pattern, so a
// stale or misplaced range can be told apart in the dump.
//
// A filesystem that refuses shared writable (or any) mmap is noted once and the operation is
// skipped from then on.

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace hfm::fsx {
namespace {

constexpr std::size_t kLogLength = 50;

// SIGBUS comes from touching a mapping past what the filesystem really has. While a mapping is
// touched the handler jumps back (and the operation fails with the whole report); otherwise it
// prints the operation number. Only the signal handler needs these, hence the globals.
std::atomic<std::uint64_t> g_current_op{0};
std::atomic<bool> g_sigbus_armed{false};
sigjmp_buf g_sigbus_jump;

void onSigbus(int /*sig*/) {
  if (g_sigbus_armed.load()) {
    g_sigbus_armed.store(false);
    siglongjmp(g_sigbus_jump, 1);
  }
  char buf[96];
  std::uint64_t n = g_current_op.load();
  char digits[24];
  int len = 0;
  do {
    digits[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  const char kPrefix[] = "hfm-fsx: SIGBUS at operation #";
  std::size_t pos = 0;
  for (char c : std::string_view(kPrefix)) {
    buf[pos++] = c;
  }
  while (len > 0) {
    buf[pos++] = digits[--len];
  }
  buf[pos++] = '\n';
  (void)!::write(STDERR_FILENO, buf, pos);
  ::_exit(1);
}

struct Options {
  std::string dir;
  std::string model_dir;
  std::uint64_t seed = 1;
  std::uint64_t ops = 1000;
  std::size_t files = 4;
  std::uint64_t max_size = 1 << 20;
  std::uint64_t check_every = 64;
  std::uint64_t fsync_per_mille = 10;
  std::uint64_t msync_sync_percent = 10;
  bool verify_only = false;
};

enum class OpKind {
  kWrite,
  kAppend,
  kFtruncate,
  kTruncatePath,
  kPread,
  kMmapRead,
  kMmapWrite,
  kFsync,
  kReopen,
  kCount,
};

constexpr std::array<std::string_view, static_cast<std::size_t>(OpKind::kCount)> kOpNames = {
    "write", "append", "ftruncate", "truncate", "pread", "mmap-read", "mmap-write", "fsync", "reopen",
};

// Weights (per mille) of the operations other than fsync, whose rate is an option.
constexpr std::array<std::pair<OpKind, unsigned>, 8> kWeights = {{
    {OpKind::kWrite, 220},
    {OpKind::kAppend, 80},
    {OpKind::kFtruncate, 70},
    {OpKind::kTruncatePath, 40},
    {OpKind::kPread, 220},
    {OpKind::kMmapRead, 120},
    {OpKind::kMmapWrite, 130},
    {OpKind::kReopen, 120},
}};

// std::uniform_int_distribution differs between standard libraries; this does not, so a seed
// replays the same operations everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : gen_(seed) {}
  // Uniform in [0, n); 0 when n is 0.
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : gen_() % n; }
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }
  bool chance(unsigned percent) { return below(100) < percent; }

 private:
  std::mt19937_64 gen_;
};

struct TestFile {
  std::string name;
  std::string path;
  int fd = -1;
  std::vector<char> model;
};

struct LogEntry {
  std::uint64_t op = 0;
  std::size_t file = 0;
  std::string text;
  // The byte range the operation wrote or truncated at, for "who touched this offset".
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
};

std::string errnoText(int err) { return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")"; }

// The byte operation `op` writes at file offset `offset`: never 0, different per operation.
char patternByte(std::uint64_t op, std::uint64_t offset) {
  return static_cast<char>(1 + (offset + op * 13) % 255);
}

std::string hexBytes(const char* data, std::size_t len) {
  std::string out;
  char buf[4];
  for (std::size_t i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", static_cast<unsigned char>(data[i]));
    if (i != 0) {
      out += ' ';
    }
    out += buf;
  }
  return out;
}

// Reads [offset, offset + len) or up to EOF; a short result means EOF. Returns the errno on error.
int preadAll(int fd, std::uint64_t offset, std::size_t len, std::vector<char>& out) {
  out.resize(len);
  std::size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, out.data() + got, len - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return 0;
}

int pwriteAll(int fd, const char* data, std::size_t len, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < len) {
    ssize_t n = ::pwrite(fd, data + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    if (n == 0) {
      return EIO;
    }
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

int writeAll(int fd, const char* data, std::size_t len) {
  std::size_t done = 0;
  while (done < len) {
    ssize_t n = ::write(fd, data + done, len - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    if (n == 0) {
      return EIO;
    }
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

std::optional<std::uint64_t> parseNumber(std::string_view text) {
  std::uint64_t mult = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K': mult = 1ULL << 10; break;
      case 'M': mult = 1ULL << 20; break;
      case 'G': mult = 1ULL << 30; break;
      default: break;
    }
    if (mult != 1) {
      text.remove_suffix(1);
    }
  }
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value * mult;
}

// The tester. Not thread-safe; one per process.
class Tester {
 public:
  explicit Tester(Options opts) : opts_(std::move(opts)), rng_(opts_.seed) {
    page_size_ = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  }

  int run();
  int verify();

 private:
  [[noreturn]] void fail(const std::string& what, std::optional<std::uint64_t> offset = std::nullopt,
                         std::optional<std::size_t> file = std::nullopt);
  void logOp(std::size_t file, std::string text, std::uint64_t lo = 0, std::uint64_t hi = 0);

  OpKind pickOp();
  void openFile(TestFile& f, bool truncate);
  void checkSize(TestFile& f, std::size_t index);
  // Compares [offset, offset+len) of the file (read through fd) with the model, clipped at EOF.
  void compareRange(std::size_t index, int fd, std::uint64_t offset, std::uint64_t len,
                    std::string_view how);
  void compareAll(std::size_t index, bool fresh_fd, std::string_view why);

  void doWrite(std::size_t index);
  void doAppend(std::size_t index);
  void doTruncate(std::size_t index, bool by_path);
  void doPread(std::size_t index);
  void doMmapRead(std::size_t index);
  void doMmapWrite(std::size_t index);
  void doFsync(std::size_t index);
  void doReopen(std::size_t index);

  std::vector<char> pattern(std::uint64_t offset, std::size_t len) const;
  std::uint64_t randomLength(std::uint64_t limit);
  void writeModel();

  Options opts_;
  Rng rng_;
  std::uint64_t page_size_ = 4096;
  std::vector<TestFile> files_;
  std::deque<LogEntry> log_;
  std::uint64_t op_ = 0;
  bool mmap_read_ok_ = true;
  bool mmap_write_ok_ = true;
  std::map<OpKind, std::uint64_t> counts_;
  std::uint64_t skipped_ = 0;
  std::uint64_t msyncs_ = 0;
  double fsync_seconds_ = 0;
  double fsync_max_seconds_ = 0;
};

void Tester::fail(const std::string& what, std::optional<std::uint64_t> offset,
                  std::optional<std::size_t> file) {
  if (opts_.verify_only) {
    std::fprintf(stderr, "\nhfm-fsx: FAILED: --verify-only of %s against the model in %s\n",
                 opts_.dir.c_str(), opts_.model_dir.c_str());
  } else {
    std::fprintf(stderr,
                 "\nhfm-fsx: FAILED at operation #%llu (--seed %llu --ops %llu --files %zu "
                 "--max-size %llu --check-every %llu --fsync-per-mille %llu "
                 "--msync-sync-percent %llu)\n",
                 static_cast<unsigned long long>(op_), static_cast<unsigned long long>(opts_.seed),
                 static_cast<unsigned long long>(opts_.ops), opts_.files,
                 static_cast<unsigned long long>(opts_.max_size),
                 static_cast<unsigned long long>(opts_.check_every),
                 static_cast<unsigned long long>(opts_.fsync_per_mille),
                 static_cast<unsigned long long>(opts_.msync_sync_percent));
  }
  std::fprintf(stderr, "hfm-fsx: %s\n", what.c_str());
  std::fprintf(stderr, "hfm-fsx: last %zu operations:\n", log_.size());
  for (const LogEntry& e : log_) {
    std::fprintf(stderr, "  #%-6llu %s\n", static_cast<unsigned long long>(e.op), e.text.c_str());
  }
  if (offset && file) {
    std::fprintf(stderr, "hfm-fsx: operations of the log that touched %s offset %llu:",
                 files_[*file].name.c_str(), static_cast<unsigned long long>(*offset));
    bool any = false;
    for (const LogEntry& e : log_) {
      if (e.file == *file && e.hi > e.lo && *offset >= e.lo && *offset < e.hi) {
        std::fprintf(stderr, " #%llu", static_cast<unsigned long long>(e.op));
        any = true;
      }
    }
    std::fprintf(stderr, "%s\n", any ? "" : " none");
  }
  std::exit(1);
}

void Tester::logOp(std::size_t file, std::string text, std::uint64_t lo, std::uint64_t hi) {
  log_.push_back({op_, file, files_[file].name + ": " + std::move(text), lo, hi});
  if (log_.size() > kLogLength) {
    log_.pop_front();
  }
}

OpKind Tester::pickOp() {
  if (rng_.below(1000) < opts_.fsync_per_mille) {
    return OpKind::kFsync;
  }
  unsigned total = 0;
  for (const auto& [kind, weight] : kWeights) {
    total += weight;
  }
  std::uint64_t r = rng_.below(total);
  for (const auto& [kind, weight] : kWeights) {
    if (r < weight) {
      return kind;
    }
    r -= weight;
  }
  return OpKind::kPread;
}

std::vector<char> Tester::pattern(std::uint64_t offset, std::size_t len) const {
  std::vector<char> data(len);
  for (std::size_t i = 0; i < len; ++i) {
    data[i] = patternByte(op_, offset + i);
  }
  return data;
}

// Mostly small or medium lengths, sometimes up to `limit`.
std::uint64_t Tester::randomLength(std::uint64_t limit) {
  if (limit == 0) {
    return 0;
  }
  std::uint64_t cap = limit;
  switch (rng_.below(4)) {
    case 0: cap = std::min<std::uint64_t>(limit, 64); break;
    case 1: cap = std::min<std::uint64_t>(limit, 4 * page_size_); break;
    case 2: cap = std::max<std::uint64_t>(1, limit / 8); break;
    default: break;
  }
  return rng_.between(1, cap);
}

void Tester::openFile(TestFile& f, bool truncate) {
  int flags = O_RDWR | O_CLOEXEC | (truncate ? O_TRUNC : 0);
  f.fd = ::open(f.path.c_str(), flags);
  if (f.fd < 0) {
    fail("open(" + f.path + (truncate ? ", O_RDWR|O_TRUNC" : ", O_RDWR") + "): " + errnoText(errno));
  }
}

void Tester::checkSize(TestFile& f, std::size_t index) {
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    fail("fstat(" + f.name + "): " + errnoText(errno));
  }
  if (static_cast<std::uint64_t>(st.st_size) != f.model.size()) {
    fail(f.name + ": fstat size " + std::to_string(st.st_size) + ", model size " +
             std::to_string(f.model.size()),
         std::min<std::uint64_t>(static_cast<std::uint64_t>(st.st_size), f.model.size()), index);
  }
}

void Tester::compareRange(std::size_t index, int fd, std::uint64_t offset, std::uint64_t len,
                          std::string_view how) {
  const TestFile& f = files_[index];
  std::vector<char> got;
  if (int err = preadAll(fd, offset, len, got); err != 0) {
    fail(std::string(how) + " " + f.name + " [" + std::to_string(offset) + ", +" +
         std::to_string(len) + "): " + errnoText(err));
  }
  const std::uint64_t model_size = f.model.size();
  const std::uint64_t want_len =
      offset >= model_size ? 0 : std::min<std::uint64_t>(len, model_size - offset);
  const std::size_t common = std::min<std::size_t>(got.size(), want_len);
  const char* want = f.model.data() + std::min<std::uint64_t>(offset, model_size);
  std::size_t i = 0;
  while (i < common && got[i] == want[i]) {
    ++i;
  }
  if (i == common && got.size() == want_len) {
    return;
  }
  const std::uint64_t at = offset + i;
  std::ostringstream msg;
  msg << how << " " << f.name << " [" << offset << ", +" << len << "): ";
  if (i == common) {
    msg << "read " << got.size() << " bytes, model has " << want_len << " (model size "
        << model_size << ")";
  } else {
    const std::size_t show = std::min<std::size_t>(16, common - i);
    msg << "first difference at offset " << at << " (model size " << model_size
        << "): expected " << hexBytes(want + i, show) << ", got " << hexBytes(got.data() + i, show);
  }
  fail(msg.str(), at, index);
}

void Tester::compareAll(std::size_t index, bool fresh_fd, std::string_view why) {
  TestFile& f = files_[index];
  int fd = f.fd;
  if (fresh_fd) {
    fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fail("open(" + f.path + ", O_RDONLY) for a full check: " + errnoText(errno));
    }
  }
  // One byte more than the model, to see a file that is too long.
  compareRange(index, fd, 0, f.model.size() + 1, why);
  if (fresh_fd) {
    ::close(fd);
  }
}

void Tester::doWrite(std::size_t index) {
  TestFile& f = files_[index];
  std::uint64_t offset = rng_.below(opts_.max_size);
  std::uint64_t len = randomLength(opts_.max_size - offset);
  std::vector<char> data = pattern(offset, len);
  std::string hole = offset > f.model.size() ? " (hole of " + std::to_string(offset - f.model.size()) + ")" : "";
  logOp(index, "pwrite [" + std::to_string(offset) + ", +" + std::to_string(len) + ") size " +
                   std::to_string(f.model.size()) + hole,
        offset, offset + len);
  if (int err = pwriteAll(f.fd, data.data(), data.size(), offset); err != 0) {
    fail("pwrite: " + errnoText(err));
  }
  if (f.model.size() < offset + len) {
    f.model.resize(offset + len, 0);
  }
  std::copy(data.begin(), data.end(), f.model.begin() + static_cast<std::ptrdiff_t>(offset));
}

void Tester::doAppend(std::size_t index) {
  TestFile& f = files_[index];
  std::uint64_t offset = f.model.size();
  if (offset >= opts_.max_size) {
    logOp(index, "append skipped (at max size)");
    ++skipped_;
    return;
  }
  std::uint64_t len = randomLength(opts_.max_size - offset);
  std::vector<char> data = pattern(offset, len);
  logOp(index, "append (lseek END + write) [" + std::to_string(offset) + ", +" + std::to_string(len) + ")",
        offset, offset + len);
  off_t end = ::lseek(f.fd, 0, SEEK_END);
  if (end < 0) {
    fail("lseek(SEEK_END): " + errnoText(errno));
  }
  if (static_cast<std::uint64_t>(end) != offset) {
    fail("lseek(SEEK_END) returned " + std::to_string(end) + ", model size " + std::to_string(offset),
         std::min<std::uint64_t>(static_cast<std::uint64_t>(end), offset), index);
  }
  if (int err = writeAll(f.fd, data.data(), data.size()); err != 0) {
    fail("write: " + errnoText(err));
  }
  f.model.insert(f.model.end(), data.begin(), data.end());
}

void Tester::doTruncate(std::size_t index, bool by_path) {
  TestFile& f = files_[index];
  std::uint64_t size = f.model.size();
  std::uint64_t to = 0;
  if (rng_.chance(50) && size > 0) {
    to = rng_.below(size);  // down
  } else if (rng_.chance(10)) {
    to = size;  // same size
  } else {
    to = rng_.between(std::min(size, opts_.max_size), opts_.max_size);  // up
  }
  logOp(index, std::string(by_path ? "truncate(path)" : "ftruncate") + " " + std::to_string(size) +
                   " -> " + std::to_string(to),
        std::min(size, to), std::max(size, to));
  int rc = by_path ? ::truncate(f.path.c_str(), static_cast<off_t>(to))
                   : ::ftruncate(f.fd, static_cast<off_t>(to));
  if (rc != 0) {
    fail(std::string(by_path ? "truncate" : "ftruncate") + ": " + errnoText(errno));
  }
  f.model.resize(to, 0);
}

void Tester::doPread(std::size_t index) {
  TestFile& f = files_[index];
  // Ranges may start or end past EOF: the read must stop there.
  std::uint64_t span = f.model.size() + page_size_;
  std::uint64_t offset = rng_.below(span);
  std::uint64_t len = randomLength(std::max<std::uint64_t>(1, span - offset));
  logOp(index, "pread [" + std::to_string(offset) + ", +" + std::to_string(len) + ") size " +
                   std::to_string(f.model.size()));
  compareRange(index, f.fd, offset, len, "pread");
}

void Tester::doMmapRead(std::size_t index) {
  TestFile& f = files_[index];
  std::uint64_t size = f.model.size();
  if (!mmap_read_ok_ || size == 0) {
    logOp(index, "mmap-read skipped" + std::string(size == 0 ? " (empty file)" : ""));
    ++skipped_;
    return;
  }
  std::uint64_t offset = rng_.below(size);
  std::uint64_t len = randomLength(size - offset);
  std::uint64_t map_start = offset / page_size_ * page_size_;
  std::uint64_t map_len = offset + len - map_start;
  logOp(index, "mmap-read [" + std::to_string(offset) + ", +" + std::to_string(len) + ")");
  void* p = ::mmap(nullptr, map_len, PROT_READ, MAP_SHARED, f.fd, static_cast<off_t>(map_start));
  if (p == MAP_FAILED) {
    int err = errno;
    if (err == ENODEV || err == EOPNOTSUPP || err == EACCES || err == EPERM || err == EINVAL) {
      std::fprintf(stderr, "hfm-fsx: note: mmap(PROT_READ, MAP_SHARED) fails with %s: skipped\n",
                   errnoText(err).c_str());
      mmap_read_ok_ = false;
      return;
    }
    fail("mmap(PROT_READ): " + errnoText(err));
  }
  const char* data = static_cast<const char*>(p) + (offset - map_start);
  const char* want = f.model.data() + offset;
  std::size_t i = 0;
  if (sigsetjmp(g_sigbus_jump, 1) != 0) {
    fail("mmap-read " + f.name + ": SIGBUS at offset " + std::to_string(offset + i) +
             " (model size " + std::to_string(size) + ")",
         offset + i, index);
  }
  g_sigbus_armed.store(true);
  while (i < len && data[i] == want[i]) {
    ++i;
  }
  g_sigbus_armed.store(false);
  if (i < len) {
    std::size_t show = std::min<std::size_t>(16, static_cast<std::size_t>(len - i));
    std::string msg = "mmap-read " + f.name + ": first difference at offset " +
                      std::to_string(offset + i) + " (model size " + std::to_string(size) +
                      "): expected " + hexBytes(want + i, show) + ", got " + hexBytes(data + i, show);
    fail(msg, offset + i, index);
  }
  ::munmap(p, map_len);
}

void Tester::doMmapWrite(std::size_t index) {
  TestFile& f = files_[index];
  std::uint64_t size = f.model.size();
  if (!mmap_write_ok_ || size == 0) {
    logOp(index, "mmap-write skipped" + std::string(size == 0 ? " (empty file)" : ""));
    ++skipped_;
    return;
  }
  std::uint64_t offset = rng_.below(size);
  std::uint64_t len = randomLength(size - offset);
  std::uint64_t map_start = offset / page_size_ * page_size_;
  std::uint64_t map_len = offset + len - map_start;
  std::vector<char> data = pattern(offset, len);
  // msync(MS_SYNC) reaches a FUSE filesystem as an fsync (in hf-mount: a commit), so only some
  // are synchronous. MS_ASYNC leaves the dirty pages to writeback, close and fsync.
  const bool sync = rng_.below(100) < opts_.msync_sync_percent;
  logOp(index,
        std::string(sync ? "mmap-write+msync(MS_SYNC) [" : "mmap-write+msync(MS_ASYNC) [") +
            std::to_string(offset) + ", +" + std::to_string(len) + ")",
        offset, offset + len);
  void* p = ::mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd,
                   static_cast<off_t>(map_start));
  if (p == MAP_FAILED) {
    int err = errno;
    if (err == ENODEV || err == EOPNOTSUPP || err == EACCES || err == EPERM || err == EINVAL) {
      std::fprintf(stderr,
                   "hfm-fsx: note: mmap(PROT_WRITE, MAP_SHARED) fails with %s: shared writable "
                   "mappings are not tested\n",
                   errnoText(err).c_str());
      mmap_write_ok_ = false;
      return;
    }
    fail("mmap(PROT_WRITE): " + errnoText(err));
  }
  if (sigsetjmp(g_sigbus_jump, 1) != 0) {
    fail("mmap-write " + f.name + ": SIGBUS while writing the mapping (model size " +
             std::to_string(size) + ")",
         offset, index);
  }
  g_sigbus_armed.store(true);
  std::memcpy(static_cast<char*>(p) + (offset - map_start), data.data(), data.size());
  g_sigbus_armed.store(false);
  if (::msync(p, map_len, sync ? MS_SYNC : MS_ASYNC) != 0) {
    fail("msync: " + errnoText(errno));
  }
  if (::munmap(p, map_len) != 0) {
    fail("munmap: " + errnoText(errno));
  }
  std::copy(data.begin(), data.end(), f.model.begin() + static_cast<std::ptrdiff_t>(offset));
  if (sync) {
    ++msyncs_;
    for (std::size_t i = 0; i < files_.size(); ++i) {
      compareAll(i, i == index, "after msync(MS_SYNC): full read of");
    }
  }
}

void Tester::doFsync(std::size_t index) {
  TestFile& f = files_[index];
  logOp(index, "fsync");
  auto t0 = std::chrono::steady_clock::now();
  if (::fsync(f.fd) != 0) {
    fail("fsync: " + errnoText(errno));
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fsync_seconds_ += s;
  fsync_max_seconds_ = std::max(fsync_max_seconds_, s);
  // After a commit every file must still read as the model, committed or not.
  for (std::size_t i = 0; i < files_.size(); ++i) {
    compareAll(i, i == index, "after fsync: full read of");
  }
}

void Tester::doReopen(std::size_t index) {
  TestFile& f = files_[index];
  bool truncate = rng_.chance(25);
  logOp(index, std::string("close + open(O_RDWR") + (truncate ? "|O_TRUNC)" : ")"), 0,
        truncate ? f.model.size() : 0);
  if (::close(f.fd) != 0) {
    f.fd = -1;
    fail("close: " + errnoText(errno));
  }
  openFile(f, truncate);
  if (truncate) {
    f.model.clear();
  }
  compareAll(index, false, "after reopen: full read of");
}

void Tester::writeModel() {
  if (::mkdir(opts_.model_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    fail("mkdir(" + opts_.model_dir + "): " + errnoText(errno));
  }
  std::ofstream manifest(opts_.model_dir + "/manifest", std::ios::trunc);
  manifest << "# hfm-fsx model: seed " << opts_.seed << ", " << opts_.ops << " operations\n";
  for (const TestFile& f : files_) {
    std::ofstream out(opts_.model_dir + "/" + f.name, std::ios::binary | std::ios::trunc);
    out.write(f.model.data(), static_cast<std::streamsize>(f.model.size()));
    if (!out) {
      fail("cannot write the model of " + f.name + " to " + opts_.model_dir);
    }
    manifest << f.name << ' ' << f.model.size() << '\n';
  }
  if (!manifest.flush()) {
    fail("cannot write " + opts_.model_dir + "/manifest");
  }
}

int Tester::run() {
  for (std::size_t i = 0; i < opts_.files; ++i) {
    TestFile f;
    f.name = "fsx." + std::to_string(i);
    f.path = opts_.dir + "/" + f.name;
    files_.push_back(std::move(f));
  }
  for (std::size_t i = 0; i < files_.size(); ++i) {
    TestFile& f = files_[i];
    f.fd = ::open(f.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f.fd < 0) {
      fail("create " + f.path + ": " + errnoText(errno));
    }
    logOp(i, "create (O_CREAT|O_TRUNC)");
    checkSize(f, i);
  }
  auto t0 = std::chrono::steady_clock::now();
  for (op_ = 1; op_ <= opts_.ops; ++op_) {
    g_current_op.store(op_);
    std::size_t index = static_cast<std::size_t>(rng_.below(files_.size()));
    OpKind kind = pickOp();
    ++counts_[kind];
    switch (kind) {
      case OpKind::kWrite: doWrite(index); break;
      case OpKind::kAppend: doAppend(index); break;
      case OpKind::kFtruncate: doTruncate(index, false); break;
      case OpKind::kTruncatePath: doTruncate(index, true); break;
      case OpKind::kPread: doPread(index); break;
      case OpKind::kMmapRead: doMmapRead(index); break;
      case OpKind::kMmapWrite: doMmapWrite(index); break;
      case OpKind::kFsync: doFsync(index); break;
      case OpKind::kReopen: doReopen(index); break;
      case OpKind::kCount: break;
    }
    checkSize(files_[index], index);
    if (opts_.check_every != 0 && op_ % opts_.check_every == 0) {
      for (std::size_t i = 0; i < files_.size(); ++i) {
        compareAll(i, (op_ / opts_.check_every) % 2 == 0, "periodic full read of");
      }
    }
    if (op_ % 1000 == 0) {
      std::fprintf(stderr, "hfm-fsx: %llu operations\n", static_cast<unsigned long long>(op_));
    }
  }
  op_ = opts_.ops;
  for (std::size_t i = 0; i < files_.size(); ++i) {
    if (::close(files_[i].fd) != 0) {
      fail("final close of " + files_[i].name + ": " + errnoText(errno));
    }
    files_[i].fd = -1;
    compareAll(i, true, "after the final close: full read of");
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  writeModel();
  std::printf("hfm-fsx: seed %llu: %llu operations on %zu files passed in %.1f s (",
              static_cast<unsigned long long>(opts_.seed), static_cast<unsigned long long>(opts_.ops),
              files_.size(), secs);
  bool first = true;
  for (const auto& [kind, n] : counts_) {
    std::printf("%s%s %llu", first ? "" : ", ", kOpNames[static_cast<std::size_t>(kind)].data(),
                static_cast<unsigned long long>(n));
    first = false;
  }
  std::printf("; %llu skipped; %llu msync(MS_SYNC); fsync %.1f s in all, %.2f s at most)\n",
              static_cast<unsigned long long>(skipped_), static_cast<unsigned long long>(msyncs_),
              fsync_seconds_, fsync_max_seconds_);
  std::printf("hfm-fsx: final sizes:");
  for (const TestFile& f : files_) {
    std::printf(" %s=%zu", f.name.c_str(), f.model.size());
  }
  std::printf("\n");
  if (!mmap_write_ok_ || !mmap_read_ok_) {
    std::printf("hfm-fsx: note: mmap%s was not supported and not tested\n",
                mmap_read_ok_ ? " (shared writable)" : "");
  }
  return 0;
}

int Tester::verify() {
  std::ifstream manifest(opts_.model_dir + "/manifest");
  if (!manifest) {
    std::fprintf(stderr, "hfm-fsx: no model at %s/manifest\n", opts_.model_dir.c_str());
    return 2;
  }
  std::string line;
  while (std::getline(manifest, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream in(line);
    TestFile f;
    std::uint64_t size = 0;
    in >> f.name >> size;
    std::ifstream model(opts_.model_dir + "/" + f.name, std::ios::binary);
    f.model.assign(std::istreambuf_iterator<char>(model), std::istreambuf_iterator<char>());
    if (f.model.size() != size) {
      std::fprintf(stderr, "hfm-fsx: model of %s is %zu bytes, manifest says %llu\n", f.name.c_str(),
                   f.model.size(), static_cast<unsigned long long>(size));
      return 2;
    }
    f.path = opts_.dir + "/" + f.name;
    files_.push_back(std::move(f));
  }
  // The directory must list every file.
  std::set<std::string> listed;
  if (DIR* d = ::opendir(opts_.dir.c_str()); d != nullptr) {
    while (const dirent* e = ::readdir(d)) {
      listed.insert(e->d_name);
    }
    ::closedir(d);
  } else {
    fail("opendir(" + opts_.dir + "): " + errnoText(errno));
  }
  for (std::size_t i = 0; i < files_.size(); ++i) {
    TestFile& f = files_[i];
    if (listed.count(f.name) == 0) {
      fail(f.name + " is not listed in " + opts_.dir);
    }
    f.fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) {
      fail("open(" + f.path + ", O_RDONLY): " + errnoText(errno));
    }
    logOp(i, "verify: fstat, read, mmap");
    checkSize(f, i);
    compareAll(i, false, "verify: read of");
    if (!f.model.empty()) {
      void* p = ::mmap(nullptr, f.model.size(), PROT_READ, MAP_SHARED, f.fd, 0);
      if (p == MAP_FAILED) {
        fail("verify: mmap of " + f.name + ": " + errnoText(errno));
      }
      if (std::memcmp(p, f.model.data(), f.model.size()) != 0) {
        const char* got = static_cast<const char*>(p);
        std::size_t at = 0;
        while (got[at] == f.model[at]) {
          ++at;
        }
        fail("verify: mmap of " + f.name + " differs first at offset " + std::to_string(at), at, i);
      }
      ::munmap(p, f.model.size());
    }
    ::close(f.fd);
    std::printf("hfm-fsx: verified %s (%zu bytes)\n", f.name.c_str(), f.model.size());
  }
  std::printf("hfm-fsx: %zu files equal the model\n", files_.size());
  return 0;
}

int usage(const char* message) {
  std::fprintf(stderr,
               "hfm-fsx: %s\n"
               "usage: hfm-fsx DIR --model MODEL_DIR [--seed N] [--ops N] [--files N]\n"
               "               [--max-size BYTES] [--check-every K] [--fsync-per-mille N]\n"
               "               [--msync-sync-percent N]\n"
               "       hfm-fsx DIR --model MODEL_DIR --verify-only\n",
               message);
  return 2;
}

}  // namespace
}  // namespace hfm::fsx

int main(int argc, char** argv) {
  using hfm::fsx::Options;
  Options opts;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::optional<std::uint64_t> {
      if (i + 1 >= argc) {
        return std::nullopt;
      }
      return hfm::fsx::parseNumber(argv[++i]);
    };
    auto number = [&](std::uint64_t& out) {
      auto v = value();
      if (!v) {
        std::exit(hfm::fsx::usage((std::string(arg) + " needs a number").c_str()));
      }
      out = *v;
    };
    if (arg == "--seed") {
      number(opts.seed);
    } else if (arg == "--ops") {
      number(opts.ops);
    } else if (arg == "--files") {
      std::uint64_t n = 0;
      number(n);
      opts.files = static_cast<std::size_t>(n);
    } else if (arg == "--max-size") {
      number(opts.max_size);
    } else if (arg == "--check-every") {
      number(opts.check_every);
    } else if (arg == "--fsync-per-mille") {
      number(opts.fsync_per_mille);
    } else if (arg == "--msync-sync-percent") {
      number(opts.msync_sync_percent);
    } else if (arg == "--verify-only") {
      opts.verify_only = true;
    } else if (arg == "--model") {
      if (i + 1 >= argc) {
        return hfm::fsx::usage("--model needs a directory");
      }
      opts.model_dir = argv[++i];
    } else if (!arg.empty() && arg[0] == '-') {
      return hfm::fsx::usage(("unknown option " + std::string(arg)).c_str());
    } else if (opts.dir.empty()) {
      opts.dir = arg;
    } else {
      return hfm::fsx::usage("more than one DIR");
    }
  }
  if (opts.dir.empty()) {
    return hfm::fsx::usage("DIR is missing");
  }
  if (opts.model_dir.empty()) {
    return hfm::fsx::usage("--model is missing (a directory outside DIR)");
  }
  if (opts.files == 0 || opts.max_size == 0 || opts.fsync_per_mille > 1000) {
    return hfm::fsx::usage("--files and --max-size must be positive, --fsync-per-mille at most 1000");
  }
  struct sigaction sa {};
  sa.sa_handler = hfm::fsx::onSigbus;
  ::sigaction(SIGBUS, &sa, nullptr);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  hfm::fsx::Tester tester(opts);
  return opts.verify_only ? tester.verify() : tester.run();
}
