// SPDX-License-Identifier: Apache-2.0
#include "fs/fuse_bridge.h"

#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

namespace hfm::fs {

namespace {

// What libfuse hands back to every callback.
struct Context {
  Filesystem* fs = nullptr;
  unsigned max_readahead = 1u << 20;
};

Filesystem& fsOf(fuse_req_t req) { return *static_cast<Context*>(fuse_req_userdata(req))->fs; }

double seconds(std::chrono::seconds s) { return static_cast<double>(s.count()); }

void fillStat(const Attr& a, struct stat& st) {
  std::memset(&st, 0, sizeof st);
  st.st_ino = a.ino;
  switch (a.type) {
    case NodeType::kDirectory:
      st.st_mode = S_IFDIR | a.perm;
      break;
    case NodeType::kFile:
      st.st_mode = S_IFREG | a.perm;
      break;
    case NodeType::kSymlink:
      st.st_mode = S_IFLNK | a.perm;
      break;
  }
  st.st_nlink = a.nlink;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blocks = static_cast<blkcnt_t>((a.size + 511) / 512);
  // Buffered readers (stdio, Python's open()) read st_blksize at a time: 128 KiB keeps a loader
  // that only wants a safetensors header from pulling in megabytes; sequential throughput comes
  // from kernel readahead and the engine's prefetch, not from this.
  st.st_blksize = 128 << 10;
  st.st_uid = ::getuid();
  st.st_gid = ::getgid();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(a.mtime.time_since_epoch()).count();
  st.st_mtim.tv_sec = static_cast<time_t>(ns / 1000000000);
  st.st_mtim.tv_nsec = static_cast<long>(ns % 1000000000);
  st.st_ctim = st.st_mtim;
  st.st_atim = st.st_mtim;
}

void replyError(fuse_req_t req, const FsError& error) {
  if (!error.message.empty()) {
    spdlog::warn("{}", error.message);
  }
  fuse_reply_err(req, toErrno(error.kind));
}

fuse_entry_param entryParam(const Entry& e) {
  fuse_entry_param p{};
  p.ino = e.attr.ino;
  p.generation = 1;
  fillStat(e.attr, p.attr);
  p.attr_timeout = seconds(e.attr.timeout);
  p.entry_timeout = seconds(e.entry_timeout);
  return p;
}

// Runs `body`; anything thrown becomes EIO, so nothing crosses libfuse's C frames.
template <class F>
void guarded(fuse_req_t req, F&& body) noexcept {
  try {
    body();
  } catch (const std::exception& e) {
    spdlog::error("request failed: {}", e.what());
    fuse_reply_err(req, EIO);
  } catch (...) {
    spdlog::error("request failed with an unknown exception");
    fuse_reply_err(req, EIO);
  }
}

struct DirHandle {
  std::vector<DirEntry> entries;  // "." and ".." first
};

void opInit(void* userdata, fuse_conn_info* conn) noexcept {
  // 1 MiB requests: the kernel derives max_pages from max_write.
  conn->max_write = 1u << 20;
  // Left unset, `dd bs=1M` arrives as 4 KiB reads (DESIGN.md §5).
  conn->max_readahead = static_cast<Context*>(userdata)->max_readahead;
  if ((conn->capable & FUSE_CAP_READDIRPLUS) != 0) {
    conn->want |= FUSE_CAP_READDIRPLUS;
    conn->want &= ~static_cast<unsigned>(FUSE_CAP_READDIRPLUS_AUTO);
  }
  if ((conn->capable & FUSE_CAP_ASYNC_READ) != 0) {
    conn->want |= FUSE_CAP_ASYNC_READ;
  }
  if ((conn->capable & FUSE_CAP_CACHE_SYMLINKS) != 0) {
    conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  }
  // open(O_TRUNC) arrives as one open, so a truncated file is never copied into staging first.
  if ((conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) != 0) {
    conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  }
  // Inodes stand for fixed content, so the kernel must not drop pages on attribute changes.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_AUTO_INVAL_DATA);
}

void opLookup(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept {
  guarded(req, [&] {
    auto e = fsOf(req).lookup(parent, name);
    if (!e) {
      if (e.error().kind == FsErrorKind::kNotFound && e.error().message.empty()) {
        // A negative entry with a timeout spares the Hub the probes of Python tooling.
        fuse_entry_param p{};
        p.ino = 0;
        p.entry_timeout = 1.0;
        fuse_reply_entry(req, &p);
        return;
      }
      return replyError(req, e.error());
    }
    auto p = entryParam(*e);
    fuse_reply_entry(req, &p);
  });
}

void opForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) noexcept {
  try {
    fsOf(req).forget(ino, nlookup);
  } catch (...) {
  }
  fuse_reply_none(req);
}

void opForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) noexcept {
  try {
    for (size_t i = 0; i < count; ++i) {
      fsOf(req).forget(forgets[i].ino, forgets[i].nlookup);
    }
  } catch (...) {
  }
  fuse_reply_none(req);
}

void opGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* /*fi*/) noexcept {
  guarded(req, [&] {
    auto a = fsOf(req).getattr(ino);
    if (!a) {
      return replyError(req, a.error());
    }
    struct stat st {};
    fillStat(*a, st);
    fuse_reply_attr(req, &st, seconds(a->timeout));
  });
}

