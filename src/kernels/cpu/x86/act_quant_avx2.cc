// kernels/cpu/x86/act_quant_avx2.cc: AVX2 activation quantizers, byte-identical to the portable ones
// (same amax, same two scalars id = 127 / amax and d = amax / 127, same round-to-nearest-even).
#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/x86/simd_x86.h"

namespace strata::kernels {

namespace {

using x86::hmax;

// Quantizes 32 floats with multiplier id into 32 int8 at `q`; returns the four i32 vectors' sum vector.
inline __m256i quantize32(const float* x, __m256 id, int8_t* q) {
  const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), id));
  const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), id));
  const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), id));
  const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), id));
  // Packing interleaves 128-bit lanes; the permute restores element order.
  const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
  const __m256i ordered = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), ordered);
  return _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
}

inline __m256 abs_max32(const float* x, __m256 m) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int j = 0; j < 32; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
  return m;
}

}  // namespace

void quantize_act32_avx2(const float* x, ActBlock32* out, int64_t k) {
  for (int64_t ib = 0; ib < k / kQK32; ++ib, x += kQK32) {
    const float amax = hmax(abs_max32(x, _mm256_setzero_ps()));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    out[ib].d = amax / 127.0f;
    out[ib].sum = x86::hsum_epi32(quantize32(x, _mm256_set1_ps(id), out[ib].qs));
  }
}

void quantize_act_q8k_avx2(const float* x, BlockQ8_K* out, int64_t k) {
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int64_t ib = 0; ib < k / kQKK; ++ib, x += kQKK) {
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < kQKK; j += 32) m = abs_max32(x + j, m);
    const float amax = hmax(m);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    out[ib].d = amax / 127.0f;
    const __m256 vid = _mm256_set1_ps(id);
    for (int j = 0; j < kQKK; j += 32) {
      quantize32(x + j, vid, out[ib].qs + j);
      // Group sums of 16: pairs (maddubs with 1), quads (madd), then two horizontal adds per 128-bit lane.
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(out[ib].qs + j));
      __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16);
      s = _mm256_hadd_epi32(s, s);
      s = _mm256_hadd_epi32(s, s);
      out[ib].bsums[j / 16] = static_cast<int16_t>(_mm256_extract_epi32(s, 0));
      out[ib].bsums[j / 16 + 1] = static_cast<int16_t>(_mm256_extract_epi32(s, 4));
    }
  }
}

}  // namespace strata::kernels
