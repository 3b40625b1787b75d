// kernels/cpu/x86/elementwise_impl.h: the small row ops (SwiGLU, the RMS norm's scaling, F16 rounding), written
// once over a vector type of vec_x86.h and instantiated by each ISA's file inside its own flags. A row's tail
// goes through the same vector code on a padded copy, so an element's result never depends on where it sits.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cpu/x86/vec_x86.h"

namespace strata::kernels {
namespace {

template <class V>
typename V::F silu_times(typename V::F g, typename V::F u) {
  const typename V::F e = vec_exp<V>(V::sub(V::zero(), g));
  return V::mul(V::div(g, V::add(V::set1(1.0f), e)), u);
}

template <class V>
void swiglu_vec(const float* gate, const float* up, int64_t n, float* out) {
  constexpr int L = V::kLanes;
  int64_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {  // two vectors a pass: the exp's chain is long
    const typename V::F a = silu_times<V>(V::load(gate + i), V::load(up + i));
    const typename V::F b = silu_times<V>(V::load(gate + i + L), V::load(up + i + L));
    V::store(out + i, a);
    V::store(out + i + L, b);
  }
  for (; i < n; i += L) {
    float g[L] = {}, u[L] = {}, o[L];
    const int64_t m = std::min<int64_t>(L, n - i);
    std::copy_n(gate + i, m, g);
    std::copy_n(up + i, m, u);
    V::store(o, silu_times<V>(V::load(g), V::load(u)));
    std::copy_n(o, m, out + i);
  }
}

// out[i] = x[i] * scale * weight[i], in that order (the portable level's bits).
template <class V>
void scale_rows_vec(const float* x, const float* weight, int64_t n, float scale, float* out) {
  constexpr int L = V::kLanes;
  const typename V::F s = V::set1(scale);
  int64_t i = 0;
  for (; i + L <= n; i += L) V::store(out + i, V::mul(V::mul(V::load(x + i), s), V::load(weight + i)));
  for (; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

template <class V>
void to_f16_vec(const float* x, uint16_t* dst, int64_t n) {
  constexpr int L = V::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L) V::store_half(dst + i, V::load(x + i));
  for (; i < n; ++i) dst[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

template <class V>
void round_f16_vec(float* x, int64_t n) {
  constexpr int L = V::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L) V::store(x + i, V::round_f16(V::load(x + i)));
  for (; i < n; ++i) x[i] = _cvtsh_ss(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

template <class V>
void axpy_vec(float a, const float* x, int64_t n, float* y) {
  constexpr int L = V::kLanes;
  const typename V::F av = V::set1(a);
  int64_t i = 0;
  for (; i + L <= n; i += L) V::store(y + i, V::fma(av, V::load(x + i), V::load(y + i)));
  for (; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);
}

}  // namespace
}  // namespace strata::kernels
