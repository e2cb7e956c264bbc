// SPDX-License-Identifier: Apache-2.0
#include "xet/xorb.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/hex.h"
#include "xet/hashing.h"

#include "split_mix_data.h"

namespace hfm::xet {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytesFromHex(std::string_view hex) {
  auto bytes = common::fromHex(hex);
  EXPECT_TRUE(bytes.has_value());
  return bytes.value_or(Bytes{});
}

Bytes bytesOf(std::string_view text) { return Bytes(text.begin(), text.end()); }

using test_data::splitMix64Data;

// Text that LZ4 shrinks well.
Bytes textData(std::size_t n) {
  std::string text;
  for (int i = 0; text.size() < n; ++i) {
    text += "chunk line " + std::to_string(i % 977) + " of some compressible text\n";
  }
  text.resize(n);
  return bytesOf(text);
}

// Little u32 counters: lane 0 varies, lanes 1-3 are almost constant (what BG4 is for).
Bytes counterData(std::size_t n) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t value = static_cast<std::uint32_t>((i / 4) * 2654435761U >> 7) & 0x3FFU;
    out[i] = static_cast<std::uint8_t>(value >> (8 * (i % 4)));
  }
  return out;
}

Bytes header(std::uint8_t version, std::uint32_t compressed, std::uint8_t scheme,
             std::uint32_t uncompressed) {
  return {version,
          static_cast<std::uint8_t>(compressed),
          static_cast<std::uint8_t>(compressed >> 8),
          static_cast<std::uint8_t>(compressed >> 16),
          scheme,
          static_cast<std::uint8_t>(uncompressed),
          static_cast<std::uint8_t>(uncompressed >> 8),
          static_cast<std::uint8_t>(uncompressed >> 16)};
}