void opReadlink(fuse_req_t req, fuse_ino_t ino) noexcept {
  guarded(req, [&] {
    auto target = fsOf(req).readlink(ino);
    if (!target) {
      return replyError(req, target.error());
    }
    fuse_reply_readlink(req, target->c_str());
  });
}

void opOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  guarded(req, [&] {
    auto entries = fsOf(req).readdir(ino);
    if (!entries) {
      return replyError(req, entries.error());
    }
    auto handle = std::make_unique<DirHandle>();
    handle->entries.push_back(DirEntry{".", NodeType::kDirectory});
    handle->entries.push_back(DirEntry{"..", NodeType::kDirectory});
    for (auto& e : *entries) {
      handle->entries.push_back(std::move(e));
    }
    fi->fh = reinterpret_cast<uint64_t>(handle.release());
    fi->cache_readdir = 0;
    if (fuse_reply_open(req, fi) != 0) {
      delete reinterpret_cast<DirHandle*>(fi->fh);
    }
  });
}

void readdirCommon(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
                   bool plus) {
  auto* handle = reinterpret_cast<DirHandle*>(fi->fh);
  std::vector<char> buf(size);
  size_t used = 0;
  for (auto i = static_cast<size_t>(off); i < handle->entries.size(); ++i) {
    const DirEntry& e = handle->entries[i];
    bool dot = e.name == "." || e.name == "..";
    size_t added = 0;
    if (plus) {
      fuse_entry_param p{};
      std::optional<Entry> looked;
      if (!dot) {
        auto r = fsOf(req).lookup(ino, e.name);
        if (!r) {
          continue;  // vanished since opendir
        }
        looked = *r;
        p = entryParam(*r);
      } else {
        p.attr.st_mode = S_IFDIR;
      }
      added = fuse_add_direntry_plus(req, buf.data() + used, size - used, e.name.c_str(), &p,
                                     static_cast<off_t>(i + 1));
      if (used + added > size && looked) {
        fsOf(req).forget(looked->attr.ino, 1);  // the kernel did not take this entry
      }
    } else {
      struct stat st {};
      st.st_ino = 1;  // ignored by the kernel without use_ino
      st.st_mode = e.type == NodeType::kDirectory ? S_IFDIR
                   : e.type == NodeType::kSymlink ? S_IFLNK
                                                  : S_IFREG;
      added = fuse_add_direntry(req, buf.data() + used, size - used, e.name.c_str(), &st,
                                static_cast<off_t>(i + 1));
    }
    if (used + added > size) {
      break;
    }
    used += added;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void opReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) noexcept {
  guarded(req, [&] { readdirCommon(req, ino, size, off, fi, false); });
}

void opReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   fuse_file_info* fi) noexcept {
  guarded(req, [&] { readdirCommon(req, ino, size, off, fi, true); });
}

void opReleasedir(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) noexcept {
  delete reinterpret_cast<DirHandle*>(fi->fh);
  fuse_reply_err(req, 0);
}

void opOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  guarded(req, [&] {
    auto fh = fsOf(req).open(ino, fi->flags);
    if (!fh) {
      return replyError(req, fh.error());
    }
    fi->fh = *fh;
    fi->keep_cache = Filesystem::kKeepCache ? 1 : 0;
    if (fuse_reply_open(req, fi) != 0) {
      fsOf(req).release(*fh);
    }
  });
}

