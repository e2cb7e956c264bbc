// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/xet_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <sstream>

#include "common/file_util.h"
#include "xet/file_packer.h"
#include "xet/hashing.h"

namespace hfm::hubd {

namespace fs = std::filesystem;
using xet::MerkleHash;
using xet::XorbChunk;

namespace {

constexpr std::size_t kIdxRecord = MerkleHash::kSize + 12;
constexpr std::size_t kChunkTableCacheLimit = 4096;
// The largest file a shard may register: far above any test, far below what would exhaust the
// server's memory (a leaf is 40 bytes) or disk.
constexpr std::uint64_t kMaxFileChunks = 4ull << 20;
constexpr std::uint64_t kMaxFileBytes = 256ull << 30;

void putU32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
std::uint32_t getU32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

std::string encodeChunkTable(const std::vector<XorbChunk>& chunks) {
  std::string out;
  out.reserve(chunks.size() * kIdxRecord);
  for (const XorbChunk& c : chunks) {
    out.append(reinterpret_cast<const char*>(c.hash.bytes.data()), MerkleHash::kSize);
    putU32(out, c.uncompressed_offset);
    putU32(out, c.uncompressed_size);
    putU32(out, c.serialized_end);
  }
  return out;
}

std::optional<std::vector<XorbChunk>> decodeChunkTable(const std::string& bytes) {
  if (bytes.empty() || bytes.size() % kIdxRecord != 0) return std::nullopt;
  std::vector<XorbChunk> chunks(bytes.size() / kIdxRecord);
  const char* p = bytes.data();
  for (XorbChunk& c : chunks) {
    std::memcpy(c.hash.bytes.data(), p, MerkleHash::kSize);
    c.uncompressed_offset = getU32(p + 32);
    c.uncompressed_size = getU32(p + 36);
    c.serialized_end = getU32(p + 40);
    p += kIdxRecord;
  }
  return chunks;
}

std::span<const std::uint8_t> asBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string_view asChars(std::span<const std::uint8_t> s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

std::uint64_t serializedStart(const std::vector<XorbChunk>& table, std::uint32_t chunk) {
  return chunk == 0 ? 0 : table[chunk - 1].serialized_end;
}

// Reads the serialized bytes of chunks [start, end) of a xorb file.
common::Result<std::vector<std::uint8_t>> readChunkRange(const fs::path& path,
                                                        const std::vector<XorbChunk>& table,
                                                        std::uint32_t start, std::uint32_t end) {
  auto fd = common::openFile(path, O_RDONLY);
  if (!fd) return common::Unexpected<common::Error>(fd.error());
  std::uint64_t first = serializedStart(table, start);
  std::uint64_t last = table[end - 1].serialized_end;
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(last - first));
  std::size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = ::pread(fd->get(), buf.data() + done, buf.size() - done,
                        static_cast<off_t>(first + done));
    if (n <= 0) {
      return common::makeError(common::ErrorKind::kIo, "short read of xorb " + path.string());
    }
    done += static_cast<std::size_t>(n);
  }
  return buf;
}

}  // namespace

common::Result<std::unique_ptr<XetStore>> XetStore::open(const fs::path& root,
                                                         const ObjectStore* objects) {
  fs::path dir = root / "xet";
  for (const char* kind : {"xorbs", "files", "sha256", "chunks"}) {
    if (auto st = common::makeDirs(dir / kind); !st) {
      return common::Unexpected<common::Error>(st.error());
    }
  }
  std::unique_ptr<XetStore> store(new XetStore(dir, objects));
  store->loadLocations();
  return store;
}

void XetStore::loadLocations() {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir_ / "xorbs", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().extension() != ".idx") continue;
    auto xorb = MerkleHash::fromHex(it->path().stem().string());
    // A table without its xorb is what a crash between the two writes leaves: not stored.
    if (!xorb || !xorbSize(*xorb)) continue;
    auto bytes = common::readFile(it->path());
    auto table = bytes ? decodeChunkTable(*bytes) : std::nullopt;
    if (!table) continue;
    for (std::size_t i = 0; i < table->size(); ++i) {
      locations_.emplace((*table)[i].hash, Location{*xorb, static_cast<std::uint32_t>(i)});
    }
  }
}

