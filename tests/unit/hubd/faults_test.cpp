// SPDX-License-Identifier: Apache-2.0
#include "hf-hubd/faults.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace hfm::hubd {
namespace {

using std::chrono::milliseconds;

constexpr int kDraws = 20000;
// 20000 draws at p = 0.1 have a standard deviation of about 0.0021, so 0.01 is almost 5 sigma; the
// draws are deterministic anyway, so a passing seed keeps passing.
constexpr double kTolerance = 0.01;

FaultPlan mustParse(std::string_view spec, uint64_t seed = 42) {
  auto plan = FaultPlan::parse(spec, seed);
  if (!plan) {
    ADD_FAILURE() << "parse(\"" << spec << "\") failed: " << plan.error().message;
    return FaultPlan();
  }
  return std::move(plan).value();
}

// The error message of a spec that must not parse; empty when it parsed.
std::string parseError(std::string_view spec) {
  auto plan = FaultPlan::parse(spec, 42);
  if (plan) {
    return {};
  }
  EXPECT_EQ(plan.error().kind, common::ErrorKind::kInvalidArgument);
  return plan.error().message;
}

struct Tally {
  std::map<int, int> statuses;  // injected status -> count (0: none)
  int latency = 0;
  int stall = 0;
  int cut = 0;
  int short_body = 0;

  void add(const FaultDecision& decision) {
    ++statuses[decision.status];
    latency += decision.latency.count() > 0 ? 1 : 0;
    stall += decision.stall.count() > 0 ? 1 : 0;
    cut += decision.cut_after_bytes.has_value() ? 1 : 0;
    short_body += decision.short_body ? 1 : 0;
  }
  int of(int status) const {
    const auto it = statuses.find(status);
    return it == statuses.end() ? 0 : it->second;
  }
  bool operator==(const Tally&) const = default;
};

Tally tally(FaultPlan& plan, RouteClass cls, int draws = kDraws) {
  Tally result;
  for (int i = 0; i < draws; ++i) {
    result.add(plan.decide(cls));
  }
  return result;
}

double rate(int count, int draws = kDraws) {
  return static_cast<double>(count) / static_cast<double>(draws);
}

bool sameDecision(const FaultDecision& a, const FaultDecision& b) {
  return a.status == b.status && a.retry_after_s == b.retry_after_s && a.latency == b.latency &&
         a.stall == b.stall && a.cut_after_bytes == b.cut_after_bytes &&
         a.short_body == b.short_body;
}

std::vector<FaultDecision> sequence(FaultPlan& plan, RouteClass cls, int draws) {
  std::vector<FaultDecision> result;
  result.reserve(static_cast<std::size_t>(draws));
  for (int i = 0; i < draws; ++i) {
    result.push_back(plan.decide(cls));
  }
  return result;
}

bool sameSequence(const std::vector<FaultDecision>& a, const std::vector<FaultDecision>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!sameDecision(a[i], b[i])) {
      return false;
    }
  }
  return true;
}

constexpr std::string_view kMixedSpec =
    "all:503=0.1,429=0.05,latency=20ms@0.3,stall=0.2:100ms,cut=0.1:4k,short=0.05";

TEST(FaultPlanTest, DefaultPlanInjectsNothing) {
  FaultPlan plan;
  EXPECT_TRUE(plan.empty());
  for (RouteClass cls : kAllRouteClasses) {
    EXPECT_FALSE(plan.decide(cls).any());
  }
}

TEST(FaultPlanTest, EmptySpecIsEmpty) {
  for (std::string_view spec : {"", "   ", " \t\n"}) {
    FaultPlan plan = mustParse(spec);
    EXPECT_TRUE(plan.empty()) << '"' << spec << '"';
    for (RouteClass cls : kAllRouteClasses) {
      EXPECT_FALSE(plan.decide(cls).any());
    }
  }
}

TEST(FaultPlanTest, ZeroProbabilitiesAndRetryAfterAloneAreEmpty) {
  EXPECT_TRUE(mustParse("all:503=0,latency=0,stall=0:100ms,cut=0:1k,short=0").empty());
  EXPECT_TRUE(mustParse("api:retry-after=5").empty());
  EXPECT_TRUE(mustParse("cdn:stall=1:0ms").empty());
  EXPECT_FALSE(mustParse("cdn:short=0.001").empty());
}