Bytes chunkOf(const Bytes& payload, CompressionScheme scheme, std::uint32_t uncompressed) {
  Bytes out = header(0, static_cast<std::uint32_t>(payload.size()),
                     static_cast<std::uint8_t>(scheme), uncompressed);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes serialized(const Bytes& chunk, CompressionScheme scheme) {
  Bytes out;
  std::size_t appended = appendChunk(out, chunk, scheme);
  EXPECT_EQ(appended, out.size());
  return out;
}

// Reads every chunk of `data`; the error of the first bad one, else the chunks.
common::Result<std::vector<Bytes>> readAll(const Bytes& data) {
  ChunkReader reader(data);
  std::vector<Bytes> chunks;
  Bytes chunk;
  while (true) {
    auto more = reader.next(chunk);
    if (!more) {
      return common::makeError(more.error().kind, more.error().message);
    }
    if (!*more) {
      return chunks;
    }
    chunks.push_back(chunk);
  }
}

void expectCorrupt(const Bytes& data, const std::string& what) {
  auto chunks = readAll(data);
  ASSERT_FALSE(chunks.has_value()) << what;
  EXPECT_EQ(chunks.error().kind, common::ErrorKind::kCorrupt) << what;
}

ChunkHeader headerOf(const Bytes& chunk) {
  auto parsed = parseChunkHeader(chunk);
  EXPECT_TRUE(parsed.has_value());
  return parsed.value_or(ChunkHeader{});
}

// Frames written by Debian's lz4 1.9.4 CLI (generated once, not at test time).
// `lz4 -B7 -BD -c` on textFrameInput(): 4 MiB max block, content checksum; the CLI writes a
// single-block input with the independent flag (FLG 0x64, BD 0x70).
constexpr std::string_view kCliTextFrame =
    "04224d186440a711020000ff0d68662d6d6f756e74206c7a34206672616d65206c696e65203030300a1c00071f"
    "311c00081f321c00081f331c00081f341c00081f351c00081f361c00081f371c00081f381c00081f391c00071f"
    "311801081f311801081f311801081f311801081f311801081f311801081f311801081f311801081f311801081f"
    "311801081f321801081f321801081f321801081f321801081f321801081f321801081f321801081f321801081f"
    "321801081f321801081f331801081f331801081f331801081f331801081f331801081f331801081f331801081f"
    "331801081f331801081f331801081f341801081f341801081f341801081f341801081f341801081f341801081f"
    "341801081f341801081f341801081f341801081f351801081f351801081f351801081f351801081f351801081f"
    "351801081f351801081f351801081f351801081f351801081f361801081f361801081f361801081f361801081f"
    "361801081f361801081f361801081f361801081f361801081f361801081f371801081f371801081f371801081f"
    "371801081f371801081f371801081f371801081f371801081f371801081f371801081f381801081f381801081f"
    "381801081f381801081f381801081f381801081f381801081f381801081f381801081f381801081f391801081f"
    "391801081f391801081f391801081f391801081f391801081f391801081f391801081f3918010650203039390a"
    "0000000043f8e2c7";
// `lz4 -B4 -BD --no-frame-crc -c` on linkedFrameInput(): two linked 64 KiB blocks, the second
// made of matches into the first (1551 bytes; independent blocks take 2551). Its BD byte was then
// set to 4 MiB (0x70) and the header checksum recomputed, giving huggingface.js's frame
// descriptor (FLG 0x40, BD 0x70); `lz4 -d` decodes it.
constexpr std::string_view kLinked4MiBFrame =
    "04224d184070dff2040000ffffffffdcc67e816b4bfbe2fb54f6bddf7c1ce18701bf31de56720f4767668759aa"
    "883c59ea56137bd285a1d83c54552f37ae655bda027998cce31a768e5fd9998f1f3f36ee43784d0dfabea6dae4"
    "868edc296d4eff56e17020fb8fb1580590c509dc53cdaa3b489952d3529d069feab5c206139849b2011eac3288"
    "319c52469571368f57f6391d16fa8874f5987c175c41bb6d718e0f7059c7011b2f333d91c01da50d0dab338d7e"
    "5e8f3ee66874a63ab1c39311a864c7dbcae060e1f3bf090067a2e325a0213187d562c5a84f7e2e096b949fb06d"
    "a99e5a0b467080b6cf470ca6a52ad8acfba0ebb779247223924880c5a6a785b7d78c90e4ab63445266e39c3325"
    "f95eaaba73605d4b717ebea98c571971c3ca5ee52a33ac885166a17b7567649a69ef6f5642a01d51c502f7bb92"
    "45be6f0db638cc10fdbb54511c7b079427937d92c3d4c6a56151013838a7bff1040d159b801f83d5a469887c9f"
    "b601da9317458b12b202335c50d6e156a4ad424a5cdd8661e90312e10f9bea262c61dc62486b6d14e003854a72"
    "46da96c87d1cd1053ee59270435f6c0305b3ebb320354d7e66500136c033e10fc9382ee929194f5eb1d1498b3b"
    "53fd9f3fee2525357b0d11af4c118c32d4da7fd81657e1a6ce7dc1ae62bf13e4874c3ac1b30c599947585abd78"
    "7cba5001ed1bea8a4988eed61485abb02cde3593112d011cd7284330e7b008ed79991351d23a77ad3db4f8c7ca"
    "0322d2c9c6270f04ce7a3fc0682ccf726a09c24200725e4134f896693fbd3a58918be1cca2b192dd77a135fef3"
    "4bbcb1e337110dc765bef161e55e06ff35c776895df46e4accb5547ef115c8a0998f5c700bef14c6e50a9c19b4"
    "1d4cce5606dc421125e7966f0f213ddff957470ddf2b6afc778dd5e9d9f9b5e0eb72841a8e42141d8a6e5f923a"
    "fb0be5f6e4c09f45d62a83bfb1cd6ac4bf8cdedfb2f779f76057fc3b3d7b2ecb9c417b27a5e34858150717e0b9"
    "855f63a8f6291243006adbee6424528bc43b5dbb3518a2d389ffb2a05930f2dbd5c14d6a4b369c5d78e6d0a392"
    "0de59011b0860f413480a689bde92f78470d5095871bbfe37f943736e46f39382f0c833a85df51bc48d956bb79"
    "9579bdd448509da9655d177c130b125c4f67b004e19e18b3003afecbc41cf72b50387e4ebb13c520c3fe3da430"
    "0fe4470ae452017a17813180805f355a2d15ccb022152d80d1e6e4cc58af6f057d859c356a74a0f0284ff7f9dc"
    "3800b3c4ee544ef1d9eaadc2d7eb1924c456a88bcb546baf70585a0759fe0006dfa1e61859bac15b23fc5b1e70"
    "30421ad4d032729066426c9da2d1ed773e30b6ae920d612ef6a21a49dba11d89a8def23856ba6babca535a53f6"
    "6d1381ae1fa5fc4a3dd7450189e4a40098f6fb4d8664465f59ace803ffffffffffffffffffffffffffffffffff"
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    "fffffffffffffffffffffc5004ce7a3fc00a0100000fe8fdffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
    "ffffffffffffffffffffe8504d0dfabea600000000";

Bytes textFrameInput() {
  std::string text;
  for (int i = 0; i < 100; ++i) {
    char line[32];
    std::snprintf(line, sizeof line, "hf-mount lz4 frame line %03d\n", i);
    text += line;
  }
  return bytesOf(text);
}

// 131072 bytes repeating a 1000-byte LCG pattern.
Bytes linkedFrameInput() {
  Bytes pattern;
  std::uint32_t x = 1;
  for (int i = 0; i < 1000; ++i) {
    x = x * 1103515245U + 12345U;
    pattern.push_back(static_cast<std::uint8_t>(x >> 16));
  }
  Bytes out(131072);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = pattern[i % pattern.size()];
  }
  return out;
}