std::optional<XetStore::Location> XetStore::locate(const MerkleHash& chunk) const {
  std::lock_guard lock(mu_);
  auto it = locations_.find(chunk);
  if (it == locations_.end()) return std::nullopt;
  return it->second;
}

fs::path XetStore::pathOf(std::string_view kind, const std::string& hex) const {
  return dir_ / kind / hex.substr(0, 2) / hex;
}

fs::path XetStore::xorbPath(const MerkleHash& hash) const { return pathOf("xorbs", hash.hex()); }

std::optional<std::uint64_t> XetStore::xorbSize(const MerkleHash& hash) const {
  std::error_code ec;
  auto size = fs::file_size(xorbPath(hash), ec);
  if (ec) return std::nullopt;
  return size;
}

ApiStatus XetStore::storeXorb(const MerkleHash& hash, std::string_view bytes,
                              const std::vector<XorbChunk>& chunks) {
  fs::path path = xorbPath(hash);
  if (auto st = common::makeDirs(path.parent_path()); !st) return internalError(st.error());
  // The table first: a xorb is visible once its data file exists.
  fs::path idx = path;
  idx += ".idx";
  if (auto st = common::writeFileAtomic(idx, encodeChunkTable(chunks)); !st) {
    return internalError(st.error());
  }
  if (auto st = common::writeFileAtomic(path, bytes); !st) return internalError(st.error());
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    locations_.emplace(chunks[i].hash, Location{hash, static_cast<std::uint32_t>(i)});
  }
  return {};
}

ApiResult<bool> XetStore::putXorb(const MerkleHash& hash, std::string_view body) {
  if (body.size() > xet::kMaxXorbBytes) {
    return apiError(400, "BadRequest", "xorb is larger than 64 MiB");
  }
  if (xorbSize(hash)) {
    return false;
  }
  auto index = xet::indexXorb(asBytes(body));
  if (!index) {
    return badRequest("invalid xorb: " + index.error().message);
  }
  if (index->hash != hash) {
    return badRequest("xorb body hashes to " + index->hash.hex() + ", not " + hash.hex());
  }
  if (auto st = storeXorb(hash, body, index->chunks); !st) {
    return common::Unexpected<ApiError>(st.error());
  }
  return true;
}

ApiResult<std::shared_ptr<const std::vector<XorbChunk>>> XetStore::xorbChunks(
    const MerkleHash& hash) const {
  {
    std::lock_guard lock(mu_);
    if (auto it = chunk_tables_.find(hash); it != chunk_tables_.end()) return it->second;
  }
  fs::path idx = xorbPath(hash);
  idx += ".idx";
  if (!xorbSize(hash)) {
    return apiError(404, "NotFound", "xorb " + hash.hex() + " does not exist");
  }
  auto bytes = common::readFile(idx);
  if (!bytes) return internalError(bytes.error());
  auto table = decodeChunkTable(*bytes);
  if (!table) return apiError(500, "InternalError", "damaged chunk table " + idx.string());
  auto shared = std::make_shared<const std::vector<XorbChunk>>(std::move(*table));
  std::lock_guard lock(mu_);
  if (chunk_tables_.size() >= kChunkTableCacheLimit) chunk_tables_.clear();
  chunk_tables_.emplace(hash, shared);
  return shared;
}

