// SPDX-License-Identifier: Apache-2.0
#pragma once

// JSON bodies of the Hub API turned into the hub layer's DTOs, with every field the client relies
// on checked (type, range, format). nlohmann::json stays inside hub_json.cpp. Errors are
// kBadResponse with a reason but no request context; the caller prefixes "METHOD path: ".
// Internal to src/hub. All functions are thread-safe (pure).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub/hub_error.h"
#include "hub/hub_types.h"

namespace hfm::hub::detail {

// Largest size accepted from the server: JSON numbers are exact only up to 2^53.
inline constexpr std::uint64_t kMaxJsonSize = 1ull << 53;

// Answer of GET /api/{t}/{repo}/revision/{rev}: needs "sha" (40 hex) and "lastModified".
HubResult<RevisionInfo> parseRevisionInfo(std::string_view body);

// A tree or paths-info page: a JSON array of entries. Entries of an unknown "type" are skipped;
// anything else malformed fails the whole page.
HubResult<std::vector<TreeEntry>> parseTreeEntries(std::string_view body);

// Why `entry` cannot be a child of `dir` (a descendant when `recursive`); nullopt when it can.
std::optional<std::string> misplacedEntry(const TreeEntry& entry, std::string_view dir,
                                          bool recursive);

struct RepoListItem {
  std::string id;  // "ns/name" as sent, not yet validated
  bool is_private = false;
};
HubResult<std::vector<RepoListItem>> parseRepoList(std::string_view body);

HubResult<WhoAmI> parseWhoAmI(std::string_view body);

// The message of a JSON error body ({"error": "..."}, {"error": [...]}, {"message": "..."}, with
// "error_description"); "" when the body is not one.
std::string errorMessageFromBody(std::string_view body);

}  // namespace hfm::hub::detail