// --- the chunk codec ---

TEST(XorbChunkTest, HelloWorldIsTheReferenceChunk) {
  // XET.md §7.4: header 000b0000000b0000, then the 11 bytes; compression cannot shrink them.
  const Bytes hello = bytesOf("hello world");
  for (auto scheme :
       {CompressionScheme::kNone, CompressionScheme::kLz4, CompressionScheme::kByteGrouping4Lz4}) {
    Bytes out = serialized(hello, scheme);
    ASSERT_EQ(out.size(), 19u);
    EXPECT_EQ(common::toHex(out), "000b0000000b0000" + common::toHex(hello));
  }
  auto parsed = parseChunkHeader(serialized(hello, CompressionScheme::kNone));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->compressed_size, 11u);
  EXPECT_EQ(parsed->uncompressed_size, 11u);
  EXPECT_EQ(parsed->scheme, CompressionScheme::kNone);
}

TEST(XorbChunkTest, AppendsAfterExistingBytes) {
  Bytes out = {1, 2, 3};
  EXPECT_EQ(appendChunk(out, bytesOf("abc"), CompressionScheme::kNone), 11u);
  EXPECT_EQ(common::toHex(out),
            "010203"
            "0003000000030000"
            "616263");
}

TEST(XorbChunkTest, RoundTripsThroughEveryScheme) {
  struct Input {
    const char* name;
    Bytes data;
  };
  const std::vector<Input> inputs = {
      {"empty", {}},
      {"one byte", {42}},
      {"random 64 KiB", splitMix64Data(65536, 1)},
      {"random odd", splitMix64Data(4099, 2)},
      {"text 64 KiB", textData(65536)},
      {"text max", textData(kMaxUncompressedChunkSize)},
      {"text odd", textData(kMaxUncompressedChunkSize - 1)},
      {"zeros max", Bytes(kMaxUncompressedChunkSize, 0)},
      {"counters odd", counterData(40003)},
  };
  for (const auto& input : inputs) {
    for (auto scheme : {CompressionScheme::kNone, CompressionScheme::kLz4,
                        CompressionScheme::kByteGrouping4Lz4}) {
      SCOPED_TRACE(std::string(input.name) + " scheme " + std::to_string(static_cast<int>(scheme)));
      Bytes out = serialized(input.data, scheme);
      ChunkHeader parsed = headerOf(out);
      EXPECT_EQ(parsed.uncompressed_size, input.data.size());
      EXPECT_EQ(parsed.compressed_size + kChunkHeaderSize, out.size());
      // Stored compressed only when strictly smaller, and then with the scheme asked for.
      if (parsed.scheme == CompressionScheme::kNone) {
        EXPECT_EQ(parsed.compressed_size, input.data.size());
      } else {
        EXPECT_EQ(parsed.scheme, scheme);
        EXPECT_LT(parsed.compressed_size, input.data.size());
      }
      auto chunks = readAll(out);
      ASSERT_TRUE(chunks.has_value()) << chunks.error().message;
      ASSERT_EQ(chunks->size(), 1u);
      EXPECT_EQ(chunks->front(), input.data);
    }
  }
}

TEST(XorbChunkTest, CompressibleDataIsCompressed) {
  Bytes text = textData(65536);
  EXPECT_EQ(headerOf(serialized(text, CompressionScheme::kLz4)).scheme, CompressionScheme::kLz4);
  Bytes counters = counterData(65536);
  ChunkHeader bg4 = headerOf(serialized(counters, CompressionScheme::kByteGrouping4Lz4));
  EXPECT_EQ(bg4.scheme, CompressionScheme::kByteGrouping4Lz4);
  // Byte grouping helps on this data.
  EXPECT_LT(bg4.compressed_size,
            headerOf(serialized(counters, CompressionScheme::kLz4)).compressed_size);
}

TEST(XorbChunkTest, IncompressibleDataFallsBackToRaw) {
  for (std::size_t n :
       {std::size_t{1}, std::size_t{100}, std::size_t{65536}, kMaxUncompressedChunkSize}) {
    Bytes data = splitMix64Data(n, n);
    for (auto scheme : {CompressionScheme::kLz4, CompressionScheme::kByteGrouping4Lz4}) {
      Bytes out = serialized(data, scheme);
      ASSERT_EQ(out.size(), kChunkHeaderSize + n);
      EXPECT_EQ(headerOf(out).scheme, CompressionScheme::kNone);
      EXPECT_TRUE(std::equal(data.begin(), data.end(), out.begin() + kChunkHeaderSize));
    }
  }
}

