// SPDX-License-Identifier: Apache-2.0
// HubClient's write side against LocalRawServer: preupload batching, the write check, commits
// (never repeated once sent), the commit history, and LFS uploads (already stored, basic to
// another origin, multipart in parallel) with the failures a server can throw at them.

#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "hub/hub_client.h"
#include "tests/unit/hub/client_test_support.h"
#include "tests/unit/hub/local_raw_server.h"

namespace hfm::hub::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

const std::string kSha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const std::string kLfsType = "application/vnd.git-lfs+json";
const std::string kBatchTarget = "/org/name.git/info/lfs/objects/batch";

// A file in a fresh temporary directory, removed with the object.
class TempFile {
 public:
  explicit TempFile(const std::string& data) {
    dir_ =
        std::filesystem::temp_directory_path() / ("hub_upload_test." + std::to_string(::getpid()) +
                                                  "." + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "blob").string();
    std::ofstream(path_, std::ios::binary) << data;
  }
  ~TempFile() { std::filesystem::remove_all(dir_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::filesystem::path dir_;
  std::string path_;
};

// An LFS batch answer about kSha256; `actions` null means "already stored".
RawReply batchReply(std::uint64_t size, const json& actions = nullptr) {
  json object = {{"oid", kSha256}, {"size", size}, {"authenticated", true}};
  if (!actions.is_null()) {
    object["actions"] = actions;
  }
  return httpReply(200, json{{"transfer", "basic"}, {"objects", {object}}}.dump(),
                   {"Content-Type: " + kLfsType});
}

// Multipart actions: parts of `chunk` bytes at {base}/part/N, completion at {base}/complete.
json multipartActions(const std::string& base, std::uint64_t size, std::uint64_t chunk) {
  json header = {{"chunk_size", std::to_string(chunk)}};
  for (std::uint64_t n = 1; n <= (size + chunk - 1) / chunk; ++n) {
    char key[24];
    std::snprintf(key, sizeof key, "%05llu", static_cast<unsigned long long>(n));
    header[key] = base + "/part/" + std::to_string(n) + "?X-Signature=s";
  }
  return {{"upload", {{"href", base + "/complete?X-Signature=s"}, {"header", header}}}};
}

// Sums progress reports from any thread.
struct ProgressSum {
  std::atomic<std::uint64_t> total{0};
  UploadProgress progress() {
    return UploadProgress{[this](std::uint64_t n) { total.fetch_add(n); }};
  }
};

int partNumber(const RawRequest& req) {
  auto pos = req.target.find("/part/");
  return pos == std::string::npos ? 0 : std::stoi(req.target.substr(pos + 6));
}

// ---- preupload and the write check -------------------------------------------------------------

TEST(HubClientUploadTest, PreuploadBatchesOf256AndAnswersInTheOrderAsked) {
  LocalRawServer server([](const RawRequest& req) {
    json asked = json::parse(req.body)["files"];
    json files = json::array();
    for (auto it = asked.rbegin(); it != asked.rend(); ++it) {  // the order is the server's
      std::string path = (*it)["path"];
      files.push_back({{"path", path},
                       {"uploadMode", path.ends_with(".bin") ? "lfs" : "regular"},
                       {"shouldIgnore", false}});
    }
    return httpReply(200, json{{"files", files}, {"commitOid", kCommit}}.dump());
  });
  auto client = makeClient(optionsFor(server.url()));
  std::vector<PreuploadFile> files;
  for (int i = 0; i < 600; ++i) {
    files.push_back({"d/f" + std::to_string(i) + (i % 3 == 0 ? ".bin" : ".txt"), 10, "sample"});
  }
  auto answers = client->preupload(kRepo, "refs/pr/1", files);
  ASSERT_TRUE(answers) << answers.error().message;
  ASSERT_EQ(answers->size(), files.size());
  for (std::size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ((*answers)[i].path, files[i].path);
    EXPECT_EQ((*answers)[i].mode, i % 3 == 0 ? UploadMode::kLfs : UploadMode::kRegular);
  }
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  std::vector<std::size_t> sizes;
  for (const auto& req : reqs) {
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.target, "/api/models/org/name/preupload/refs%2Fpr%2F1");
    EXPECT_EQ(req.header("content-type"), "application/json");
    EXPECT_EQ(req.header("authorization"), "Bearer " + kToken);
    sizes.push_back(json::parse(req.body)["files"].size());
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{256, 256, 88}));
  auto none = client->preupload(kRepo, "main", {});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(HubClientUploadTest, PreuploadRejectsAnAnswerWithoutMode) {
  LocalRawServer server([](const RawRequest&) {
    return httpReply(200, R"({"files":[{"path":"a.txt","shouldIgnore":false}]})");
  });
  auto client = makeClient(optionsFor(server.url()));
  auto answers = client->preupload(kRepo, "main", {{"a.txt", 1, "x"}});
  ASSERT_FALSE(answers);
  EXPECT_EQ(answers.error().kind, HubErrorKind::kBadResponse) << answers.error().message;
  auto invalid = client->preupload(kRepo, "main", {{"../a.txt", 1, "x"}});
  EXPECT_EQ(invalid.error().kind, HubErrorKind::kInvalidArgument);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(HubClientUploadTest, CanWrite) {
  std::atomic<int> status{200};
  LocalRawServer server([&](const RawRequest&) {
    int s = status.load();
    if (s == 200) {
      return httpReply(200, R"({"files":[],"commitOid":null})");
    }
    return httpReply(s, R"({"error":"no"})",
                     s == 404 ? std::vector<std::string>{"X-Error-Code: RepoNotFound"}
                              : std::vector<std::string>{});
  });
  auto client = makeClient(optionsFor(server.url()));
  auto yes = client->canWrite(kRepo, "main");
  ASSERT_TRUE(yes) << yes.error().message;
  EXPECT_TRUE(*yes);
  auto first = server.requests().at(0);
  EXPECT_EQ(first.target, "/api/models/org/name/preupload/main");
  EXPECT_EQ(json::parse(first.body), json::parse(R"({"files":[]})"));
  for (int refusal : {401, 403}) {
    status = refusal;
    auto no = client->canWrite(kRepo, "main");
    ASSERT_TRUE(no) << no.error().message;
    EXPECT_FALSE(*no);
  }
  status = 404;
  auto missing = client->canWrite(kRepo, "main");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, HubErrorKind::kNotFound);
  EXPECT_EQ(server.requests().size(), 4u);

  auto options = optionsFor(server.url());
  options.token.reset();
  auto anonymous = makeClient(options);
  auto anon = anonymous->canWrite(kRepo, "main");
  ASSERT_TRUE(anon);
  EXPECT_FALSE(*anon);
  EXPECT_EQ(server.requests().size(), 4u);  // no request without a token
}

// ---- commits ----------------------------------------------------------------------------------

CommitRequest sampleCommit() {
  CommitRequest request;
  request.summary = "Upload from hf-mount";
  request.description = "id 42";
  request.parent_commit = kCommit;
  request.operations = {{CommitOperation::Kind::kFile, "a.txt", "hi\n", "", 0},
                        {CommitOperation::Kind::kLfsFile, "w.bin", "", kSha256, 4}};
  return request;
}

TEST(HubClientUploadTest, CommitSendsNdjsonAndReadsTheCommitId) {
  LocalRawServer server([](const RawRequest&) {
    return httpReply(200, R"({"success":true,"commitOid":")" + std::string("89ABCDEF") +
                              kCommit.substr(8) +
                              R"(","commitUrl":"http://x/org/name/commit/1","hookOutput":""})");
  });
  auto client = makeClient(optionsFor(server.url()));
  auto info = client->commit(kRepo, "refs/pr/2", sampleCommit());
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->commit, "89abcdef" + kCommit.substr(8));
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/api/models/org/name/commit/refs%2Fpr%2F2");
  EXPECT_EQ(reqs[0].header("content-type"), "application/x-ndjson");
  EXPECT_EQ(reqs[0].header("authorization"), "Bearer " + kToken);
  const std::string& body = reqs[0].body;
  ASSERT_FALSE(body.empty());
  EXPECT_EQ(body.back(), '\n');
  EXPECT_EQ(std::count(body.begin(), body.end(), '\n'), 3);
  json header = json::parse(body.substr(0, body.find('\n')));
  EXPECT_EQ(header["key"], "header");
  EXPECT_EQ(header["value"]["parentCommit"], kCommit);
  EXPECT_EQ(client->stats().bytes_uploaded, body.size());
}

