// SPDX-License-Identifier: Apache-2.0
#include "hub/hub_json.h"

#include <algorithm>
#include <exception>

#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "common/repo_path.h"
#include "common/time_util.h"

namespace hfm::hub::detail {
namespace {

using nlohmann::json;

common::Unexpected<HubError> bad(std::string reason) {
  return hubError(HubErrorKind::kBadResponse, std::move(reason));
}

std::optional<json> parseJson(std::string_view body) {
  json parsed = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return std::nullopt;
  }
  return parsed;
}

const json* field(const json& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

std::string lowerHex(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](char c) { return (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c; });
  return text;
}

// A non-negative integer no larger than kMaxJsonSize; floats and negatives are refused.
std::optional<std::uint64_t> sizeValue(const json& value) {
  if (value.is_number_unsigned()) {
    auto v = value.get<std::uint64_t>();
    return v <= kMaxJsonSize ? std::optional<std::uint64_t>(v) : std::nullopt;
  }
  if (value.is_number_integer()) {
    auto v = value.get<std::int64_t>();
    return v >= 0 && static_cast<std::uint64_t>(v) <= kMaxJsonSize
               ? std::optional<std::uint64_t>(static_cast<std::uint64_t>(v))
               : std::nullopt;
  }
  return std::nullopt;
}

// A hex id of one of the given lengths, lower-cased.
std::optional<std::string> hexValue(const json& value, std::initializer_list<std::size_t> lengths) {
  if (!value.is_string()) {
    return std::nullopt;
  }
  const auto& text = value.get_ref<const std::string&>();
  for (std::size_t length : lengths) {
    if (common::isHex(text, length)) {
      return lowerHex(text);
    }
  }
  return std::nullopt;
}

// One entry of a tree page; nullopt (no error) for an entry of an unknown type.
HubResult<std::optional<TreeEntry>> parseEntry(const json& item, std::size_t index) {
  std::string where = "entry " + std::to_string(index);
  if (!item.is_object()) {
    return bad(where + " is not an object");
  }
  const json* type = field(item, "type");
  const json* path = field(item, "path");
  if (type == nullptr || !type->is_string()) {
    return bad(where + " has no string \"type\"");
  }
  if (path == nullptr || !path->is_string()) {
    return bad(where + " has no string \"path\"");
  }
  const auto& type_text = type->get_ref<const std::string&>();
  if (type_text != "file" && type_text != "directory") {
    return std::optional<TreeEntry>();
  }
  TreeEntry entry;
  entry.path = path->get<std::string>();
  if (!common::isValidRepoPath(entry.path)) {
    // The path itself may hold control characters: do not echo it.
    return bad(where + " has an invalid path (empty, absolute, '.', '..', control character, "
                       "or a segment over 255 bytes)");
  }
  where += " (" + entry.path + ")";
  entry.is_dir = type_text == "directory";
  const json* oid = field(item, "oid");
  if (oid != nullptr && !oid->is_null()) {
    auto hex = hexValue(*oid, {40, 64});
    if (!hex) {
      return bad(where + ": \"oid\" is not a 40 or 64 digit hex id");
    }
    entry.oid = *hex;
  } else if (!entry.is_dir) {
    return bad(where + ": file without \"oid\"");
  }
  if (entry.is_dir) {
    return std::optional<TreeEntry>(std::move(entry));
  }
  const json* size = field(item, "size");
  auto size_value = size == nullptr ? std::nullopt : sizeValue(*size);
  if (!size_value) {
    return bad(where + ": \"size\" is missing, negative, not an integer or above 2^53");
  }
  entry.size = *size_value;
  if (const json* lfs = field(item, "lfs"); lfs != nullptr && !lfs->is_null()) {
    if (!lfs->is_object()) {
      return bad(where + ": \"lfs\" is not an object");
    }
    // Tree entries name it "oid", repo-info siblings "sha256".
    const json* lfs_oid = field(*lfs, "oid");
    if (lfs_oid == nullptr) {
      lfs_oid = field(*lfs, "sha256");
    }
    auto sha = lfs_oid == nullptr ? std::nullopt : hexValue(*lfs_oid, {64});
    if (!sha) {
      return bad(where + ": \"lfs.oid\" is not a sha256");
    }
    entry.lfs_sha256 = *sha;
    if (const json* lfs_size = field(*lfs, "size"); lfs_size != nullptr) {
      auto v = sizeValue(*lfs_size);
      if (!v || *v != entry.size) {
        return bad(where + ": \"lfs.size\" disagrees with \"size\"");
      }
    }
  }
  if (const json* xet = field(item, "xetHash"); xet != nullptr && !xet->is_null()) {
    auto hash = hexValue(*xet, {64});
    if (!hash) {
      return bad(where + ": \"xetHash\" is not 64 hex digits");
    }
    entry.xet_hash = *hash;
  }
  return std::optional<TreeEntry>(std::move(entry));
}

template <class F>
auto guarded(F&& body) -> decltype(body()) {
  // nlohmann reports misuse by throwing; every access below is type-checked first, so this only
  // turns an oversight (or bad_alloc) into an error instead of an escape through the layer.
  try {
    return body();
  } catch (const std::exception& e) {
    return bad(std::string("unexpected JSON shape: ") + e.what());
  }
}

}  // namespace