TEST(XorbChunkTest, Bg4PayloadIsAnLz4FrameOfTheSplitBytes) {
  Bytes data = counterData(50001);
  Bytes out = serialized(data, CompressionScheme::kByteGrouping4Lz4);
  ASSERT_EQ(headerOf(out).scheme, CompressionScheme::kByteGrouping4Lz4);
  // Relabelled as plain LZ4, the payload decodes to the lanes.
  out[4] = static_cast<std::uint8_t>(CompressionScheme::kLz4);
  auto chunks = readAll(out);
  ASSERT_TRUE(chunks.has_value()) << chunks.error().message;
  Bytes split(data.size());
  detail::bg4Split(data, split);
  EXPECT_EQ(chunks->front(), split);
}

TEST(XorbChunkTest, Bg4SplitFollowsTheLaneRule) {
  // Source indices in split order for n = 0..9: lane k holds k, k+4, ...; lanes 0..n%4-1 are
  // one longer.
  const std::vector<std::vector<std::uint8_t>> expected = {
      {},
      {0},
      {0, 1},
      {0, 1, 2},
      {0, 1, 2, 3},
      {0, 4, 1, 2, 3},
      {0, 4, 1, 5, 2, 3},
      {0, 4, 1, 5, 2, 6, 3},
      {0, 4, 1, 5, 2, 6, 3, 7},
      {0, 4, 8, 1, 5, 2, 6, 3, 7},
  };
  for (std::size_t n = 0; n < expected.size(); ++n) {
    Bytes input(n);
    for (std::size_t i = 0; i < n; ++i) {
      input[i] = static_cast<std::uint8_t>(100 + i);
    }
    Bytes split(n);
    detail::bg4Split(input, split);
    Bytes want;
    for (std::uint8_t index : expected[n]) {
      want.push_back(static_cast<std::uint8_t>(100 + index));
    }
    EXPECT_EQ(split, want) << n;
    Bytes regrouped(n);
    detail::bg4Regroup(split, regrouped);
    EXPECT_EQ(regrouped, input) << n;
  }
}

TEST(XorbChunkTest, Bg4RegroupInvertsSplitOnOddSizes) {
  for (std::size_t n : {std::size_t{13}, std::size_t{1023}, std::size_t{4097}, std::size_t{65537},
                        std::size_t{131071}}) {
    Bytes input = splitMix64Data(n, n);
    Bytes split(n);
    detail::bg4Split(input, split);
    // Lane 0 starts with bytes 0, 4, 8.
    EXPECT_EQ(split[0], input[0]);
    EXPECT_EQ(split[1], input[4]);
    EXPECT_EQ(split[2], input[8]);
    // Lane 1 starts after lane 0's (n + 3) / 4 bytes.
    EXPECT_EQ(split[(n + 3) / 4], input[1]);
    Bytes regrouped(n);
    detail::bg4Regroup(split, regrouped);
    EXPECT_EQ(regrouped, input) << n;
  }
}

TEST(XorbChunkTest, DecodesFramesOfTheLz4Cli) {
  struct Case {
    const char* name;
    std::string_view frame_hex;
    Bytes plain;
  };
  for (const auto& c : {Case{"text, -B7 -BD, checksum", kCliTextFrame, textFrameInput()},
                        Case{"linked, 4 MiB blocks", kLinked4MiBFrame, linkedFrameInput()}}) {
    SCOPED_TRACE(c.name);
    Bytes frame = bytesFromHex(c.frame_hex);
    Bytes chunk =
        chunkOf(frame, CompressionScheme::kLz4, static_cast<std::uint32_t>(c.plain.size()));
    auto chunks = readAll(chunk);
    ASSERT_TRUE(chunks.has_value()) << chunks.error().message;
    ASSERT_EQ(chunks->size(), 1u);
    EXPECT_EQ(chunks->front(), c.plain);
  }
  // The linked frame's descriptor is huggingface.js's.
  Bytes linked = bytesFromHex(kLinked4MiBFrame);
  EXPECT_EQ(linked[4], 0x40);
  EXPECT_EQ(linked[5], 0x70);
}

TEST(XorbChunkTest, RejectsAFrameWhoseChecksumFails) {
  // The CLI frame carries a content checksum (its last 4 bytes); a flipped data byte that still
  // decodes to the right size is caught by it.
  Bytes frame = bytesFromHex(kCliTextFrame);
  const auto size = static_cast<std::uint32_t>(textFrameInput().size());
  ASSERT_EQ(frame.size(), 548u);
  Bytes bad_sum = frame;
  bad_sum[547] ^= 1;
  expectCorrupt(chunkOf(bad_sum, CompressionScheme::kLz4, size), "checksum byte");
  Bytes bad_literal = frame;
  bad_literal[20] ^= 1;  // a literal of the first line
  expectCorrupt(chunkOf(bad_literal, CompressionScheme::kLz4, size), "literal byte");
}

