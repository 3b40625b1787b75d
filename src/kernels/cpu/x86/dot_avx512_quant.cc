// kernels/cpu/x86/dot_avx512_quant.cc: AVX-512 (BW + VNNI) integer dot kernels for the types that carry
// most weights: Q8_0 (VNNI dot products per block) and Q4_K, Q5_K, Q6_K (64 elements per zmm, so each
// token costs one load, one maddubs, one madd and one add per 64 weights). Other types use their AVX2 kernel.
#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/dot_kernels.h"
#include "kernels/cpu/x86/simd_x86.h"
#include "tensor/blocks.h"

namespace strata::kernels {

namespace {

using x86::act_row;
using x86::half_to_float;

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }

// ---- Q8_0: per block |w| . sign(w) x through VNNI, one FMA by d_w * d_x per block and token --------

template <int NT>
void q8_0_nt(const void* w_row, const void* act, size_t stride, int64_t k, float* out) {
  const auto* w = static_cast<const BlockQ8_0*>(w_row);
  const ActBlock32* a[NT];
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) {
    a[t] = act_row<ActBlock32>(act, stride, t);
    acc[t] = _mm256_setzero_ps();
  }
  for (int64_t ib = 0; ib < k / kQK32; ++ib) {
    const __m256i q = load256(w[ib].qs);
    const __m256i mag = _mm256_sign_epi8(q, q);
    const float d = half_to_float(w[ib].d);
    for (int t = 0; t < NT; ++t) {
      const __m256i x = _mm256_sign_epi8(load256(a[t][ib].qs), q);
      const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), mag, x);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d * a[t][ib].d), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = x86::hsum(acc[t]);
}

// ---- K-quants: shared token state -------------------------------------------------------------------

// Lane l of the result takes element l / 8 of v: [v0 x 8 | v1 x 8] (the two scales of a K-quant finish).
inline __m512 spread_two(__m128 v) {
  return _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                               _mm512_castps128_ps512(v));
}

// isum (16 x i32) folded to 8 lanes.
inline __m256i fold(__m512i isum) {
  return _mm256_add_epi32(_mm512_castsi512_si256(isum), _mm512_extracti64x4_epi64(isum, 1));
}

template <int NT>
struct Tokens {
  const BlockQ8_K* a[NT];
  __m512 acc[NT];
  Tokens(const void* act, size_t stride) {
    for (int t = 0; t < NT; ++t) {
      a[t] = act_row<BlockQ8_K>(act, stride, t);
      acc[t] = _mm512_setzero_ps();
    }
  }
  // acc += [isum | neg_mins] * [d_w d_x x 8 | dmin_w d_x x 8]: one convert and one FMA per super-block.
  // dm holds (d_w, dmin_w) as floats in lanes 0 and 1.
  void finish(int t, int64_t ib, __m512i isum, __m256i neg_mins, __m128 dm) {
    const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(fold(isum)), neg_mins, 1);
    const __m512 scales = spread_two(_mm_mul_ps(dm, _mm_set1_ps(a[t][ib].d)));
    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(both), scales, acc[t]);
  }
  void store(float* out) const {
    for (int t = 0; t < NT; ++t) out[t] = _mm512_reduce_add_ps(acc[t]);
  }
};

// Word indices for _mm512_permutexvar_epi16 that spread up to 16 scales over one zmm of 64 elements:
// spread32[c] gives scale 2c to the low 32 bytes and 2c + 1 to the high (sub-blocks of 32, Q4_K/Q5_K);
// spread16[q] gives scales 4q..4q+3 to the four 128-bit lanes (groups of 16, Q6_K).
struct SpreadTables {
  alignas(64) int16_t spread32[4][32];
  alignas(64) int16_t spread16[4][32];
};
constexpr SpreadTables make_spread_tables() {
  SpreadTables t{};
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      t.spread32[c][l] = static_cast<int16_t>(2 * c + l / 16);
      t.spread16[c][l] = static_cast<int16_t>(4 * c + l / 8);
    }
  return t;
}
constexpr SpreadTables kSpread = make_spread_tables();

inline __m512i spread(const int16_t* idx, __m512i scales) {
  return _mm512_permutexvar_epi16(_mm512_load_si512(idx), scales);
}

