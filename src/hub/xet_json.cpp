// SPDX-License-Identifier: Apache-2.0
#include "hub/xet_json.h"

#include <algorithm>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/hex.h"
#include "hub/http_util.h"
#include "hub/hub_json.h"
#include "hub/json_util.h"

namespace hfm::hub::detail {
namespace {

using nlohmann::json;

// A 64-hex xorb hash, lower-cased.
std::optional<std::string> xorbHash(const json* value) {
  if (value == nullptr || !value->is_string()) {
    return std::nullopt;
  }
  const auto& text = value->get_ref<const std::string&>();
  if (!common::isHex(text, 64)) {
    return std::nullopt;
  }
  return lowerHex(text);
}

// {"start": u32, "end": u32}: start < end when `exclusive_end`, start <= end otherwise.
struct Span {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
};
std::optional<Span> spanValue(const json* value, std::uint64_t max, bool exclusive_end) {
  if (value == nullptr || !value->is_object()) {
    return std::nullopt;
  }
  auto start = unsignedValue(field(*value, "start"), max);
  auto end = unsignedValue(field(*value, "end"), max);
  if (!start || !end || (exclusive_end ? *start >= *end : *start > *end)) {
    return std::nullopt;
  }
  return Span{*start, *end};
}

constexpr std::uint64_t kU32Max = std::numeric_limits<std::uint32_t>::max();

std::string quoted(const std::string& text) { return "\"" + sanitizeServerText(text, 80) + "\""; }

HubResult<std::vector<XetTerm>> parseTerms(const json& root) {
  const json* terms = field(root, "terms");
  if (terms == nullptr || !terms->is_array()) {
    return bad("reconstruction without a \"terms\" array");
  }
  std::vector<XetTerm> out;
  out.reserve(terms->size());
  for (std::size_t i = 0; i < terms->size(); ++i) {
    const json& t = (*terms)[i];
    std::string which = "term " + std::to_string(i);
    if (!t.is_object()) {
      return bad(which + " is not an object");
    }
    auto hash = xorbHash(field(t, "hash"));
    if (!hash) {
      return bad(which + ": \"hash\" is not 64 hex digits");
    }
    auto range = spanValue(field(t, "range"), kU32Max, /*exclusive_end=*/true);
    if (!range) {
      return bad(which + ": \"range\" is not {start < end}");
    }
    std::uint64_t chunks = range->end - range->start;
    auto length = unsignedValue(field(t, "unpacked_length"), chunks * kXetMaxChunkBytes);
    if (!length || *length == 0) {
      return bad(which + ": \"unpacked_length\" is missing, zero, or more than " +
                 std::to_string(chunks) + " chunks can hold");
    }
    out.push_back(XetTerm{std::move(*hash), static_cast<std::uint32_t>(range->start),
                          static_cast<std::uint32_t>(range->end), *length});
  }
  return out;
}

HubResult<std::uint64_t> parseOffset(const json& root) {
  auto offset = unsignedValue(field(root, "offset_into_first_range"),
                              std::numeric_limits<std::uint64_t>::max());
  if (!offset) {
    return bad("\"offset_into_first_range\" is not a non-negative integer");
  }
  return *offset;
}

// Checks across the whole answer: each term lies in a range of a fetch of its xorb, every
// xorb listed serves some term, and the offset falls inside the first term.
HubResult<XetReconstruction> checkReconstruction(XetReconstruction r) {
  if (r.terms.empty()) {
    if (r.offset_into_first_range != 0 || !r.fetches.empty()) {
      return bad("reconstruction without terms has an offset or fetches");
    }
    return r;
  }
  if (r.offset_into_first_range >= r.terms.front().unpacked_length) {
    return bad("\"offset_into_first_range\" " + std::to_string(r.offset_into_first_range) +
               " is not inside the first term (" + std::to_string(r.terms.front().unpacked_length) +
               " bytes)");
  }
  std::set<std::string> used;
  for (std::size_t i = 0; i < r.terms.size(); ++i) {
    const XetTerm& t = r.terms[i];
    auto it = r.fetches.find(t.xorb_hash);
    bool covered = false;
    if (it != r.fetches.end()) {
      for (const XetFetch& f : it->second) {
        for (const XetRange& range : f.ranges) {
          covered =
              covered || (range.chunk_start <= t.chunk_start && t.chunk_end <= range.chunk_end);
        }
      }
    }
    if (!covered) {
      return bad("term " + std::to_string(i) + " (chunks " + std::to_string(t.chunk_start) + "-" +
                 std::to_string(t.chunk_end) + " of xorb " + t.xorb_hash +
                 ") is not inside any fetch of its xorb");
    }
    used.insert(t.xorb_hash);
  }
  for (const auto& [hash, fetches] : r.fetches) {
    if (used.count(hash) == 0) {
      return bad("xorb " + hash + " is listed for fetching but no term uses it");
    }
  }
  return r;
}

// The fetch map's keys: 64 hex digits, no duplicates once lower-cased.
HubResult<std::string> mapKey(const std::string& key,
                              const std::map<std::string, std::vector<XetFetch>>& seen) {
  if (!common::isHex(key, 64)) {
    return bad("xorb key " + quoted(key) + " is not 64 hex digits");
  }
  std::string lower = lowerHex(key);
  if (seen.count(lower) != 0) {
    return bad("xorb " + lower + " is listed twice");
  }
  return lower;
}

HubResult<std::string> urlValue(const json* value, const std::string& which) {
  if (value == nullptr || !value->is_string()) {
    return bad(which + ": \"url\" is not a string");
  }
  const auto& url = value->get_ref<const std::string&>();
  if (url.size() > kXetMaxUrlBytes || !parseOrigin(url)) {
    return bad(which + ": \"url\" is not an absolute http(s) URL");
  }
  return url;
}

// Whether `eol` ("\r\n" or "\n") is at `pos`; *after is the position past it.
bool isLineEnd(std::string_view body, std::size_t pos, std::string_view eol, std::size_t* after) {
  if (body.substr(pos, eol.size()) != eol) {
    return false;
  }
  *after = pos + eol.size();
  return true;
}

std::string_view trimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

XetRange xetRange(const Span& chunks, const Span& bytes) {
  return XetRange{static_cast<std::uint32_t>(chunks.start), static_cast<std::uint32_t>(chunks.end),
                  bytes.start, bytes.end};
}

// v2: "ranges": [{"chunks":{"start","end"}, "bytes":{"start","end"}}, ...].
HubResult<std::vector<XetRange>> v2Ranges(const json& fetch, const std::string& which) {
  const json* ranges = field(fetch, "ranges");
  if (ranges == nullptr || !ranges->is_array()) {
    return bad(which + ": \"ranges\" is not an array");
  }
  std::vector<XetRange> out;
  // One past the limit is enough for xetFetchProblem to refuse the fetch.
  for (std::size_t j = 0; j < ranges->size() && j <= kXetMaxRangesPerFetch; ++j) {
    const json& r = (*ranges)[j];
    if (!r.is_object()) {
      return bad(which + " range " + std::to_string(j) + " is not an object");
    }
    auto chunks = spanValue(field(r, "chunks"), kU32Max, /*exclusive_end=*/true);
    auto bytes = spanValue(field(r, "bytes"), kXetMaxXorbBytes - 1, /*exclusive_end=*/false);
    if (!chunks || !bytes) {
      return bad(which + " range " + std::to_string(j) +
                 ": \"chunks\" or \"bytes\" is missing, inverted or out of bounds");
    }
    out.push_back(xetRange(*chunks, *bytes));
  }
  return out;
}

// v1: one range per fetch info, "range":{"start","end"} and "url_range":{"start","end"}.
HubResult<std::vector<XetRange>> v1Ranges(const json& fetch, const std::string& which) {
  auto chunks = spanValue(field(fetch, "range"), kU32Max, /*exclusive_end=*/true);
  auto bytes = spanValue(field(fetch, "url_range"), kXetMaxXorbBytes - 1, /*exclusive_end=*/false);
  if (!chunks || !bytes) {
    return bad(which + ": \"range\" or \"url_range\" is missing, inverted or out of bounds");
  }
  return std::vector<XetRange>{xetRange(*chunks, *bytes)};
}

// What tells the two reconstruction versions apart: the name of the fetch map, what its entries
// are called in messages, and how an entry's ranges are read.
struct ReconstructionFormat {
  const char* version;       // "v2"
  const char* fetch_map;     // "xorbs"
  const char* fetch_noun;    // "fetch"
  const char* fetch_plural;  // "fetches"
  HubResult<std::vector<XetRange>> (*ranges)(const json& fetch, const std::string& which);
};
constexpr ReconstructionFormat kV2Format{"v2", "xorbs", "fetch", "fetches", v2Ranges};
constexpr ReconstructionFormat kV1Format{"v1", "fetch_info", "fetch info", "fetch infos", v1Ranges};

HubResult<XetReconstruction> parseReconstruction(std::string_view body,
                                                 const ReconstructionFormat& format) {
  auto root = parseJson(body);
  if (!root || !root->is_object()) {
    return bad("reconstruction is not a JSON object");
  }
  XetReconstruction out;
  auto offset = parseOffset(*root);
  if (!offset) {
    return common::Unexpected<HubError>(std::move(offset).error());
  }
  out.offset_into_first_range = *offset;
  auto terms = parseTerms(*root);
  if (!terms) {
    return common::Unexpected<HubError>(std::move(terms).error());
  }
  out.terms = std::move(*terms);
  const json* map = field(*root, format.fetch_map);
  if (map == nullptr || !map->is_object()) {
    return bad(std::string(format.version) + " reconstruction without a \"" + format.fetch_map +
               "\" object");
  }
  for (const auto& [key, list] : map->items()) {
    auto hash = mapKey(key, out.fetches);
    if (!hash) {
      return common::Unexpected<HubError>(std::move(hash).error());
    }
    if (!list.is_array() || list.empty()) {
      return bad("xorb " + *hash + ": not a non-empty array of " + format.fetch_plural);
    }
    std::vector<XetFetch> fetches;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const json& f = list[i];
      std::string which = "xorb " + *hash + " " + format.fetch_noun + " " + std::to_string(i);
      if (!f.is_object()) {
        return bad(which + " is not an object");
      }
      XetFetch fetch;
      auto url = urlValue(field(f, "url"), which);
      if (!url) {
        return common::Unexpected<HubError>(std::move(url).error());
      }
      fetch.url = std::move(*url);
      auto ranges = format.ranges(f, which);
      if (!ranges) {
        return common::Unexpected<HubError>(std::move(ranges).error());
      }
      fetch.ranges = std::move(*ranges);
      if (auto problem = xetFetchProblem(fetch)) {
        return bad(which + ": " + *problem);
      }
      fetches.push_back(std::move(fetch));
    }
    out.fetches.emplace(std::move(*hash), std::move(fetches));
  }
  return checkReconstruction(std::move(out));
}

}  // namespace

