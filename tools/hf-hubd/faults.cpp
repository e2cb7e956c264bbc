// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/faults.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <sstream>
#include <string>
#include <system_error>

namespace hfm::hubd {
namespace {

using common::ErrorKind;
using common::makeError;
using common::Result;
using detail::ClassFaults;
using detail::FaultState;
using detail::StatusFault;
using std::chrono::milliseconds;

constexpr int kMinStatus = 400;
constexpr int kMaxStatus = 599;
constexpr uint64_t kMaxDurationMs = 3'600'000;
constexpr uint64_t kMaxRetryAfterS = 86'400;
// Decimal probabilities are not exact in binary: 0.1 + 0.2 + 0.7 sums to slightly more than 1.
constexpr double kSumSlack = 1e-9;

// decide() indexes per-class arrays by the enumerator value.
constexpr bool routeClassesAreDense() {
  for (std::size_t i = 0; i < kAllRouteClasses.size(); ++i) {
    if (static_cast<std::size_t>(kAllRouteClasses[i]) != i) {
      return false;
    }
  }
  return true;
}
static_assert(routeClassesAreDense(), "FaultPlan indexes its arrays by RouteClass value");

// Mixed into the hash so the draws made for one request are independent of one another.
enum class Draw : uint64_t { kStatus = 1, kLatency, kStall, kCut, kShort };

constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A uniform number in [0, 1) that depends only on (seed, class, n, draw).
double uniform(uint64_t seed, RouteClass cls, uint64_t n, Draw draw) {
  uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ ((static_cast<uint64_t>(cls) + 1) * 0xd1b54a32d192ed03ULL));
  h = splitmix64(h ^ n);
  h = splitmix64(h ^ (static_cast<uint64_t>(draw) * 0xa0761d6478bd642fULL));
  return static_cast<double>(h >> 11) * 0x1.0p-53;  // 53 bits: every value exact in a double
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool allDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), isDigit);
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) {
    return {};
  }
  const std::size_t last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(trim(text.substr(start)));
      return parts;
    }
    parts.push_back(trim(text.substr(start, end - start)));
    start = end + 1;
  }
}

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

common::Unexpected<common::Error> specError(const std::string& message) {
  return makeError(ErrorKind::kInvalidArgument, "fault spec: " + message);
}