// --- hostile input ---

TEST(XorbChunkTest, RejectsBadHeaders) {
  auto rejects = [](const Bytes& bytes, const char* what) {
    auto parsed = parseChunkHeader(bytes);
    ASSERT_FALSE(parsed.has_value()) << what;
    EXPECT_EQ(parsed.error().kind, common::ErrorKind::kCorrupt) << what;
  };
  rejects({}, "empty");
  rejects(Bytes(7, 0), "seven bytes");
  rejects(bytesOf("XETBLOB\x01"), "xorb footer");
  rejects(bytesOf(std::string("XETBLOB") + std::string(1, '\0')), "xorb footer v0");
  rejects(header(1, 1, 0, 1), "version 1");
  rejects(header(0xFF, 1, 0, 1), "version 255");
  rejects(header(0, 1, 3, 1), "scheme 3");
  rejects(header(0, 1, 99, 1), "scheme 99 (in-memory Auto)");
  rejects(header(0, 1, 1, 131073), "uncompressed over 128 KiB");
  rejects(header(0, 0xFFFFFF, 1, 1), "compressed u24 max");
  rejects(header(0, 262145, 1, 1000), "compressed over 256 KiB");
  // The limits themselves are fine.
  EXPECT_TRUE(parseChunkHeader(header(0, 262144, 1, 131072)).has_value());
  EXPECT_TRUE(parseChunkHeader(header(0, 0, 0, 0)).has_value());
}

TEST(XorbChunkTest, RejectsXetBlobWhereAChunkBelongs) {
  Bytes xorb = serialized(bytesOf("hello world"), CompressionScheme::kNone);
  Bytes footer = bytesOf("XETBLOB");
  footer.push_back(1);
  footer.resize(footer.size() + 32, 0);
  xorb.insert(xorb.end(), footer.begin(), footer.end());
  expectCorrupt(xorb, "footer after a chunk");
}

TEST(XorbChunkTest, RejectsTruncation) {
  Bytes text = serialized(textData(20000), CompressionScheme::kLz4);
  ASSERT_EQ(headerOf(text).scheme, CompressionScheme::kLz4);
  Bytes raw = serialized(splitMix64Data(300, 3), CompressionScheme::kNone);
  for (const Bytes& chunk : {text, raw}) {
    for (std::size_t n = 1; n < chunk.size(); ++n) {
      expectCorrupt(Bytes(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n)),
                    "prefix " + std::to_string(n));
    }
  }
  // A truncated LZ4 frame whose header is consistent with it (compressed size shortened).
  ChunkHeader h = headerOf(text);
  Bytes frame(text.begin() + kChunkHeaderSize, text.end());
  for (std::size_t n = 0; n < frame.size(); ++n) {
    Bytes shorter(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
    expectCorrupt(chunkOf(shorter, CompressionScheme::kLz4, h.uncompressed_size),
                  "frame prefix " + std::to_string(n));
  }
}

TEST(XorbChunkTest, RejectsSizesThatDisagreeWithThePayload) {
  Bytes data = textData(20000);
  Bytes chunk = serialized(data, CompressionScheme::kLz4);
  Bytes frame(chunk.begin() + kChunkHeaderSize, chunk.end());
  for (auto scheme : {CompressionScheme::kLz4, CompressionScheme::kByteGrouping4Lz4}) {
    // The frame holds 20000 bytes; the header claims one fewer or one more.
    expectCorrupt(chunkOf(frame, scheme, 19999), "frame larger than the header");
    expectCorrupt(chunkOf(frame, scheme, 20001), "frame smaller than the header");
    expectCorrupt(chunkOf(frame, scheme, 0), "frame for an empty chunk");
  }
  // Raw chunks must say the same size twice.
  expectCorrupt(chunkOf(Bytes(10, 7), CompressionScheme::kNone, 11), "raw, sizes differ");
  expectCorrupt(chunkOf(Bytes(10, 7), CompressionScheme::kNone, 9), "raw, sizes differ");
}

TEST(XorbChunkTest, RejectsBytesAfterTheFrame) {
  Bytes data = textData(20000);
  Bytes chunk = serialized(data, CompressionScheme::kLz4);
  Bytes frame(chunk.begin() + kChunkHeaderSize, chunk.end());
  for (const Bytes& tail : {Bytes{0}, Bytes{1, 2, 3, 4}, frame}) {
    Bytes longer = frame;
    longer.insert(longer.end(), tail.begin(), tail.end());
    expectCorrupt(chunkOf(longer, CompressionScheme::kLz4, 20000),
                  "tail of " + std::to_string(tail.size()));
  }
}

