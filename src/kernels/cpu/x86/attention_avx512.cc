// kernels/cpu/x86/attention_avx512.cc: the attention kernels at 16 lanes (AVX-512 F; F16 through vcvtph2ps).
#include "kernels/cpu/attention.h"
#include "kernels/cpu/x86/attention_impl.h"

namespace strata::kernels {

namespace {

struct Vec16 {
  using F = __m512;
  static constexpr int kLanes = 16;
  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float x) { return _mm512_set1_ps(x); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static F load_half(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static float hsum(F v) { return _mm512_reduce_add_ps(v); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F round(F a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F scale2(F a, F n) { return _mm512_scalef_ps(a, n); }  // a * 2^n
  static F round_f16(F a) { return _mm512_cvtph_ps(_mm512_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)); }
};

}  // namespace

void attn_scores_f16_avx512(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos, int64_t head_dim,
                            float scale, float* scores) {
  attn_scores<Vec16>(q, k, stride, n_pos, head_dim, scale, scores);
}

void attn_values_f16_avx512(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim,
                            float* out, bool accumulate) {
  attn_values<Vec16>(w, v, stride, n_pos, head_dim, out, accumulate);
}

void attn_block_f16_avx512(const AttnBlock& b, AttnBlockScratch& scratch) { attn_block<Vec16>(b, scratch); }

}  // namespace strata::kernels
