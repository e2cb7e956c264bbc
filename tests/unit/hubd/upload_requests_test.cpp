// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/upload_requests.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace hfm::hubd {
namespace {

const std::string kOid = "b5d4045c3f466fa91fe2cc6abe79232a1a57cdf104f7a26e716e0a1e2789df78";

TEST(UploadRequestsTest, ParsesTheLinesHuggingfaceHubSends) {
  auto header = parseCommitLine(
      R"({"key":"header","value":{"summary":"Upload","description":"","parentCommit":"ABCDEF0123"}})");
  ASSERT_TRUE(header) << header.error().message;
  EXPECT_EQ(header->kind, CommitLine::Kind::kHeader);
  EXPECT_EQ(header->summary, "Upload");
  EXPECT_EQ(header->parent_commit, "abcdef0123");

  auto file = parseCommitLine(
      R"({"key":"file","value":{"content":"aGVsbG8=","path":"a.txt","encoding":"base64"}})");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->kind, CommitLine::Kind::kFile);
  EXPECT_EQ(file->content, "hello");

  auto lfs = parseCommitLine(R"({"key":"lfsFile","value":{"path":"m.bin","algo":"sha256","oid":")" +
                             std::string(64, 'A') + R"(","size":12}})");
  ASSERT_TRUE(lfs);
  EXPECT_EQ(lfs->oid, std::string(64, 'a'));
  EXPECT_EQ(lfs->size, 12u);

  auto copy = parseCommitLine(R"({"key":"lfsFile","value":{"path":"b.bin","oldPath":"a.bin"}})");
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->old_path, "a.bin");
  EXPECT_TRUE(copy->oid.empty());

  auto folder = parseCommitLine(R"({"key":"deletedFolder","value":{"path":"logs/"}})");
  ASSERT_TRUE(folder);
  EXPECT_EQ(folder->kind, CommitLine::Kind::kDeletedFolder);
}

// json::value() throws on a member of the wrong type, which the server answered with a 500.
TEST(UploadRequestsTest, WrongMemberTypesAreBadRequests) {
  for (const std::string& line : std::vector<std::string>{
           R"({"key":"header","value":{"summary":5,"description":""}})",
           R"({"key":"header","value":{"summary":"s","description":["d"]}})",
           R"({"key":"file","value":{"content":"aGk=","path":"a.txt","encoding":7}})",
           R"({"key":"lfsFile","value":{"path":"m.bin","algo":{},"oid":")" + kOid + R"("}})",
           R"({"key":"lfsFile","value":{"path":"m.bin","oid":")" + kOid + R"(","size":-1}})",
           R"({"key":"lfsFile","value":{"path":"m.bin","oid":")" + kOid + R"(","size":"12"}})",
           R"({"key":"header","value":{"summary":"s","parentCommit":"xyz12"}})",
           R"({"key":"copy","value":{"path":"a"}})",
           R"({"key":"file","value":{"path":3}})",
           R"(["key","header"])",
       }) {
    auto parsed = parseCommitLine(line);
    ASSERT_FALSE(parsed) << line;
    EXPECT_EQ(parsed.error().status, 400) << line;
  }
}

TEST(UploadRequestsTest, ParsesLfsBatchRequests) {
  auto request = parseLfsBatchRequest(
      R"({"operation":"upload","transfers":["basic","multipart"],"hash_algo":"sha_256","objects":[)"
      R"({"oid":")" + kOid + R"(","size":5},{"oid":"nothex","size":3},{"oid":")" + kOid +
      R"(","size":-4},7]})");
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_TRUE(request->is_upload);
  EXPECT_TRUE(request->accepts_multipart);
  ASSERT_EQ(request->objects.size(), 4u);
  EXPECT_TRUE(request->objects[0].is_valid);
  EXPECT_EQ(request->objects[0].size, 5u);
  EXPECT_FALSE(request->objects[1].is_valid);
  EXPECT_FALSE(request->objects[2].is_valid);
  EXPECT_FALSE(request->objects[3].is_valid);
  EXPECT_FALSE(parseLfsBatchRequest("")) << "an empty body has no operation";
}

TEST(UploadRequestsTest, WrongLfsBatchMemberTypesAreBadRequests) {
  for (const std::string& body : std::vector<std::string>{
           R"({"operation":7,"objects":[]})",
           R"({"operation":"upload","hash_algo":["sha256"],"objects":[]})",
           R"({"operation":"upload","objects":{}})",
           R"({"operation":"delete","objects":[]})",
           R"([1,2])",
           R"({"operation":)",
       }) {
    auto parsed = parseLfsBatchRequest(body);
    ASSERT_FALSE(parsed) << body;
    EXPECT_EQ(parsed.error().status, 400) << body;
  }
  // An oid of the wrong type was a 500 too; it is now one object refused, like a malformed oid.
  auto request = parseLfsBatchRequest(R"({"operation":"upload","objects":[{"oid":5,"size":1}]})");
  ASSERT_TRUE(request);
  EXPECT_FALSE(request->objects[0].is_valid);
}

}  // namespace
}  // namespace hfm::hubd