TEST(XorbChunkTest, RejectsGarbagePayloads) {
  expectCorrupt(chunkOf(bytesOf("not an lz4 frame"), CompressionScheme::kLz4, 100), "text");
  expectCorrupt(chunkOf(Bytes(64, 0), CompressionScheme::kLz4, 64), "zeros");
  expectCorrupt(chunkOf(Bytes{}, CompressionScheme::kLz4, 0), "empty frame");
  expectCorrupt(chunkOf(splitMix64Data(1000, 9), CompressionScheme::kByteGrouping4Lz4, 4000),
                "random bg4");
}

TEST(XorbChunkTest, FlippedFrameBytesFailOrKeepTheSize) {
  Bytes data = textData(30000);
  Bytes chunk = serialized(data, CompressionScheme::kLz4);
  for (std::size_t i = kChunkHeaderSize; i < chunk.size(); ++i) {
    for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0xFF}}) {
      Bytes bad = chunk;
      bad[i] ^= mask;
      auto chunks = readAll(bad);
      if (chunks.has_value()) {
        ASSERT_EQ(chunks->size(), 1u);
        EXPECT_EQ(chunks->front().size(), data.size()) << i;
      } else {
        EXPECT_EQ(chunks.error().kind, common::ErrorKind::kCorrupt) << i;
      }
    }
  }
}

// --- reading a xorb ---

TEST(ChunkReaderTest, ReadsChunksInOrder) {
  std::vector<Bytes> chunks = {
      bytesOf("hello world"), textData(70000), splitMix64Data(5000, 4), {}, counterData(1001)};
  Bytes xorb;
  std::vector<std::size_t> ends;
  const CompressionScheme schemes[] = {CompressionScheme::kNone, CompressionScheme::kLz4,
                                       CompressionScheme::kLz4, CompressionScheme::kLz4,
                                       CompressionScheme::kByteGrouping4Lz4};
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    appendChunk(xorb, chunks[i], schemes[i]);
    ends.push_back(xorb.size());
  }
  ChunkReader reader(xorb);
  Bytes out = {9, 9, 9};
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    auto more = reader.next(out);
    ASSERT_TRUE(more.has_value()) << more.error().message;
    ASSERT_TRUE(*more);
    EXPECT_EQ(out, chunks[i]) << i;
    EXPECT_EQ(reader.offset(), ends[i]);
  }
  auto end = reader.next(out);
  ASSERT_TRUE(end.has_value());
  EXPECT_FALSE(*end);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(reader.offset(), xorb.size());
}

TEST(ChunkReaderTest, EmptyDataHasNoChunks) {
  ChunkReader reader({});
  Bytes out;
  auto more = reader.next(out);
  ASSERT_TRUE(more.has_value());
  EXPECT_FALSE(*more);
}

TEST(ChunkReaderTest, StopsAtTheFirstBadChunk) {
  Bytes xorb = serialized(bytesOf("hello world"), CompressionScheme::kNone);
  xorb.push_back(0);  // a one-byte remnant of a header
  ChunkReader reader(xorb);
  Bytes out;
  auto first = reader.next(out);
  ASSERT_TRUE(first.has_value() && *first);
  EXPECT_EQ(reader.offset(), 19u);
  auto second = reader.next(out);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().kind, common::ErrorKind::kCorrupt);
  EXPECT_EQ(reader.offset(), 19u);
}

// --- building a xorb ---

TEST(XorbBuilderTest, TracksTheChunkTable) {
  XorbBuilder builder;  // LZ4 by default
  EXPECT_TRUE(builder.empty());
  std::vector<Bytes> chunks = {textData(10000), splitMix64Data(777, 5), bytesOf("hello world")};
  std::uint32_t offset = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    MerkleHash hash;
    hash.bytes[0] = static_cast<std::uint8_t>(i + 1);
    ASSERT_TRUE(builder.fits(chunks[i].size()));
    builder.add(hash, chunks[i]);
    const XorbChunk& entry = builder.chunks().back();
    EXPECT_EQ(entry.hash, hash);
    EXPECT_EQ(entry.uncompressed_offset, offset);
    EXPECT_EQ(entry.uncompressed_size, chunks[i].size());
    EXPECT_EQ(entry.serialized_end, builder.bytes().size());
    offset += static_cast<std::uint32_t>(chunks[i].size());
  }
  EXPECT_FALSE(builder.empty());
  // The text chunk was compressed, the random one was not.
  EXPECT_LT(builder.chunks()[0].serialized_end, kChunkHeaderSize + 10000);
  EXPECT_EQ(builder.chunks()[1].serialized_end - builder.chunks()[0].serialized_end,
            kChunkHeaderSize + 777);
  auto read = readAll(builder.bytes());
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(*read, chunks);
}