ApiStatus XetStore::checkFile(const xet::ShardFile& file) const {
  const std::string name = file.file_hash.hex();
  if (!file.sha256) {
    return badRequest("file " + name + " has no SHA-256 metadata (required for git repositories)");
  }
  if (file.verification.size() != file.terms.size()) {
    return badRequest("file " + name + " lacks verification entries");
  }
  // Bounds checked before any work: a small shard may name terms that unpack to terabytes.
  std::uint64_t declared_chunks = 0;
  std::uint64_t declared_bytes = 0;
  for (const xet::FileTerm& term : file.terms) {
    declared_chunks += term.chunk_end > term.chunk_start ? term.chunk_end - term.chunk_start : 0;
    declared_bytes += term.unpacked_bytes;
  }
  if (declared_chunks > kMaxFileChunks || declared_bytes > kMaxFileBytes) {
    return badRequest("file " + name + " is larger than this server accepts (" +
                      std::to_string(kMaxFileBytes >> 30) + " GiB, " +
                      std::to_string(kMaxFileChunks) + " chunks)");
  }
  std::vector<xet::ChunkLeaf> leaves;
  for (std::size_t i = 0; i < file.terms.size(); ++i) {
    const xet::FileTerm& term = file.terms[i];
    auto table = xorbChunks(term.xorb_hash);
    if (!table) {
      return badRequest("file " + name + " references xorb " + term.xorb_hash.hex() +
                        ", which was not uploaded");
    }
    const auto& chunks = **table;
    if (term.chunk_start >= term.chunk_end || term.chunk_end > chunks.size()) {
      return badRequest("file " + name + ": term " + std::to_string(i) +
                        " has an invalid chunk range");
    }
    std::uint64_t bytes = 0;
    std::vector<MerkleHash> hashes;
    for (std::uint32_t c = term.chunk_start; c < term.chunk_end; ++c) {
      bytes += chunks[c].uncompressed_size;
      hashes.push_back(chunks[c].hash);
      leaves.push_back({chunks[c].hash, chunks[c].uncompressed_size});
    }
    if (bytes != term.unpacked_bytes) {
      return badRequest("file " + name + ": term " + std::to_string(i) +
                        " declares the wrong unpacked size");
    }
    if (xet::rangeHash(hashes) != file.verification[i]) {
      return badRequest("file " + name + ": verification hash of term " + std::to_string(i) +
                        " does not match");
    }
  }
  if (xet::fileHash(leaves) != file.file_hash) {
    return badRequest("file " + name + ": its chunks hash to " + xet::fileHash(leaves).hex());
  }
  return {};
}

// Rebuilds the file from its xorbs into the object store; the bytes must hash to its SHA-256.
ApiStatus XetStore::materialize(const xet::ShardFile& file) {
  auto writer = objects_->create(std::nullopt, false);
  if (!writer) return internalError(writer.error());
  std::vector<std::uint8_t> chunk;
  for (const xet::FileTerm& term : file.terms) {
    auto table = xorbChunks(term.xorb_hash);
    if (!table) return common::Unexpected<ApiError>(table.error());
    auto bytes = readChunkRange(xorbPath(term.xorb_hash), **table, term.chunk_start, term.chunk_end);
    if (!bytes) return internalError(bytes.error());
    xet::ChunkReader reader(*bytes);
    while (true) {
      auto more = reader.next(chunk);
      if (!more) return apiError(500, "InternalError", "stored xorb damaged: " + more.error().message);
      if (!*more) break;
      if (auto st = writer->write(asChars(chunk)); !st) return internalError(st.error());
    }
  }
  std::string sha = file.sha256->hex();
  auto done = writer->finish(sha);
  if (!done) {
    return badRequest("file " + file.file_hash.hex() + ": its bytes do not hash to SHA-256 " + sha);
  }
  return {};
}

ApiStatus XetStore::storeFile(const xet::ShardFile& file, const std::string& repo_key) {
  const std::string hex = file.file_hash.hex();
  fs::path path = pathOf("files", hex);
  fs::path sha_path = pathOf("sha256", file.sha256->hex());
  for (const fs::path& p : {path, sha_path}) {
    if (auto st = common::makeDirs(p.parent_path()); !st) return internalError(st.error());
  }
  xet::Shard one;
  one.files.push_back(file);
  auto bytes = xet::serializeShard(one, false);
  if (auto st = grant(file.file_hash, repo_key); !st) return st;
  // The record first: the SHA-256 index must never name a file that is not there.
  if (auto st = common::writeFileAtomic(path, asChars(bytes)); !st) return internalError(st.error());
  if (auto st = common::writeFileAtomic(sha_path, hex); !st) return internalError(st.error());
  return {};
}