TEST(FaultPlanTest, DecisionAnyReportsEachField) {
  EXPECT_FALSE(FaultDecision{}.any());
  FaultDecision status;
  status.status = 503;
  EXPECT_TRUE(status.any());
  FaultDecision latency;
  latency.latency = milliseconds(1);
  EXPECT_TRUE(latency.any());
  FaultDecision stall;
  stall.stall = milliseconds(1);
  EXPECT_TRUE(stall.any());
  FaultDecision cut;
  cut.cut_after_bytes = 0;
  EXPECT_TRUE(cut.any());
  FaultDecision short_body;
  short_body.short_body = true;
  EXPECT_TRUE(short_body.any());
}

TEST(FaultPlanTest, StatusItemAlwaysFiresAtProbabilityOne) {
  FaultPlan plan = mustParse("cdn:503=1");
  EXPECT_FALSE(plan.empty());
  for (int i = 0; i < 100; ++i) {
    const FaultDecision decision = plan.decide(RouteClass::kCdn);
    EXPECT_EQ(decision.status, 503);
    EXPECT_EQ(decision.retry_after_s, 0);  // no Retry-After for 503 unless configured
    EXPECT_EQ(decision.latency, milliseconds(0));
  }
}

TEST(FaultPlanTest, RetryAfterDefaultsAndOverride) {
  EXPECT_EQ(mustParse("api:429=1").decide(RouteClass::kApi).retry_after_s, 1);
  EXPECT_EQ(mustParse("api:503=1").decide(RouteClass::kApi).retry_after_s, 0);
  EXPECT_EQ(mustParse("api:429=1,retry-after=7").decide(RouteClass::kApi).retry_after_s, 7);
  EXPECT_EQ(mustParse("api:retry-after=3,503=1").decide(RouteClass::kApi).retry_after_s, 3);
  EXPECT_EQ(mustParse("api:429=1,retry-after=0").decide(RouteClass::kApi).retry_after_s, 0);
  // Retry-After is only sent with 429 and 503.
  EXPECT_EQ(mustParse("api:500=1,retry-after=3").decide(RouteClass::kApi).retry_after_s, 0);
}

TEST(FaultPlanTest, LatencyUnits) {
  EXPECT_EQ(mustParse("api:latency=250ms").decide(RouteClass::kApi).latency, milliseconds(250));
  EXPECT_EQ(mustParse("api:latency=250").decide(RouteClass::kApi).latency, milliseconds(250));
  EXPECT_EQ(mustParse("api:latency=2s").decide(RouteClass::kApi).latency, milliseconds(2000));
  EXPECT_EQ(mustParse("api:latency=1.5s").decide(RouteClass::kApi).latency, milliseconds(1500));
  EXPECT_EQ(mustParse("api:latency=0.025s").decide(RouteClass::kApi).latency, milliseconds(25));
  EXPECT_EQ(mustParse("api:latency = 10ms ").decide(RouteClass::kApi).latency, milliseconds(10));
}

TEST(FaultPlanTest, LatencyAppliesToEveryRequestAndToInjectedStatuses) {
  FaultPlan plan = mustParse("resolve:latency=30ms,503=0.5");
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(plan.decide(RouteClass::kResolve).latency, milliseconds(30));
  }
}

TEST(FaultPlanTest, LatencyWithProbability) {
  FaultPlan plan = mustParse("api:latency=100ms@0.25");
  int delayed = 0;
  for (int i = 0; i < kDraws; ++i) {
    const FaultDecision decision = plan.decide(RouteClass::kApi);
    if (decision.latency.count() > 0) {
      EXPECT_EQ(decision.latency, milliseconds(100));
      ++delayed;
    }
  }
  EXPECT_NEAR(rate(delayed), 0.25, kTolerance);
}

TEST(FaultPlanTest, StallItem) {
  FaultDecision decision = mustParse("cdn:stall=1:200ms").decide(RouteClass::kCdn);
  EXPECT_EQ(decision.stall, milliseconds(200));
  EXPECT_EQ(decision.status, 0);
  EXPECT_EQ(mustParse("cdn:stall=1:2s").decide(RouteClass::kCdn).stall, milliseconds(2000));
  EXPECT_EQ(mustParse("cdn:stall=1:75").decide(RouteClass::kCdn).stall, milliseconds(75));
}