void opRead(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off, fuse_file_info* fi) noexcept {
  guarded(req, [&] {
    thread_local std::vector<char> buf;
    if (buf.size() < size) {
      buf.resize(size);
    }
    spdlog::debug("read fh {} offset {} size {}", fi->fh, off, size);
    thread_local std::vector<ReadPiece> pieces;
    auto got = fsOf(req).read(fi->fh, static_cast<uint64_t>(off), std::span<char>(buf.data(), size),
                              &pieces);
    if (!got) {
      return replyError(req, got.error());
    }
    // Straight from the fetched buffers to the kernel: no copy into a reply buffer first.
    thread_local std::vector<struct iovec> iov;
    iov.clear();
    for (const auto& p : pieces) {
      iov.push_back(iovec{const_cast<char*>(p.data), p.size});
    }
    fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size()));
    pieces.clear();  // lets go of the buffers
  });
}

void opRelease(fuse_req_t req, fuse_ino_t /*ino*/, fuse_file_info* fi) noexcept {
  try {
    fsOf(req).release(fi->fh);
  } catch (...) {
  }
  fuse_reply_err(req, 0);
}

void opStatfs(fuse_req_t req, fuse_ino_t /*ino*/) noexcept {
  guarded(req, [&] {
    FsStat s = fsOf(req).statfs();
    struct statvfs st {};
    st.f_bsize = s.block_size;
    st.f_frsize = s.block_size;
    st.f_blocks = s.blocks;
    st.f_bfree = s.blocks_free;
    st.f_bavail = s.blocks_free;
    // Inodes are made on demand: report room for many more than are in use.
    st.f_files = s.files + (1u << 20);
    st.f_ffree = 1u << 20;
    st.f_namemax = 255;
    fuse_reply_statfs(req, &st);
  });
}

void opGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) noexcept {
  guarded(req, [&] {
    auto value = fsOf(req).getxattr(ino, name);
    if (!value) {
      fuse_reply_err(req, toErrno(value.error().kind));
      return;
    }
    if (size == 0) {
      fuse_reply_xattr(req, value->size());
    } else if (size < value->size()) {
      fuse_reply_err(req, ERANGE);
    } else {
      fuse_reply_buf(req, value->data(), value->size());
    }
  });
}

void opListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) noexcept {
  guarded(req, [&] {
    auto names = fsOf(req).listxattr(ino);
    if (!names) {
      return replyError(req, names.error());
    }
    std::string packed;
    for (const auto& n : *names) {
      packed += n;
      packed.push_back('\0');
    }
    if (size == 0) {
      fuse_reply_xattr(req, packed.size());
    } else if (size < packed.size()) {
      fuse_reply_err(req, ERANGE);
    } else {
      fuse_reply_buf(req, packed.data(), packed.size());
    }
  });
}

void replyStatus(fuse_req_t req, const FsResult<void>& done) {
  if (!done) {
    return replyError(req, done.error());
  }
  fuse_reply_err(req, 0);
}

void replyEntry(fuse_req_t req, const FsResult<Entry>& e) {
  if (!e) {
    return replyError(req, e.error());
  }
  auto p = entryParam(*e);
  fuse_reply_entry(req, &p);
}

std::chrono::system_clock::time_point timeOf(const struct timespec& ts) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

void opSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
               fuse_file_info* fi) noexcept {
  guarded(req, [&] {
    SetAttrRequest r;
    if ((to_set & FUSE_SET_ATTR_SIZE) != 0) {
      r.size = static_cast<std::uint64_t>(attr->st_size);
    }
    if ((to_set & FUSE_SET_ATTR_MODE) != 0) {
      r.mode = attr->st_mode;
    }
    if ((to_set & FUSE_SET_ATTR_MTIME_NOW) != 0) {
      r.mtime = std::chrono::system_clock::now();
    } else if ((to_set & FUSE_SET_ATTR_MTIME) != 0) {
      r.mtime = timeOf(attr->st_mtim);
    }
    if (fi != nullptr) {
      r.fh = fi->fh;
    }
    // Owners and access times are accepted and dropped: the Hub keeps neither.
    auto a = fsOf(req).setattr(ino, r);
    if (!a) {
      return replyError(req, a.error());
    }
    struct stat st {};
    fillStat(*a, st);
    fuse_reply_attr(req, &st, seconds(a->timeout));
  });
}

void opCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi) noexcept {
  guarded(req, [&] {
    auto made = fsOf(req).create(parent, name, mode, fi->flags);
    if (!made) {
      return replyError(req, made.error());
    }
    fi->fh = made->fh;
    auto p = entryParam(made->entry);
    if (fuse_reply_create(req, &p, fi) != 0) {
      fsOf(req).release(made->fh);
    }
  });
}

void opMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t) noexcept {
  guarded(req, [&] {
    if (!S_ISREG(mode)) {
      fuse_reply_err(req, EPERM);  // the Hub stores files and nothing else
      return;
    }
    auto made = fsOf(req).create(parent, name, mode, O_EXCL);
    if (!made) {
      return replyError(req, made.error());
    }
    (void)fsOf(req).flush(made->fh);
    fsOf(req).release(made->fh);
    auto p = entryParam(made->entry);
    fuse_reply_entry(req, &p);
  });
}

void opWrite(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off,
             fuse_file_info* fi) noexcept {
  guarded(req, [&] {
    auto n = fsOf(req).write(fi->fh, static_cast<std::uint64_t>(off),
                             std::span<const char>(buf, size));
    if (!n) {
      return replyError(req, n.error());
    }
    fuse_reply_write(req, *n);
  });
}

void opMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t) noexcept {
  guarded(req, [&] { replyEntry(req, fsOf(req).mkdir(parent, name)); });
}
void opUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept {
  guarded(req, [&] { replyStatus(req, fsOf(req).unlink(parent, name)); });
}
void opRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept {
  guarded(req, [&] { replyStatus(req, fsOf(req).rmdir(parent, name)); });
}
void opRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
              const char* new_name, unsigned flags) noexcept {
  guarded(req, [&] {
    replyStatus(req, fsOf(req).rename(parent, name, new_parent, new_name, flags));
  });
}
void opFlush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) noexcept {
  guarded(req, [&] { replyStatus(req, fsOf(req).flush(fi->fh)); });
}
void opFsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) noexcept {
  guarded(req, [&] { replyStatus(req, fsOf(req).fsync(fi->fh)); });
}
void opFsyncdir(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) noexcept {
  guarded(req, [&] { replyStatus(req, fsOf(req).fsyncdir(ino)); });
}
// Links of either kind have no place in a Hub repository.
void opSymlink(fuse_req_t req, const char*, fuse_ino_t, const char*) noexcept {
  fuse_reply_err(req, EPERM);
}
void opLink(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) noexcept {
  fuse_reply_err(req, EPERM);
}
void opSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int) noexcept {
  guarded(req, [&] {
    replyStatus(req, fsOf(req).setxattr(ino, name, std::string_view(value, size)));
  });
}
void opRemovexattr(fuse_req_t req, fuse_ino_t, const char*) noexcept {
  fuse_reply_err(req, ENOTSUP);
}
void opFallocate(fuse_req_t req, fuse_ino_t, int, off_t, off_t, fuse_file_info*) noexcept {
  fuse_reply_err(req, EOPNOTSUPP);  // callers fall back to writing
}

fuse_lowlevel_ops makeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = opInit;
  ops.lookup = opLookup;
  ops.forget = opForget;
  ops.forget_multi = opForgetMulti;
  ops.getattr = opGetattr;
  ops.readlink = opReadlink;
  ops.opendir = opOpendir;
  ops.readdir = opReaddir;
  ops.readdirplus = opReaddirplus;
  ops.releasedir = opReleasedir;
  ops.open = opOpen;
  ops.read = opRead;
  ops.release = opRelease;
  ops.statfs = opStatfs;
  ops.getxattr = opGetxattr;
  ops.listxattr = opListxattr;
  ops.setattr = opSetattr;
  ops.mknod = opMknod;
  ops.mkdir = opMkdir;
  ops.unlink = opUnlink;
  ops.rmdir = opRmdir;
  ops.flush = opFlush;
  ops.fsync = opFsync;
  ops.fsyncdir = opFsyncdir;
  ops.symlink = opSymlink;
  ops.rename = opRename;
  ops.link = opLink;
  ops.create = opCreate;
  ops.write = opWrite;
  ops.setxattr = opSetxattr;
  ops.removexattr = opRemovexattr;
  ops.fallocate = opFallocate;
  return ops;
}