ApiStatus XetStore::indexChunk(const MerkleHash& chunk, const MerkleHash& xorb) {
  fs::path path = pathOf("chunks", chunk.hex());
  if (fs::exists(path)) return {};
  if (auto st = common::makeDirs(path.parent_path()); !st) return internalError(st.error());
  if (auto st = common::writeFileAtomic(path, xorb.hex()); !st) return internalError(st.error());
  return {};
}

ApiResult<int> XetStore::registerShard(std::span<const std::uint8_t> body,
                                       const std::string& repo_key) {
  auto shard = xet::parseShard(body);
  if (!shard) return badRequest("invalid shard: " + shard.error().message);
  for (const xet::ShardXorb& x : shard->xorbs) {
    auto table = xorbChunks(x.xorb_hash);
    if (!table) {
      return badRequest("shard lists xorb " + x.xorb_hash.hex() + ", which was not uploaded");
    }
    const auto& chunks = **table;
    bool same = chunks.size() == x.chunks.size();
    for (std::size_t i = 0; same && i < chunks.size(); ++i) {
      same = chunks[i].hash == x.chunks[i].chunk_hash &&
             chunks[i].uncompressed_size == x.chunks[i].uncompressed_size &&
             chunks[i].uncompressed_offset == x.chunks[i].uncompressed_offset;
    }
    if (!same) return badRequest("shard's chunk list of xorb " + x.xorb_hash.hex() + " is wrong");
  }
  std::uint64_t shard_bytes = 0;
  for (const xet::ShardFile& f : shard->files) {
    for (const xet::FileTerm& t : f.terms) shard_bytes += t.unpacked_bytes;
  }
  if (shard_bytes > kMaxFileBytes) {
    return badRequest("shard registers more than " + std::to_string(kMaxFileBytes >> 30) +
                      " GiB of files");
  }
  for (const xet::ShardFile& f : shard->files) {
    if (auto st = checkFile(f); !st) return common::Unexpected<ApiError>(st.error());
  }
  int result = 0;
  for (const xet::ShardFile& f : shard->files) {
    if (file(f.file_hash)) {
      if (auto st = grant(f.file_hash, repo_key); !st) return common::Unexpected<ApiError>(st.error());
      continue;
    }
    if (auto st = materialize(f); !st) return common::Unexpected<ApiError>(st.error());
    if (auto st = storeFile(f, repo_key); !st) return common::Unexpected<ApiError>(st.error());
    if (f.terms.empty()) continue;  // the empty file
    auto first = xorbChunks(f.terms.front().xorb_hash);
    if (first) (void)indexChunk((**first)[f.terms.front().chunk_start].hash, f.terms.front().xorb_hash);
    result = 1;
  }
  for (const xet::ShardXorb& x : shard->xorbs) {
    for (const xet::ShardXorbChunk& c : x.chunks) {
      if (xet::isGlobalDedupCandidate(c.chunk_hash) || (c.flags & 0x80000000u) != 0) {
        (void)indexChunk(c.chunk_hash, x.xorb_hash);
      }
    }
  }
  return result;
}

std::optional<XetFile> XetStore::file(const MerkleHash& hash) const {
  {
    std::lock_guard lock(mu_);
    if (auto it = files_.find(hash); it != files_.end()) return *it->second;
  }
  auto bytes = common::readFile(pathOf("files", hash.hex()));
  if (!bytes) return std::nullopt;
  auto shard = xet::parseShard(asBytes(*bytes));
  if (!shard || shard->files.size() != 1 || !shard->files[0].sha256) return std::nullopt;
  XetFile out;
  out.hash = hash;
  out.sha256 = shard->files[0].sha256->hex();
  out.terms = std::move(shard->files[0].terms);
  for (const auto& t : out.terms) out.size += t.unpacked_bytes;
  std::lock_guard lock(mu_);
  if (files_.size() >= kChunkTableCacheLimit) files_.clear();
  files_.emplace(hash, std::make_shared<const XetFile>(out));
  return out;
}

