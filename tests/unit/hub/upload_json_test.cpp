// SPDX-License-Identifier: Apache-2.0
// The upload side of hub_json: request bodies (preupload, NDJSON commit, LFS batch) and the
// checks on what the server answers (preupload modes, LFS batch plans, commits).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "hub/hub_json.h"

namespace hfm::hub::detail {
namespace {

using nlohmann::json;

const std::string kSha256 = std::string(64, 'a');
const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (auto nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  EXPECT_EQ(start, text.size()) << "the last line must end with a newline";
  return out;
}

// ---- commit NDJSON --------------------------------------------------------------------------

TEST(UploadJsonTest, CommitNdjsonLinesAndFieldNames) {
  CommitRequest request;
  request.summary = "Add weights";
  request.description = "hf-mount-commit-id: 1234";
  request.parent_commit = "0123456789ABCDEF0123456789ABCDEF01234567";
  const std::string binary("hello\0world\xff\n", 13);
  request.operations = {
      {CommitOperation::Kind::kFile, "dir/a b.txt", binary, "", 0},
      {CommitOperation::Kind::kLfsFile, "w.bin", "", std::string(64, 'C'), 123},
      {CommitOperation::Kind::kDeletedFile, "old.txt", "", "", 0},
      {CommitOperation::Kind::kDeletedFolder, "folder/", "", "", 0},
  };
  auto body = commitNdjson(request);
  ASSERT_TRUE(body) << body.error().message;
  auto parts = lines(*body);
  ASSERT_EQ(parts.size(), 5u);
  std::vector<json> j;
  for (const auto& line : parts) {
    j.push_back(json::parse(line));
    ASSERT_EQ(j.back().size(), 2u) << line;  // "key" and "value" only
  }
  EXPECT_EQ(j[0]["key"], "header");
  EXPECT_EQ(j[0]["value"], (json{{"summary", "Add weights"},
                                 {"description", "hf-mount-commit-id: 1234"},
                                 {"parentCommit", kCommit}}));
  EXPECT_EQ(j[1]["key"], "file");
  EXPECT_EQ(j[1]["value"]["path"], "dir/a b.txt");
  EXPECT_EQ(j[1]["value"]["encoding"], "base64");
  EXPECT_EQ(j[1]["value"].size(), 3u);
  EXPECT_EQ(common::base64Decode(j[1]["value"]["content"].get<std::string>()), binary);
  EXPECT_EQ(j[2]["key"], "lfsFile");
  EXPECT_EQ(
      j[2]["value"],
      (json{{"path", "w.bin"}, {"algo", "sha256"}, {"oid", std::string(64, 'c')}, {"size", 123}}));
  EXPECT_EQ(j[3], (json{{"key", "deletedFile"}, {"value", {{"path", "old.txt"}}}}));
  EXPECT_EQ(j[4], (json{{"key", "deletedFolder"}, {"value", {{"path", "folder"}}}}));
}

TEST(UploadJsonTest, CommitNdjsonWithoutParentHasNoParentCommit) {
  CommitRequest request;
  request.summary = "s";
  auto body = commitNdjson(request);
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ(*body, R"({"key":"header","value":{"description":"","summary":"s"}})"
                   "\n");
}

TEST(UploadJsonTest, CommitNdjsonRefusesWhatCannotBeSent) {
  auto with = [](CommitOperation op, std::string parent = "") {
    CommitRequest request;
    request.summary = "s";
    request.parent_commit = std::move(parent);
    request.operations.push_back(std::move(op));
    return commitNdjson(request);
  };
  using K = CommitOperation::Kind;
  const CommitOperation ok{K::kDeletedFile, "a", "", "", 0};
  for (const auto& result :
       {with({K::kFile, "../etc/passwd", "x", "", 0}), with({K::kFile, "/abs", "x", "", 0}),
        with({K::kFile, "dir/", "x", "", 0}), with({K::kDeletedFile, "", "", "", 0}),
        with({K::kLfsFile, "w.bin", "", "not-a-sha", 1}),
        with({K::kFile, "bad\xff utf8", "x", "", 0}), with(ok, "xyz"), with(ok, "abcd"),
        with(ok, std::string(41, 'a'))}) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, HubErrorKind::kInvalidArgument) << result.error().message;
  }
  CommitRequest bad_summary;
  bad_summary.summary = "\xc3\x28";
  EXPECT_EQ(commitNdjson(bad_summary).error().kind, HubErrorKind::kInvalidArgument);
  EXPECT_TRUE(with(ok, "abcde"));  // a short parent, as huggingface_hub allows
}