TEST(XorbBuilderTest, StopsAtTheChunkCountLimit) {
  XorbBuilder builder(CompressionScheme::kNone);
  const Bytes one = {1};
  for (std::size_t i = 0; i < kMaxXorbChunks; ++i) {
    ASSERT_TRUE(builder.fits(1)) << i;
    builder.add(MerkleHash{}, one);
  }
  EXPECT_FALSE(builder.fits(0));
  EXPECT_FALSE(builder.fits(1));
  EXPECT_EQ(builder.chunks().size(), 8192u);
}

TEST(XorbBuilderTest, StopsAtTheSerializedSizeLimit) {
  XorbBuilder builder(CompressionScheme::kNone);
  EXPECT_TRUE(builder.fits(kMaxUncompressedChunkSize));
  EXPECT_FALSE(builder.fits(kMaxUncompressedChunkSize + 1));
  const Bytes big = splitMix64Data(kMaxUncompressedChunkSize, 6);
  // 511 raw chunks of 128 KiB + 8 take 66,981,880 bytes; 126,984 remain under 64 MiB.
  for (int i = 0; i < 511; ++i) {
    ASSERT_TRUE(builder.fits(big.size())) << i;
    builder.add(MerkleHash{}, big);
  }
  EXPECT_EQ(builder.bytes().size(), 511u * (kMaxUncompressedChunkSize + kChunkHeaderSize));
  EXPECT_FALSE(builder.fits(big.size()));
  EXPECT_TRUE(builder.fits(kMaxXorbBytes - builder.bytes().size() - kChunkHeaderSize));
  EXPECT_FALSE(builder.fits(kMaxXorbBytes - builder.bytes().size() - kChunkHeaderSize + 1));
}

// --- hashes (need xet/hashing) ---

TEST(XorbBuilderTest, HelloWorldXorbHash) {
  const Bytes hello = bytesOf("hello world");
  XorbBuilder builder;
  builder.add(chunkHash(hello), hello);
  // XET.md §7.4: a one-chunk xorb is named by its chunk.
  EXPECT_EQ(builder.hash().hex(),
            "4e39378b9d359f118190557a1f44130219a54e5fcfa07bd96cf50b466fe651b1");
  EXPECT_EQ(common::toHex(builder.bytes()), "000b0000000b0000" + common::toHex(hello));
}

// XET.md §7.2/§7.4: SplitMix64 seed 0, 1,000,000 bytes cut at these ends, all in one xorb.
const std::vector<std::size_t> kSplitMixEnds = {
    84493,  134421, 144853, 243318, 271793, 336457, 467529, 494581, 582000, 596735,
    616815, 653164, 678202, 724510, 815591, 827760, 958832, 991092, 1000000};
constexpr std::string_view kSplitMixXorbHash =
    "6f2ce16ca5e317f0100ff0e7e5bf40a0de9032e9ee1ad04b6b8ff4e36cdfbf6c";

TEST(XorbIndexTest, IndexesABuiltXorb) {
  const Bytes data = splitMix64Data(1'000'000, 0);
  for (auto scheme :
       {CompressionScheme::kNone, CompressionScheme::kLz4, CompressionScheme::kByteGrouping4Lz4}) {
    XorbBuilder builder(scheme);
    std::size_t start = 0;
    for (std::size_t end : kSplitMixEnds) {
      std::span<const std::uint8_t> chunk(data.data() + start, end - start);
      builder.add(chunkHash(chunk), chunk);
      start = end;
    }
    EXPECT_EQ(builder.hash().hex(), kSplitMixXorbHash);
    EXPECT_EQ(builder.chunks().front().hash.hex(),
              "6eca1e7dadaf08cca5d82d318c800f07c2ddcec115a7e8627e5edd9605b94b8d");
    auto index = indexXorb(builder.bytes());
    ASSERT_TRUE(index.has_value()) << index.error().message;
    EXPECT_EQ(index->hash.hex(), kSplitMixXorbHash);
    ASSERT_EQ(index->chunks.size(), builder.chunks().size());
    for (std::size_t i = 0; i < index->chunks.size(); ++i) {
      EXPECT_EQ(index->chunks[i].hash, builder.chunks()[i].hash) << i;
      EXPECT_EQ(index->chunks[i].uncompressed_offset, builder.chunks()[i].uncompressed_offset);
      EXPECT_EQ(index->chunks[i].uncompressed_size, builder.chunks()[i].uncompressed_size);
      EXPECT_EQ(index->chunks[i].serialized_end, builder.chunks()[i].serialized_end);
    }
  }
}