std::optional<MerkleHash> XetStore::fileBySha256(const std::string& sha256) const {
  auto hex = common::readFile(pathOf("sha256", sha256));
  if (!hex) return std::nullopt;
  return MerkleHash::fromHex(*hex);
}

bool XetStore::readableBy(const MerkleHash& hash, const std::string& repo_key) const {
  fs::path path = pathOf("files", hash.hex());
  path += ".repos";
  std::lock_guard lock(mu_);
  auto it = readers_.find(hash);
  if (it == readers_.end()) {
    auto text = common::readFile(path);
    if (!text) return false;
    std::vector<std::string> keys;
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);) keys.push_back(line);
    if (readers_.size() >= kChunkTableCacheLimit) readers_.clear();
    it = readers_.emplace(hash, std::move(keys)).first;
  }
  return std::find(it->second.begin(), it->second.end(), repo_key) != it->second.end();
}

ApiStatus XetStore::grant(const MerkleHash& hash, const std::string& repo_key) {
  fs::path path = pathOf("files", hash.hex());
  path += ".repos";
  if (auto st = common::makeDirs(path.parent_path()); !st) return internalError(st.error());
  std::lock_guard lock(mu_);
  std::string text = common::readFile(path).value_or(std::string());
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line == repo_key) return {};
  }
  text += repo_key + "\n";
  if (auto st = common::writeFileAtomic(path, text); !st) return internalError(st.error());
  readers_.erase(hash);  // read again, with the new key, at the next check
  return {};
}

ApiResult<MerkleHash> XetStore::ingestBlob(const std::string& sha256, const std::string& repo_key) {
  if (auto known = fileBySha256(sha256)) {
    if (auto st = grant(*known, repo_key); !st) return common::Unexpected<ApiError>(st.error());
    return *known;
  }
  auto fd = objects_->openBlob(sha256);
  if (!fd) return internalError(fd.error());
  xet::FilePacker packer([this](const MerkleHash& chunk) -> std::optional<xet::ChunkLocation> {
    auto where = locate(chunk);
    if (!where) return std::nullopt;
    return xet::ChunkLocation{where->xorb, where->index};
  });
  ApiStatus stored;
  auto keep = [&](std::optional<xet::SealedXorb> sealed) {
    if (sealed && stored && !xorbSize(sealed->hash)) {
      stored = storeXorb(sealed->hash, asChars(sealed->bytes), sealed->chunks);
    }
    return static_cast<bool>(stored);
  };
  auto chunked = xet::chunkFile(fd->get(), [&](std::span<const std::uint8_t> chunk) {
    return keep(packer.add(chunk));
  });
  if (!chunked) return internalError(chunked.error());
  keep(packer.flush());
  if (!stored) return common::Unexpected<ApiError>(stored.error());
  xet::ShardFile file = packer.finish(sha256);
  if (!file.sha256) return badRequest("not a sha256: " + sha256);
  if (this->file(file.file_hash)) {
    if (auto st = grant(file.file_hash, repo_key); !st) return common::Unexpected<ApiError>(st.error());
  } else if (auto st = storeFile(file, repo_key); !st) {
    return common::Unexpected<ApiError>(st.error());
  }
  for (const auto& [chunk, xorb] : packer.dedupCandidates()) (void)indexChunk(chunk, xorb);
  return file.file_hash;
}