HubResult<RevisionInfo> parseRevisionInfo(std::string_view text) {
  return guarded([&]() -> HubResult<RevisionInfo> {
    auto body = parseJson(text);
    if (!body || !body->is_object()) {
      return bad("malformed JSON (expected an object)");
    }
    RevisionInfo info;
    const json* sha = field(*body, "sha");
    auto commit = sha == nullptr ? std::nullopt : hexValue(*sha, {40});
    if (!commit) {
      return bad("\"sha\" is missing or not a 40 digit hex commit id");
    }
    info.commit = *commit;
    const json* modified = field(*body, "lastModified");
    if (modified == nullptr || !modified->is_string()) {
      return bad("\"lastModified\" is missing");
    }
    auto when = common::parseIso8601(modified->get_ref<const std::string&>());
    if (!when) {
      return bad("\"lastModified\" is not an ISO 8601 date");
    }
    info.last_modified = *when;
    if (const json* priv = field(*body, "private"); priv != nullptr && !priv->is_null()) {
      if (!priv->is_boolean()) {
        return bad("\"private\" is not a boolean");
      }
      info.is_private = priv->get<bool>();
    }
    if (const json* gated = field(*body, "gated"); gated != nullptr && !gated->is_null()) {
      if (gated->is_boolean()) {
        info.gated = gated->get<bool>() ? "true" : "";
      } else if (gated->is_string()) {
        info.gated = gated->get<std::string>();
      } else {
        return bad("\"gated\" is neither a boolean nor a string");
      }
    }
    return info;
  });
}

HubResult<std::vector<TreeEntry>> parseTreeEntries(std::string_view text) {
  return guarded([&]() -> HubResult<std::vector<TreeEntry>> {
    auto body = parseJson(text);
    if (!body || !body->is_array()) {
      return bad("malformed JSON (expected an array of entries)");
    }
    std::vector<TreeEntry> entries;
    entries.reserve(body->size());
    std::size_t index = 0;
    for (const auto& item : *body) {
      auto entry = parseEntry(item, index++);
      if (!entry) {
        return common::Unexpected<HubError>(std::move(entry).error());
      }
      if (*entry) {
        entries.push_back(std::move(**entry));
      }
    }
    return entries;
  });
}

std::optional<std::string> misplacedEntry(const TreeEntry& entry, std::string_view dir,
                                          bool recursive) {
  std::string_view path = entry.path;
  if (!dir.empty()) {
    if (path.size() <= dir.size() + 1 || path.substr(0, dir.size()) != dir ||
        path[dir.size()] != '/') {
      return "\"" + entry.path + "\" is not inside the listed folder \"" + std::string(dir) + "\"";
    }
    path.remove_prefix(dir.size() + 1);
  }
  if (!recursive && path.find('/') != std::string_view::npos) {
    return "\"" + entry.path + "\" is not a direct child of the listed folder";
  }
  return std::nullopt;
}

HubResult<std::vector<RepoListItem>> parseRepoList(std::string_view text) {
  return guarded([&]() -> HubResult<std::vector<RepoListItem>> {
    auto body = parseJson(text);
    if (!body || !body->is_array()) {
      return bad("malformed JSON (expected an array of repositories)");
    }
    std::vector<RepoListItem> items;
    for (const auto& item : *body) {
      const json* id = item.is_object() ? field(item, "id") : nullptr;
      if (id == nullptr || !id->is_string()) {
        return bad("repository without a string \"id\"");
      }
      RepoListItem out{id->get<std::string>(), false};
      if (const json* priv = field(item, "private"); priv != nullptr && !priv->is_null()) {
        if (!priv->is_boolean()) {
          return bad("\"private\" is not a boolean");
        }
        out.is_private = priv->get<bool>();
      }
      items.push_back(std::move(out));
    }
    return items;
  });
}

HubResult<WhoAmI> parseWhoAmI(std::string_view text) {
  return guarded([&]() -> HubResult<WhoAmI> {
    auto body = parseJson(text);
    if (!body || !body->is_object()) {
      return bad("malformed JSON (expected an object)");
    }
    WhoAmI who;
    const json* name = field(*body, "name");
    if (name == nullptr || !name->is_string()) {
      return bad("\"name\" is missing");
    }
    who.name = name->get<std::string>();
    if (const json* orgs = field(*body, "orgs"); orgs != nullptr && orgs->is_array()) {
      for (const auto& org : *orgs) {
        const json* org_name = org.is_object() ? field(org, "name") : nullptr;
        if (org_name != nullptr && org_name->is_string()) {
          who.orgs.push_back(org_name->get<std::string>());
        }
      }
    }
    const json* auth = field(*body, "auth");
    const json* token = auth != nullptr && auth->is_object() ? field(*auth, "accessToken") : nullptr;
    const json* role = token != nullptr && token->is_object() ? field(*token, "role") : nullptr;
    if (role != nullptr && role->is_string()) {
      who.role = role->get<std::string>();
    }
    return who;
  });
}

std::string errorMessageFromBody(std::string_view text) {
  try {
    auto body = parseJson(text);
    if (!body || !body->is_object()) {
      return {};
    }
    std::string message;
    auto append = [&](const json& value) {
      if (value.is_string()) {
        message += (message.empty() ? "" : "; ") + value.get<std::string>();
      }
    };
    if (const json* error = field(*body, "error")) {
      if (error->is_array()) {
        for (const auto& e : *error) {
          append(e);
        }
      } else {
        append(*error);
      }
    } else if (const json* msg = field(*body, "message")) {
      append(*msg);
    }
    if (const json* description = field(*body, "error_description")) {
      append(*description);
    }
    return message;
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace hfm::hub::detail