HubResult<XetTokenInfo> parseXetToken(std::string_view body) {
  auto root = parseJson(body);
  if (!root || !root->is_object()) {
    return bad("xet token answer is not a JSON object");
  }
  XetTokenInfo out;
  const json* token = field(*root, "accessToken");
  if (token == nullptr || !token->is_string()) {
    return bad("xet token answer without a string \"accessToken\"");
  }
  out.access_token = token->get<std::string>();
  if (!isUsableCasToken(out.access_token)) {
    return bad("\"accessToken\" is empty, too long, or not printable ASCII");
  }
  const json* exp = field(*root, "exp");
  // Up to year ~36800: anything larger is not a unix time.
  auto expires = unsignedValue(exp, 1ull << 40);
  if (!expires || *expires == 0) {
    return bad("\"exp\" is not a positive integer (unix seconds)");
  }
  out.expires = static_cast<std::int64_t>(*expires);
  const json* cas = field(*root, "casUrl");
  if (cas == nullptr || !cas->is_string()) {
    return bad("xet token answer without a string \"casUrl\"");
  }
  auto cas_url = casUrlValue(cas->get_ref<const std::string&>());
  if (!cas_url) {
    return bad("\"casUrl\" is not an http(s) URL without query");
  }
  out.cas_url = std::move(*cas_url);
  return out;
}