// What a server may do to a commit after receiving it; none of it may cause a second POST.
struct CommitFailureCase {
  const char* name;
  RawReply reply;
  HubErrorKind kind;
};

class CommitNotRetriedTest : public ::testing::TestWithParam<CommitFailureCase> {};

TEST_P(CommitNotRetriedTest, ExactlyOnePost) {
  LocalRawServer server([](const RawRequest&) { return GetParam().reply; });
  auto client = makeClient(optionsFor(server.url()));
  auto info = client->commit(kRepo, "main", sampleCommit());
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().kind, GetParam().kind) << info.error().message;
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(client->stats().requests, 1u);
  EXPECT_EQ(client->stats().retries, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CommitNotRetriedTest,
    ::testing::Values(
        CommitFailureCase{"status_503", httpReply(503, "busy"), HubErrorKind::kServerError},
        CommitFailureCase{"status_500_retry_after", httpReply(500, "", {"Retry-After: 0"}),
                          HubErrorKind::kServerError},
        CommitFailureCase{"status_429", httpReply(429, ""), HubErrorKind::kRateLimited},
        CommitFailureCase{"cut_before_answer", RawReply{"", true, {}}, HubErrorKind::kNetwork},
        CommitFailureCase{
            "cut_mid_answer",
            RawReply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"commitOid\"", true, {}},
            HubErrorKind::kNetwork},
        CommitFailureCase{
            "status_412",
            httpReply(412, R"({"error":"moved"})", {"X-Error-Code: PreconditionFailed"}),
            HubErrorKind::kConflict}),
    [](const ::testing::TestParamInfo<CommitFailureCase>& param) {
      return std::string(param.param.name);
    });

