// kernels/cpu/x86/dot_avx2_float.cc: AVX2+FMA dot kernels for float weights (F32, F16 via F16C, BF16).
#include "kernels/cpu/dot_kernels.h"
#include "kernels/cpu/x86/simd_x86.h"

namespace strata::kernels {

namespace {

using x86::act_row;
using x86::hsum;

struct LoadF32 {
  static __m256 load8(const void* w, int64_t i) { return _mm256_loadu_ps(static_cast<const float*>(w) + i); }
  static float load1(const void* w, int64_t i) { return static_cast<const float*>(w)[i]; }
};
struct LoadF16 {
  static __m256 load8(const void* w, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i)));
  }
  static float load1(const void* w, int64_t i) { return x86::half_to_float(static_cast<const uint16_t*>(w)[i]); }
};
struct LoadBF16 {
  static __m256 load8(const void* w, int64_t i) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float load1(const void* w, int64_t i) {
    const uint32_t bits = static_cast<uint32_t>(static_cast<const uint16_t*>(w)[i]) << 16;
    return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(static_cast<int>(bits))));
  }
};

// NT tokens share each widened weight vector; U independent accumulators per token hide FMA latency.
template <int NT, typename Load>
void dot_float(const void* w, const void* act, size_t stride, int64_t k, float* out) {
  constexpr int U = NT == 1 ? 4 : NT == 2 ? 2 : 1;
  const float* x[NT];
  for (int t = 0; t < NT; ++t) x[t] = act_row<float>(act, stride, t);
  __m256 acc[NT][U];
  for (int t = 0; t < NT; ++t)
    for (int u = 0; u < U; ++u) acc[t][u] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 * U <= k; i += 8 * U) {
    for (int u = 0; u < U; ++u) {
      const __m256 wv = Load::load8(w, i + 8 * u);
      for (int t = 0; t < NT; ++t) acc[t][u] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[t] + i + 8 * u), acc[t][u]);
    }
  }
  for (; i + 8 <= k; i += 8) {
    const __m256 wv = Load::load8(w, i);
    for (int t = 0; t < NT; ++t) acc[t][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x[t] + i), acc[t][0]);
  }
  for (int t = 0; t < NT; ++t) {
    for (int u = 1; u < U; ++u) acc[t][0] = _mm256_add_ps(acc[t][0], acc[t][u]);
    float s = hsum(acc[t][0]);
    for (int64_t j = i; j < k; ++j) s += Load::load1(w, j) * x[t][j];
    out[t] = s;
  }
}

template <int NT>
void dot_f32_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  dot_float<NT, LoadF32>(w, a, s, k, o);
}
template <int NT>
void dot_f16_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  dot_float<NT, LoadF16>(w, a, s, k, o);
}
template <int NT>
void dot_bf16_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  dot_float<NT, LoadBF16>(w, a, s, k, o);
}

}  // namespace

void dot_f32_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(dot_f32_nt, w, act, stride, k, out)
}
void dot_f16_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(dot_f16_nt, w, act, stride, k, out)
}
void dot_bf16_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(dot_bf16_nt, w, act, stride, k, out)
}

// This file's column of the CPU kernel table (type_kernels.cc merges the columns).
namespace {
constexpr DotEntry kEntries[] = {
    {DType::F32, ActFormat::F32, dot_f32_avx2},
    {DType::F16, ActFormat::F32, dot_f16_avx2},
    {DType::BF16, ActFormat::F32, dot_bf16_avx2},
};
}  // namespace
extern const DotColumn kDotColumnAvx2Float{CpuIsa::Avx2, kEntries, std::size(kEntries)};

}  // namespace strata::kernels
