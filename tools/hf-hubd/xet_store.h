// SPDX-License-Identifier: Apache-2.0
#pragma once

// hf-hubd's content-addressed storage (CAS) for Xet, under <root>/xet/:
//   xorbs/<aa>/<hash>        a xorb exactly as uploaded
//   xorbs/<aa>/<hash>.idx    its chunk table (hash, uncompressed size, serialized end per chunk)
//   files/<aa>/<hash>        a registered file: a one-file shard (terms, verification, sha256)
//   files/<aa>/<hash>.repos  the repositories allowed to read it, one key per line
//   sha256/<aa>/<sha256>     the Xet hash of the file with that SHA-256
//   chunks/<aa>/<hash>       the xorb holding a chunk the global dedup query can find
// Every registered file is also materialized in the ObjectStore under its SHA-256, so plain
// downloads (resolve, the CDN, LFS batch) serve it like any other blob. Uploads are checked
// the way the Hub's CAS does: a xorb must decode to its hash, a shard's terms must match stored
// xorbs, its verification hashes must be right and the bytes must hash to its SHA-256.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hf-hubd/api_error.h"
#include "hf-hubd/object_store.h"
#include "xet/merkle_hash.h"
#include "xet/shard.h"
#include "xet/xorb.h"

namespace hfm::hubd {

struct XetFile {
  xet::MerkleHash hash;
  std::string sha256;  // plain hex
  std::uint64_t size = 0;
  std::vector<xet::FileTerm> terms;
};

// A contiguous run of chunks of one xorb to fetch, with its serialized bytes (both ends inclusive
// for bytes, chunk_end exclusive), as reconstruction answers list them.
struct XorbFetch {
  std::uint32_t chunk_start = 0;
  std::uint32_t chunk_end = 0;
  std::uint64_t byte_first = 0;
  std::uint64_t byte_last = 0;
};

struct Reconstruction {
  std::uint64_t offset_into_first_range = 0;
  std::vector<xet::FileTerm> terms;
  std::map<xet::MerkleHash, std::vector<XorbFetch>> fetches;  // sorted, merged per xorb
};

// Thread-safe: stored files are immutable once renamed into place; the caches are behind a mutex.
class XetStore {
 public:
  static common::Result<std::unique_ptr<XetStore>> open(const std::filesystem::path& root,
                                                        const ObjectStore* objects);

  // A xorb upload: decoded and hashed; its hash must equal `hash`. true when newly stored.
  ApiResult<bool> putXorb(const xet::MerkleHash& hash, std::string_view body);
  std::optional<std::uint64_t> xorbSize(const xet::MerkleHash& hash) const;
  std::filesystem::path xorbPath(const xet::MerkleHash& hash) const;
  ApiResult<std::shared_ptr<const std::vector<xet::XorbChunk>>> xorbChunks(
      const xet::MerkleHash& hash) const;

  // A shard upload, registered for `repo_key`. 1 when it registered something new, 0 when every
  // file already existed.
  ApiResult<int> registerShard(std::span<const std::uint8_t> body, const std::string& repo_key);

  std::optional<XetFile> file(const xet::MerkleHash& hash) const;
  std::optional<xet::MerkleHash> fileBySha256(const std::string& sha256) const;
  bool readableBy(const xet::MerkleHash& hash, const std::string& repo_key) const;
  // Lets `repo_key` read a file its commit now references.
  ApiStatus grant(const xet::MerkleHash& hash, const std::string& repo_key);

  // Turns a blob of the ObjectStore into a Xet file: chunked, packed into new xorbs, registered
  // for `repo_key`. Used by `import --xet` and by commits of plain LFS uploads into Xet repos.
  ApiResult<xet::MerkleHash> ingestBlob(const std::string& sha256, const std::string& repo_key);

  // The terms and xorb ranges for bytes [first, last] of a file (last clamped to its end; the
  // whole file without a range). 416 when first is past the end of a non-empty file.
  ApiResult<Reconstruction> reconstruct(const XetFile& file,
                                        std::optional<std::pair<std::uint64_t, std::uint64_t>>
                                            range) const;

  // The answer to a global dedup query: a shard listing the xorb that holds `chunk`, its chunk
  // hashes keyed under a fresh key. nullopt when the chunk is not indexed.
  std::optional<std::vector<std::uint8_t>> dedupShard(const xet::MerkleHash& chunk,
                                                      std::int64_t now,
                                                      std::int64_t ttl_seconds) const;

 private:
  XetStore(std::filesystem::path dir, const ObjectStore* objects)
      : dir_(std::move(dir)), objects_(objects) {}
  std::filesystem::path pathOf(std::string_view kind, const std::string& hex) const;
  ApiStatus storeXorb(const xet::MerkleHash& hash, std::string_view bytes,
                      const std::vector<xet::XorbChunk>& chunks);
  ApiStatus checkFile(const xet::ShardFile& file) const;
  ApiStatus materialize(const xet::ShardFile& file);
  ApiStatus storeFile(const xet::ShardFile& file, const std::string& repo_key);
  ApiStatus indexChunk(const xet::MerkleHash& chunk, const xet::MerkleHash& xorb);
  void loadLocations();
  struct Location {
    xet::MerkleHash xorb;
    std::uint32_t index = 0;
  };
  std::optional<Location> locate(const xet::MerkleHash& chunk) const;

  std::filesystem::path dir_;
  const ObjectStore* objects_;
  mutable std::mutex mu_;  // guards the caches and serializes changes to .repos files
  // Where every stored chunk lives, so ingesting a new version stores only its new chunks.
  std::unordered_map<xet::MerkleHash, Location, xet::MerkleHashHasher> locations_;
  mutable std::unordered_map<xet::MerkleHash, std::shared_ptr<const std::vector<xet::XorbChunk>>,
                             xet::MerkleHashHasher>
      chunk_tables_;
  // Parsed file records (immutable once stored) and who may read each file (its .repos file):
  // every reconstruction needs both.
  mutable std::unordered_map<xet::MerkleHash, std::shared_ptr<const XetFile>,
                             xet::MerkleHashHasher>
      files_;
  mutable std::unordered_map<xet::MerkleHash, std::vector<std::string>, xet::MerkleHashHasher>
      readers_;
};

}  // namespace hfm::hubd