TEST(HubClientUploadTest, CommitIsNotResentOnAKeptAliveConnection) {
  // libcurl sends a request again by itself when a reused connection closes without an answer;
  // a commit must therefore never ride on a kept-alive connection.
  LocalRawServer server([](const RawRequest& req) {
    if (req.target.find("/preupload/") != std::string::npos) {
      return httpReply(200, R"({"files":[]})");
    }
    return RawReply{"", true, {}};
  });
  auto client = makeClient(optionsFor(server.url()));
  ASSERT_TRUE(client->canWrite(kRepo, "main").value_or(false));  // leaves a connection open
  auto info = client->commit(kRepo, "main", sampleCommit());
  ASSERT_FALSE(info);
  std::size_t posts = 0;
  for (const auto& req : server.requests()) {
    posts += req.target.find("/commit/") != std::string::npos ? 1u : 0u;
  }
  EXPECT_EQ(posts, 1u);
  EXPECT_EQ(server.connections(), 2u);
}

TEST(HubClientUploadTest, CommitConflictKeepsTheStatus) {
  LocalRawServer server([](const RawRequest&) {
    return httpReply(412, "",
                     {"X-Error-Message: The branch was updated since you opened this page."});
  });
  auto client = makeClient(optionsFor(server.url()));
  auto info = client->commit(kRepo, "main", sampleCommit());
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().kind, HubErrorKind::kConflict);
  EXPECT_EQ(info.error().http_status, 412);
}

TEST(HubClientUploadTest, CommitRetriesAConnectionThatCannotBeMade) {
  auto options = optionsFor(testing::unreachableUrl());
  options.retry_deadline = milliseconds(600);
  auto client = makeClient(options);
  auto info = client->commit(kRepo, "main", sampleCommit());
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().kind, HubErrorKind::kNetwork) << info.error().message;
  EXPECT_GT(client->stats().retries, 0u);
}

TEST(HubClientUploadTest, CommitRefusesAnInvalidRequestWithoutSendingIt) {
  LocalRawServer server([](const RawRequest&) { return httpReply(200, ""); });
  auto client = makeClient(optionsFor(server.url()));
  CommitRequest request = sampleCommit();
  request.operations[0].path = "../outside";
  EXPECT_EQ(client->commit(kRepo, "main", request).error().kind, HubErrorKind::kInvalidArgument);
  EXPECT_TRUE(server.requests().empty());
}