std::optional<std::string> xetFetchProblem(const XetFetch& fetch) {
  if (fetch.url.size() > kXetMaxUrlBytes || !parseOrigin(fetch.url)) {
    return "the fetch URL is not an absolute http(s) URL";
  }
  if (fetch.ranges.empty() || fetch.ranges.size() > kXetMaxRangesPerFetch) {
    return "a fetch has " + std::to_string(fetch.ranges.size()) + " ranges (1 to " +
           std::to_string(kXetMaxRangesPerFetch) + " allowed)";
  }
  for (std::size_t i = 0; i < fetch.ranges.size(); ++i) {
    const XetRange& r = fetch.ranges[i];
    std::string which = "range " + std::to_string(i);
    if (r.chunk_start >= r.chunk_end) {
      return which + ": chunks " + std::to_string(r.chunk_start) + "-" +
             std::to_string(r.chunk_end) + " are empty or inverted";
    }
    if (r.byte_first > r.byte_last || r.byte_last >= kXetMaxXorbBytes) {
      return which + ": bytes " + std::to_string(r.byte_first) + "-" + std::to_string(r.byte_last) +
             " are inverted or past a xorb's largest size";
    }
    std::uint64_t chunks = r.chunk_end - r.chunk_start;
    std::uint64_t length = r.byte_last - r.byte_first + 1;
    if (length < chunks * (kXetChunkHeaderBytes + 1) ||
        length > chunks * (kXetChunkHeaderBytes + kXetMaxChunkPayloadBytes)) {
      return which + ": " + std::to_string(length) + " bytes cannot hold " +
             std::to_string(chunks) + " chunks";
    }
    if (i > 0) {
      const XetRange& p = fetch.ranges[i - 1];
      if (r.chunk_start < p.chunk_end || r.byte_first <= p.byte_last) {
        return which + " overlaps or precedes the range before it";
      }
    }
  }
  return std::nullopt;
}