TEST(FaultPlanTest, CutItemWithByteSuffixes) {
  EXPECT_EQ(mustParse("cdn:cut=1:100").decide(RouteClass::kCdn).cut_after_bytes, 100U);
  EXPECT_EQ(mustParse("cdn:cut=1:64k").decide(RouteClass::kCdn).cut_after_bytes, 65536U);
  EXPECT_EQ(mustParse("cdn:cut=1:64K").decide(RouteClass::kCdn).cut_after_bytes, 65536U);
  EXPECT_EQ(mustParse("cdn:cut=1:2m").decide(RouteClass::kCdn).cut_after_bytes, 2097152U);
  EXPECT_EQ(mustParse("cdn:cut=1:1M").decide(RouteClass::kCdn).cut_after_bytes, 1048576U);
  EXPECT_EQ(mustParse("cdn:cut=1:0").decide(RouteClass::kCdn).cut_after_bytes, 0U);
  EXPECT_FALSE(mustParse("cdn:short=1").decide(RouteClass::kCdn).cut_after_bytes.has_value());
}

TEST(FaultPlanTest, ShortItem) {
  FaultDecision decision = mustParse("cas:short=1").decide(RouteClass::kCas);
  EXPECT_TRUE(decision.short_body);
  EXPECT_EQ(decision.status, 0);
  EXPECT_FALSE(decision.cut_after_bytes.has_value());
}

TEST(FaultPlanTest, InjectedStatusSuppressesBodyFaults) {
  FaultPlan plan = mustParse("cdn:503=0.5,stall=1:10ms,cut=1:1k,short=1");
  int injected = 0;
  for (int i = 0; i < 2000; ++i) {
    const FaultDecision decision = plan.decide(RouteClass::kCdn);
    if (decision.status != 0) {
      ++injected;
      EXPECT_EQ(decision.stall, milliseconds(0));
      EXPECT_FALSE(decision.cut_after_bytes.has_value());
      EXPECT_FALSE(decision.short_body);
    } else {
      EXPECT_EQ(decision.stall, milliseconds(10));
      EXPECT_EQ(decision.cut_after_bytes, 1024U);
      EXPECT_TRUE(decision.short_body);
    }
  }
  EXPECT_GT(injected, 0);
  EXPECT_LT(injected, 2000);
}

TEST(FaultPlanTest, StatusRatesMatchProbabilities) {
  FaultPlan plan = mustParse("api:503=0.1,429=0.05,500=0.02");
  const Tally counts = tally(plan, RouteClass::kApi);
  EXPECT_NEAR(rate(counts.of(503)), 0.1, kTolerance);
  EXPECT_NEAR(rate(counts.of(429)), 0.05, kTolerance);
  EXPECT_NEAR(rate(counts.of(500)), 0.02, kTolerance);
  EXPECT_NEAR(rate(counts.of(0)), 0.83, kTolerance);
  EXPECT_EQ(counts.statuses.size(), 4U);
}

TEST(FaultPlanTest, StatusProbabilitiesSummingToOneAlwaysPickOne) {
  FaultPlan plan = mustParse("api:503=0.5,429=0.3,500=0.2");
  const Tally counts = tally(plan, RouteClass::kApi);
  EXPECT_EQ(counts.of(0), 0);
  EXPECT_NEAR(rate(counts.of(503)), 0.5, kTolerance);
  EXPECT_NEAR(rate(counts.of(429)), 0.3, kTolerance);
  EXPECT_NEAR(rate(counts.of(500)), 0.2, kTolerance);
}

TEST(FaultPlanTest, BodyFaultRatesMatchProbabilities) {
  FaultPlan plan = mustParse("cdn:stall=0.2:100ms,cut=0.1:4k,short=0.05");
  const Tally counts = tally(plan, RouteClass::kCdn);
  EXPECT_NEAR(rate(counts.stall), 0.2, kTolerance);
  EXPECT_NEAR(rate(counts.cut), 0.1, kTolerance);
  EXPECT_NEAR(rate(counts.short_body), 0.05, kTolerance);
  EXPECT_EQ(counts.of(0), kDraws);
}

TEST(FaultPlanTest, DrawsAreIndependent) {
  // If stall and cut reused one draw, every cut request would also stall.
  FaultPlan plan = mustParse("cdn:stall=0.5:10ms,cut=0.5:1k");
  int both = 0;
  for (int i = 0; i < kDraws; ++i) {
    const FaultDecision decision = plan.decide(RouteClass::kCdn);
    both += (decision.stall.count() > 0 && decision.cut_after_bytes) ? 1 : 0;
  }
  EXPECT_NEAR(rate(both), 0.25, kTolerance);
}

TEST(FaultPlanTest, AllAppliesToEveryClass) {
  FaultPlan plan = mustParse("all:503=0.1");
  for (RouteClass cls : kAllRouteClasses) {
    const Tally counts = tally(plan, cls);
    EXPECT_NEAR(rate(counts.of(503)), 0.1, kTolerance) << routeClassName(cls);
  }
}