TEST(HubClientUploadTest, ListCommitsFollowsPagesUpToTheLimit) {
  auto item = [](char c, const std::string& title) {
    return json{{"id", std::string(40, c)},
                {"title", title},
                {"message", title + " body"},
                {"authors", json::array()},
                {"date", "2026-01-02T03:04:05.000Z"}};
  };
  LocalRawServer server([&](const RawRequest& req) {
    if (req.target.find("p=1") != std::string::npos) {
      return httpReply(200, json{item('c', "third"), item('d', "fourth")}.dump());
    }
    return httpReply(200, json{item('a', "first"), item('b', "second")}.dump(),
                     {"Link: </api/models/org/name/commits/main?limit=3&p=1>; rel=\"next\""});
  });
  auto client = makeClient(optionsFor(server.url()));
  auto commits = client->listCommits(kRepo, "main", 3);
  ASSERT_TRUE(commits) << commits.error().message;
  ASSERT_EQ(commits->size(), 3u);
  EXPECT_EQ((*commits)[0].id, std::string(40, 'a'));
  EXPECT_EQ((*commits)[2].title, "third");
  EXPECT_EQ((*commits)[2].message, "third body");
  EXPECT_EQ(server.requests().at(0).target, "/api/models/org/name/commits/main?limit=3");
  EXPECT_EQ(server.requests().size(), 2u);
  auto none = client->listCommits(kRepo, "main", 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(server.requests().size(), 2u);
}

// ---- LFS uploads ------------------------------------------------------------------------------

TEST(HubClientUploadTest, UploadLfsOfAStoredObjectSendsOnlyTheBatch) {
  TempFile file("test");
  LocalRawServer server([](const RawRequest&) { return batchReply(4); });
  auto client = makeClient(optionsFor(server.url()));
  auto done = client->uploadLfs(kRepo, "refs/pr/1", kSha256, 4, file.path());
  ASSERT_TRUE(done) << done.error().message;
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, kBatchTarget);
  EXPECT_EQ(reqs[0].header("content-type"), kLfsType);
  EXPECT_EQ(reqs[0].header("accept"), kLfsType);
  EXPECT_EQ(reqs[0].header("authorization"), "Bearer " + kToken);
  EXPECT_EQ(json::parse(reqs[0].body), (json{{"operation", "upload"},
                                             {"transfers", {"basic", "multipart"}},
                                             {"objects", {{{"oid", kSha256}, {"size", 4}}}},
                                             {"hash_algo", "sha256"},
                                             {"ref", {{"name", "refs/pr/1"}}}}));
}

TEST(HubClientUploadTest, UploadLfsBasicGoesToAnotherOriginWithoutTheToken) {
  const std::string data = content(300000);
  TempFile file(data);
  LocalRawServer storage([](const RawRequest& req) {
    return req.method == "PUT" ? httpReply(200, "", {"ETag: \"x\""}) : httpReply(200, "{}");
  });
  LocalRawServer hub([&](const RawRequest&) {
    return batchReply(data.size(), {{"upload",
                                     {{"href", storage.url() + "/bucket/obj?X-Amz-Signature=abc"},
                                      {"header", json::object()}}},
                                    {"verify", {{"href", storage.url() + "/verify"}}}});
  });
  auto client = makeClient(optionsFor(hub.url()));
  ProgressSum progress;
  auto done =
      client->uploadLfs(kRepo, "main", kSha256, data.size(), file.path(), progress.progress());
  ASSERT_TRUE(done) << done.error().message;
  auto reqs = storage.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].target, "/bucket/obj?X-Amz-Signature=abc");
  EXPECT_EQ(reqs[0].header("content-length"), std::to_string(data.size()));
  EXPECT_TRUE(reqs[0].body == data);
  EXPECT_FALSE(reqs[0].has("expect"));
  EXPECT_EQ(reqs[1].target, "/verify");
  for (const auto& req : reqs) {
    EXPECT_FALSE(req.has("authorization")) << req.target;
  }
  EXPECT_EQ(progress.total.load(), data.size());
  EXPECT_GE(client->stats().bytes_uploaded, data.size());
}