ApiResult<Reconstruction> XetStore::reconstruct(
    const XetFile& file, std::optional<std::pair<std::uint64_t, std::uint64_t>> range) const {
  Reconstruction out;
  if (file.size == 0) {
    if (range && range->first > 0) {
      return apiError(416, "RangeNotSatisfiable", "range starts past the end of the file");
    }
    return out;
  }
  std::uint64_t first = range ? range->first : 0;
  std::uint64_t last = range ? std::min(range->second, file.size - 1) : file.size - 1;
  if (first >= file.size || last < first) {
    return apiError(416, "RangeNotSatisfiable", "range starts past the end of the file");
  }
  std::map<MerkleHash, std::vector<std::pair<std::uint32_t, std::uint32_t>>> spans;
  std::uint64_t term_pos = 0;
  bool started = false;
  for (const xet::FileTerm& term : file.terms) {
    std::uint64_t term_end = term_pos + term.unpacked_bytes;
    if (term_end <= first || term_pos > last) {
      term_pos = term_end;
      continue;
    }
    auto table = xorbChunks(term.xorb_hash);
    if (!table) return common::Unexpected<ApiError>(table.error());
    std::uint64_t pos = term_pos;
    xet::FileTerm clipped{term.xorb_hash, 0, 0, 0};
    bool any = false;
    for (std::uint32_t c = term.chunk_start; c < term.chunk_end && pos <= last; ++c) {
      std::uint64_t size = (**table)[c].uncompressed_size;
      if (pos + size > first) {
        if (!started) {
          out.offset_into_first_range = first - pos;
          started = true;
        }
        if (!any) clipped.chunk_start = c;
        any = true;
        clipped.chunk_end = c + 1;
        clipped.unpacked_bytes += static_cast<std::uint32_t>(size);
      }
      pos += size;
    }
    if (any) {
      out.terms.push_back(clipped);
      spans[term.xorb_hash].emplace_back(clipped.chunk_start, clipped.chunk_end);
    }
    term_pos = term_end;
  }
  for (auto& [xorb, list] : spans) {
    auto table = xorbChunks(xorb);
    if (!table) return common::Unexpected<ApiError>(table.error());
    std::sort(list.begin(), list.end());
    std::vector<XorbFetch>& fetches = out.fetches[xorb];
    for (const auto& [s, e] : list) {
      if (!fetches.empty() && s <= fetches.back().chunk_end) {
        fetches.back().chunk_end = std::max(fetches.back().chunk_end, e);
      } else {
        fetches.push_back({s, e, 0, 0});
      }
    }
    for (XorbFetch& f : fetches) {
      f.byte_first = serializedStart(**table, f.chunk_start);
      f.byte_last = (**table)[f.chunk_end - 1].serialized_end - 1;
    }
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> XetStore::dedupShard(const MerkleHash& chunk,
                                                              std::int64_t now,
                                                              std::int64_t ttl_seconds) const {
  auto xorb_hex = common::readFile(pathOf("chunks", chunk.hex()));
  if (!xorb_hex) return std::nullopt;
  auto xorb = MerkleHash::fromHex(*xorb_hex);
  if (!xorb) return std::nullopt;
  auto table = xorbChunks(*xorb);
  auto size = xorbSize(*xorb);
  if (!table || !size) return std::nullopt;
  xet::Shard shard;
  std::random_device rd;
  for (auto& b : shard.hmac_key.bytes) b = static_cast<std::uint8_t>(rd());
  shard.creation_time = static_cast<std::uint64_t>(now);
  shard.key_expiry = static_cast<std::uint64_t>(now + ttl_seconds);
  xet::ShardXorb x;
  x.xorb_hash = *xorb;
  x.serialized_bytes = static_cast<std::uint32_t>(*size);
  for (const XorbChunk& c : **table) {
    x.chunks.push_back({xet::keyedChunkHash(shard.hmac_key, c.hash), c.uncompressed_offset,
                        c.uncompressed_size, 0});
    x.uncompressed_bytes += c.uncompressed_size;
  }
  shard.xorbs.push_back(std::move(x));
  return xet::serializeShard(shard, true);
}

}  // namespace hfm::hubd