TEST(FaultPlanTest, ClassesNotNamedGetNothing) {
  FaultPlan plan = mustParse("cdn+cas:503=1,latency=10ms");
  for (RouteClass cls : {RouteClass::kApi, RouteClass::kResolve, RouteClass::kUpload}) {
    for (int i = 0; i < 100; ++i) {
      EXPECT_FALSE(plan.decide(cls).any()) << routeClassName(cls);
    }
  }
  EXPECT_EQ(plan.decide(RouteClass::kCdn).status, 503);
  EXPECT_EQ(plan.decide(RouteClass::kCas).status, 503);
}

TEST(FaultPlanTest, LaterRulesOverrideSameItemAndAddOthers) {
  FaultPlan plan = mustParse("all:503=0.5,latency=10ms; cdn:503=0, 429=1; api:latency=20ms");
  for (int i = 0; i < 100; ++i) {
    const FaultDecision cdn = plan.decide(RouteClass::kCdn);
    EXPECT_EQ(cdn.status, 429);  // 503 overridden to 0, 429 added
    EXPECT_EQ(cdn.latency, milliseconds(10));
    EXPECT_EQ(plan.decide(RouteClass::kApi).latency, milliseconds(20));
    EXPECT_EQ(plan.decide(RouteClass::kCas).latency, milliseconds(10));
  }
  // Within one rule the last mention of an item wins as well.
  EXPECT_EQ(mustParse("api:503=1,503=0,500=1").decide(RouteClass::kApi).status, 500);
  // The total is checked after merging: 0.6 + 0.5 only becomes too much for cdn.
  EXPECT_NE(parseError("all:503=0.6;cdn:429=0.5"), "");
  EXPECT_EQ(parseError("all:503=0.6;cdn:503=0.1,429=0.5"), "");
}

TEST(FaultPlanTest, SameSeedGivesSameDecisions) {
  FaultPlan a = mustParse(kMixedSpec, 7);
  FaultPlan b = mustParse(kMixedSpec, 7);
  for (RouteClass cls : kAllRouteClasses) {
    EXPECT_TRUE(sameSequence(sequence(a, cls, 2000), sequence(b, cls, 2000)))
        << routeClassName(cls);
  }
}

TEST(FaultPlanTest, DifferentSeedsGiveDifferentDecisions) {
  FaultPlan a = mustParse(kMixedSpec, 7);
  FaultPlan b = mustParse(kMixedSpec, 8);
  EXPECT_FALSE(
      sameSequence(sequence(a, RouteClass::kCdn, 2000), sequence(b, RouteClass::kCdn, 2000)));
}

TEST(FaultPlanTest, ClassesHaveIndependentSequences) {
  // A class's decisions depend only on its own request order, not on other classes' traffic.
  FaultPlan quiet = mustParse(kMixedSpec, 3);
  FaultPlan busy = mustParse(kMixedSpec, 3);
  std::vector<FaultDecision> expected = sequence(quiet, RouteClass::kResolve, 500);
  std::vector<FaultDecision> interleaved;
  for (int i = 0; i < 500; ++i) {
    busy.decide(RouteClass::kApi);
    busy.decide(RouteClass::kCdn);
    interleaved.push_back(busy.decide(RouteClass::kResolve));
  }
  EXPECT_TRUE(sameSequence(expected, interleaved));
  // Same spec, other class: a different sequence.
  FaultPlan other = mustParse(kMixedSpec, 3);
  EXPECT_FALSE(sameSequence(expected, sequence(other, RouteClass::kApi, 500)));
}

TEST(FaultPlanTest, MovedPlanKeepsStateAndMovedFromIsEmpty) {
  FaultPlan original = mustParse("api:503=1");
  FaultPlan moved = std::move(original);
  EXPECT_EQ(moved.decide(RouteClass::kApi).status, 503);
  EXPECT_TRUE(original.empty());  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_FALSE(original.decide(RouteClass::kApi).any());
  FaultPlan assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.decide(RouteClass::kApi).status, 503);
}

