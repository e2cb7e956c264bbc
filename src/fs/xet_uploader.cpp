// SPDX-License-Identifier: Apache-2.0
#include "fs/xet_uploader.h"

#include <fcntl.h>

#include <spdlog/spdlog.h>

#include <unordered_map>
#include <vector>

#include "common/file_util.h"
#include "fs/xet_chunk_index.h"
#include "xet/hashing.h"
#include "xet/shard.h"

namespace hfm::fs {

namespace {

using hub::HubErrorKind;
using xet::MerkleHash;

// The global dedup query is asked for at most one eligible chunk in this many, as the reference
// client does: one answer lists a whole xorb, which usually covers the chunks that follow.
constexpr std::size_t kQuerySpacing = 256;
// Dedup answers kept per upload; each costs a keyed hash per chunk to consult.
constexpr std::size_t kMaxDedupAnswers = 32;

// A global dedup answer: the chunks of one or more stored xorbs, under the answer's key.
struct DedupAnswer {
  MerkleHash key;  // zero: hashes are not keyed
  std::unordered_map<MerkleHash, xet::ChunkLocation, xet::MerkleHashHasher> chunks;
};

std::optional<DedupAnswer> parseAnswer(const std::string& bytes, std::int64_t now) {
  auto shard = xet::parseShard(
      {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  if (!shard) return std::nullopt;
  // Compared unsigned: "never" is written as the largest u64.
  if (shard->key_expiry != 0 && now > 0 && shard->key_expiry < static_cast<std::uint64_t>(now)) {
    return std::nullopt;
  }
  DedupAnswer answer{shard->hmac_key, {}};
  for (const auto& x : shard->xorbs) {
    for (std::uint32_t i = 0; i < x.chunks.size(); ++i) {
      answer.chunks.emplace(x.chunks[i].chunk_hash, xet::ChunkLocation{x.xorb_hash, i});
    }
  }
  return answer;
}

std::optional<xet::ChunkLocation> lookUp(const std::vector<DedupAnswer>& answers,
                                         const MerkleHash& chunk) {
  for (const DedupAnswer& a : answers) {
    const MerkleHash probe = a.key.isZero() ? chunk : xet::keyedChunkHash(a.key, chunk);
    if (auto it = a.chunks.find(probe); it != a.chunks.end()) return it->second;
  }
  return std::nullopt;
}

}  // namespace

XetUploadStats XetUploader::stats() const {
  return {files_.load(),         chunks_.load(),     chunks_known_locally_.load(),
          chunks_found_by_query_.load(), dedup_queries_.load(), xorbs_sent_.load(),
          xorb_bytes_sent_.load()};
}

hub::HubResult<void> XetUploader::upload(const common::RepoId& repo, const std::string& revision,
                                         const std::string& sha256, std::uint64_t size,
                                         const std::filesystem::path& path) {
  {
    std::lock_guard lock(mu_);
    if (without_xet_.count(repo.key()) != 0) {
      return hub_->uploadLfs(repo, revision, sha256, size, path.string());
    }
  }
  auto offer = hub_->offerXetUpload(repo, revision, sha256, size);
  if (!offer) return common::Unexpected<hub::HubError>(offer.error());
  if (!*offer) {
    // Later files of the repo go straight to the LFS upload, without a batch asking for Xet.
    {
      std::lock_guard lock(mu_);
      if (without_xet_.size() < kMaxReposRemembered) without_xet_.insert(repo.key());
    }
    return hub_->uploadLfs(repo, revision, sha256, size, path.string());
  }
  if ((*offer)->already_stored) return {};
  auto sent = uploadXet((*offer)->access, sha256, path, true);
  // The local index may name xorbs of another server that used the same cache: the CAS then
  // refuses the shard, and the file goes again with everything it needs.
  if (!sent && sent.error().http_status == 400) {
    spdlog::warn("xet: the CAS refused {} ({}); sending it without the local index", sha256,
                 sent.error().message);
    sent = uploadXet((*offer)->access, sha256, path, false);
  }
  return sent;
}

hub::HubResult<void> XetUploader::uploadXet(const hub::XetWriteAccess& access,
                                            const std::string& sha256,
                                            const std::filesystem::path& path, bool use_local) {
  auto fd = common::openFile(path, O_RDONLY);
  if (!fd) return hub::hubError(HubErrorKind::kLocalIo, fd.error().message);

  std::vector<DedupAnswer> answers;
  std::size_t chunk_no = 0;
  std::size_t last_query = 0;
  bool queried = false;
  const auto now = static_cast<std::int64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  // Asks the global dedup query about `chunk` when the rules allow one now; the answer joins
  // `answers`.
  auto query = [&](const MerkleHash& chunk, std::size_t n) {
    if ((queried && n - last_query < kQuerySpacing) || answers.size() >= kMaxDedupAnswers) return;
    queried = true;
    last_query = n;
    ++dedup_queries_;
    auto shard = hub_->xetQueryChunk(access, chunk.hex());
    if (!shard || !*shard) return;  // a failed query only costs dedup
    if (auto answer = parseAnswer(**shard, now)) answers.push_back(std::move(*answer));
  };
  auto locate = [&](const MerkleHash& chunk) -> std::optional<xet::ChunkLocation> {
    const std::size_t n = chunk_no++;
    ++chunks_;
    // The first chunk is asked about even when known here: its answer lists the xorb the rest
    // of an edited file most likely lives in, which this machine may have seen only in part.
    if (n == 0) query(chunk, n);
    if (use_local) {
      if (auto local = index_.findChunk(chunk)) {
        ++chunks_known_locally_;
        return local;
      }
    }
    if (auto found = lookUp(answers, chunk)) {
      ++chunks_found_by_query_;
      return found;
    }
    if (n == 0 || !xet::isGlobalDedupCandidate(chunk)) return std::nullopt;
    query(chunk, n);
    if (auto found = lookUp(answers, chunk)) {
      ++chunks_found_by_query_;
      return found;
    }
    return std::nullopt;
  };

  xet::FilePacker packer(locate, xet::CompressionScheme::kLz4, xorb_bytes_);
  XetChunkIndex::Batch learned(index_);
  xet::Shard shard;
  std::optional<hub::HubError> failure;
  auto send = [&](std::optional<xet::SealedXorb> sealed) {
    if (!sealed || failure) return !failure;
    auto sent = hub_->xetUploadXorb(access, sealed->hash.hex(), sealed->bytes);
    if (!sent) {
      failure = sent.error();
      return false;
    }
    ++xorbs_sent_;
    xorb_bytes_sent_ += sealed->bytes.size();
    xet::ShardXorb entry{sealed->hash, 0, static_cast<std::uint32_t>(sealed->bytes.size()), {}};
    for (std::uint32_t i = 0; i < sealed->chunks.size(); ++i) {
      const xet::XorbChunk& c = sealed->chunks[i];
      entry.chunks.push_back({c.hash, c.uncompressed_offset, c.uncompressed_size, 0});
      entry.uncompressed_bytes += c.uncompressed_size;
      learned.chunkAt(sealed->hash, i, {c.hash, c.uncompressed_size});
      learned.location(c.hash, sealed->hash, i);
    }
    learned.commit();
    shard.xorbs.push_back(std::move(entry));
    return true;
  };
  auto chunked = xet::chunkFile(fd->get(), [&](std::span<const std::uint8_t> chunk) {
    return send(packer.add(chunk));
  });
  if (!chunked) return hub::hubError(HubErrorKind::kLocalIo, chunked.error().message);
  send(packer.flush());
  if (failure) return common::Unexpected<hub::HubError>(*failure);

  shard.files.push_back(packer.finish(sha256));
  auto body = xet::serializeShard(shard, false);
  if (auto st = hub_->xetUploadShard(access, body); !st) return st;
  ++files_;
  spdlog::info("xet: uploaded {} ({} chunks, {} new bytes in {} xorbs)", sha256,
               packer.leaves().size(), packer.newBytes(), shard.xorbs.size());
  return {};
}

}  // namespace hfm::fs
