// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/url_signer.h"

#include <gtest/gtest.h>

#include "common/url.h"

namespace hfm::hubd {
namespace {

std::pair<std::string, std::string> split(const std::string& query) {
  auto q = common::parseQuery(query);
  EXPECT_TRUE(q && q->size() == 2);
  return {(*q)[0].second, (*q)[1].second};
}

TEST(UrlSignerTest, SignedUrlVerifiesUntilItExpires) {
  UrlSigner signer("key", 60);
  auto [expires, sig] = split(signer.signQuery("/lfs/abc", 1000));
  EXPECT_EQ(expires, "1060");
  EXPECT_EQ(signer.verify("/lfs/abc", expires, sig, 1000), UrlSigner::Verdict::kValid);
  EXPECT_EQ(signer.verify("/lfs/abc", expires, sig, 1060), UrlSigner::Verdict::kValid);
  EXPECT_EQ(signer.verify("/lfs/abc", expires, sig, 1061), UrlSigner::Verdict::kExpired);
}

TEST(UrlSignerTest, RejectsForgeries) {
  UrlSigner signer("key", 60);
  auto [expires, sig] = split(signer.signQuery("/lfs/abc", 1000));
  EXPECT_EQ(signer.verify("/lfs/abd", expires, sig, 1000), UrlSigner::Verdict::kForged);
  EXPECT_EQ(signer.verify("/lfs/abc", "99999", sig, 1000), UrlSigner::Verdict::kForged);
  std::string flipped = sig;
  flipped[0] = flipped[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(signer.verify("/lfs/abc", expires, flipped, 1000), UrlSigner::Verdict::kForged);
  EXPECT_EQ(signer.verify("/lfs/abc", "", sig, 1000), UrlSigner::Verdict::kMissing);
  UrlSigner other("other-key", 60);
  EXPECT_EQ(other.verify("/lfs/abc", expires, sig, 1000), UrlSigner::Verdict::kForged);
}

}  // namespace
}  // namespace hfm::hubd