TEST(FaultPlanTest, ConcurrentDecideMatchesSequentialDistribution) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = kDraws / kThreads;
  FaultPlan sequential_plan = mustParse(kMixedSpec, 11);
  const Tally expected = tally(sequential_plan, RouteClass::kCdn);

  FaultPlan plan = mustParse(kMixedSpec, 11);
  std::vector<Tally> per_thread(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&plan, &per_thread, t] {
        Tally& mine = per_thread[static_cast<std::size_t>(t)];
        for (int i = 0; i < kPerThread; ++i) {
          mine.add(plan.decide(RouteClass::kCdn));
          // Traffic on other classes must not disturb the kCdn counter.
          plan.decide(t % 2 == 0 ? RouteClass::kApi : RouteClass::kCas);
        }
      });
    }
  }
  Tally total;
  for (const Tally& part : per_thread) {
    for (const auto& [status, count] : part.statuses) {
      total.statuses[status] += count;
    }
    total.latency += part.latency;
    total.stall += part.stall;
    total.cut += part.cut;
    total.short_body += part.short_body;
  }
  // Every request number 0..N-1 is handed out exactly once, so the multiset of decisions (and so
  // every count) equals the sequential run's, whatever the interleaving.
  EXPECT_EQ(total, expected);
  EXPECT_NEAR(rate(total.of(503)), 0.1, kTolerance);
}

TEST(FaultPlanTest, ParseErrorsNameTheOffendingText) {
  struct Case {
    std::string_view spec;
    std::string_view expected;  // must appear in the message
  };
  const std::vector<Case> cases = {
      {"api", "rule \"api\" has no ':'"},
      {"web:503=0.1", "unknown route class \"web\""},
      {"api+:503=0.1", "unknown route class \"\""},
      {":503=0.1", "unknown route class \"\""},
      {"api:503=0.1;;cdn:short=0.1", "empty rule"},
      {"api:503=0.1;", "empty rule"},
      {"api:", "empty item in rule \"api:\""},
      {"api:503=0.1,,short=0.1", "empty item"},
      {"api:bogus=1", "unknown item \"bogus=1\""},
      {"api:short", "item \"short\" is not KEY=VALUE"},
      {"api:503=1.5", "bad probability \"1.5\""},
      {"api:503=-0.1", "bad probability \"-0.1\""},
      {"api:503=abc", "bad probability \"abc\""},
      {"api:503=", "bad probability \"\""},
      {"api:503=1e-1", "bad probability \"1e-1\""},
      {"api:503=nan", "bad probability \"nan\""},
      {"api:503=0.1.2", "bad probability \"0.1.2\""},
      {"api:5030=0.1", "bad status \"5030\""},
      {"api:200=0.1", "bad status \"200\""},
      {"api:600=0.1", "bad status \"600\""},
      {"api:503=0.6,429=0.5", "add up to 1.1"},
      {"api:retry-after=x", "bad retry-after \"x\""},
      {"api:retry-after=-1", "bad retry-after \"-1\""},
      {"api:latency=fast", "bad duration \"fast\""},
      {"api:latency=10min", "bad duration \"10min\""},
      {"api:latency=1.5ms", "bad duration \"1.5ms\""},
      {"api:latency=1.2345s", "bad duration \"1.2345s\""},
      {"api:latency=2h", "bad duration \"2h\""},
      {"api:latency=3600001", "bad duration \"3600001\""},
      {"api:latency=10ms@2", "bad probability \"2\""},
      {"cdn:stall=0.1", "item \"stall=0.1\" is not stall=P:DURATION"},
      {"cdn:stall=2:10ms", "bad probability \"2\""},
      {"cdn:stall=0.1:soon", "bad duration \"soon\""},
      {"cdn:cut=0.1", "item \"cut=0.1\" is not cut=P:BYTES"},
      {"cdn:cut=0.1:64x", "bad byte count \"64x\""},
      {"cdn:cut=0.1:k", "bad byte count \"k\""},
      {"cdn:cut=0.1:99999999999999999999", "bad byte count"},
      {"cdn:short=yes", "bad probability \"yes\""},
  };
  for (const Case& c : cases) {
    const std::string message = parseError(c.spec);
    EXPECT_NE(message.find(c.expected), std::string::npos)
        << "spec \"" << c.spec << "\" gave \"" << message << "\", expected \"" << c.expected << '"';
  }
}

TEST(FaultPlanTest, AcceptsEveryDocumentedForm) {
  const std::vector<std::string_view> specs = {
      "api:503=0.1",
      "all:503=0.1,429=0.05,500=0.02,retry-after=2",
      "cdn+cas:latency=50ms@0.5,stall=0.01:2s,cut=0.02:64k,short=0.01",
      "resolve:latency=1s; upload:latency=150",
      "all:503=.5",
      "all:503=1.0",
      "api:503=0.1,429=0.2,500=0.7",  // sums to 1 only up to rounding
  };
  for (std::string_view spec : specs) {
    EXPECT_EQ(parseError(spec), "") << spec;
  }
}

}  // namespace
}  // namespace hfm::hubd
