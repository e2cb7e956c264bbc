// SPDX-License-Identifier: Apache-2.0
#include "common/hash.h"

#include <gtest/gtest.h>

namespace hfm::common {
namespace {

TEST(HashTest, Sha256KnownVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashTest, StreamingEqualsOneShot) {
  Digest d(Digest::Algorithm::kSha256);
  d.update("a");
  d.update("bc");
  EXPECT_EQ(d.finishHex(), sha256Hex("abc"));
}

TEST(HashTest, PeekAndCloneLeaveTheStreamUsable) {
  Digest d(Digest::Algorithm::kSha256);
  d.update("ab");
  Digest copy = d.clone();
  EXPECT_EQ(d.peekHex(), sha256Hex("ab"));
  d.update("c");
  copy.update("x");
  EXPECT_EQ(d.finishHex(), sha256Hex("abc"));
  EXPECT_EQ(copy.finishHex(), sha256Hex("abx"));
}

TEST(HashTest, GitBlobOidMatchesGit) {
  // `printf 'hello\n' | git hash-object --stdin`
  EXPECT_EQ(gitBlobOid("hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
  // The empty blob.
  EXPECT_EQ(gitBlobOid(""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
}

TEST(HashTest, HmacSha256Rfc4231Case2) {
  EXPECT_EQ(hmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HashTest, ConstantTimeEquals) {
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "ab"));
}

}  // namespace
}  // namespace hfm::common
