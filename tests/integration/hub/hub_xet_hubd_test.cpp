// SPDX-License-Identifier: Apache-2.0
// HubClient's Xet downloads against the real hf-hubd (`import --xet`): reconstructions of a
// whole file and of ranges, every fetch decoded with xet::ChunkReader and assembled as XET.md
// §5.5 says, compared byte for byte; a real multi-range (multipart/byteranges) fetch; the CAS
// token cache; the v2 404 rule; and the failure paths (bad Hub token, unknown hash, forged and
// expired xorb URLs, a CAS that keeps answering 401, transient faults). No request on the CDN
// listener may carry Authorization.
// Xet uploads against `hf-hubd serve --xet-default` (HubdXetUploadTest): the LFS batch offer,
// xorbs and a shard packed with xet::FilePacker, a commit of the file and reading it back, the
// second offer (already stored), the dedup query, refusals (read-only token, missing xorb, a CAS
// that answers 401 after the one refresh) and a server without Xet (no offer).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "common/hash.h"
#include "hub/hub_client.h"
#include "tests/integration/hub/hubd_test_support.h"
#include "tests/support/hubd_process.h"
#include "xet/chunker.h"
#include "xet/file_packer.h"
#include "xet/hashing.h"
#include "xet/shard.h"
#include "xet/xorb.h"

