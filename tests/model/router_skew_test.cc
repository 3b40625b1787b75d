// tests/model/router_skew_test.cc: `synth --router-skew S` routes as asked: over 400 tokens evaluated one at
// a time, each layer's first choices follow (1 + rank)^-S over that layer's seeded ranks (the fitted exponent
// near S, the top rank most chosen, top-2 choices skewed too), and S = 0 leaves today's near-uniform routing.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>

#include <gtest/gtest.h>

#include "gguf/gguf_file.h"
#include "kernels/cpu/backend_cpu.h"
#include "model/buffer_weights.h"
#include "model/forward.h"
#include "model/synth.h"
#include "model/synth_skew.h"
#include "support/test_support.h"
#include "tensor/dtype.h"

namespace strata::model {
namespace {

constexpr int64_t kExperts = 16;
constexpr int kTokens = 400;

// The whole file in memory; counts the experts the router picks for each (single-token) pass.
class CountingWeights final : public BufferWeights {
 public:
  using BufferWeights::BufferWeights;
  void on_route(int layer, std::span<const int32_t> experts) override {
    for (int32_t e : experts) ++counts[layer][e];
  }
  std::map<int, std::map<int32_t, int>> counts;  // layer -> expert -> tokens routed to it
};

// Per layer: how many tokens chose each rank (index 0: the most popular rank's expert).
std::vector<std::vector<double>> route(double skew, int64_t used, uint64_t seed, const char* arch = "llama") {
  SynthSpec s;
  s.arch = arch;
  s.kv_heads = 2;
  s.layers = 2;
  s.dim = 64;
  s.heads = 4;
  s.vocab = 500;
  s.experts = kExperts;
  s.experts_used = used;
  s.router_skew = skew;
  s.seed = seed;
  const std::string path = testing::temp_dir() + "/skew.gguf";
  auto w = write_synth_model(s, path);
  EXPECT_TRUE(w.is_ok()) << w.status().message();
  auto f = gguf::read_file(path, gguf_type_lookup());
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  auto m = bind_model(*f);
  EXPECT_TRUE(m.is_ok()) << m.status().message();
  std::ifstream in(path, std::ios::binary);
  CountingWeights cw(*m, {std::istreambuf_iterator<char>(in), {}});
  ThreadPool pool(2);
  kernels::CpuBackend backend(pool);
  Forward fwd(*m, cw, &cw, backend);
  KvCache cache(m->hp, kTokens + 1);
  std::vector<float> logits(static_cast<size_t>(m->hp.n_vocab));
  for (int32_t t = 0; t < kTokens; ++t) {
    const int32_t id = 3 + (t * 37) % 490;  // 400 distinct tokens in a scrambled order
    EXPECT_TRUE(fwd.eval(std::span(&id, 1), cache, logits, false).is_ok());
  }
  std::vector<std::vector<double>> by_rank;
  for (int l = 0; l < s.layers; ++l) {
    const std::vector<int32_t> rank = skew_expert_ranks(seed, l, kExperts);
    std::vector<double> c(kExperts, 0.0);
    for (auto [e, n] : cw.counts[l]) c[static_cast<size_t>(rank[static_cast<size_t>(e)])] += n;
    by_rank.push_back(c);
  }
  return by_rank;
}

// Least-squares slope of ln(count) against ln(1 + rank) over the ranks with counts.
double fitted_exponent(const std::vector<double>& c) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0;
  for (size_t r = 0; r < c.size(); ++r) {
    if (c[r] <= 0) continue;
    const double x = std::log(1.0 + r), y = std::log(c[r]);
    sx += x, sy += y, sxx += x * x, sxy += x * y, n += 1;
  }
  return -(n * sxy - sx * sy) / (n * sxx - sx * sx);
}

TEST(RouterSkew, FirstChoicesFollowTheZipfLawAsked) {
  for (double skew : {0.8, 1.5}) {
    const auto layers = route(skew, 1, 7);
    for (size_t l = 0; l < layers.size(); ++l) {
      const auto& c = layers[l];
      SCOPED_TRACE(::testing::Message() << "skew " << skew << " layer " << l);
      EXPECT_EQ(std::max_element(c.begin(), c.end()) - c.begin(), 0) << "the top rank is the most chosen";
      // Expected share of rank 0: 1 / sum (1 + r)^-S; the count over 400 tokens within sampling noise.
      double z = 0;
      for (int r = 0; r < kExperts; ++r) z += std::pow(1.0 + r, -skew);
      const double want0 = kTokens / z, sd0 = std::sqrt(want0 * (1 - 1 / z));
      EXPECT_NEAR(c[0], want0, 4 * sd0);
      EXPECT_NEAR(fitted_exponent(c), skew, 0.35);
      std::printf("[ skew     ] S %.1f layer %zu: fitted exponent %.2f; rank 0 chosen by %.0f of %d tokens (law: %.1f)\n",
                  skew, l, fitted_exponent(c), c[0], kTokens, want0);
    }
  }
}

TEST(RouterSkew, TopTwoChoicesAreSkewedToo) {
  const auto layers = route(1.0, 2, 9);
  for (const auto& c : layers) {
    const double uniform = 2.0 * kTokens / kExperts;
    EXPECT_GT(c[0], 3 * uniform);           // Plackett-Luce: rank 0 in about half of the tokens' pairs
    EXPECT_LT(c[kExperts - 1], uniform);    // the tail starved
    EXPECT_GT(fitted_exponent(c), 0.5);
  }
}

TEST(RouterSkew, ZeroSkewIsTodaysUniformRouting) {
  const auto layers = route(0.0, 2, 7);
  for (const auto& c : layers) {
    const double mean = 2.0 * kTokens / kExperts;  // 50
    for (double n : c) {
      EXPECT_GT(n, 0.4 * mean);
      EXPECT_LT(n, 1.8 * mean);
    }
    EXPECT_NEAR(fitted_exponent(c), 0.0, 0.25);
    std::printf("[ skew     ] S 0: fitted exponent %.2f; counts from %.0f to %.0f (mean %.0f)\n", fitted_exponent(c),
                *std::min_element(c.begin(), c.end()), *std::max_element(c.begin(), c.end()), mean);
  }
}

// The rows whose blocks carry biases or QK norms (gpt-oss writes into the residual through biases too).
TEST(RouterSkew, EveryMoeRowRoutesAsAsked) {
  for (const char* arch : {"qwen3moe", "gpt-oss"}) {
    for (const auto& c : route(1.2, 1, 5, arch)) {
      EXPECT_EQ(std::max_element(c.begin(), c.end()) - c.begin(), 0) << arch;
      EXPECT_NEAR(fitted_exponent(c), 1.2, 0.35) << arch;
    }
  }
}

TEST(RouterSkew, RanksAreASeededPermutationPerLayer) {
  const auto a = skew_expert_ranks(7, 0, 128), b = skew_expert_ranks(7, 1, 128), c = skew_expert_ranks(8, 0, 128);
  std::vector<int32_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 128; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_EQ(a, skew_expert_ranks(7, 0, 128));
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
}

TEST(RouterSkew, BadValuesAreErrors) {
  SynthSpec s;
  s.experts = 8;
  s.router_skew = -1;
  EXPECT_FALSE(write_synth_model(s, testing::temp_dir() + "/bad.gguf").is_ok());
  s.router_skew = 1;
  s.dim = 8;
  s.heads = 2;
  auto r = write_synth_model(s, testing::temp_dir() + "/bad.gguf");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("routing channel"), std::string::npos) << r.status().message();
  s = SynthSpec();
  s.router_skew = 1;
  EXPECT_FALSE(write_synth_model(s, testing::temp_dir() + "/bad.gguf").is_ok());  // dense
}

}  // namespace
}  // namespace strata::model