HubResult<XetReconstruction> parseReconstructionV2(std::string_view body) {
  return parseReconstruction(body, kV2Format);
}

HubResult<XetReconstruction> parseReconstructionV1(std::string_view body) {
  return parseReconstruction(body, kV1Format);
}

std::string xetRangeHeader(std::span<const XetRange> ranges) {
  std::string out = "bytes=";
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += std::to_string(ranges[i].byte_first) + "-" + std::to_string(ranges[i].byte_last);
  }
  return out;
}

std::optional<std::string> multipartBoundary(std::string_view content_type) {
  auto semi = content_type.find(';');
  if (semi == std::string_view::npos ||
      !iequals(trimSpaces(content_type.substr(0, semi)), "multipart/byteranges")) {
    return std::nullopt;
  }
  std::string_view params = content_type.substr(semi + 1);
  while (!params.empty()) {
    auto next = params.find(';');
    std::string_view param = trimSpaces(params.substr(0, next));
    params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
    auto eq = param.find('=');
    if (eq == std::string_view::npos || !iequals(trimSpaces(param.substr(0, eq)), "boundary")) {
      continue;
    }
    std::string_view value = trimSpaces(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    // RFC 2046: 1 to 70 characters; no control characters, none that would end a header line.
    if (value.empty() || value.size() > 70 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c < 0x7f; }) ||
        value.back() == ' ') {
      return std::nullopt;
    }
    return std::string(value);
  }
  return std::nullopt;
}