TEST(HubClientUploadTest, UploadLfsRefusesRelativeUrls) {
  TempFile file("test");
  LocalRawServer hub([](const RawRequest&) {
    return batchReply(4, {{"upload", {{"href", "/upload/obj"}}}});
  });
  auto client = makeClient(optionsFor(hub.url()));
  auto done = client->uploadLfs(kRepo, "main", kSha256, 4, file.path());
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().kind, HubErrorKind::kBadResponse) << done.error().message;
  EXPECT_EQ(hub.requests().size(), 1u);
}

TEST(HubClientUploadTest, UploadLfsVerifiesWithTheToken) {
  const std::string data = content(1000);
  TempFile file(data);
  std::string base;
  LocalRawServer hub([&](const RawRequest& req) {
    if (req.target == kBatchTarget) {
      return batchReply(data.size(),
                        {{"upload", {{"href", base + "/upload/obj"}}},
                         {"verify", {{"href", base + "/org/name.git/info/lfs/objects/verify"}}}});
    }
    if (req.method == "PUT") {
      return httpReply(200, "");
    }
    return httpReply(200, R"({"message":"Object verified"})");
  });
  base = hub.url();
  auto client = makeClient(optionsFor(hub.url()));
  auto done = client->uploadLfs(kRepo, "main", kSha256, data.size(), file.path());
  ASSERT_TRUE(done) << done.error().message;
  auto reqs = hub.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[1].method, "PUT");
  EXPECT_TRUE(reqs[1].body == data);
  EXPECT_EQ(reqs[1].header("authorization"), "Bearer " + kToken);  // same origin: allowed
  EXPECT_EQ(reqs[2].target, "/org/name.git/info/lfs/objects/verify");
  EXPECT_EQ(reqs[2].header("authorization"), "Bearer " + kToken);
  EXPECT_EQ(json::parse(reqs[2].body), (json{{"oid", kSha256}, {"size", data.size()}}));
}

TEST(HubClientUploadTest, UploadLfsMultipartSendsPartsInParallelAndCompletes) {
  constexpr std::uint64_t kChunk = 65536;
  const std::string data = content(5 * kChunk + kChunk / 2);
  TempFile file(data);
  std::atomic<int> in_flight{0};
  std::atomic<int> peak{0};
  std::atomic<bool> failed_part_3{false};
  LocalRawServer storage([&](const RawRequest& req) {
    if (req.method == "POST") {
      return httpReply(200, R"({"message":"done"})");
    }
    int now = ++in_flight;
    int old = peak.load();
    while (now > old && !peak.compare_exchange_weak(old, now)) {
    }
    std::this_thread::sleep_for(milliseconds(100));
    --in_flight;
    int n = partNumber(req);
    if (n == 3 && !failed_part_3.exchange(true)) {
      return httpReply(503, "try again");  // after the whole part was received
    }
    return httpReply(200, "", {"ETag: \"etag-" + std::to_string(n) + "\""});
  });
  LocalRawServer hub([&](const RawRequest&) {
    return batchReply(data.size(), multipartActions(storage.url(), data.size(), kChunk));
  });
  auto options = optionsFor(hub.url());
  options.max_parallel_parts = 3;
  auto client = makeClient(options);
  ProgressSum progress;
  auto done =
      client->uploadLfs(kRepo, "main", kSha256, data.size(), file.path(), progress.progress());
  ASSERT_TRUE(done) << done.error().message;

  std::map<int, std::string> bodies;
  std::vector<RawRequest> completions;
  for (const auto& req : storage.requests()) {
    EXPECT_FALSE(req.has("authorization")) << req.target;
    if (req.method == "PUT") {
      bodies[partNumber(req)] = req.body;
    } else {
      completions.push_back(req);
    }
  }
  ASSERT_EQ(bodies.size(), 6u);
  for (int n = 1; n <= 6; ++n) {
    EXPECT_TRUE(bodies[n] == data.substr(static_cast<std::size_t>(n - 1) * kChunk, kChunk))
        << "part " << n;
  }
  EXPECT_EQ(storage.requests().size(), 6u + 1u + 1u);  // part 3 twice, one completion
  EXPECT_GE(peak.load(), 2);
  EXPECT_LE(peak.load(), 3);
  ASSERT_EQ(completions.size(), 1u);
  EXPECT_EQ(completions[0].target, "/complete?X-Signature=s");
  EXPECT_EQ(completions[0].header("content-type"), kLfsType);
  json parts = json::array();
  for (int n = 1; n <= 6; ++n) {
    parts.push_back({{"partNumber", n}, {"etag", "\"etag-" + std::to_string(n) + "\""}});
  }
  EXPECT_EQ(json::parse(completions[0].body), (json{{"oid", kSha256}, {"parts", parts}}));
  EXPECT_EQ(progress.total.load(), data.size());  // part 3 sent twice, counted once
  EXPECT_GE(client->stats().retries, 1u);
}

