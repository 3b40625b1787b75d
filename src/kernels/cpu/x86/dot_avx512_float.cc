// kernels/cpu/x86/dot_avx512_float.cc: AVX-512 dot kernels for float weights (F32, F16, BF16): 16 lanes,
// masked loads for the tail so any row length works without a scalar loop.
#include "kernels/cpu/dot_kernels.h"
#include "kernels/cpu/x86/simd_x86.h"

namespace strata::kernels {

namespace {

using x86::act_row;

struct LoadF32 {
  static __m512 load16(const void* w, int64_t i) { return _mm512_loadu_ps(static_cast<const float*>(w) + i); }
  static __m512 load_tail(const void* w, int64_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(w) + i);
  }
};
struct LoadF16 {
  static __m512 load16(const void* w, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i)));
  }
  static __m512 load_tail(const void* w, int64_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(w) + i));
  }
};
struct LoadBF16 {
  static __m512 widen(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
  static __m512 load16(const void* w, int64_t i) {
    return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i)));
  }
  static __m512 load_tail(const void* w, int64_t i, __mmask16 m) {
    return widen(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(w) + i));
  }
};

template <int NT, typename Load>
void dot_float(const void* w, const void* act, size_t stride, int64_t k, float* out) {
  constexpr int U = NT == 1 ? 4 : NT == 2 ? 2 : 1;
  const float* x[NT];
  for (int t = 0; t < NT; ++t) x[t] = act_row<float>(act, stride, t);
  __m512 acc[NT][U];
  for (int t = 0; t < NT; ++t)
    for (int u = 0; u < U; ++u) acc[t][u] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 * U <= k; i += 16 * U) {
    for (int u = 0; u < U; ++u) {
      const __m512 wv = Load::load16(w, i + 16 * u);
      for (int t = 0; t < NT; ++t) acc[t][u] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x[t] + i + 16 * u), acc[t][u]);
    }
  }
  for (; i < k; i += 16) {
    const int64_t left = k - i;
    const __mmask16 m = left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
    const __m512 wv = Load::load_tail(w, i, m);
    for (int t = 0; t < NT; ++t) acc[t][0] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m, x[t] + i), acc[t][0]);
  }
  for (int t = 0; t < NT; ++t) {
    for (int u = 1; u < U; ++u) acc[t][0] = _mm512_add_ps(acc[t][0], acc[t][u]);
    out[t] = _mm512_reduce_add_ps(acc[t][0]);
  }
}

template <int NT>
void f32_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  dot_float<NT, LoadF32>(w, a, s, k, o);
}
template <int NT>
void f16_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  dot_float<NT, LoadF16>(w, a, s, k, o);
}
template <int NT>
void bf16_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  dot_float<NT, LoadBF16>(w, a, s, k, o);
}

}  // namespace

void dot_f32_avx512(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT8(f32_nt, w, act, stride, k, out)
}
void dot_f16_avx512(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT8(f16_nt, w, act, stride, k, out)
}
void dot_bf16_avx512(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT8(bf16_nt, w, act, stride, k, out)
}

// This file's column of the CPU kernel table (type_kernels.cc merges the columns).
namespace {
constexpr DotEntry kEntries[] = {
    {DType::F32, ActFormat::F32, dot_f32_avx512},
    {DType::F16, ActFormat::F32, dot_f16_avx512},
    {DType::BF16, ActFormat::F32, dot_bf16_avx512},
};
}  // namespace
extern const DotColumn kDotColumnAvx512Float{CpuIsa::Avx512, kEntries, std::size(kEntries)};

}  // namespace strata::kernels
