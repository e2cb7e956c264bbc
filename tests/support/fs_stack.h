// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test support: the object graph of one mount without the kernel (Hub client, block and
// metadata stores, read engine, Filesystem), wired as tools/hf-mount does it, plus the calls a
// kernel would make to walk a path and read a whole file.
//
// Not thread-safe to build or destroy; the Filesystem itself is thread-safe. Members are declared
// in construction order, so they are torn down in reverse (the Filesystem first).

#include <fcntl.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "cache/lmdb_block_store.h"
#include "cache/metadata_store.h"
#include "fs/filesystem.h"
#include "fs/read_engine.h"
#include "fs/xet_range_source.h"
#include "hub/hub_client.h"

namespace hfm::fs::testing {

inline std::string randomBytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<std::size_t>(8, n - i));
  }
  return out;
}

inline void writeFile(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

class FsStack {
 public:
  // nullptr when a store cannot be opened or the client cannot be created (`error` says why).
  static std::unique_ptr<FsStack> open(const std::string& endpoint,
                                       std::optional<std::string> token,
                                       const std::filesystem::path& cache_dir, FsOptions options,
                                       std::string* error) {
    std::unique_ptr<FsStack> s(new FsStack());
    hub::HubOptions hub_options;
    hub_options.endpoint = endpoint;
    hub_options.token = std::move(token);
    hub_options.retry_deadline = std::chrono::seconds(5);
    auto hub = hub::HubClient::create(hub_options);
    if (!hub) {
      *error = "hub client: " + hub.error().message;
      return nullptr;
    }
    s->hub_ = std::move(*hub);
    cache::CacheOptions cache_options;
    cache_options.dir = cache_dir;
    cache_options.max_bytes = 256ull << 20;
    auto blocks = cache::LmdbBlockStore::open(cache_options);
    auto metadata = cache::MetadataStore::open(cache_options);
    if (!blocks || !metadata) {
      *error = "cannot open the cache in " + cache_dir.string();
      return nullptr;
    }
    s->blocks_ = std::move(*blocks);
    s->metadata_ = std::move(*metadata);
    s->plain_source_ = std::make_unique<HubRangeSource>(s->hub_.get());
    s->source_ = std::make_unique<XetRangeSource>(s->hub_.get(), s->plain_source_.get(),
                                                  s->blocks_.get());
    s->engine_ = std::make_unique<ReadEngine>(s->source_.get(), s->blocks_.get(),
                                              s->blocks_->blockSize(), ReadOptions{});
    s->fs_ = std::make_unique<Filesystem>(s->hub_.get(), s->metadata_.get(), s->blocks_.get(),
                                          s->engine_.get(), std::move(options));
    return s;
  }

  Filesystem& fs() { return *fs_; }
  hub::HubClient& hub() { return *hub_; }
  ReadEngine& engine() { return *engine_; }
  XetRangeSource& xet() { return *source_; }

  // The inode at `path` below the root, looking up each part; the first failed lookup's error.
  FsResult<std::uint64_t> walk(const std::string& path) {
    std::uint64_t ino = kRootIno;
    std::size_t start = 0;
    while (start < path.size()) {
      auto slash = path.find('/', start);
      auto part = path.substr(start, slash == std::string::npos ? slash : slash - start);
      auto e = fs_->lookup(ino, part);
      if (!e) {
        return common::Unexpected<FsError>(e.error());
      }
      ino = e->attr.ino;
      start = slash == std::string::npos ? path.size() : slash + 1;
    }
    return ino;
  }

  // The whole file, read through a handle in chunks of up to 1 MiB.
  FsResult<std::string> readAll(std::uint64_t ino) {
    auto attr = fs_->getattr(ino);
    if (!attr) {
      return common::Unexpected<FsError>(attr.error());
    }
    auto fh = fs_->open(ino, O_RDONLY);
    if (!fh) {
      return common::Unexpected<FsError>(fh.error());
    }
    std::string out(attr->size, '\0');
    std::size_t done = 0;
    while (done < out.size()) {
      auto got = fs_->read(
          *fh, done,
          std::span<char>(out.data() + done, std::min<std::size_t>(1u << 20, out.size() - done)));
      if (!got) {
        fs_->release(*fh);
        return common::Unexpected<FsError>(got.error());
      }
      if (*got == 0) {
        out.resize(done);
        break;
      }
      done += *got;
    }
    fs_->release(*fh);
    return out;
  }

 private:
  FsStack() = default;

  std::unique_ptr<hub::HubClient> hub_;
  std::unique_ptr<cache::LmdbBlockStore> blocks_;
  std::unique_ptr<cache::MetadataStore> metadata_;
  std::unique_ptr<HubRangeSource> plain_source_;
  std::unique_ptr<XetRangeSource> source_;
  std::unique_ptr<ReadEngine> engine_;
  std::unique_ptr<Filesystem> fs_;
};

}  // namespace hfm::fs::testing