namespace hfm::hub::testing {
namespace {

using std::chrono::milliseconds;

const common::RepoId kRepo{common::RepoType::kModel, "alice", "xet"};
const std::string kToken = "tok-alice-read";
constexpr std::size_t kFileSize = 3 * 1024 * 1024 + 12345;

// Decodes one fetched range into its chunks.
std::vector<std::string> decodeChunks(const std::string& serialized) {
  std::vector<std::string> chunks;
  xet::ChunkReader reader(
      {reinterpret_cast<const std::uint8_t*>(serialized.data()), serialized.size()});
  std::vector<std::uint8_t> out;
  for (;;) {
    auto more = reader.next(out);
    EXPECT_TRUE(more) << more.error().message;
    if (!more || !*more) {
      break;
    }
    chunks.emplace_back(out.begin(), out.end());
  }
  return chunks;
}

// Fetches everything `r` names and rebuilds bytes [first, last] (XET.md §5.5).
std::string assemble(HubClient& c, const XetReconstruction& r, std::uint64_t first,
                     std::uint64_t last) {
  std::map<std::pair<std::string, std::uint32_t>, std::string> chunks;
  for (const auto& [xorb, fetches] : r.fetches) {
    for (const XetFetch& f : fetches) {
      auto parts = c.xetFetch(f);
      EXPECT_TRUE(parts) << parts.error().message;
      if (!parts) {
        return {};
      }
      EXPECT_EQ(parts->size(), f.ranges.size());
      for (std::size_t i = 0; i < parts->size() && i < f.ranges.size(); ++i) {
        const XetRange& range = f.ranges[i];
        EXPECT_EQ((*parts)[i].size(), range.byte_last - range.byte_first + 1);
        auto decoded = decodeChunks((*parts)[i]);
        EXPECT_EQ(decoded.size(), range.chunk_end - range.chunk_start);
        for (std::size_t k = 0; k < decoded.size(); ++k) {
          chunks[{xorb, range.chunk_start + static_cast<std::uint32_t>(k)}] = decoded[k];
        }
      }
    }
  }
  std::string out;
  for (const XetTerm& t : r.terms) {
    std::size_t before = out.size();
    for (std::uint32_t k = t.chunk_start; k < t.chunk_end; ++k) {
      auto it = chunks.find({t.xorb_hash, k});
      EXPECT_NE(it, chunks.end()) << "chunk " << k << " of " << t.xorb_hash << " not fetched";
      if (it == chunks.end()) {
        return {};
      }
      out += it->second;
    }
    EXPECT_EQ(out.size() - before, t.unpacked_length);
  }
  EXPECT_LE(r.offset_into_first_range, out.size());
  out.erase(0, static_cast<std::size_t>(r.offset_into_first_range));
  if (out.size() > last - first + 1) {
    out.resize(static_cast<std::size_t>(last - first + 1));
  }
  return out;
}

std::uint64_t statCount(const nlohmann::json& stats, const char* cls) {
  return stats["requests"][cls].get<std::uint64_t>();
}

// A client of the hf-hubd at `url` that backs off 10 to 100 ms between retries.
std::unique_ptr<HubClient> xetClient(const std::string& url, std::optional<std::string> token) {
  HubOptions o = hubdOptions(url, std::move(token));
  o.backoff_base = milliseconds(10);
  o.backoff_cap = milliseconds(100);
  return hubdClient(o);
}

// One hf-hubd over its own root holding models/alice/xet, imported with --xet.
struct XetServer {
  std::unique_ptr<HubdProcess> process;
  std::string commit;
  std::string xet_hash;
};

class HubdXetTest : public HubdSuite<HubdXetTest> {
 protected:
  static void SetUpTestSuite() {
    makeDir("hub_xet_integration");
    auto src = dir_ / "src";
    std::filesystem::create_directories(src);
    data_ = std::make_unique<std::string>(randomBytes(kFileSize, 42));
    (*data_)[0] = '\0';  // binary: stored as LFS, hence in the CAS with --xet
    std::ofstream(src / "model.bin", std::ios::binary)
        .write(data_->data(), static_cast<std::streamsize>(data_->size()));
    std::ofstream(src / "README.md") << "# xet\n";
    const std::vector<std::string> base = {"--token", kToken + "=alice:read"};
    auto with = [&](std::vector<std::string> extra) {
      extra.insert(extra.begin(), base.begin(), base.end());
      return extra;
    };
    servers_ = std::make_unique<std::map<std::string, XetServer>>();
    // main: clean; short: 2 s URL and token lifetime; deny: the CAS answers 401 to everything;
    // flaky: transient faults on the CAS (hf-hubd counts xorb fetches on its CDN listener in the
    // "cas" class too).
    const std::map<std::string, std::vector<std::string>> configs = {
        {"main", with({})},
        {"short", with({"--cdn-url-ttl", "2"})},
        {"deny", with({"--faults", "cas:401=1"})},
        {"flaky", with({"--faults", "cas:503=0.3,cut=0.2:2k", "--seed", "7"})},
    };
    for (const auto& [name, args] : configs) {
      auto root = dir_ / ("root-" + name);
      setup_error_ = testing::importRepo(kHubd, root, "models/alice/xet", src, {"--xet"});
      if (!setup_error_.empty()) {
        return;
      }
      XetServer server;
      server.process = HubdProcess::start(kHubd, root, args, &setup_error_);
      if (!server.process) {
        return;
      }
      (*servers_)[name] = std::move(server);
    }
    // Each import made its own commit (dates differ); the Xet hash depends on the content only.
    for (auto& [name, server] : *servers_) {
      auto c = client(name);
      auto info = c->revision(kRepo, "main");
      if (!info) {
        setup_error_ = info.error().message;
        return;
      }
      server.commit = info->commit;
      auto tree = c->listTree(kRepo, info->commit, "", false);
      if (!tree) {
        setup_error_ = tree.error().message;
        return;
      }
      for (const auto& e : *tree) {
        if (e.path == "model.bin" && e.xet_hash) {
          server.xet_hash = *e.xet_hash;
        }
      }
      if (server.xet_hash.empty()) {
        setup_error_ = "model.bin has no xetHash on " + name;
        return;
      }
      if (!xet_hash_.empty() && xet_hash_ != server.xet_hash) {
        setup_error_ = "the Xet hash differs between imports";
        return;
      }
      xet_hash_ = server.xet_hash;
    }
  }
  static void TearDownTestSuite() {
    servers_.reset();
    data_.reset();
    std::filesystem::remove_all(dir_);
  }

  static const std::string& url(const std::string& server) {
    return servers_->at(server).process->url();
  }
  static const std::string& commitOf(const std::string& server) {
    return servers_->at(server).commit;
  }
  static std::unique_ptr<HubClient> client(const std::string& server,
                                           std::optional<std::string> token = kToken) {
    return xetClient(url(server), std::move(token));
  }

