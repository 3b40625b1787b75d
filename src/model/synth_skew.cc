// model/synth_skew.cc: the routing channels and router rows of `synth --router-skew` (see synth_skew.h).
#include "model/synth_skew.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace strata::model {

namespace {

uint64_t mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Zeroes values [0, n) of a row: the routing channels a block must not write.
RowEdit zero_prefix(int64_t n) {
  return [n](int64_t, std::span<float> v) {
    std::fill_n(v.begin(), std::min<size_t>(v.size(), static_cast<size_t>(n)), 0.0f);
  };
}

}  // namespace

std::vector<int32_t> skew_expert_ranks(uint64_t seed, int64_t layer, int64_t n_expert) {
  std::vector<int32_t> order(static_cast<size_t>(n_expert));  // order[r]: the expert of rank r
  for (int64_t e = 0; e < n_expert; ++e) order[static_cast<size_t>(e)] = static_cast<int32_t>(e);
  uint64_t s = mix(seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(layer) + 1);
  for (int64_t i = n_expert - 1; i > 0; --i) {  // Fisher-Yates on our own stream: the same file on every libc++
    s = mix(s + 0x9e3779b97f4a7c15ull);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(s % static_cast<uint64_t>(i + 1))]);
  }
  std::vector<int32_t> rank(static_cast<size_t>(n_expert));
  for (size_t r = 0; r < order.size(); ++r) rank[static_cast<size_t>(order[r])] = static_cast<int32_t>(r);
  return rank;
}

RowEdit router_skew_edit(double skew, uint64_t seed, const arch::HParams& hp, const arch::TensorSpec& t) {
  if (skew <= 0 || !hp.is_moe()) return nullptr;
  const int64_t n_route = 1 + hp.n_expert;  // channel 0: the constant; 1 + e: expert e's noise
  using arch::Kind;
  switch (t.kind) {
    case Kind::token_embd:
      // The writer's N(0, 1) values through the normal CDF are uniform, and -ln(-ln u) of those Gumbel.
      return [n_route](int64_t, std::span<float> v) {
        v[0] = 1.0f;
        for (size_t i = 1; i < std::min(v.size(), static_cast<size_t>(n_route)); ++i) {
          const double u = std::clamp(0.5 * std::erfc(-v[i] / std::numbers::sqrt2), 1e-12, 1.0 - 1e-12);
          v[i] = static_cast<float>(-std::log(-std::log(u)));
        }
      };
    case Kind::ffn_norm:
      return [n_route](int64_t, std::span<float> v) {
        std::fill_n(v.begin(), std::min<size_t>(v.size(), static_cast<size_t>(n_route)), 1.0f);
      };
    case Kind::attn_output: case Kind::ffn_down:
      return [n_route](int64_t row, std::span<float> v) {  // row = output channel
        if (row < n_route) std::fill(v.begin(), v.end(), 0.0f);
      };
    case Kind::ffn_down_exps: {
      const int64_t d = t.shape[1];
      return [n_route, d](int64_t row, std::span<float> v) {  // row = expert * d + output channel
        if (row % d < n_route) std::fill(v.begin(), v.end(), 0.0f);
      };
    }
    case Kind::attn_output_bias: case Kind::ffn_down_exps_bias: return zero_prefix(n_route);
    case Kind::ffn_gate_inp_bias: return zero_prefix(hp.n_expert);
    case Kind::ffn_gate_inp: {
      std::vector<float> bias(static_cast<size_t>(hp.n_expert));
      const std::vector<int32_t> rank = skew_expert_ranks(seed, t.layer, hp.n_expert);
      for (int64_t e = 0; e < hp.n_expert; ++e)
        bias[static_cast<size_t>(e)] = static_cast<float>(-skew * std::log1p(rank[static_cast<size_t>(e)]));
      return [bias](int64_t e, std::span<float> v) {  // row = expert
        std::fill(v.begin(), v.end(), 0.0f);
        v[0] = bias[static_cast<size_t>(e)];
        v[static_cast<size_t>(1 + e)] = 1.0f;
      };
    }
    default: return nullptr;
  }
}

}  // namespace strata::model
