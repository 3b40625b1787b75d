// tests/engine/sampler_test.cc: each sampling stage does what its name says; seeds reproduce.
#include <cmath>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "engine/sampler.h"

namespace strata::engine {
namespace {

std::map<int32_t, int> histogram(SamplingOptions o, std::vector<float> logits, int n, std::vector<int32_t> history = {}) {
  std::map<int32_t, int> h;
  for (int i = 0; i < n; ++i) {
    o.seed = 1000 + i;
    Sampler s(o);
    std::vector<float> l = logits;
    h[s.sample(l, history)]++;
  }
  return h;
}

TEST(Sampler, GreedyPicksTheMaximum) {
  SamplingOptions o;
  o.temperature = 0;
  Sampler s(o);
  std::vector<float> l = {0.1f, 3.0f, -1.0f, 2.9f};
  EXPECT_EQ(s.sample(l, {}), 1);
}

TEST(Sampler, TopKLimitsTheCandidates) {
  SamplingOptions o;
  o.temperature = 5.0f;  // nearly uniform without the cut
  o.top_k = 2;
  o.top_p = 1.0f;
  auto h = histogram(o, {1.0f, 4.0f, 3.0f, 0.0f, 2.0f}, 400);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_TRUE(h.count(1) && h.count(2));
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  SamplingOptions o;
  o.temperature = 1.0f;
  o.top_k = 0;
  o.top_p = 0.5f;
  // softmax of {ln 6, ln 3, ln 1} = {0.6, 0.3, 0.1}: the nucleus for p=0.5 is just token 0.
  auto h = histogram(o, {std::log(6.0f), std::log(3.0f), 0.0f}, 200);
  EXPECT_EQ(h.size(), 1u);
  o.top_p = 0.85f;
  h = histogram(o, {std::log(6.0f), std::log(3.0f), 0.0f}, 400);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_FALSE(h.count(2));
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  SamplingOptions o;
  o.temperature = 1.0f;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.min_p = 0.2f;  // keep p >= 0.2 * p_max
  auto h = histogram(o, {std::log(10.0f), std::log(3.0f), std::log(1.0f)}, 400);
  EXPECT_TRUE(h.count(0) && h.count(1));
  EXPECT_FALSE(h.count(2));
}

TEST(Sampler, TemperatureSharpensAndFlattens) {
  SamplingOptions o;
  o.top_k = 0;
  o.top_p = 1.0f;
  o.temperature = 0.1f;
  auto cold = histogram(o, {1.0f, 0.5f}, 300);
  EXPECT_GT(cold[0], 288);  // p = 0.993: about 298 of 300 expected
  o.temperature = 100.0f;
  auto hot = histogram(o, {1.0f, 0.5f}, 2000);
  EXPECT_NEAR(hot[0] / 2000.0, 0.5, 0.06);
}

TEST(Sampler, RepeatPenaltyDemotesRecentTokens) {
  SamplingOptions o;
  o.temperature = 0;
  o.repeat_penalty = 2.0f;
  Sampler s(o);
  std::vector<float> l = {2.0f, 1.5f, -1.0f};
  EXPECT_EQ(s.sample(l, std::vector<int32_t>{0}), 1);  // 2.0 / 2 = 1.0 < 1.5
  EXPECT_FLOAT_EQ(l[0], 1.0f);
  std::vector<float> neg = {-1.0f, -1.5f};
  Sampler s2(o);
  EXPECT_EQ(s2.sample(neg, std::vector<int32_t>{0}), 1);  // -1 * 2 = -2 < -1.5
}

TEST(Sampler, SameSeedSameSequence) {
  SamplingOptions o;
  o.temperature = 1.0f;
  o.seed = 42;
  std::vector<float> base(50);
  for (size_t i = 0; i < base.size(); ++i) base[i] = std::sin(static_cast<float>(i));
  Sampler a(o), b(o);
  for (int i = 0; i < 50; ++i) {
    auto la = base, lb = base;
    EXPECT_EQ(a.sample(la, {}), b.sample(lb, {}));
  }
}

}  // namespace
}  // namespace strata::engine
