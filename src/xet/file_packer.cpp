// SPDX-License-Identifier: Apache-2.0
#include "xet/file_packer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "xet/chunker.h"

namespace hfm::xet {

void FilePacker::extend(std::optional<MerkleHash> stored, std::size_t packed, std::uint32_t index,
                        std::uint64_t size) {
  PendingTerm* last = terms_.empty() ? nullptr : &terms_.back();
  if (last == nullptr || last->stored != stored || (!stored && last->packed != packed) ||
      last->end != index) {
    terms_.push_back({stored, packed, index, index, 0});
    last = &terms_.back();
  }
  last->end = index + 1;
  last->bytes += size;
}

std::optional<SealedXorb> FilePacker::seal() {
  if (builder_.empty()) return std::nullopt;
  // Braced initializers run in order: the hash is taken before the bytes are moved out.
  SealedXorb out{builder_.hash(), builder_.takeBytes(), builder_.chunks()};
  sealed_.push_back(out.hash);
  builder_ = XorbBuilder(scheme_, max_xorb_bytes_);
  in_builder_.clear();
  return out;
}

std::optional<SealedXorb> FilePacker::add(std::span<const std::uint8_t> chunk) {
  const MerkleHash h = chunkHash(chunk);
  leaves_.push_back({h, chunk.size()});
  if (auto where = locate_ ? locate_(h) : std::nullopt) {
    extend(where->xorb, 0, where->index, chunk.size());
    return std::nullopt;
  }
  if (auto it = in_builder_.find(h); it != in_builder_.end()) {
    extend(std::nullopt, sealed_.size(), it->second, chunk.size());
    return std::nullopt;
  }
  std::optional<SealedXorb> closed;
  if (!builder_.fits(chunk.size())) closed = seal();
  const std::size_t packed = sealed_.size();
  const auto index = static_cast<std::uint32_t>(builder_.chunks().size());
  builder_.add(h, chunk);
  in_builder_.emplace(h, index);
  new_bytes_ += chunk.size();
  extend(std::nullopt, packed, index, chunk.size());
  if (leaves_.size() == 1 || isGlobalDedupCandidate(h)) candidates_.emplace_back(h, packed);
  return closed;
}

std::optional<SealedXorb> FilePacker::flush() { return seal(); }

ShardFile FilePacker::finish(const std::string& sha256_hex) const {
  ShardFile file;
  file.file_hash = fileHash(leaves_);
  file.sha256 = MerkleHash::fromHex(sha256_hex);
  std::size_t leaf = 0;
  for (const PendingTerm& t : terms_) {
    file.terms.push_back({t.stored ? *t.stored : sealed_.at(t.packed),
                          static_cast<std::uint32_t>(t.bytes), t.start, t.end});
    std::vector<MerkleHash> hashes;
    for (std::uint32_t c = t.start; c < t.end; ++c) hashes.push_back(leaves_[leaf++].hash);
    file.verification.push_back(rangeHash(hashes));
  }
  return file;
}

std::vector<std::pair<MerkleHash, MerkleHash>> FilePacker::dedupCandidates() const {
  std::vector<std::pair<MerkleHash, MerkleHash>> out;
  for (const auto& [chunk, packed] : candidates_) {
    if (packed < sealed_.size()) out.emplace_back(chunk, sealed_[packed]);
  }
  return out;
}

common::Status chunkFile(int fd, const std::function<bool(std::span<const std::uint8_t>)>& sink) {
  constexpr std::size_t kPiece = 8u << 20;
  std::vector<std::uint8_t> piece(kPiece);
  std::vector<std::uint8_t> current;
  Chunker chunker;
  while (true) {
    const ssize_t n = ::read(fd, piece.data(), piece.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return common::makeError(common::ErrorKind::kIo,
                               std::string("read while chunking: ") + std::strerror(errno));
    }
    if (n == 0) break;
    std::span<const std::uint8_t> rest(piece.data(), static_cast<std::size_t>(n));
    while (!rest.empty()) {
      const auto cut = chunker.next(rest);
      const std::size_t take = cut.value_or(rest.size());
      // A chunk wholly inside the piece goes to the sink without a copy.
      if (cut && current.empty()) {
        if (!sink(rest.first(take))) return {};
      } else {
        current.insert(current.end(), rest.begin(),
                       rest.begin() + static_cast<std::ptrdiff_t>(take));
        if (cut) {
          if (!sink(current)) return {};
          current.clear();
        }
      }
      rest = rest.subspan(take);
    }
  }
  if (!current.empty()) sink(current);
  return {};
}

}  // namespace hfm::xet