  static inline std::unique_ptr<std::string> data_;
  static inline std::unique_ptr<std::map<std::string, XetServer>> servers_;
  static inline std::string xet_hash_;
};

TEST_F(HubdXetTest, ReadsTheWholeFileAndRanges) {
  auto c = client("main");
  const std::uint64_t size = data_->size();
  std::mt19937_64 rng(5);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges = {
      {0, size - 1},
      {0, size + 100000},  // past EOF: clamped by the server
      {0, 0},
      {1, 1},
      {size - 1, size - 1},
      {65536, 65536 + 131072},
      {100000, 2000000},
      {size - 70000, size - 1},
  };
  for (int i = 0; i < 6; ++i) {
    std::uint64_t a = rng() % size;
    std::uint64_t b = a + rng() % std::min<std::uint64_t>(size - a, 700000);
    ranges.emplace_back(a, b);
  }
  for (const auto& [first, last] : ranges) {
    SCOPED_TRACE(std::to_string(first) + "-" + std::to_string(last));
    auto r = c->xetReconstruction(kRepo, commitOf("main"), xet_hash_, first, last);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_FALSE(r->terms.empty());
    std::string got = assemble(*c, *r, first, last);
    std::uint64_t end = std::min(last, size - 1);
    ASSERT_EQ(got.size(), end - first + 1);
    EXPECT_TRUE(got == data_->substr(static_cast<std::size_t>(first), got.size()));
  }
  // The upper-case spelling of the hash names the same file.
  std::string upper = xet_hash_;
  for (auto& ch : upper) {
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  EXPECT_TRUE(c->xetReconstruction(kRepo, commitOf("main"), upper, 0, 10));
  EXPECT_EQ(hubdStats(url("main"))["cdn_requests_with_authorization"], 0);
}

TEST_F(HubdXetTest, FetchesSeveralRangesInOneMultipartAnswer) {
  auto c = client("main");
  auto r = c->xetReconstruction(kRepo, commitOf("main"), xet_hash_, 0, data_->size() - 1);
  ASSERT_TRUE(r) << r.error().message;
  const XetFetch& whole = r->fetches.begin()->second.front();
  ASSERT_EQ(whole.ranges.size(), 1u);
  auto single = c->xetFetch(whole);
  ASSERT_TRUE(single) << single.error().message;
  const std::string& bytes = single->front();
  // Chunk boundaries of the fetched span, from the chunk headers.
  std::vector<std::size_t> ends;
  {
    xet::ChunkReader reader({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
    std::vector<std::uint8_t> out;
    while (true) {
      auto more = reader.next(out);
      ASSERT_TRUE(more);
      if (!*more) {
        break;
      }
      ends.push_back(reader.offset());
    }
  }
  ASSERT_GE(ends.size(), 8u);
  const XetRange& span = whole.ranges.front();
  auto rangeOf = [&](std::uint32_t a, std::uint32_t b) {  // chunks [a, b) of the span
    std::uint64_t from = a == 0 ? 0 : ends[a - 1];
    return XetRange{span.chunk_start + a, span.chunk_start + b, span.byte_first + from,
                    span.byte_first + ends[b - 1] - 1};
  };
  // Three ranges, with gaps, all inside the span the URL is signed for.
  XetFetch several{whole.url, {rangeOf(0, 1), rangeOf(2, 4), rangeOf(7, 8)}};
  auto parts = c->xetFetch(several);
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const XetRange& range = several.ranges[i];
    EXPECT_TRUE((*parts)[i] ==
                bytes.substr(static_cast<std::size_t>(range.byte_first - span.byte_first),
                             static_cast<std::size_t>(range.byte_last - range.byte_first + 1)))
        << "part " << i;
    EXPECT_EQ(decodeChunks((*parts)[i]).size(), range.chunk_end - range.chunk_start);
  }
  // A range outside the signed set is refused by the CDN (403), not retried.
  XetFetch outside{
      whole.url,
      {XetRange{span.chunk_end, span.chunk_end + 1, span.byte_last + 1, span.byte_last + 100}}};
  auto refused = c->xetFetch(outside);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, HubErrorKind::kForbidden);
  EXPECT_EQ(hubdStats(url("main"))["cdn_requests_with_authorization"], 0);
}

TEST_F(HubdXetTest, CachesTheCasTokenPerCommit) {
  auto c = client("main");
  auto before = hubdStats(url("main"));
  for (int i = 0; i < 3; ++i) {
    auto r = c->xetReconstruction(kRepo, commitOf("main"), xet_hash_, 0, 1000);
    ASSERT_TRUE(r) << r.error().message;
  }
  auto after = hubdStats(url("main"));
  EXPECT_EQ(statCount(after, "api") - statCount(before, "api"), 1u);  // one token
  EXPECT_EQ(statCount(after, "cas") - statCount(before, "cas"), 3u);  // v2 each time
}

TEST_F(HubdXetTest, UnknownFileIsNotFound) {
  const std::string unknown(64, 'e');
  {
    // A CAS not yet seen answering v2: its 404 is checked against v1 too.
    auto c = client("main");
    auto before = hubdStats(url("main"));
    auto r = c->xetReconstruction(kRepo, commitOf("main"), unknown, 0, 10);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, HubErrorKind::kNotFound) << r.error().message;
    auto after = hubdStats(url("main"));
    EXPECT_EQ(statCount(after, "cas") - statCount(before, "cas"), 2u);
  }
  {
    // Once v2 answered, its 404 is final.
    auto c = client("main");
    ASSERT_TRUE(c->xetReconstruction(kRepo, commitOf("main"), xet_hash_, 0, 10));
    auto before = hubdStats(url("main"));
    auto r = c->xetReconstruction(kRepo, commitOf("main"), unknown, 0, 10);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, HubErrorKind::kNotFound);
    EXPECT_EQ(r.error().http_status, 404);
    auto after = hubdStats(url("main"));
    EXPECT_EQ(statCount(after, "cas") - statCount(before, "cas"), 1u);
  }
  auto c = client("main");
  auto past =
      c->xetReconstruction(kRepo, commitOf("main"), xet_hash_, data_->size(), data_->size() + 5);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().kind, HubErrorKind::kRangeNotSatisfiable) << past.error().message;
  auto bad = c->xetReconstruction(kRepo, commitOf("main"), "xyz", 0, 10);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, HubErrorKind::kInvalidArgument);
  auto inverted = c->xetReconstruction(kRepo, commitOf("main"), xet_hash_, 10, 9);
  ASSERT_FALSE(inverted);
  EXPECT_EQ(inverted.error().kind, HubErrorKind::kInvalidArgument);
}