// Q4_K / Q5_K: zmm c holds elements 64c..64c+63 = (low nibbles | high nibbles) of qs[32c..32c+31].
template <int NT, bool kFive>
void q45_k_nt(const void* w_row, const void* act, size_t stride, int64_t k, float* out) {
  const uint8_t* base = static_cast<const uint8_t*>(w_row);
  constexpr size_t kBlockBytes = kFive ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  Tokens<NT> tk(act, stride);
  const __m512i low4 = _mm512_set1_epi8(0x0f), bit4 = _mm512_set1_epi8(0x10);
  // Fifth bits: the low half of zmm c needs bit 2c of qh moved to bit 4, the high half bit 2c + 1.
  const __m512i high_shift = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(3), 1);
  for (int64_t ib = 0; ib < k / kQKK; ++ib) {
    const uint8_t* blk = base + ib * kBlockBytes;
    // Both block layouts start d, dmin, scales[12]; Q5_K then has qh[32] before qs.
    const auto& head = *reinterpret_cast<const BlockQ4_K*>(blk);
    const uint8_t* qs = kFive ? reinterpret_cast<const BlockQ5_K*>(blk)->qs : head.qs;
    const __m128i scm = x86::k4_scales_mins(head.scales);
    // Mins enter negated so that one FMA adds codes and subtracts mins.
    const __m256i neg_mins16 =
        _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scm, scm)));
    const __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(scm));
    const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u32_le(blk))));  // d, dmin
    __m512i hbits = _mm512_setzero_si512();
    if constexpr (kFive) hbits = _mm512_broadcast_i64x4(load256(reinterpret_cast<const BlockQ5_K*>(blk)->qh));
    __m512i isum[NT];
    for (int t = 0; t < NT; ++t) isum[t] = _mm512_setzero_si512();
    for (int c = 0; c < 4; ++c) {
      const __m256i q = load256(qs + 32 * c);
      __m512i z = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1), low4);
      if constexpr (kFive) {
        z = _mm512_or_si512(z, _mm512_and_si512(_mm512_sllv_epi16(hbits, high_shift), bit4));
        hbits = _mm512_srli_epi16(hbits, 2);  // bits 0, 1 of every byte stay clean (see the AVX2 kernel)
      }
      const __m512i s = spread(kSpread.spread32[c], sc16);
      for (int t = 0; t < NT; ++t) {
        const __m512i p = _mm512_maddubs_epi16(z, load512(tk.a[t][ib].qs + 64 * c));
        isum[t] = _mm512_add_epi32(isum[t], _mm512_madd_epi16(p, s));
      }
    }
    for (int t = 0; t < NT; ++t)
      tk.finish(t, ib, isum[t], _mm256_madd_epi16(load256(tk.a[t][ib].bsums), neg_mins16), dm);
  }
  tk.store(out);
}

// Q6_K: per half h, zmm A = elements 128h + 0..63 and zmm B = 128h + 64..127; ql[64h..64h+63] is one load.
template <int NT>
void q6_k_nt(const void* w_row, const void* act, size_t stride, int64_t k, float* out) {
  const auto* w = static_cast<const BlockQ6_K*>(w_row);
  Tokens<NT> tk(act, stride);
  const __m512i low4 = _mm512_set1_epi8(0x0f), two_bits = _mm512_set1_epi8(0x30);
  const __m512i shift_a = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);  // left
  const __m512i shift_b = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);  // right
  for (int64_t ib = 0; ib < k / kQKK; ++ib) {
    const BlockQ6_K& b = w[ib];
    const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
    const __m512i s16z = _mm512_castsi256_si512(s16);
    __m512i isum[NT];
    for (int t = 0; t < NT; ++t) isum[t] = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = load512(b.ql + 64 * h);
      const __m512i qh = _mm512_broadcast_i64x4(load256(b.qh + 32 * h));
      const __m512i za =
          _mm512_or_si512(_mm512_and_si512(ql, low4), _mm512_and_si512(_mm512_sllv_epi16(qh, shift_a), two_bits));
      const __m512i zb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                         _mm512_and_si512(_mm512_srlv_epi16(qh, shift_b), two_bits));
      const __m512i sa = spread(kSpread.spread16[2 * h], s16z), sb = spread(kSpread.spread16[2 * h + 1], s16z);
      for (int t = 0; t < NT; ++t) {
        const __m512i pa = _mm512_madd_epi16(_mm512_maddubs_epi16(za, load512(tk.a[t][ib].qs + 128 * h)), sa);
        const __m512i pb = _mm512_madd_epi16(_mm512_maddubs_epi16(zb, load512(tk.a[t][ib].qs + 128 * h + 64)), sb);
        isum[t] = _mm512_add_epi32(isum[t], _mm512_add_epi32(pa, pb));
      }
    }
    const float d = half_to_float(b.d);
    for (int t = 0; t < NT; ++t) {
      // sum sc * (q - 32) * x = sum sc * q * x - 32 * sum sc * bsum: both at scale d_w d_x, so in integers.
      const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(load256(tk.a[t][ib].bsums), s16), 5);
      const __m256i total = _mm256_sub_epi32(fold(isum[t]), offset);
      tk.acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(total)), _mm512_set1_ps(d * tk.a[t][ib].d),
                                  tk.acc[t]);
    }
  }
  tk.store(out);
}

template <int NT>
void q4_k_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  q45_k_nt<NT, false>(w, a, s, k, o);
}
template <int NT>
void q5_k_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  q45_k_nt<NT, true>(w, a, s, k, o);
}

}  // namespace

void dot_q8_0_avx512(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT8(q8_0_nt, w, act, stride, k, out)
}
void dot_q4_k_avx512(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT8(q4_k_nt, w, act, stride, k, out)
}
void dot_q5_k_avx512(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT8(q5_k_nt, w, act, stride, k, out)
}
void dot_q6_k_avx512(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT8(q6_k_nt, w, act, stride, k, out)
}

// This file's column of the CPU kernel table (type_kernels.cc merges the columns).
namespace {
constexpr DotEntry kEntries[] = {
    {DType::Q8_0, ActFormat::Q8x32, dot_q8_0_avx512},
    {DType::Q4_K, ActFormat::Q8K, dot_q4_k_avx512},
    {DType::Q5_K, ActFormat::Q8K, dot_q5_k_avx512},
    {DType::Q6_K, ActFormat::Q8K, dot_q6_k_avx512},
};
}  // namespace
extern const DotColumn kDotColumnAvx512Quant{CpuIsa::Avx512, kEntries, std::size(kEntries)};

}  // namespace strata::kernels