HubResult<std::vector<std::string>> parseMultipartByteranges(std::string_view body,
                                                             std::string_view boundary,
                                                             std::span<const XetRange> ranges) {
  constexpr std::size_t kMaxPartHeaderBytes = 8192;
  const std::string delimiter = "--" + std::string(boundary);
  std::size_t pos = 0;
  if (body.substr(0, delimiter.size()) != delimiter) {
    // A preamble: the first delimiter starts a line.
    auto at = body.find("\n" + delimiter);
    if (at == std::string_view::npos) {
      return bad("multipart body without its boundary");
    }
    pos = at + 1;
  }
  // The first delimiter line sets the line end for the whole body: accepting both at every
  // place would let a part one byte short pass, its last byte taken for a CR.
  std::string_view eol = "\r\n";
  {
    std::size_t p = pos + delimiter.size();
    while (p < body.size() && (body[p] == ' ' || body[p] == '\t')) {
      ++p;
    }
    if (p < body.size() && body[p] == '\n') {
      eol = "\n";
    }
  }
  std::vector<std::string> parts;
  parts.reserve(ranges.size());
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    std::string which = "part " + std::to_string(i + 1) + " of " + std::to_string(ranges.size());
    if (body.substr(pos, delimiter.size()) != delimiter) {
      return bad(which +
                 ": no boundary where the part should start (truncated or too long "
                 "a part before it)");
    }
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") {
      return bad("multipart body ends after " + std::to_string(i) + " parts, expected " +
                 std::to_string(ranges.size()));
    }
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) {
      ++pos;  // transport padding
    }
    std::size_t after = 0;
    if (!isLineEnd(body, pos, eol, &after)) {
      return bad(which + ": boundary line is not followed by a line end");
    }
    pos = after;
    std::optional<std::string_view> content_range;
    const std::size_t headers_start = pos;
    for (;;) {
      auto nl = body.find(eol, pos);
      if (nl == std::string_view::npos || nl - headers_start > kMaxPartHeaderBytes) {
        return bad(which + ": headers truncated or longer than " +
                   std::to_string(kMaxPartHeaderBytes) + " bytes");
      }
      std::string_view line = body.substr(pos, nl - pos);
      pos = nl + eol.size();
      if (line.empty()) {
        break;
      }
      auto colon = line.find(':');
      if (colon == std::string_view::npos) {
        return bad(which + ": malformed header line");
      }
      if (iequals(trimSpaces(line.substr(0, colon)), "content-range")) {
        if (content_range) {
          return bad(which + ": two Content-Range headers");
        }
        content_range = trimSpaces(line.substr(colon + 1));
      }
    }
    if (!content_range) {
      return bad(which + ": no Content-Range");
    }
    auto range = parseContentRange(*content_range);
    const XetRange& want = ranges[i];
    if (!range || !range->first || *range->first != want.byte_first ||
        *range->last != want.byte_last) {
      return bad(which + ": Content-Range " + sanitizeServerText(*content_range, 80) +
                 " is not the requested bytes " + std::to_string(want.byte_first) + "-" +
                 std::to_string(want.byte_last));
    }
    std::uint64_t length = want.byte_last - want.byte_first + 1;
    if (length > body.size() - pos) {
      return bad(which + ": truncated (" + std::to_string(body.size() - pos) + " of " +
                 std::to_string(length) + " bytes)");
    }
    parts.emplace_back(body.substr(pos, static_cast<std::size_t>(length)));
    pos += static_cast<std::size_t>(length);
    if (!isLineEnd(body, pos, eol, &after)) {
      return bad(which + ": longer or shorter than its Content-Range (no line end after it)");
    }
    pos = after;
  }
  if (body.substr(pos, delimiter.size() + 2) != delimiter + "--") {
    if (body.substr(pos, delimiter.size()) == delimiter) {
      return bad("multipart body has more parts than the " + std::to_string(ranges.size()) +
                 " requested");
    }
    return bad("multipart body does not end with its closing boundary");
  }
  return parts;
}