// ---- preupload ------------------------------------------------------------------------------

TEST(UploadJsonTest, PreuploadBodyCutsAndEncodesTheSample) {
  std::vector<PreuploadFile> files = {{"a.txt", 5, "hello"},
                                      {"big.bin", 1 << 20, std::string(600, '\0')}};
  auto body = preuploadBody(files);
  ASSERT_TRUE(body) << body.error().message;
  json j = json::parse(*body);
  ASSERT_EQ(j["files"].size(), 2u);
  EXPECT_EQ(j["files"][0], (json{{"path", "a.txt"}, {"size", 5}, {"sample", "aGVsbG8="}}));
  EXPECT_EQ(common::base64Decode(j["files"][1]["sample"].get<std::string>()),
            std::string(512, '\0'));
  std::vector<PreuploadFile> bad = {{"a/../b", 1, "x"}};
  EXPECT_EQ(preuploadBody(bad).error().kind, HubErrorKind::kInvalidArgument);
}

TEST(UploadJsonTest, PreuploadAnswersComeInTheOrderAsked) {
  std::vector<PreuploadFile> files = {{"a.txt", 1, ""}, {"b.bin", 1, ""}, {"c", 1, ""}};
  auto answers = parsePreuploadAnswers(
      R"({"files":[{"path":"b.bin","uploadMode":"lfs","shouldIgnore":false,"oid":")" +
          std::string(64, 'F') +
          R"("},{"path":"c","uploadMode":"regular","shouldIgnore":true,"oid":null},)"
          R"({"path":"a.txt","uploadMode":"regular","shouldIgnore":false,"oid":")" +
          kCommit +
          R"(","x":1}],)"
          R"("commitOid":")" +
          kCommit + R"("})",
      files);
  ASSERT_TRUE(answers) << answers.error().message;
  ASSERT_EQ(answers->size(), 3u);
  EXPECT_EQ((*answers)[0].path, "a.txt");
  EXPECT_EQ((*answers)[0].mode, UploadMode::kRegular);
  EXPECT_EQ((*answers)[0].remote_oid, kCommit);
  EXPECT_EQ((*answers)[1].path, "b.bin");
  EXPECT_EQ((*answers)[1].mode, UploadMode::kLfs);
  EXPECT_EQ((*answers)[1].remote_oid, std::string(64, 'f'));
  EXPECT_TRUE((*answers)[2].should_ignore);
  EXPECT_FALSE((*answers)[2].remote_oid);
}

TEST(UploadJsonTest, PreuploadAnswerValidation) {
  std::vector<PreuploadFile> files = {{"a.txt", 1, ""}, {"b", 1, ""}};
  const std::string b = R"({"path":"b","uploadMode":"regular"})";
  for (const std::string& body : std::vector<std::string>{
           "not json", "[]", "{}", R"({"files":{}})",
           R"({"files":[{"uploadMode":"regular"},)" + b + "]}",  // no path
           R"({"files":[{"path":"a.txt"},)" + b + "]}",          // no uploadMode
           R"({"files":[{"path":"a.txt","uploadMode":"xet"},)" + b + "]}",
           R"({"files":[{"path":"a.txt","uploadMode":1},)" + b + "]}",
           R"({"files":[{"path":7,"uploadMode":"lfs"},)" + b + "]}",
           R"({"files":[)" + b + "]}",  // a.txt not answered
           R"({"files":[{"path":"a.txt","uploadMode":"lfs"},)" + b + "," + b + "]}",  // twice
           R"({"files":[{"path":"zzz","uploadMode":"lfs"},{"path":"a.txt","uploadMode":"lfs"},)" +
               b + "]}",
           R"({"files":[{"path":"a.txt","uploadMode":"lfs","shouldIgnore":"no"},)" + b + "]}",
           R"({"files":[{"path":"a.txt","uploadMode":"lfs","oid":"123"},)" + b + "]}"}) {
    auto answers = parsePreuploadAnswers(body, files);
    ASSERT_FALSE(answers) << body;
    EXPECT_EQ(answers.error().kind, HubErrorKind::kBadResponse) << body;
  }
}

// ---- LFS batch ------------------------------------------------------------------------------

std::string batchAnswer(const std::string& actions, std::uint64_t size = 5767168,
                        const std::string& oid = kSha256) {
  return R"({"transfer":"basic","objects":[{"oid":")" + oid + R"(","size":)" +
         std::to_string(size) + R"(,"authenticated":true)" +
         (actions.empty() ? "" : R"(,"actions":)" + actions) + "}]}";
}