TEST(HubClientUploadTest, UploadLfsPartWithoutEtagFails) {
  const std::string data = content(3000);
  TempFile file(data);
  LocalRawServer storage([](const RawRequest&) { return httpReply(200, ""); });
  LocalRawServer hub([&](const RawRequest&) {
    return batchReply(data.size(), multipartActions(storage.url(), data.size(), 1000));
  });
  auto client = makeClient(optionsFor(hub.url()));
  auto done = client->uploadLfs(kRepo, "main", kSha256, data.size(), file.path());
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().kind, HubErrorKind::kBadResponse) << done.error().message;
  for (const auto& req : storage.requests()) {
    EXPECT_EQ(req.method, "PUT");  // no completion
  }
}

TEST(HubClientUploadTest, UploadLfsStopsTheOtherPartsAfterAFailure) {
  const std::string data = content(8000);
  TempFile file(data);
  LocalRawServer storage([](const RawRequest& req) {
    if (partNumber(req) == 1) {
      return httpReply(403, "", {"X-Error-Message: signature expired"});
    }
    std::this_thread::sleep_for(milliseconds(200));
    return httpReply(200, "", {"ETag: e"});
  });
  LocalRawServer hub([&](const RawRequest&) {
    return batchReply(data.size(), multipartActions(storage.url(), data.size(), 1000));
  });
  auto options = optionsFor(hub.url());
  options.max_parallel_parts = 2;
  auto client = makeClient(options);
  auto done = client->uploadLfs(kRepo, "main", kSha256, data.size(), file.path());
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().kind, HubErrorKind::kForbidden) << done.error().message;
  auto reqs = storage.requests();
  EXPECT_LT(reqs.size(), 8u);
  for (const auto& req : reqs) {
    EXPECT_EQ(req.method, "PUT");
  }
}

TEST(HubClientUploadTest, UploadLfsCompletionAnsweredLateIsCheckedWithTheBatch) {
  const std::string data = content(3000);
  TempFile file(data);
  std::atomic<int> completions{0};
  std::atomic<int> batches{0};
  LocalRawServer storage([&](const RawRequest& req) {
    if (req.method == "PUT") {
      return httpReply(200, "", {"ETag: e" + std::to_string(partNumber(req))});
    }
    // The first completion works but its answer is lost; the repeat finds the parts gone.
    return completions++ == 0 ? RawReply{"", true, {}}
                              : httpReply(400, R"({"error":"Part 1 was not uploaded"})");
  });
  LocalRawServer hub([&](const RawRequest&) {
    return batches++ == 0
               ? batchReply(data.size(), multipartActions(storage.url(), data.size(), 1000))
               : batchReply(data.size());
  });
  auto client = makeClient(optionsFor(hub.url()));
  auto done = client->uploadLfs(kRepo, "main", kSha256, data.size(), file.path());
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(completions.load(), 2);
  EXPECT_EQ(batches.load(), 2);
}

TEST(HubClientUploadTest, UploadLfsChecksItsArgumentsBeforeAnyRequest) {
  TempFile file("test");
  LocalRawServer server([](const RawRequest&) { return batchReply(4); });
  auto client = makeClient(optionsFor(server.url()));
  EXPECT_EQ(client->uploadLfs(kRepo, "main", kSha256, 5, file.path()).error().kind,
            HubErrorKind::kLocalIo);
  EXPECT_EQ(client->uploadLfs(kRepo, "main", kSha256, 4, file.path() + ".missing").error().kind,
            HubErrorKind::kLocalIo);
  EXPECT_EQ(client->uploadLfs(kRepo, "main", "abc", 4, file.path()).error().kind,
            HubErrorKind::kInvalidArgument);
  EXPECT_TRUE(server.requests().empty());
}

}  // namespace
}  // namespace hfm::hub::testing