// The kernel caps readahead at the mount's bdi read_ahead_kb (128 KiB by default), whatever
// max_readahead says; root may raise it. The mount is found in /proc/self/mountinfo, since a
// stat of the mountpoint would wait for this process to serve it.
void raiseBdiReadahead(const std::string& target, unsigned bytes) {
  std::ifstream info("/proc/self/mountinfo");
  std::string line;
  std::string device;
  while (std::getline(info, line)) {
    std::istringstream fields(line);
    std::string id, parent, majmin, root, point;
    fields >> id >> parent >> majmin >> root >> point;
    if (point == target) {
      device = majmin;  // the last match is the mount on top
    }
  }
  if (device.empty()) {
    return;
  }
  std::ofstream knob("/sys/class/bdi/" + device + "/read_ahead_kb");
  knob << (bytes / 1024);
  if (!knob) {
    spdlog::info("could not raise read_ahead_kb of {} (not root?): sequential reads use 128 KiB "
                 "kernel readahead",
                 target);
  }
}

}  // namespace


struct FuseMount::Impl {
  Context context;
  fuse_session* session = nullptr;
  bool signals = false;
  bool mounted = false;
  unsigned max_threads = 32;
  ~Impl() {
    if (session != nullptr) {
      if (signals) {
        fuse_remove_signal_handlers(session);
      }
      if (mounted) {
        fuse_session_unmount(session);
      }
      fuse_session_destroy(session);
    }
  }
};

FuseMount::~FuseMount() = default;

common::Result<std::unique_ptr<FuseMount>> FuseMount::mount(Filesystem* fs,
                                                           const MountOptions& options) {
  std::vector<std::string> args = {"hf-mount", "-o", "fsname=" + options.fs_name,
                                   "-o", "subtype=hf",
                                   "-o", options.read_only ? "ro,default_permissions"
                                                           : "default_permissions"};
  if (options.allow_other) {
    args.insert(args.end(), {"-o", "allow_other"});
  }
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  static const fuse_lowlevel_ops kOps = makeOps();
  std::unique_ptr<FuseMount> mount(new FuseMount());
  mount->impl_ = std::make_unique<Impl>();
  mount->impl_->max_threads = options.max_threads;
  mount->impl_->context = Context{fs, options.max_readahead};
  mount->impl_->session = fuse_session_new(&fargs, &kOps, sizeof kOps, &mount->impl_->context);
  fuse_opt_free_args(&fargs);
  if (mount->impl_->session == nullptr) {
    return common::makeError(common::ErrorKind::kInvalidArgument, "cannot create a FUSE session");
  }
  // Resolved before mounting: afterwards a stat of the mountpoint would wait for this process.
  std::error_code ec;
  std::string canonical = std::filesystem::weakly_canonical(options.mountpoint, ec).string();
  if (fuse_session_mount(mount->impl_->session, options.mountpoint.c_str()) != 0) {
    return common::makeError(common::ErrorKind::kIo,
                             "cannot mount on " + options.mountpoint +
                                 " (does it exist, is it empty and not already mounted, is "
                                 "/dev/fuse usable?)");
  }
  mount->impl_->mounted = true;
  raiseBdiReadahead(canonical, options.max_readahead);
  // SIGINT/SIGTERM/SIGHUP end the loop; the destructor then unmounts.
  mount->impl_->signals = fuse_set_signal_handlers(mount->impl_->session) == 0;
  return mount;
}

int FuseMount::run() {
  fuse_loop_config* config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(config, 0);
  fuse_loop_cfg_set_max_threads(config, impl_->max_threads);
  fuse_loop_cfg_set_idle_threads(config, impl_->max_threads);
  // The loop returns only once every worker has answered; a worker waiting on a stalled server
  // would hold the daemon after an unmount or a signal until its request timed out. Once the
  // session has ended, its pending Hub requests are canceled.
  std::jthread watcher([this](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any wake;  // only the loop's return (stop) wakes it early
    std::unique_lock lock(mu);
    while (!wake.wait_for(lock, stop, std::chrono::milliseconds(100), [] { return false; })) {
      if (stop.stop_requested()) {
        return;
      }
      if (fuse_session_exited(impl_->session) != 0) {
        impl_->context.fs->cancelRequests();
        return;
      }
    }
  });
  int rc = fuse_session_loop_mt(impl_->session, config);
  watcher.request_stop();
  fuse_loop_cfg_destroy(config);
  return rc;
}

void FuseMount::exit() { fuse_session_exit(impl_->session); }

}  // namespace hfm::fs
