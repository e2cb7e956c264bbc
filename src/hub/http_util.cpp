// SPDX-License-Identifier: Apache-2.0
#include "hub/http_util.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <vector>

#include "common/url.h"

namespace hfm::hub::detail {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string toLower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t";
  auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) {
    return {};
  }
  auto last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Unsigned decimal without sign, spaces or overflow (at most 19 digits).
std::optional<std::uint64_t> parseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 19 || !std::all_of(text.begin(), text.end(), isDigit)) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (char c : text) {
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

// Length of "scheme:" at the start of `ref` (0 when it has no scheme).
std::size_t schemeLength(std::string_view ref) {
  if (ref.empty() || !((ref[0] >= 'a' && ref[0] <= 'z') || (ref[0] >= 'A' && ref[0] <= 'Z'))) {
    return 0;
  }
  for (std::size_t i = 1; i < ref.size(); ++i) {
    char c = ref[i];
    if (c == ':') {
      return i + 1;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c == '+' ||
              c == '-' || c == '.';
    if (!ok) {
      return 0;
    }
  }
  return 0;
}

bool hasUnsafeChars(std::string_view url) {
  return std::any_of(url.begin(), url.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

// "scheme://authority" prefix of an absolute URL (no trailing '/').
std::string_view originPrefix(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    return {};
  }
  auto end = url.find_first_of("/?#", sep + 3);
  return url.substr(0, end == std::string_view::npos ? url.size() : end);
}

std::string repoApiBase(std::string_view endpoint, const common::RepoId& repo) {
  std::string url(endpoint);
  url += "/api/";
  url += common::repoTypePlural(repo.type);
  url += '/';
  url += repoPath(repo);
  return url;
}

// {endpoint}/{prefix}{ns}/{name}: the base of the "web" routes (resolve, .git/...).
std::string repoWebBase(std::string_view endpoint, const common::RepoId& repo) {
  std::string url(endpoint);
  url += '/';
  url += common::repoTypeUrlPrefix(repo.type);
  url += repoPath(repo);
  return url;
}

std::optional<std::int64_t> parseAmzDate(std::string_view text) {
  // YYYYMMDDTHHMMSSZ
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') {
    return std::nullopt;
  }
  auto field = [&](std::size_t pos, std::size_t len) {
    return parseDecimal(text.substr(pos, len));
  };
  auto y = field(0, 4), mo = field(4, 2), d = field(6, 2), h = field(9, 2), mi = field(11, 2),
       s = field(13, 2);
  if (!y || !mo || !d || !h || !mi || !s || *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 ||
      *mi > 59 || *s > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = static_cast<int>(*y) - 1900;
  tm.tm_mon = static_cast<int>(*mo) - 1;
  tm.tm_mday = static_cast<int>(*d);
  tm.tm_hour = static_cast<int>(*h);
  tm.tm_min = static_cast<int>(*mi);
  tm.tm_sec = static_cast<int>(*s);
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

std::optional<Origin> parseOrigin(std::string_view url) {
  if (hasUnsafeChars(url)) {
    return std::nullopt;
  }
  auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    return std::nullopt;
  }
  Origin origin;
  origin.scheme = toLower(url.substr(0, sep));
  if (origin.scheme != "http" && origin.scheme != "https") {
    return std::nullopt;
  }
  std::string_view authority = originPrefix(url).substr(sep + 3);
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    host = authority.substr(0, close + 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return std::nullopt;
      }
      port = rest.substr(1);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  bool bracketed = !host.empty() && host.front() == '[';
  if (host.empty() || (!bracketed && host.find_first_of(":[]\\") != std::string_view::npos)) {
    return std::nullopt;
  }
  origin.host = toLower(host);
  if (port.empty()) {
    origin.port = origin.scheme == "https" ? 443 : 80;
  } else {
    auto value = parseDecimal(port);
    if (!value || *value == 0 || *value > 65535) {
      return std::nullopt;
    }
    origin.port = static_cast<std::uint16_t>(*value);
  }
  return origin;
}

bool sameOrigin(std::string_view a, std::string_view b) {
  auto x = parseOrigin(a);
  auto y = parseOrigin(b);
  return x && y && *x == *y;
}

std::optional<std::string> resolveReference(std::string_view base, std::string_view location) {
  location = trim(location);
  if (location.empty() || hasUnsafeChars(location) || !parseOrigin(base)) {
    return std::nullopt;
  }
  std::string out;
  if (std::size_t scheme = schemeLength(location); scheme > 0) {
    out = std::string(location);
  } else if (location.rfind("//", 0) == 0) {
    out = std::string(base.substr(0, base.find(':') + 1)) + std::string(location);
  } else if (location.front() == '/') {
    out = std::string(originPrefix(base)) + std::string(location);
  } else {
    std::string without_query = stripQuery(base);
    std::string_view prefix = originPrefix(without_query);
    std::string_view path = std::string_view(without_query).substr(prefix.size());
    if (location.front() == '?') {
      out = without_query + std::string(location);
    } else {
      auto slash = path.rfind('/');
      std::string dir = slash == std::string_view::npos ? "/" : std::string(path.substr(0, slash + 1));
      out = std::string(prefix) + dir + std::string(location);
    }
  }
  if (!parseOrigin(out)) {
    return std::nullopt;
  }
  return out;
}

std::string stripQuery(std::string_view url) {
  return std::string(url.substr(0, std::min(url.find('?'), url.find('#'))));
}

std::string describeUrl(std::string_view url, std::string_view endpoint) {
  std::string bare = stripQuery(url);
  if (sameOrigin(url, endpoint)) {
    std::string_view path = std::string_view(bare).substr(originPrefix(bare).size());
    return path.empty() ? "/" : std::string(path);
  }
  return bare;
}

std::optional<std::string> parseLinkNext(std::string_view header) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto open = header.find('<', pos);
    if (open == std::string_view::npos) {
      return std::nullopt;
    }
    auto close = header.find('>', open);
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    std::string_view target = trim(header.substr(open + 1, close - open - 1));
    // Parameters run to the next ',' outside quotes.
    std::size_t end = close + 1;
    bool quoted = false;
    for (; end < header.size(); ++end) {
      if (header[end] == '"') {
        quoted = !quoted;
      } else if (header[end] == ',' && !quoted) {
        break;
      }
    }
    std::string_view params = header.substr(close + 1, end - close - 1);
    std::size_t p = 0;
    while (p <= params.size()) {
      auto semi = params.find(';', p);
      std::string_view param =
          trim(params.substr(p, semi == std::string_view::npos ? std::string_view::npos : semi - p));
      auto eq = param.find('=');
      if (eq != std::string_view::npos && iequals(trim(param.substr(0, eq)), "rel")) {
        std::string_view value = trim(param.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
          value = value.substr(1, value.size() - 2);
        }
        // rel may hold several space-separated relation types.
        std::size_t t = 0;
        while (t < value.size()) {
          auto space = value.find(' ', t);
          std::string_view type =
              value.substr(t, space == std::string_view::npos ? std::string_view::npos : space - t);
          if (iequals(type, "next") && !target.empty()) {
            return std::string(target);
          }
          if (space == std::string_view::npos) {
            break;
          }
          t = space + 1;
        }
      }
      if (semi == std::string_view::npos) {
        break;
      }
      p = semi + 1;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<ContentRange> parseContentRange(std::string_view header) {
  header = trim(header);
  if (header.size() < 6 || !iequals(header.substr(0, 5), "bytes") || header[5] != ' ') {
    return std::nullopt;
  }
  std::string_view spec = trim(header.substr(6));
  auto slash = spec.find('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view range = spec.substr(0, slash);
  std::string_view total = spec.substr(slash + 1);
  ContentRange out;
  if (total != "*") {
    out.total = parseDecimal(total);
    if (!out.total) {
      return std::nullopt;
    }
  }
  if (range == "*") {
    // "bytes */n" (416) needs the total.
    return out.total ? std::optional<ContentRange>(out) : std::nullopt;
  }
  auto dash = range.find('-');
  if (dash == std::string_view::npos) {
    return std::nullopt;
  }
  out.first = parseDecimal(range.substr(0, dash));
  out.last = parseDecimal(range.substr(dash + 1));
  if (!out.first || !out.last || *out.first > *out.last || (out.total && *out.last >= *out.total)) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::chrono::seconds> parseRetryAfter(std::string_view header) {
  auto value = parseDecimal(trim(header));
  if (!value || *value > 24u * 3600u) {
    return std::nullopt;  // an HTTP-date, garbage, or a value nobody would wait for
  }
  return std::chrono::seconds(static_cast<std::int64_t>(*value));
}

std::chrono::milliseconds backoffDelay(unsigned retry,
                                       std::optional<std::chrono::milliseconds> retry_after,
                                       double unit_random, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap) {
  double ceiling = static_cast<double>(cap.count());
  if (retry < 40) {
    ceiling = std::min(ceiling, static_cast<double>(base.count()) * std::ldexp(1.0, static_cast<int>(retry)));
  }
  double u = std::clamp(unit_random, 0.0, 1.0);
  auto delay = std::chrono::milliseconds(static_cast<std::int64_t>(std::floor(u * ceiling)));
  if (retry_after && *retry_after > delay) {
    delay = *retry_after;
  }
  return delay;
}

std::optional<std::chrono::system_clock::time_point> signedUrlExpiry(std::string_view url) {
  auto q = url.find('?');
  if (q == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view query = url.substr(q + 1);
  query = query.substr(0, query.find('#'));
  auto params = common::parseQuery(query);
  if (!params) {
    return std::nullopt;
  }
  std::optional<std::int64_t> expiry;
  auto consider = [&](std::int64_t when) { expiry = expiry ? std::min(*expiry, when) : when; };
  std::optional<std::int64_t> amz_date;
  std::optional<std::uint64_t> amz_expires;
  for (const auto& [key, value] : *params) {
    if (iequals(key, "X-Expires") || iequals(key, "Expires")) {
      if (auto v = parseDecimal(value); v && *v < (1ull << 40)) {
        consider(static_cast<std::int64_t>(*v));
      }
    } else if (iequals(key, "X-Amz-Date")) {
      amz_date = parseAmzDate(value);
    } else if (iequals(key, "X-Amz-Expires")) {
      amz_expires = parseDecimal(value);
    }
  }
  if (amz_date && amz_expires && *amz_expires < (1ull << 32)) {
    consider(*amz_date + static_cast<std::int64_t>(*amz_expires));
  }
  if (!expiry) {
    return std::nullopt;
  }
  return std::chrono::system_clock::time_point(std::chrono::seconds(*expiry));
}

bool isRetryableStatus(int status) { return status == 408 || status == 429 || (status >= 500 && status <= 599); }

HubError errorFromStatus(int status, std::string_view error_code, std::string_view error_message,
                         std::string_view context) {
  HubError error;
  error.http_status = status;
  std::string code = sanitizeServerText(error_code, 64);
  std::string text = sanitizeServerText(error_message);
  error.message = std::string(context) + ": HTTP " + std::to_string(status);
  if (!code.empty()) {
    error.message += " " + code;
  }
  if (!text.empty()) {
    error.message += ": " + text;
  }
  // Same order as huggingface_hub's hf_raise_for_status: the Hub's code first, then the status.
  if (code == "RevisionNotFound") {
    error.kind = HubErrorKind::kRevisionNotFound;
  } else if (code == "EntryNotFound") {
    error.kind = HubErrorKind::kEntryNotFound;
  } else if (code == "GatedRepo") {
    error.kind = HubErrorKind::kGated;
  } else if (code == "RepoNotFound") {
    error.kind = HubErrorKind::kNotFound;
    // Anonymous requests for private repos get 401 RepoNotFound, exactly like missing ones.
    error.maybe_private = status == 401;
  } else if (status == 401) {
    error.kind = HubErrorKind::kUnauthorized;  // "Invalid credentials in Authorization header" too
  } else if (status == 403) {
    error.kind = HubErrorKind::kForbidden;  // also "Access to this resource is disabled."
  } else if (status == 404 || status == 410) {
    error.kind = HubErrorKind::kNotFound;
  } else if (status == 409 || status == 412) {
    error.kind = HubErrorKind::kConflict;
  } else if (status == 416) {
    error.kind = HubErrorKind::kRangeNotSatisfiable;
  } else if (status == 408) {
    error.kind = HubErrorKind::kTimeout;
  } else if (status == 429) {
    error.kind = HubErrorKind::kRateLimited;
  } else if (status >= 500 && status <= 599) {
    error.kind = HubErrorKind::kServerError;
  } else {
    error.kind = HubErrorKind::kBadResponse;  // 400, 413, unexpected 1xx/2xx/3xx, ...
  }
  return error;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

std::string lowerHex(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](char c) {
    return (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return text;
}

std::string sanitizeServerText(std::string_view text, std::size_t max_bytes) {
  text = trim(text);
  std::string out;
  out.reserve(std::min(text.size(), max_bytes + 3));
  for (char c : text) {
    if (out.size() >= max_bytes) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

std::string repoPath(const common::RepoId& repo) {
  if (repo.ns.empty()) {
    return common::percentEncode(repo.name);
  }
  return common::percentEncode(repo.ns) + "/" + common::percentEncode(repo.name);
}

std::string quoteRevision(std::string_view revision) { return common::percentEncode(revision, false); }

std::string quotePath(std::string_view path) { return common::percentEncode(path, true); }

std::string revisionUrl(std::string_view endpoint, const common::RepoId& repo,
                        std::string_view revision) {
  return repoApiBase(endpoint, repo) + "/revision/" + quoteRevision(revision);
}

std::string treeUrl(std::string_view endpoint, const common::RepoId& repo,
                    std::string_view revision, std::string_view dir, bool recursive) {
  std::string url = repoApiBase(endpoint, repo) + "/tree/" + quoteRevision(revision);
  if (!dir.empty()) {
    // huggingface_hub quotes the folder with safe="" too; the Hub accepts it either way.
    url += "/" + common::percentEncode(dir, false);
  }
  url += recursive ? "?recursive=true" : "?recursive=false";
  return url;
}

std::string pathsInfoUrl(std::string_view endpoint, const common::RepoId& repo,
                         std::string_view revision) {
  return repoApiBase(endpoint, repo) + "/paths-info/" + quoteRevision(revision);
}

std::string preuploadUrl(std::string_view endpoint, const common::RepoId& repo,
                         std::string_view revision) {
  return repoApiBase(endpoint, repo) + "/preupload/" + quoteRevision(revision);
}

std::string commitUrl(std::string_view endpoint, const common::RepoId& repo,
                      std::string_view revision) {
  return repoApiBase(endpoint, repo) + "/commit/" + quoteRevision(revision);
}

std::string commitsUrl(std::string_view endpoint, const common::RepoId& repo,
                       std::string_view revision, std::size_t limit) {
  return repoApiBase(endpoint, repo) + "/commits/" + quoteRevision(revision) +
         "?limit=" + std::to_string(limit);
}

std::string resolveUrl(std::string_view endpoint, const common::RepoId& repo,
                       std::string_view revision, std::string_view path) {
  return repoWebBase(endpoint, repo) + "/resolve/" + quoteRevision(revision) + "/" +
         quotePath(path);
}

std::string lfsBatchUrl(std::string_view endpoint, const common::RepoId& repo) {
  return repoWebBase(endpoint, repo) + ".git/info/lfs/objects/batch";
}

std::string repoListUrl(std::string_view endpoint, common::RepoType type, std::string_view author,
                        std::size_t limit) {
  std::string url(endpoint);
  url += "/api/";
  url += common::repoTypePlural(type);
  url += "?author=" + common::percentEncode(author) + "&limit=" + std::to_string(limit);
  return url;
}

std::string whoamiUrl(std::string_view endpoint) { return std::string(endpoint) + "/api/whoami-v2"; }

std::string refsUrl(std::string_view endpoint, const common::RepoId& repo) {
  return repoApiBase(endpoint, repo) + "/refs";
}

}  // namespace hfm::hub::detail