TEST_F(HubdXetTest, BadHubTokenIsUnauthorized) {
  auto c = client("main", std::string("tok-nobody"));
  auto r = c->xetReconstruction(kRepo, commitOf("main"), xet_hash_, 0, 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kUnauthorized) << r.error().message;
  EXPECT_EQ(r.error().message.find("tok-nobody"), std::string::npos);
  // Unknown repository or revision, as the token endpoint says.
  auto c2 = client("main");
  auto missing = c2->xetReconstruction({common::RepoType::kModel, "alice", "nope"},
                                       commitOf("main"), xet_hash_, 0, 10);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, HubErrorKind::kNotFound) << missing.error().message;
}

TEST_F(HubdXetTest, CasUnauthorizedRefreshesTheTokenOnce) {
  auto c = client("deny");
  auto before = hubdStats(url("deny"));
  auto r = c->xetReconstruction(kRepo, commitOf("deny"), xet_hash_, 0, 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kUnauthorized) << r.error().message;
  EXPECT_EQ(r.error().http_status, 401);
  auto after = hubdStats(url("deny"));
  EXPECT_EQ(statCount(after, "api") - statCount(before, "api"), 2u);  // the token, twice
  EXPECT_EQ(statCount(after, "cas") - statCount(before, "cas"), 2u);  // v2, twice
}

