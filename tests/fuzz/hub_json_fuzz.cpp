// SPDX-License-Identifier: Apache-2.0
// The client's other JSON parsers (revision info, refs, commit lists, preupload and LFS batch
// answers, error bodies) on one input each. Whatever is accepted must hold the promised shape.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "hub/http_util.h"
#include "hub/hub_json.h"

namespace {

using hfm::fuzz::isLowerHex;

using namespace hfm::hub;

// The object the LFS batch answers in the seed corpus are about.
constexpr std::string_view kOid = "a3f1c0de5b7e4a9d8c2b1f0e3d4c5b6a79889fa0b1c2d3e4f5a6b7c8d9e0f1a2";
constexpr std::uint64_t kSize = 40'000'000;

void checkBatchAnswer(std::string_view body) {
  auto plan = detail::parseLfsBatchAnswer(body, kOid, kSize);
  if (!plan) {
    return;
  }
  using Kind = detail::LfsUploadPlan::Kind;
  if (plan->kind == Kind::kAlreadyStored) {
    HFM_FUZZ_CHECK(plan->upload_url.empty() && plan->part_urls.empty());
    return;
  }
  HFM_FUZZ_CHECK(detail::parseOrigin(plan->upload_url).has_value());
  HFM_FUZZ_CHECK(!plan->verify_url || detail::parseOrigin(*plan->verify_url).has_value());
  if (plan->kind == Kind::kBasic) {
    HFM_FUZZ_CHECK(plan->part_urls.empty());
    return;
  }
  HFM_FUZZ_CHECK(plan->chunk_size > 0);
  HFM_FUZZ_CHECK(plan->part_urls.size() == (kSize + plan->chunk_size - 1) / plan->chunk_size);
  for (const auto& url : plan->part_urls) {
    HFM_FUZZ_CHECK(detail::parseOrigin(url).has_value());
  }
}

void checkPreupload(std::string_view body) {
  static const std::array<PreuploadFile, 2> kFiles = {PreuploadFile{"README.md", 12, "# hello"},
                                                      PreuploadFile{"weights/model.bin", 9, ""}};
  auto answers = detail::parsePreuploadAnswers(body, kFiles);
  if (!answers) {
    return;
  }
  HFM_FUZZ_CHECK(answers->size() == kFiles.size());
  for (std::size_t i = 0; i < kFiles.size(); ++i) {
    const PreuploadAnswer& answer = (*answers)[i];
    HFM_FUZZ_CHECK(answer.path == kFiles[i].path);
    HFM_FUZZ_CHECK(!answer.remote_oid || isLowerHex(*answer.remote_oid, 40) ||
                   isLowerHex(*answer.remote_oid, 64));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  if (auto info = detail::parseRevisionInfo(body)) {
    HFM_FUZZ_CHECK(isLowerHex(info->commit, 40));
  }
  (void)detail::parseRefs(body);
  (void)detail::parseRepoList(body);
  (void)detail::parseWhoAmI(body);
  if (auto commit = detail::parseCommitInfo(body)) {
    HFM_FUZZ_CHECK(isLowerHex(commit->commit, 40));
  }
  if (auto commits = detail::parseCommitList(body)) {
    for (const auto& c : *commits) {
      HFM_FUZZ_CHECK(isLowerHex(c.id, 40));
    }
  }
  checkBatchAnswer(body);
  checkPreupload(body);
  (void)detail::errorMessageFromBody(body);
  return 0;
}