std::string multipartHeader(int parts, const std::string& chunk = R"("1048576")", int first = 1) {
  std::string header = R"({"chunk_size":)" + chunk;
  // Out of order on purpose: the numbers decide the order, not the JSON.
  for (int n = first + parts - 1; n >= first; --n) {
    char key[16];
    std::snprintf(key, sizeof key, "%05d", n);
    header += R"(,")" + std::string(key) + R"(":"http://s3.test/part/)" + std::to_string(n) +
              R"(?sig=x")";
  }
  return header + "}";
}

std::string uploadAction(const std::string& header) {
  return R"({"upload":{"href":"http://s3.test/complete?u=1","header":)" + header +
         R"(},"verify":{"href":"http://hub.test/org/name.git/info/lfs/objects/verify","header":{}}})";
}

TEST(UploadJsonTest, BatchBodyFields) {
  auto body = lfsBatchBody(kSha256, 42, "refs/pr/1");
  ASSERT_TRUE(body);
  EXPECT_EQ(json::parse(*body), (json{{"operation", "upload"},
                                      {"transfers", {"basic", "multipart"}},
                                      {"objects", {{{"oid", kSha256}, {"size", 42}}}},
                                      {"hash_algo", "sha256"},
                                      {"ref", {{"name", "refs/pr/1"}}}}));
  EXPECT_FALSE(json::parse(*lfsBatchBody(kSha256, 42, "")).contains("ref"));
  EXPECT_EQ(
      json::parse(multipartCompletionBody(kSha256, {"\"e1\"", "e2"})),
      (json{{"oid", kSha256},
            {"parts",
             {{{"partNumber", 1}, {"etag", "\"e1\""}}, {{"partNumber", 2}, {"etag", "e2"}}}}}));
  EXPECT_EQ(json::parse(lfsVerifyBody(kSha256, 7)), (json{{"oid", kSha256}, {"size", 7}}));
}

TEST(UploadJsonTest, BatchPlans) {
  auto stored = parseLfsBatchAnswer(batchAnswer(""), kSha256, 5767168);
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->kind, LfsUploadPlan::Kind::kAlreadyStored);

  auto basic = parseLfsBatchAnswer(
      batchAnswer(R"({"upload":{"href":"http://s3.test/obj?sig=1","header":{}}})"), kSha256,
      5767168);
  ASSERT_TRUE(basic) << basic.error().message;
  EXPECT_EQ(basic->kind, LfsUploadPlan::Kind::kBasic);
  EXPECT_EQ(basic->upload_url, "http://s3.test/obj?sig=1");
  EXPECT_FALSE(basic->verify_url);

  // 5.5 MiB in 1 MiB chunks: 6 parts, numbered 00001..00006.
  auto multi = parseLfsBatchAnswer(batchAnswer(uploadAction(multipartHeader(6))), kSha256, 5767168);
  ASSERT_TRUE(multi) << multi.error().message;
  EXPECT_EQ(multi->kind, LfsUploadPlan::Kind::kMultipart);
  EXPECT_EQ(multi->chunk_size, 1048576u);
  ASSERT_EQ(multi->part_urls.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(multi->part_urls[i], "http://s3.test/part/" + std::to_string(i + 1) + "?sig=x");
  }
  EXPECT_EQ(multi->upload_url, "http://s3.test/complete?u=1");
  EXPECT_EQ(multi->verify_url, "http://hub.test/org/name.git/info/lfs/objects/verify");

  // chunk_size as a JSON number, and an exact multiple of it.
  auto exact = parseLfsBatchAnswer(batchAnswer(uploadAction(multipartHeader(2, "1024")), 2048),
                                   kSha256, 2048);
  ASSERT_TRUE(exact) << exact.error().message;
  EXPECT_EQ(exact->part_urls.size(), 2u);
}

