// kernels/cpu/x86/attention_avx2.cc: the attention kernels at 8 lanes (AVX2 + FMA, F16C for the cache).
#include "kernels/cpu/attention.h"
#include "kernels/cpu/x86/attention_impl.h"
#include "kernels/cpu/x86/simd_x86.h"

namespace strata::kernels {

namespace {

struct Vec8 {
  using F = __m256;
  static constexpr int kLanes = 8;
  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float x) { return _mm256_set1_ps(x); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static F load_half(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static float hsum(F v) { return x86::hsum(v); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F round(F a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F scale2(F a, F n) {  // a * 2^n for integral n in [-126, 127]
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(a, _mm256_castsi256_ps(e));
  }
  static F round_f16(F a) { return _mm256_cvtph_ps(_mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)); }
};

}  // namespace

void attn_scores_f16_avx2(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float scale, float* scores) {
  attn_scores<Vec8>(q, k, stride, n_pos, head_dim, scale, scores);
}

void attn_values_f16_avx2(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float* out, bool accumulate) {
  attn_values<Vec8>(w, v, stride, n_pos, head_dim, out, accumulate);
}

void attn_block_f16_avx2(const AttnBlock& b, AttnBlockScratch& scratch) { attn_block<Vec8>(b, scratch); }

}  // namespace strata::kernels