std::optional<uint64_t> parseUnsigned(std::string_view text) {
  if (!allDigits(text)) {
    return std::nullopt;
  }
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// Plain decimals only ("0.05", "1", ".5"): from_chars alone would also take exponents, "inf" and
// "nan", none of which belong in a command-line probability.
std::optional<double> parseProbability(std::string_view text) {
  if (text.empty() || std::count(text.begin(), text.end(), '.') > 1 ||
      std::none_of(text.begin(), text.end(), isDigit) ||
      !std::all_of(text.begin(), text.end(), [](char c) { return isDigit(c) || c == '.'; })) {
    return std::nullopt;
  }
  double value = 0.0;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
  if (ec != std::errc{} || end != text.data() + text.size() || !(value >= 0.0 && value <= 1.0)) {
    return std::nullopt;
  }
  return value;
}

// "250", "250ms", "2s" or "1.5s" (at most three decimals, so the value is a whole number of ms).
std::optional<milliseconds> parseDuration(std::string_view text) {
  uint64_t ms = 0;
  if (text.ends_with("ms")) {
    const auto value = parseUnsigned(text.substr(0, text.size() - 2));
    if (!value || *value > kMaxDurationMs) {
      return std::nullopt;
    }
    ms = *value;
  } else if (text.ends_with("s")) {
    const std::string_view number = text.substr(0, text.size() - 1);
    const std::size_t dot = number.find('.');
    const auto whole = parseUnsigned(number.substr(0, dot));
    if (!whole || *whole > kMaxDurationMs / 1000) {
      return std::nullopt;
    }
    ms = *whole * 1000;
    if (dot != std::string_view::npos) {
      const std::string_view fraction = number.substr(dot + 1);
      const auto digits = parseUnsigned(fraction);
      if (!digits || fraction.size() > 3) {
        return std::nullopt;
      }
      constexpr std::array<uint64_t, 4> kScale = {0, 100, 10, 1};
      ms += *digits * kScale[fraction.size()];
    }
  } else {
    const auto value = parseUnsigned(text);
    if (!value) {
      return std::nullopt;
    }
    ms = *value;
  }
  if (ms > kMaxDurationMs) {
    return std::nullopt;
  }
  return milliseconds(static_cast<milliseconds::rep>(ms));
}

// "4096", "64k"/"64K" (x 1024) or "1m"/"1M" (x 1024 * 1024).
std::optional<uint64_t> parseBytes(std::string_view text) {
  uint64_t multiplier = 1;
  if (!text.empty()) {
    const char suffix = text.back();
    if (suffix == 'k' || suffix == 'K') {
      multiplier = uint64_t{1} << 10;
    } else if (suffix == 'm' || suffix == 'M') {
      multiplier = uint64_t{1} << 20;
    }
    if (multiplier != 1) {
      text.remove_suffix(1);
    }
  }
  const auto value = parseUnsigned(text);
  if (!value || *value > std::numeric_limits<uint64_t>::max() / multiplier) {
    return std::nullopt;
  }
  return *value * multiplier;
}

// The settings one rule makes; unset fields leave the class as earlier rules left it.
struct RulePatch {
  std::vector<StatusFault> statuses;
  std::optional<int> retry_after_s;
  std::optional<milliseconds> latency;
  std::optional<double> latency_probability;
  std::optional<double> stall_probability;
  std::optional<milliseconds> stall;
  std::optional<double> cut_probability;
  std::optional<uint64_t> cut_after_bytes;
  std::optional<double> short_probability;
};

// Each status code appears once; a later mention replaces its probability.
void upsertStatus(std::vector<StatusFault>& statuses, StatusFault fault) {
  for (StatusFault& existing : statuses) {
    if (existing.status == fault.status) {
      existing.probability = fault.probability;
      return;
    }
  }
  statuses.push_back(fault);
}

// Splits "A:B" at the first ':'; nullopt when there is none.
std::optional<std::pair<std::string_view, std::string_view>> splitPair(std::string_view text) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  return std::pair{trim(text.substr(0, colon)), trim(text.substr(colon + 1))};
}