TEST(UploadJsonTest, BatchAnswerValidation) {
  const std::uint64_t size = 5767168;
  struct Case {
    const char* name;
    std::string body;
  };
  for (const Case& c : std::vector<Case>{
           {"not_json", "{"},
           {"no_objects", R"({"transfer":"basic"})"},
           {"two_objects", R"({"objects":[{"oid":")" + kSha256 + R"(","size":1},{"oid":")" +
                               kSha256 + R"(","size":1}]})"},
           {"other_oid", batchAnswer("", size, std::string(64, 'b'))},
           {"other_size", batchAnswer("", size + 1)},
           {"xet", R"({"transfer":"xet","objects":[{"oid":")" + kSha256 + R"(","size":5767168}]})"},
           {"no_href", batchAnswer(R"({"upload":{"header":{}}})")},
           {"file_href", batchAnswer(R"({"upload":{"href":"file:///etc/passwd"}})")},
           {"relative_href", batchAnswer(R"({"upload":{"href":"/upload"}})")},
           {"bad_verify", batchAnswer(R"({"upload":{"href":"http://s3.test/x"},"verify":{}})")},
           {"too_few_parts", batchAnswer(uploadAction(multipartHeader(5)))},
           {"too_many_parts", batchAnswer(uploadAction(multipartHeader(7)))},
           {"parts_from_zero", batchAnswer(uploadAction(multipartHeader(6, R"("1048576")", 0)))},
           {"zero_chunk", batchAnswer(uploadAction(multipartHeader(6, R"("0")")))},
           {"negative_chunk", batchAnswer(uploadAction(multipartHeader(6, "-1")))},
           {"text_chunk", batchAnswer(uploadAction(multipartHeader(6, R"("1 MiB")")))},
           {"part_not_a_url", batchAnswer(uploadAction(R"({"chunk_size":"6000000","00001":42})"))},
           {"duplicate_part",
            batchAnswer(
                uploadAction(R"({"chunk_size":"3000000","1":"http://a/1","01":"http://a/1b"})"))},
           {"malformed_error",
            R"({"objects":[{"oid":")" + kSha256 + R"(","size":5767168,"error":{"code":"x"}}]})"},
       }) {
    auto plan = parseLfsBatchAnswer(c.body, kSha256, size);
    ASSERT_FALSE(plan) << c.name;
    EXPECT_EQ(plan.error().kind, HubErrorKind::kBadResponse)
        << c.name << ": " << plan.error().message;
  }
}

TEST(UploadJsonTest, BatchObjectErrorsKeepTheirCode) {
  auto answer = [](int code) {
    return R"({"objects":[{"oid":")" + kSha256 + R"(","size":9,"error":{"code":)" +
           std::to_string(code) + R"(,"message":"no \u0007 way"}}]})";
  };
  auto forbidden = parseLfsBatchAnswer(answer(403), kSha256, 9);
  ASSERT_FALSE(forbidden);
  EXPECT_EQ(forbidden.error().kind, HubErrorKind::kForbidden);
  EXPECT_NE(forbidden.error().message.find("no   way"), std::string::npos)
      << forbidden.error().message;
  EXPECT_EQ(parseLfsBatchAnswer(answer(422), kSha256, 9).error().kind, HubErrorKind::kBadResponse);
  EXPECT_EQ(parseLfsBatchAnswer(answer(404), kSha256, 9).error().kind, HubErrorKind::kNotFound);
}

// ---- commit answers -------------------------------------------------------------------------

TEST(UploadJsonTest, CommitAnswers) {
  auto info = parseCommitInfo(R"({"success":true,"commitOid":")" + std::string("ABCDEF") +
                              kCommit.substr(6) + R"(","commitUrl":"http://x/commit/y"})");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->commit, "abcdef" + kCommit.substr(6));
  for (const char* body :
       {"{}", R"({"commitOid":"abc"})", R"({"commitOid":null})", "[]", "<html>"}) {
    EXPECT_EQ(parseCommitInfo(body).error().kind, HubErrorKind::kBadResponse) << body;
  }
  auto list = parseCommitList(
      R"([{"id":")" + kCommit +
      R"(","title":"t","message":"m\nid","authors":[],"date":"2026-01-02T03:04:05.000Z"}])");
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, kCommit);
  EXPECT_EQ((*list)[0].title, "t");
  EXPECT_EQ((*list)[0].message, "m\nid");
  for (const std::string& body :
       {std::string("{}"), std::string(R"([{"title":"t","date":"2026-01-02T03:04:05Z"}])"),
        R"([{"id":")" + kCommit + R"("}])",
        R"([{"id":")" + kCommit + R"(","date":"2026-01-02T03:04:05Z","title":5}])",
        std::string(R"([{"id":"xyz","date":"2026-01-02T03:04:05Z"}])")}) {
    EXPECT_EQ(parseCommitList(body).error().kind, HubErrorKind::kBadResponse) << body;
  }
}

}  // namespace
}  // namespace hfm::hub::detail