TEST(XorbIndexTest, MixedSchemesAndCompressedChunks) {
  XorbBuilder lz4(CompressionScheme::kLz4);
  std::vector<Bytes> chunks = {textData(65536), counterData(90001), bytesOf("hello world")};
  for (const auto& chunk : chunks) {
    lz4.add(chunkHash(chunk), chunk);
  }
  auto index = indexXorb(lz4.bytes());
  ASSERT_TRUE(index.has_value()) << index.error().message;
  EXPECT_EQ(index->hash, lz4.hash());
  EXPECT_EQ(index->chunks.back().uncompressed_offset, 65536u + 90001u);
  EXPECT_EQ(index->chunks.back().serialized_end, lz4.bytes().size());
}

TEST(XorbIndexTest, FlippedBytesChangeTheHashOrFail) {
  const Bytes data = splitMix64Data(200'000, 8);
  const Bytes text = textData(100'000);
  for (auto scheme : {CompressionScheme::kNone, CompressionScheme::kLz4}) {
    XorbBuilder builder(scheme);
    for (const Bytes* chunk : {&data, &text}) {
      for (std::size_t at = 0; at < chunk->size(); at += 50'000) {
        std::span<const std::uint8_t> piece(chunk->data() + at,
                                            std::min<std::size_t>(50'000, chunk->size() - at));
        builder.add(chunkHash(piece), piece);
      }
    }
    const MerkleHash good = builder.hash();
    const Bytes& bytes = builder.bytes();
    int changed = 0;
    int failed = 0;
    for (std::size_t i = kChunkHeaderSize; i < bytes.size(); i += 997) {
      Bytes bad = bytes;
      bad[i] ^= 0x20;
      auto index = indexXorb(bad);
      if (index.has_value()) {
        EXPECT_NE(index->hash, good) << i;
        ++changed;
      } else {
        EXPECT_EQ(index.error().kind, common::ErrorKind::kCorrupt) << i;
        ++failed;
      }
    }
    EXPECT_GT(changed + failed, 100);
    if (scheme == CompressionScheme::kNone) {
      EXPECT_GT(changed, 0);  // raw payload bytes decode to different data
    }
  }
}

TEST(XorbIndexTest, RejectsMalformedInput) {
  auto rejects = [](const Bytes& bytes, common::ErrorKind kind, const char* what) {
    auto index = indexXorb(bytes);
    ASSERT_FALSE(index.has_value()) << what;
    EXPECT_EQ(index.error().kind, kind) << what;
  };
  rejects({}, common::ErrorKind::kCorrupt, "empty");
  Bytes hello = serialized(bytesOf("hello world"), CompressionScheme::kNone);
  rejects(Bytes(hello.begin(), hello.end() - 1), common::ErrorKind::kCorrupt, "truncated");
  Bytes footer = hello;
  for (char c : std::string("XETBLOB\x01")) {
    footer.push_back(static_cast<std::uint8_t>(c));
  }
  rejects(footer, common::ErrorKind::kCorrupt, "with a footer");
  Bytes garbage = hello;
  garbage.insert(garbage.end(), {0, 5, 0, 0, 7, 5, 0, 0, 1, 2, 3, 4, 5});
  rejects(garbage, common::ErrorKind::kCorrupt, "bad scheme");
  // Over the limits.
  rejects(Bytes(kMaxXorbBytes + 1, 0), common::ErrorKind::kInvalidArgument, "over 64 MiB");
  Bytes many;
  for (std::size_t i = 0; i <= kMaxXorbChunks; ++i) {
    appendChunk(many, Bytes{static_cast<std::uint8_t>(i)}, CompressionScheme::kNone);
  }
  rejects(many, common::ErrorKind::kInvalidArgument, "8193 chunks");
  many.resize(many.size() - 9);
  auto at_limit = indexXorb(many);
  ASSERT_TRUE(at_limit.has_value()) << at_limit.error().message;
  EXPECT_EQ(at_limit->chunks.size(), kMaxXorbChunks);
}

TEST(XorbIndexTest, EmptyChunksAreIndexed) {
  Bytes xorb;
  appendChunk(xorb, {}, CompressionScheme::kLz4);
  appendChunk(xorb, bytesOf("hello world"), CompressionScheme::kLz4);
  auto index = indexXorb(xorb);
  ASSERT_TRUE(index.has_value()) << index.error().message;
  ASSERT_EQ(index->chunks.size(), 2u);
  EXPECT_EQ(index->chunks[0].hash.hex(),
            "e0f2cf784e7e5f10c34f84af150e9a5ff9664216debad915364d741049870f67");
  EXPECT_EQ(index->chunks[0].uncompressed_size, 0u);
  EXPECT_EQ(index->chunks[1].uncompressed_offset, 0u);
  EXPECT_EQ(index->chunks[1].serialized_end, 8u + 19u);
}

}  // namespace
}  // namespace hfm::xet
