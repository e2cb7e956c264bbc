// SPDX-License-Identifier: Apache-2.0
#pragma once

// The FUSE low-level bridge: noexcept trampolines that decode the kernel's requests, call the
// Filesystem and reply exactly once. The only part of the project that includes libfuse.

#include <memory>
#include <string>

#include "common/result.h"
#include "fs/filesystem.h"

namespace hfm::fs {

struct MountOptions {
  std::string mountpoint;
  bool allow_other = false;
  bool read_only = true;  // mounted "ro": the kernel refuses every write itself
  unsigned max_threads = 32;         // FUSE worker threads: concurrent page faults need several
  unsigned max_readahead = 1u << 20;  // kernel readahead per file (DESIGN.md §5)
  std::string fs_name = "hf-mount";
};

// Owns the FUSE session and the mount. Confined to the thread that created it, except exit(),
// which any thread (a signal handler thread) may call.
class FuseMount {
 public:
  ~FuseMount();
  FuseMount(const FuseMount&) = delete;
  FuseMount& operator=(const FuseMount&) = delete;

  // Mounts (the mountpoint answers once this returns).
  static common::Result<std::unique_ptr<FuseMount>> mount(Filesystem* fs, const MountOptions& options);
  // Serves requests until unmounted or exit() is called; returns 0 on a clean end.
  int run();
  void exit();

 private:
  FuseMount() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hfm::fs