common::Status parseItem(std::string_view item, RulePatch& patch) {
  const std::size_t eq = item.find('=');
  if (eq == std::string_view::npos) {
    return specError("item " + quoted(item) + " is not KEY=VALUE");
  }
  const std::string_view key = trim(item.substr(0, eq));
  const std::string_view value = trim(item.substr(eq + 1));
  const auto badProbability = [&](std::string_view text) {
    return specError("bad probability " + quoted(text) + " in item " + quoted(item) +
                     " (expected a decimal in [0,1])");
  };
  const auto badDuration = [&](std::string_view text) {
    return specError("bad duration " + quoted(text) + " in item " + quoted(item) +
                     " (expected N, Nms or Ns, at most 1 hour)");
  };

  if (allDigits(key)) {
    const auto status = parseUnsigned(key);
    if (key.size() != 3 || !status || *status < kMinStatus || *status > kMaxStatus) {
      return specError("bad status " + quoted(key) + " in item " + quoted(item) +
                       " (expected a 3-digit status in 400-599)");
    }
    const auto probability = parseProbability(value);
    if (!probability) {
      return badProbability(value);
    }
    upsertStatus(patch.statuses, StatusFault{static_cast<int>(*status), *probability});
    return {};
  }

  if (key == "retry-after") {
    const auto seconds = parseUnsigned(value);
    if (!seconds || *seconds > kMaxRetryAfterS) {
      return specError("bad retry-after " + quoted(value) + " in item " + quoted(item) +
                       " (expected whole seconds, at most 86400)");
    }
    patch.retry_after_s = static_cast<int>(*seconds);
    return {};
  }

  if (key == "latency") {
    const std::size_t at = value.find('@');
    const std::string_view duration_text = trim(value.substr(0, at));
    const auto duration = parseDuration(duration_text);
    if (!duration) {
      return badDuration(duration_text);
    }
    double probability = 1.0;
    if (at != std::string_view::npos) {
      const std::string_view probability_text = trim(value.substr(at + 1));
      const auto parsed = parseProbability(probability_text);
      if (!parsed) {
        return badProbability(probability_text);
      }
      probability = *parsed;
    }
    patch.latency = *duration;
    patch.latency_probability = probability;
    return {};
  }

  if (key == "stall") {
    const auto parts = splitPair(value);
    if (!parts) {
      return specError("item " + quoted(item) + " is not stall=P:DURATION");
    }
    const auto probability = parseProbability(parts->first);
    if (!probability) {
      return badProbability(parts->first);
    }
    const auto duration = parseDuration(parts->second);
    if (!duration) {
      return badDuration(parts->second);
    }
    patch.stall_probability = *probability;
    patch.stall = *duration;
    return {};
  }

  if (key == "cut") {
    const auto parts = splitPair(value);
    if (!parts) {
      return specError("item " + quoted(item) + " is not cut=P:BYTES");
    }
    const auto probability = parseProbability(parts->first);
    if (!probability) {
      return badProbability(parts->first);
    }
    const auto bytes = parseBytes(parts->second);
    if (!bytes) {
      return specError("bad byte count " + quoted(parts->second) + " in item " + quoted(item) +
                       " (expected N, Nk or Nm)");
    }
    patch.cut_probability = *probability;
    patch.cut_after_bytes = *bytes;
    return {};
  }

  if (key == "short") {
    const auto probability = parseProbability(value);
    if (!probability) {
      return badProbability(value);
    }
    patch.short_probability = *probability;
    return {};
  }

  return specError("unknown item " + quoted(item) +
                   " (expected NNN=P, retry-after, latency, stall, cut or short)");
}

void applyPatch(const RulePatch& patch, ClassFaults& faults) {
  for (const StatusFault& status : patch.statuses) {
    upsertStatus(faults.statuses, status);
  }
  if (patch.retry_after_s) {
    faults.retry_after_s = patch.retry_after_s;
  }
  faults.latency = patch.latency.value_or(faults.latency);
  faults.latency_probability = patch.latency_probability.value_or(faults.latency_probability);
  faults.stall_probability = patch.stall_probability.value_or(faults.stall_probability);
  faults.stall = patch.stall.value_or(faults.stall);
  faults.cut_probability = patch.cut_probability.value_or(faults.cut_probability);
  faults.cut_after_bytes = patch.cut_after_bytes.value_or(faults.cut_after_bytes);
  faults.short_probability = patch.short_probability.value_or(faults.short_probability);
}

bool injectsAnything(const ClassFaults& faults) {
  const bool has_status =
      std::any_of(faults.statuses.begin(), faults.statuses.end(),
                  [](const StatusFault& status) { return status.probability > 0.0; });
  return has_status || (faults.latency.count() > 0 && faults.latency_probability > 0.0) ||
         (faults.stall.count() > 0 && faults.stall_probability > 0.0) ||
         faults.cut_probability > 0.0 || faults.short_probability > 0.0;
}

// Parses one RULE and applies it to every class it names.
common::Status parseRule(std::string_view rule, std::string_view spec, FaultState& state) {
  if (rule.empty()) {
    return specError("empty rule in " + quoted(spec));
  }
  const auto parts = splitPair(rule);
  if (!parts) {
    return specError("rule " + quoted(rule) + " has no ':' (expected CLASSES:ITEMS)");
  }

  std::array<bool, kAllRouteClasses.size()> named{};
  for (std::string_view name : split(parts->first, '+')) {
    if (name == "all") {
      named.fill(true);
      continue;
    }
    const std::optional<RouteClass> cls = parseRouteClass(name);
    if (!cls) {
      return specError("unknown route class " + quoted(name) + " in rule " + quoted(rule) +
                       " (expected api, resolve, cdn, upload, cas or all)");
    }
    named[static_cast<std::size_t>(*cls)] = true;
  }

  RulePatch patch;
  for (std::string_view item : split(parts->second, ',')) {
    if (item.empty()) {
      return specError("empty item in rule " + quoted(rule));
    }
    if (auto status = parseItem(item, patch); !status) {
      return status;
    }
  }

  for (std::size_t i = 0; i < named.size(); ++i) {
    if (named[i]) {
      applyPatch(patch, state.classes[i]);
    }
  }
  return {};
}