// ---- uploads -------------------------------------------------------------------------------

namespace {

// "HFRepoMetaData", a zero byte, then 17 fixed bytes (XET.md §4.2).
constexpr unsigned char kShardHeaderTag[32] = {
    'H', 'F', 'R', 'e', 'p', 'o', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a', 0,  85,
    105, 103, 69,  106, 123, 129, 87,  131, 165, 189, 217, 92,  205, 209, 74, 169};

// The value of header `name` in a JSON header object, matched without regard to case.
const json* headerField(const json& header, std::string_view name) {
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (iequals(it.key(), name)) {
      return &it.value();
    }
  }
  return nullptr;
}

// A positive unix time, as an integer or a digit string.
std::optional<std::int64_t> expiryValue(const json* value) {
  if (value == nullptr) {
    return std::nullopt;
  }
  std::optional<std::uint64_t> seconds;
  if (value->is_string()) {
    const auto& text = value->get_ref<const std::string&>();
    if (!text.empty() && text.size() <= 12 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      seconds = std::stoull(text);
    }
  } else {
    seconds = unsignedValue(value, 1ull << 40);
  }
  if (!seconds || *seconds == 0 || *seconds > (1ull << 40)) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(*seconds);
}

HubResult<std::optional<XetUploadOffer>> parseXetObject(const json& root, std::string_view oid,
                                                        std::uint64_t size) {
  const json* objects = field(root, "objects");
  if (objects == nullptr || !objects->is_array()) {
    return bad("malformed JSON (expected an object with an \"objects\" array)");
  }
  if (objects->size() != 1) {
    return bad("expected an answer about exactly one object, got " +
               std::to_string(objects->size()));
  }
  const json& object = (*objects)[0];
  if (!object.is_object()) {
    return bad("the answer's object is not a JSON object");
  }
  const json* answered = field(object, "oid");
  if (answered == nullptr || !answered->is_string() ||
      !common::isHex(answered->get_ref<const std::string&>(), 64) ||
      lowerHex(answered->get<std::string>()) != oid) {
    return bad("the answer is not about the object asked for");
  }
  auto answered_size =
      unsignedValue(field(object, "size"), std::numeric_limits<std::uint64_t>::max());
  if (!answered_size || *answered_size != size) {
    return bad("the answer's \"size\" is not the size asked for");
  }
  if (auto refused = batchObjectError(object)) {
    return std::move(*refused);
  }
  XetUploadOffer offer;
  const json* actions = field(object, "actions");
  if (actions != nullptr && !actions->is_null() && !actions->is_object()) {
    return bad("\"actions\" is not an object");
  }
  const json* upload =
      actions != nullptr && actions->is_object() ? field(*actions, "upload") : nullptr;
  if (upload == nullptr || upload->is_null()) {
    offer.already_stored = true;
    return offer;
  }
  if (!upload->is_object()) {
    return bad("\"actions.upload\" is not an object");
  }
  const json* href = field(*upload, "href");
  if (href == nullptr || !href->is_string() ||
      href->get_ref<const std::string&>().size() > kXetMaxUrlBytes ||
      !parseOrigin(href->get_ref<const std::string&>())) {
    return bad("\"actions.upload.href\" is missing or not an absolute http(s) URL");
  }
  const json* header = field(*upload, "header");
  if (header == nullptr || !header->is_object()) {
    return bad("\"actions.upload.header\" is missing or not an object");
  }
  const json* cas = headerField(*header, "X-Xet-Cas-Url");
  auto cas_url = cas != nullptr && cas->is_string()
                     ? casUrlValue(cas->get_ref<const std::string&>())
                     : std::nullopt;
  if (!cas_url) {
    return bad("X-Xet-Cas-Url is missing or not an http(s) URL without query");
  }
  const json* token = headerField(*header, "X-Xet-Access-Token");
  if (token == nullptr || !token->is_string() ||
      !isUsableCasToken(token->get_ref<const std::string&>())) {
    return bad("X-Xet-Access-Token is missing, empty, too long, or not printable ASCII");
  }
  auto expires = expiryValue(headerField(*header, "X-Xet-Token-Expiration"));
  if (!expires) {
    return bad("X-Xet-Token-Expiration is missing or not a positive unix time");
  }
  offer.access.cas_url = std::move(*cas_url);
  offer.access.token = token->get<std::string>();
  offer.access.expires = *expires;
  offer.access.refresh_url = href->get<std::string>();
  return offer;
}