TEST_F(HubdXetTest, ForgedXorbUrlIsForbiddenWithoutRetry) {
  auto c = client("main");
  auto r = c->xetReconstruction(kRepo, commitOf("main"), xet_hash_, 0, 100000);
  ASSERT_TRUE(r) << r.error().message;
  XetFetch forged = r->fetches.begin()->second.front();
  auto sig = forged.url.find("X-Signature=");
  ASSERT_NE(sig, std::string::npos) << forged.url;
  char& ch = forged.url[sig + 12];
  ch = ch == 'a' ? 'b' : 'a';
  auto before = hubdStats(url("main"));
  auto retries = c->stats().retries;
  auto fetched = c->xetFetch(forged);
  ASSERT_FALSE(fetched);
  EXPECT_EQ(fetched.error().kind, HubErrorKind::kForbidden) << fetched.error().message;
  EXPECT_EQ(fetched.error().http_status, 403);
  EXPECT_EQ(fetched.error().message.find("X-Signature"), std::string::npos);
  auto after = hubdStats(url("main"));
  EXPECT_EQ(statCount(after, "cas") - statCount(before, "cas"), 1u);  // xorb fetches count as cas
  EXPECT_EQ(c->stats().retries, retries);
  EXPECT_EQ(after["cdn_requests_with_authorization"], 0);
}

TEST_F(HubdXetTest, ExpiredXorbUrlIsForbidden) {
  auto c = client("short");
  auto r = c->xetReconstruction(kRepo, commitOf("short"), xet_hash_, 0, 100000);
  ASSERT_TRUE(r) << r.error().message;
  std::this_thread::sleep_for(milliseconds(3200));
  auto before = hubdStats(url("short"));
  auto fetched = c->xetFetch(r->fetches.begin()->second.front());
  ASSERT_FALSE(fetched);
  EXPECT_EQ(fetched.error().kind, HubErrorKind::kForbidden) << fetched.error().message;
  auto after = hubdStats(url("short"));
  EXPECT_EQ(statCount(after, "cas") - statCount(before, "cas"), 1u);
  // A new reconstruction (with a new token: a 2 s one is never cached) works again.
  r = c->xetReconstruction(kRepo, commitOf("short"), xet_hash_, 0, 100000);
  ASSERT_TRUE(r) << r.error().message;
  std::string got = assemble(*c, *r, 0, 100000);
  EXPECT_TRUE(got == data_->substr(0, 100001));
  EXPECT_EQ(after["cdn_requests_with_authorization"], 0);
}

