// kernels/cpu/x86/attention_impl.h: the attention kernels over an F16 KV cache, written once over a vector
// type V (8 lanes for AVX2, 16 for AVX-512) and instantiated by each ISA's file inside its own flags.
// Included only by those files; everything is in an unnamed namespace so that no copy is shared.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/x86/vec_x86.h"

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

// One KV head's prompt attention for a block of queries (the head group's query heads of a few consecutive
// tokens), query j seeing cache rows [0, end[j]) (no ring wrap, no window). Each K and V row is converted from
// F16 once for the whole block, not once per query head and token: a query's scores are one FMA chain over
// the head's elements with the block's queries in the vector lanes (no horizontal sums), the softmax runs
// across the lanes as well, and the values are FMAs over F32 rows of V held in L1. Same contract as the
// per-query kernels: q is already rounded to F16, probabilities are rounded to F16 before the values.
template <class V>
void attn_block(const AttnBlock& b, AttnBlockScratch& s) {
  using F = typename V::F;
  constexpr int L = V::kLanes;
  const int64_t hd = b.head_dim;
  const int nv = (b.nq + L - 1) / L, nqp = nv * L;
  int64_t n_pos = 0, min_end = INT64_MAX;
  for (int j = 0; j < b.nq; ++j) n_pos = std::max(n_pos, b.end[j]), min_end = std::min(min_end, b.end[j]);
  s.qt.assign(static_cast<size_t>(hd * nqp), 0.0f);
  for (int j = 0; j < b.nq; ++j)
    for (int64_t i = 0; i < hd; ++i) s.qt[static_cast<size_t>(i * nqp + j)] = b.q[j][i];
  s.st.resize(static_cast<size_t>(n_pos * nqp));
  s.rows.resize(static_cast<size_t>(kAttnBlockRows * hd));
  float* const qt = s.qt.data();
  float* const st = s.st.data();
  float* const rows = s.rows.data();
  const int64_t hv = hd / L * L;
  // Rows [p0, p0 + n) of the cache (K or V) as F32, row r at rows + r * hd.
  auto convert = [&](const uint16_t* base, int64_t p0, int64_t n) {
    for (int64_t r = 0; r < n; ++r) {
      const uint16_t* src = base + (p0 + r) * b.stride;
      float* dst = rows + r * hd;
      for (int64_t i = 0; i < hv; i += L) V::store(dst + i, V::load_half(src + i));
      for (int64_t i = hv; i < hd; ++i) dst[i] = attn_half(src[i]);
    }
  };

  // Scores, four positions at a time (four FMA chains a query vector).
  const F scale = V::set1(b.scale);
  for (int64_t p0 = 0; p0 < n_pos; p0 += 4) {
    const int64_t n = std::min<int64_t>(4, n_pos - p0);
    convert(b.k, p0, n);
    for (int v = 0; v < nv; ++v) {
      F a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
      for (int64_t i = 0; i < hd; ++i) {
        const F qi = V::load(qt + i * nqp + v * L);
        a0 = V::fma(V::set1(rows[i]), qi, a0);
        a1 = V::fma(V::set1(rows[hd + i]), qi, a1);
        a2 = V::fma(V::set1(rows[2 * hd + i]), qi, a2);
        a3 = V::fma(V::set1(rows[3 * hd + i]), qi, a3);
      }
      const F a[4] = {a0, a1, a2, a3};
      for (int64_t r = 0; r < n; ++r) V::store(st + (p0 + r) * nqp + v * L, V::mul(a[r], scale));
    }
  }
  // Positions past a query's end (the block's later tokens) leave its softmax.
  for (int64_t p = min_end; p < n_pos; ++p)
    for (int j = 0; j < b.nq; ++j)
      if (p >= b.end[j]) st[p * nqp + j] = -1e30f;

  // Softmax down each lane (a query), probabilities rounded to F16.
  for (int v = 0; v < nv; ++v) {
    float sink_lane[L];
    for (int l = 0; l < L; ++l) sink_lane[l] = b.sink && v * L + l < b.nq ? b.sink[v * L + l] : -1e30f;
    const F sink = V::load(sink_lane);
    F mx = b.sink ? sink : V::set1(-1e30f);
    for (int64_t p = 0; p < n_pos; ++p) mx = V::max(mx, V::load(st + p * nqp + v * L));
    F sum = b.sink ? vec_exp<V>(V::sub(sink, mx)) : V::zero();
    for (int64_t p = 0; p < n_pos; ++p) {
      const F e = vec_exp<V>(V::sub(V::load(st + p * nqp + v * L), mx));
      V::store(st + p * nqp + v * L, e);
      sum = V::add(sum, e);
    }
    const F inv = V::div(V::set1(1.0f), sum);
    for (int64_t p = 0; p < n_pos; ++p)
      V::store(st + p * nqp + v * L, V::round_f16(V::mul(V::load(st + p * nqp + v * L), inv)));
  }

  // Values: a tile of V rows converted once, then each query's accumulators run down the tile.
  for (int j = 0; j < b.nq; ++j)
    for (int64_t i = 0; i < hd; ++i) b.out[j][i] = 0.0f;
  for (int64_t p0 = 0; p0 < n_pos; p0 += kAttnBlockRows) {
    const int64_t n = std::min<int64_t>(kAttnBlockRows, n_pos - p0);
    convert(b.v, p0, n);
    for (int j = 0; j < b.nq; ++j) {
      float* out = b.out[j];
      const int64_t n_j = std::min(n, b.end[j] - p0);  // rows past the end have weight 0
      if (n_j <= 0) continue;
      int64_t i0 = 0;
      for (; i0 + 4 * L <= hv; i0 += 4 * L) {
        F c0 = V::load(out + i0), c1 = V::load(out + i0 + L), c2 = V::load(out + i0 + 2 * L), c3 = V::load(out + i0 + 3 * L);
        for (int64_t r = 0; r < n_j; ++r) {
          const F w = V::set1(st[(p0 + r) * nqp + j]);
          const float* row = rows + r * hd + i0;
          c0 = V::fma(w, V::load(row), c0);
          c1 = V::fma(w, V::load(row + L), c1);
          c2 = V::fma(w, V::load(row + 2 * L), c2);
          c3 = V::fma(w, V::load(row + 3 * L), c3);
        }
        V::store(out + i0, c0);
        V::store(out + i0 + L, c1);
        V::store(out + i0 + 2 * L, c2);
        V::store(out + i0 + 3 * L, c3);
      }
      for (; i0 < hv; i0 += L) {
        F c = V::load(out + i0);
        for (int64_t r = 0; r < n_j; ++r) c = V::fma(V::set1(st[(p0 + r) * nqp + j]), V::load(rows + r * hd + i0), c);
        V::store(out + i0, c);
      }
      for (int64_t i = hv; i < hd; ++i) {
        float c = out[i];
        for (int64_t r = 0; r < n_j; ++r) c += st[(p0 + r) * nqp + j] * rows[r * hd + i];
        out[i] = c;
      }
    }
  }
}

}  // namespace
}  // namespace strata::kernels