std::optional<json> objectBody(std::string_view body) {
  auto root = parseJson(body);
  if (!root || !root->is_object()) {
    return std::nullopt;
  }
  return root;
}

}  // namespace

bool isUsableCasToken(std::string_view token) {
  return !token.empty() && token.size() <= kXetMaxTokenBytes &&
         std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::optional<std::string> casUrlValue(std::string_view url) {
  while (!url.empty() && url.back() == '/') {
    url.remove_suffix(1);
  }
  if (url.size() > 2048 || !parseOrigin(url) || url.find_first_of("?#") != std::string::npos) {
    return std::nullopt;
  }
  return std::string(url);
}

HubResult<std::string> xetBatchBody(std::string_view oid, std::uint64_t size,
                                    std::string_view revision) {
  return lfsBatchBody(oid, size, revision, /*offer_xet=*/true);
}

HubResult<std::optional<XetUploadOffer>> parseXetBatchAnswer(std::string_view body,
                                                             std::string_view oid,
                                                             std::uint64_t size) {
  try {
    auto root = objectBody(body);
    if (!root) {
      return bad("malformed JSON (expected an object with an \"objects\" array)");
    }
    const json* transfer = field(*root, "transfer");
    if (transfer == nullptr || transfer->is_null() || *transfer != "xet") {
      // Another transfer (or a malformed one): checked as uploadLfs will check it.
      auto plan = parseLfsBatchAnswer(body, oid, size);
      if (!plan) {
        return common::Unexpected<HubError>(std::move(plan).error());
      }
      return std::optional<XetUploadOffer>();
    }
    return parseXetObject(*root, oid, size);
  } catch (const std::exception& e) {
    return bad(std::string("unexpected JSON shape: ") + e.what());
  }
}

HubResult<bool> parseXorbUploadAnswer(std::string_view body) {
  auto root = objectBody(body);
  const json* inserted = root ? field(*root, "was_inserted") : nullptr;
  if (inserted == nullptr || !inserted->is_boolean()) {
    return bad("xorb upload answer is not an object with a boolean \"was_inserted\"");
  }
  return inserted->get<bool>();
}

HubResult<int> parseShardUploadAnswer(std::string_view body) {
  auto root = objectBody(body);
  auto result = unsignedValue(root ? field(*root, "result") : nullptr, 1);
  if (!result) {
    return bad("shard upload answer is not an object with a \"result\" of 0 or 1");
  }
  return static_cast<int>(*result);
}

bool looksLikeShard(std::string_view bytes) {
  return bytes.size() >= kXetShardHeaderBytes &&
         std::equal(
             std::begin(kShardHeaderTag), std::end(kShardHeaderTag), bytes.begin(),
             [](unsigned char tag, char byte) { return tag == static_cast<unsigned char>(byte); });
}

}  // namespace hfm::hub::detail