common::Status checkStatusTotal(RouteClass cls, const ClassFaults& faults) {
  double total = 0.0;
  std::ostringstream terms;
  for (const StatusFault& status : faults.statuses) {
    total += status.probability;
    terms << (&status == &faults.statuses.front() ? "" : " + ") << status.status << '='
          << status.probability;
  }
  if (total > 1.0 + kSumSlack) {
    std::ostringstream message;
    message << "status probabilities of class " << routeClassName(cls) << " add up to " << total
            << " (" << terms.str() << "), more than 1";
    return specError(message.str());
  }
  return {};
}

}  // namespace

bool FaultDecision::any() const {
  return status != 0 || latency.count() > 0 || stall.count() > 0 || cut_after_bytes.has_value() ||
         short_body;
}

Result<FaultPlan> FaultPlan::parse(std::string_view spec, uint64_t seed) {
  const std::string_view trimmed = trim(spec);
  if (trimmed.empty()) {
    return FaultPlan();
  }
  auto state = std::make_unique<FaultState>();
  state->seed = seed;
  for (std::string_view rule : split(trimmed, ';')) {
    if (auto status = parseRule(rule, trimmed, *state); !status) {
      return makeError(status.error().kind, std::move(status.error().message));
    }
  }
  bool injects = false;
  for (RouteClass cls : kAllRouteClasses) {
    ClassFaults& faults = state->classes[static_cast<std::size_t>(cls)];
    if (auto status = checkStatusTotal(cls, faults); !status) {
      return makeError(status.error().kind, std::move(status.error().message));
    }
    faults.injects = injectsAnything(faults);
    injects = injects || faults.injects;
  }
  if (!injects) {
    return FaultPlan();
  }
  return FaultPlan(std::move(state));
}

FaultDecision FaultPlan::decide(RouteClass cls) {
  const auto index = static_cast<std::size_t>(cls);
  if (!state_ || index >= state_->classes.size()) {
    return {};
  }
  const ClassFaults& faults = state_->classes[index];
  if (!faults.injects) {
    return {};
  }
  const uint64_t n = state_->counters[index].fetch_add(1, std::memory_order_relaxed);
  const auto draw = [&](Draw which) { return uniform(state_->seed, cls, n, which); };

  FaultDecision decision;
  if (faults.latency.count() > 0 && draw(Draw::kLatency) < faults.latency_probability) {
    decision.latency = faults.latency;
  }

  // One draw picks at most one status: the statuses split [0, total) into consecutive ranges.
  const double u = draw(Draw::kStatus);
  double upper = 0.0;
  for (const StatusFault& status : faults.statuses) {
    upper += status.probability;
    if (u < upper) {
      decision.status = status.status;
      break;
    }
  }
  if (decision.status != 0) {
    if (decision.status == 429 || decision.status == 503) {
      decision.retry_after_s = faults.retry_after_s.value_or(decision.status == 429 ? 1 : 0);
    }
    // The injected response carries its own small body, so there is no real body to damage.
    return decision;
  }

  if (faults.stall.count() > 0 && draw(Draw::kStall) < faults.stall_probability) {
    decision.stall = faults.stall;
  }
  if (draw(Draw::kCut) < faults.cut_probability) {
    decision.cut_after_bytes = faults.cut_after_bytes;
  }
  if (draw(Draw::kShort) < faults.short_probability) {
    decision.short_body = true;
  }
  return decision;
}

bool FaultPlan::empty() const { return state_ == nullptr; }

}  // namespace hfm::hubd
