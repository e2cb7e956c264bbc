// SPDX-License-Identifier: Apache-2.0
// HubClient's commit side: preupload, the write check, the NDJSON commit and the commit history.

#include <algorithm>
#include <iterator>
#include <span>
#include <unordered_set>

#include "hub/hub_client.h"
#include "hub/hub_client_impl.h"
#include "hub/hub_json.h"

namespace hfm::hub {
namespace {

constexpr std::size_t kPreuploadBatch = 256;     // huggingface_hub's chunk size
constexpr std::size_t kCommitsPageLimit = 1000;  // the largest page the Hub serves

}  // namespace

HubResult<std::vector<PreuploadAnswer>> HubClient::preupload(
    const common::RepoId& repo, const std::string& revision,
    const std::vector<PreuploadFile>& files) {
  if (revision.empty()) {
    return impl_->failInvalid("preupload: empty revision");
  }
  std::vector<PreuploadAnswer> answers;
  answers.reserve(files.size());
  const std::string url = detail::preuploadUrl(impl_->options.endpoint, repo, revision);
  const std::span<const PreuploadFile> all(files);
  for (std::size_t begin = 0; begin < all.size(); begin += kPreuploadBatch) {
    auto batch = all.subspan(begin, std::min(kPreuploadBatch, all.size() - begin));
    auto body = detail::preuploadBody(batch);
    if (!body) {
      return impl_->fail(std::move(body).error());
    }
    auto response =
        impl_->apiCall("POST", url, {.body = *body, .content_type = "application/json"});
    if (!response) {
      return common::Unexpected<HubError>(std::move(response).error());
    }
    auto parsed = impl_->checked("POST", url, detail::parsePreuploadAnswers(response->body, batch));
    if (!parsed) {
      return parsed;
    }
    std::move(parsed->begin(), parsed->end(), std::back_inserter(answers));
  }
  return answers;
}

HubResult<bool> HubClient::canWrite(const common::RepoId& repo, const std::string& revision,
                                    const std::stop_token& stop) {
  if (!impl_->options.token) {
    return false;
  }
  if (revision.empty()) {
    return impl_->failInvalid("canWrite: empty revision");
  }
  const std::string url = detail::preuploadUrl(impl_->options.endpoint, repo, revision);
  auto response =
      impl_->apiCall("POST", url, {.body = R"({"files":[]})", .content_type = "application/json",
                                   .stop = stop});
  if (response) {
    return true;
  }
  HubErrorKind kind = response.error().kind;
  if (kind == HubErrorKind::kUnauthorized || kind == HubErrorKind::kForbidden) {
    return false;
  }
  return common::Unexpected<HubError>(std::move(response).error());
}

HubResult<CommitInfo> HubClient::commit(const common::RepoId& repo, const std::string& revision,
                                        const CommitRequest& request) {
  if (revision.empty()) {
    return impl_->failInvalid("commit: empty revision");
  }
  auto body = detail::commitNdjson(request);
  if (!body) {
    return impl_->fail(std::move(body).error());
  }
  const std::string url = detail::commitUrl(impl_->options.endpoint, repo, revision);
  auto response = impl_->apiCall(
      "POST", url, {.body = *body, .content_type = "application/x-ndjson", .is_idempotent = false});
  if (!response) {
    return common::Unexpected<HubError>(std::move(response).error());
  }
  // A 2xx that cannot be parsed still made the commit: the caller's listCommits check finds it.
  return impl_->checked("POST", url, detail::parseCommitInfo(response->body));
}

HubResult<std::vector<CommitSummary>> HubClient::listCommits(const common::RepoId& repo,
                                                             const std::string& revision,
                                                             std::size_t limit) {
  std::vector<CommitSummary> commits;
  if (limit == 0) {
    return commits;
  }
  if (revision.empty()) {
    return impl_->failInvalid("listCommits: empty revision");
  }
  std::unordered_set<std::string> seen;
  auto done = impl_->paginate(
      detail::commitsUrl(impl_->options.endpoint, repo, revision,
                         std::min(limit, kCommitsPageLimit)),
      [&](const detail::ApiResponse& page) -> HubResult<bool> {
        auto parsed = impl_->checked("GET", page.url, detail::parseCommitList(page.body));
        if (!parsed) {
          return common::Unexpected<HubError>(std::move(parsed).error());
        }
        for (auto& commit : *parsed) {
          if (!seen.insert(commit.id).second) {
            return impl_->failBad(impl_->context("GET", page.url),
                                  "commit " + commit.id + " is listed twice");
          }
          commits.push_back(std::move(commit));
          if (commits.size() >= limit) {
            return false;
          }
        }
        return !parsed->empty();
      });
  if (!done) {
    return common::Unexpected<HubError>(std::move(done).error());
  }
  return commits;
}

}  // namespace hfm::hub
