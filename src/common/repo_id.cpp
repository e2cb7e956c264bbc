// SPDX-License-Identifier: Apache-2.0
#include "common/repo_id.h"

namespace hfm::common {

std::string_view repoTypePlural(RepoType type) {
  switch (type) {
    case RepoType::kModel:
      return "models";
    case RepoType::kDataset:
      return "datasets";
    case RepoType::kSpace:
      return "spaces";
  }
  return "models";
}

std::string_view repoTypeSingular(RepoType type) {
  std::string_view plural = repoTypePlural(type);
  return plural.substr(0, plural.size() - 1);
}

std::string_view repoTypeUrlPrefix(RepoType type) {
  switch (type) {
    case RepoType::kModel:
      return "";
    case RepoType::kDataset:
      return "datasets/";
    case RepoType::kSpace:
      return "spaces/";
  }
  return "";
}

std::optional<RepoType> parseRepoTypePlural(std::string_view text) {
  for (RepoType t : {RepoType::kModel, RepoType::kDataset, RepoType::kSpace}) {
    if (repoTypePlural(t) == text) {
      return t;
    }
  }
  return std::nullopt;
}

std::optional<RepoType> parseRepoType(std::string_view text) {
  for (RepoType t : {RepoType::kModel, RepoType::kDataset, RepoType::kSpace}) {
    if (repoTypePlural(t) == text || repoTypeSingular(t) == text) {
      return t;
    }
  }
  return std::nullopt;
}

bool isValidRepoNamePart(std::string_view part) {
  if (part.empty() || part.size() > 96) {
    return false;
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(part.front())) {
    return false;
  }
  for (char c : part) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  if (part.find("--") != std::string_view::npos || part.find("..") != std::string_view::npos) {
    return false;
  }
  return !(part.size() >= 4 && part.substr(part.size() - 4) == ".git");
}

std::string RepoId::key() const {
  return std::string(repoTypePlural(type)) + "/" + ns + "/" + name;
}

Result<RepoId> parseRepoKey(std::string_view text) {
  auto first = text.find('/');
  auto second = first == std::string_view::npos ? first : text.find('/', first + 1);
  if (second == std::string_view::npos || text.find('/', second + 1) != std::string_view::npos) {
    return makeError(ErrorKind::kInvalidArgument,
                     "repo must be TYPE/NAMESPACE/NAME, e.g. models/alice/tiny-bert: '" +
                         std::string(text) + "'");
  }
  auto type = parseRepoTypePlural(text.substr(0, first));
  if (!type) {
    return makeError(ErrorKind::kInvalidArgument,
                     "repo type must be models, datasets or spaces: '" + std::string(text) + "'");
  }
  RepoId id{*type, std::string(text.substr(first + 1, second - first - 1)),
            std::string(text.substr(second + 1))};
  if (!isValidRepoNamePart(id.ns) || !isValidRepoNamePart(id.name)) {
    return makeError(ErrorKind::kInvalidArgument,
                     "invalid namespace or repo name: '" + std::string(text) + "'");
  }
  return id;
}

}  // namespace hfm::common
