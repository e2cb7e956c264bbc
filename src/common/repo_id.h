// SPDX-License-Identifier: Apache-2.0
#pragma once

// Repository identity as the Hub names it: a type (model, dataset, space) plus "namespace/name".

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace hfm::common {

enum class RepoType { kModel, kDataset, kSpace };

std::string_view repoTypePlural(RepoType type);    // "models", used in /api/ routes and on disk
std::string_view repoTypeSingular(RepoType type);  // "model", used in request bodies
std::string_view repoTypeUrlPrefix(RepoType type);  // "", "datasets/", "spaces/" for file routes
std::optional<RepoType> parseRepoTypePlural(std::string_view text);
// Accepts "model"/"dataset"/"space" and the plural forms.
std::optional<RepoType> parseRepoType(std::string_view text);

// True for a Hub-valid namespace or repo name: 1-96 chars of [A-Za-z0-9._-], starting with an
// alphanumeric, no "--" or "..", not ending in ".git".
bool isValidRepoNamePart(std::string_view part);

struct RepoId {
  RepoType type = RepoType::kModel;
  std::string ns;
  std::string name;

  std::string fullName() const { return ns + "/" + name; }  // "ns/name"
  std::string key() const;  // "models/ns/name": unique across types
  bool operator==(const RepoId&) const = default;
};

// Parses "models/ns/name" (the CLI form).
Result<RepoId> parseRepoKey(std::string_view text);

}  // namespace hfm::common