TEST_F(HubdXetTest, RetriesTransientFaults) {
  auto c = client("flaky");
  for (int i = 0; i < 5; ++i) {
    auto r = c->xetReconstruction(kRepo, commitOf("flaky"), xet_hash_, 0, data_->size() - 1);
    ASSERT_TRUE(r) << r.error().message;
    std::string got = assemble(*c, *r, 0, data_->size() - 1);
    EXPECT_TRUE(got == *data_);
  }
  EXPECT_GT(c->stats().retries, 0u);
  auto stats = hubdStats(url("flaky"));
  EXPECT_GT(stats["faults_injected"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(stats["cdn_requests_with_authorization"], 0);
}

// ---- uploads ---------------------------------------------------------------------------------

const std::string kWriteToken = "tok-alice-write";
const std::string kReadToken = "tok-alice-read";
const common::RepoId kUpRepo{common::RepoType::kModel, "alice", "up"};

std::span<const std::uint8_t> bytesOf(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// A file packed for upload: the new xorbs, the shard that registers it, its chunk hashes.
struct PackedFile {
  std::string sha256;
  std::vector<xet::SealedXorb> xorbs;
  std::vector<std::uint8_t> shard;
  std::vector<xet::MerkleHash> chunks;
};

// Packs `data` as the fs layer's uploader does: all chunks new (no lookup), LZ4 xorbs, one
// shard with the file entry and every xorb.
PackedFile pack(const std::string& data) {
  PackedFile out;
  out.sha256 = common::sha256Hex(data);
  xet::FilePacker packer([](const xet::MerkleHash&) { return std::nullopt; });
  xet::Shard shard;
  auto keep = [&](std::optional<xet::SealedXorb> sealed) {
    if (!sealed) {
      return;
    }
    xet::ShardXorb entry{sealed->hash, 0, static_cast<std::uint32_t>(sealed->bytes.size()), {}};
    for (const xet::XorbChunk& c : sealed->chunks) {
      entry.chunks.push_back({c.hash, c.uncompressed_offset, c.uncompressed_size, 0});
      entry.uncompressed_bytes += c.uncompressed_size;
    }
    shard.xorbs.push_back(std::move(entry));
    out.xorbs.push_back(std::move(*sealed));
  };
  std::size_t start = 0;
  for (std::size_t end : xet::chunkBoundaries(bytesOf(data))) {
    auto chunk = bytesOf(data).subspan(start, end - start);
    out.chunks.push_back(xet::chunkHash(chunk));
    keep(packer.add(chunk));
    start = end;
  }
  keep(packer.flush());
  shard.files.push_back(packer.finish(out.sha256));
  out.shard = xet::serializeShard(shard, false);
  return out;
}

// Two empty roots served with a write and a read token for alice: "xet" with --xet-default,
// "plain" without, "deny" with --xet-default and a CAS that answers 401 to everything.
class HubdXetUploadTest : public HubdSuite<HubdXetUploadTest> {
 protected:
  static void SetUpTestSuite() {
    makeDir("hub_xet_upload");
    servers_ = std::make_unique<std::map<std::string, std::unique_ptr<HubdProcess>>>();
    const std::vector<std::string> tokens = {"--token", kWriteToken + "=alice:write", "--token",
                                             kReadToken + "=alice:read"};
    const std::map<std::string, std::vector<std::string>> configs = {
        {"xet", {"--xet-default"}},
        {"plain", {}},
        {"deny", {"--xet-default", "--faults", "cas:401=1"}},
    };
    for (const auto& [name, extra] : configs) {
      std::vector<std::string> args = tokens;
      args.insert(args.end(), extra.begin(), extra.end());
      auto process = HubdProcess::start(kHubd, dir_ / ("root-" + name), args, &setup_error_);
      if (!process) {
        return;
      }
      httplib::Client http(process->url());
      auto res =
          http.Post("/api/repos/create", {{"Authorization", "Bearer " + kWriteToken}},
                    R"({"name":"up","organization":"alice","type":"model"})", "application/json");
      if (!res || res->status != 200) {
        setup_error_ = "creating alice/up on " + name + " failed: " +
                       (res ? std::to_string(res->status) + " " + res->body : "no answer");
        return;
      }
      (*servers_)[name] = std::move(process);
    }
  }
  static void TearDownTestSuite() {
    servers_.reset();
    std::filesystem::remove_all(dir_);
  }

  static const std::string& url(const std::string& server) { return servers_->at(server)->url(); }
  static std::unique_ptr<HubClient> client(const std::string& server,
                                           const std::string& token = kWriteToken) {
    return xetClient(url(server), token);
  }

  // The write access of a Xet offer for `file`, which the server must not have yet; nullopt
  // (and a test failure) when there is no offer.
  static std::optional<XetWriteAccess> offer(HubClient& c, const PackedFile& file,
                                             std::uint64_t size) {
    auto offer = c.offerXetUpload(kUpRepo, "main", file.sha256, size);
    EXPECT_TRUE(offer) << offer.error().message;
    if (!offer || !*offer) {
      ADD_FAILURE() << "no Xet offer";
      return std::nullopt;
    }
    EXPECT_FALSE((*offer)->already_stored);
    return (*offer)->access;
  }

  // Offers, uploads the xorbs and the shard of `file`; the access used.
  static std::optional<XetWriteAccess> upload(HubClient& c, const PackedFile& file,
                                              std::uint64_t size) {
    auto offered = offer(c, file, size);
    if (!offered) {
      return std::nullopt;
    }
    const XetWriteAccess& access = *offered;
    for (const xet::SealedXorb& x : file.xorbs) {
      auto inserted = c.xetUploadXorb(access, x.hash.hex(), x.bytes);
      EXPECT_TRUE(inserted) << inserted.error().message;
      if (!inserted) {
        return std::nullopt;
      }
      EXPECT_TRUE(*inserted);
    }
    auto registered = c.xetUploadShard(access, file.shard);
    EXPECT_TRUE(registered) << registered.error().message;
    if (!registered) {
      return std::nullopt;
    }
    return access;
  }

  static inline std::unique_ptr<std::map<std::string, std::unique_ptr<HubdProcess>>> servers_;
};

TEST_F(HubdXetUploadTest, UploadsCommitsAndReadsBack) {
  auto c = client("xet");
  std::string data = randomBytes(2 * 1024 * 1024 + 777, 99);
  data[0] = '\0';
  const PackedFile file = pack(data);
  ASSERT_GE(file.chunks.size(), 8u);
  auto access = upload(*c, file, data.size());
  ASSERT_TRUE(access);
  EXPECT_EQ(access->refresh_url, url("xet") + "/api/models/alice/up/xet-write-token/main");
  // A xorb sent again is not inserted again.
  auto again = c->xetUploadXorb(*access, file.xorbs.front().hash.hex(), file.xorbs.front().bytes);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(*again);

  CommitRequest request;
  request.summary = "Add weights via Xet";
  request.operations.push_back(
      {CommitOperation::Kind::kLfsFile, "weights.bin", "", file.sha256, data.size()});
  auto commit = c->commit(kUpRepo, "main", request);
  ASSERT_TRUE(commit) << commit.error().message;

  auto entries = c->pathsInfo(kUpRepo, commit->commit, {"weights.bin"});
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 1u);
  const TreeEntry& entry = entries->front();
  EXPECT_EQ(entry.size, data.size());
  EXPECT_EQ(entry.lfs_sha256, file.sha256);
  ASSERT_TRUE(entry.xet_hash);
  std::vector<xet::ChunkLeaf> leaves;
  {
    std::size_t start = 0;
    for (std::size_t end : xet::chunkBoundaries(bytesOf(data))) {
      leaves.push_back({file.chunks[leaves.size()], end - start});
      start = end;
    }
  }
  EXPECT_EQ(*entry.xet_hash, xet::fileHash(leaves).hex());

  // Through the CAS, assembled from the xorbs' chunks...
  auto r = c->xetReconstruction(kUpRepo, commit->commit, *entry.xet_hash, 0, data.size() - 1);
  ASSERT_TRUE(r) << r.error().message;
  std::string got = assemble(*c, *r, 0, data.size() - 1);
  EXPECT_TRUE(got == data);
  // ...and through resolve.
  std::string read(data.size(), '\0');
  auto n = c->readRange(kUpRepo, commit->commit, "weights.bin", 0, read);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, data.size());
  EXPECT_TRUE(read == data);

  // The second offer for the same content: already stored.
  auto second = c->offerXetUpload(kUpRepo, "main", file.sha256, data.size());
  ASSERT_TRUE(second) << second.error().message;
  ASSERT_TRUE(second->has_value());
  EXPECT_TRUE((*second)->already_stored);
  EXPECT_EQ(hubdStats(url("xet"))["cdn_requests_with_authorization"], 0);
}

TEST_F(HubdXetUploadTest, DedupQueryFindsTheFirstChunk) {
  auto c = client("xet");
  std::string data = randomBytes(600 * 1024, 7);
  const PackedFile file = pack(data);
  auto access = upload(*c, file, data.size());
  ASSERT_TRUE(access);
  auto answer = c->xetQueryChunk(*access, file.chunks.front().hex());
  ASSERT_TRUE(answer) << answer.error().message;
  ASSERT_TRUE(answer->has_value());
  auto shard = xet::parseShard(bytesOf(**answer));
  ASSERT_TRUE(shard) << shard.error().message;
  const xet::MerkleHash probe = shard->hmac_key.isZero()
                                    ? file.chunks.front()
                                    : xet::keyedChunkHash(shard->hmac_key, file.chunks.front());
  bool found = false;
  for (const xet::ShardXorb& x : shard->xorbs) {
    for (const xet::ShardXorbChunk& chunk : x.chunks) {
      found = found || chunk.chunk_hash == probe;
    }
  }
  EXPECT_TRUE(found);
  // A chunk the CAS has never seen.
  auto unknown = c->xetQueryChunk(*access, std::string(64, '7'));
  ASSERT_TRUE(unknown) << unknown.error().message;
  EXPECT_FALSE(unknown->has_value());
}

TEST_F(HubdXetUploadTest, RefusalsAreErrors) {
  auto c = client("xet");
  std::string data = randomBytes(300 * 1024, 11);
  const PackedFile file = pack(data);
  const auto offered = offer(*c, file, data.size());
  ASSERT_TRUE(offered);
  const XetWriteAccess& access = *offered;
  // A shard whose xorbs were never sent.
  auto missing = c->xetUploadShard(access, file.shard);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().http_status, 400) << missing.error().message;
  EXPECT_NE(missing.error().message.find("which was not uploaded"), std::string::npos)
      << missing.error().message;
  EXPECT_EQ(missing.error().message.find(access.token), std::string::npos);
  // A xorb whose bytes are not its hash.
  auto forged = c->xetUploadXorb(access, std::string(64, '1'), file.xorbs.front().bytes);
  ASSERT_FALSE(forged);
  EXPECT_EQ(forged.error().http_status, 400) << forged.error().message;
  EXPECT_NE(forged.error().message.find("xorb body hashes to"), std::string::npos)
      << forged.error().message;

  // A read token (xet-read-token) may not write.
  httplib::Client http(url("xet"));
  auto res = http.Get("/api/models/alice/up/xet-read-token/main",
                      {{"Authorization", "Bearer " + kReadToken}});
  ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
  auto token = nlohmann::json::parse(res->body);
  XetWriteAccess read_only{token["casUrl"], token["accessToken"], token["exp"], ""};
  // hf-hubd refuses these before reading the body, which then reads as the next request on
  // that kept-alive connection: a client of its own for each.
  auto refused = client("xet")->xetUploadShard(read_only, file.shard);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, HubErrorKind::kForbidden) << refused.error().message;
  EXPECT_EQ(refused.error().http_status, 403);
  auto refused_xorb = client("xet")->xetUploadXorb(read_only, file.xorbs.front().hash.hex(),
                                                   file.xorbs.front().bytes);
  ASSERT_FALSE(refused_xorb);
  EXPECT_EQ(refused_xorb.error().http_status, 403);
  // A read-only Hub token gets no offer: the batch is refused.
  auto reader = client("xet", kReadToken);
  auto no_offer = reader->offerXetUpload(kUpRepo, "main", file.sha256, data.size());
  ASSERT_FALSE(no_offer);
  EXPECT_TRUE(no_offer.error().kind == HubErrorKind::kForbidden ||
              no_offer.error().kind == HubErrorKind::kUnauthorized)
      << no_offer.error().message;
}

