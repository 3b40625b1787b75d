// kernels/cpu/x86/attention_impl.h: the attention kernels over an F16 KV cache, written once over a vector
// type V (8 lanes for AVX2, 16 for AVX-512) and instantiated by each ISA's file inside its own flags.
// Included only by those files; everything is in an unnamed namespace so that no copy is shared.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace strata::kernels {
namespace {

inline float attn_half(uint16_t h) { return _cvtsh_ss(h); }

// Four key rows per pass: each q vector is loaded once for four products, and four chains hide the
// FMA latency.
template <class V>
void attn_scores(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos, int64_t head_dim, float scale,
                 float* scores) {
  using F = typename V::F;
  const int64_t hv = head_dim / V::kLanes * V::kLanes;
  int64_t p = 0;
  for (; p + 4 <= n_pos; p += 4) {
    const uint16_t* k0 = k + p * stride;
    F a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
    for (int64_t i = 0; i < hv; i += V::kLanes) {
      const F qv = V::load(q + i);
      a0 = V::fma(qv, V::load_half(k0 + i), a0);
      a1 = V::fma(qv, V::load_half(k0 + stride + i), a1);
      a2 = V::fma(qv, V::load_half(k0 + 2 * stride + i), a2);
      a3 = V::fma(qv, V::load_half(k0 + 3 * stride + i), a3);
    }
    float r[4] = {V::hsum(a0), V::hsum(a1), V::hsum(a2), V::hsum(a3)};
    for (int64_t i = hv; i < head_dim; ++i)
      for (int j = 0; j < 4; ++j) r[j] += q[i] * attn_half(k0[j * stride + i]);
    for (int j = 0; j < 4; ++j) scores[p + j] = r[j] * scale;
  }
  for (; p < n_pos; ++p) {
    const uint16_t* kp = k + p * stride;
    F a = V::zero();
    for (int64_t i = 0; i < hv; i += V::kLanes) a = V::fma(V::load(q + i), V::load_half(kp + i), a);
    float r = V::hsum(a);
    for (int64_t i = hv; i < head_dim; ++i) r += q[i] * attn_half(kp[i]);
    scores[p] = r * scale;
  }
}

// out[i0, i0 + C * lanes) over every position, the C accumulators held in registers.
template <class V, int C>
void attn_values_chunk(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t i0, float* out,
                       bool accumulate) {
  using F = typename V::F;
  F acc[C];
  for (int c = 0; c < C; ++c) acc[c] = accumulate ? V::load(out + i0 + c * V::kLanes) : V::zero();
  for (int64_t p = 0; p < n_pos; ++p) {
    const F wp = V::set1(w[p]);
    const uint16_t* vp = v + p * stride + i0;
    for (int c = 0; c < C; ++c) acc[c] = V::fma(wp, V::load_half(vp + c * V::kLanes), acc[c]);
  }
  for (int c = 0; c < C; ++c) V::store(out + i0 + c * V::kLanes, acc[c]);
}

template <class V>
void attn_values(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim, float* out,
                 bool accumulate) {
  constexpr int64_t L = V::kLanes;
  int64_t i0 = 0;
  for (; i0 + 8 * L <= head_dim; i0 += 8 * L) attn_values_chunk<V, 8>(w, v, stride, n_pos, i0, out, accumulate);
  if (i0 + 4 * L <= head_dim) {
    attn_values_chunk<V, 4>(w, v, stride, n_pos, i0, out, accumulate);
    i0 += 4 * L;
  }
  if (i0 + 2 * L <= head_dim) {
    attn_values_chunk<V, 2>(w, v, stride, n_pos, i0, out, accumulate);
    i0 += 2 * L;
  }
  if (i0 + L <= head_dim) {
    attn_values_chunk<V, 1>(w, v, stride, n_pos, i0, out, accumulate);
    i0 += L;
  }
  for (int64_t i = i0; i < head_dim; ++i) {
    float a = accumulate ? out[i] : 0.0f;
    for (int64_t p = 0; p < n_pos; ++p) a += w[p] * attn_half(v[p * stride + i]);
    out[i] = a;
  }
}

}  // namespace
}  // namespace strata::kernels