TEST_F(HubdXetUploadTest, CasUnauthorizedRefreshesOnceThenFails) {
  auto c = client("deny");
  std::string data = randomBytes(100 * 1024, 12);
  const PackedFile file = pack(data);
  const auto access = offer(*c, file, data.size());
  ASSERT_TRUE(access);
  auto before = hubdStats(url("deny"));
  // A GET: hf-hubd's injected 401 answers a POST without reading its body, which then reads as
  // the next request on that kept-alive connection (the refresh would get a 400).
  auto r = c->xetQueryChunk(*access, file.chunks.front().hex());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HubErrorKind::kUnauthorized) << r.error().message;
  EXPECT_EQ(r.error().http_status, 401);
  auto after = hubdStats(url("deny"));
  EXPECT_EQ(statCount(after, "api") - statCount(before, "api"),
            1u);  // the fresh write token
  EXPECT_EQ(statCount(after, "cas") - statCount(before, "cas"), 2u);
}

TEST_F(HubdXetUploadTest, ServerWithoutXetMakesNoOffer) {
  auto c = client("plain");
  std::string data = randomBytes(64 * 1024, 13);
  const std::string sha = common::sha256Hex(data);
  auto offer = c->offerXetUpload(kUpRepo, "main", sha, data.size());
  ASSERT_TRUE(offer) << offer.error().message;
  EXPECT_FALSE(offer->has_value());
  // The caller's fallback: a plain LFS upload, then the commit.
  auto path = dir_ / "plain.bin";
  std::ofstream(path, std::ios::binary)
      .write(data.data(), static_cast<std::streamsize>(data.size()));
  auto uploaded = c->uploadLfs(kUpRepo, "main", sha, data.size(), path.string());
  ASSERT_TRUE(uploaded) << uploaded.error().message;
  CommitRequest request;
  request.summary = "Add via LFS";
  request.operations.push_back(
      {CommitOperation::Kind::kLfsFile, "plain.bin", "", sha, data.size()});
  auto commit = c->commit(kUpRepo, "main", request);
  ASSERT_TRUE(commit) << commit.error().message;
  std::string read(data.size(), '\0');
  auto n = c->readRange(kUpRepo, commit->commit, "plain.bin", 0, read);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_TRUE(read == data);
}

}  // namespace
}  // namespace hfm::hub::testing
