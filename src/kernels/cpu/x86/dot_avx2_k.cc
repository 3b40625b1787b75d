// kernels/cpu/x86/dot_avx2_k.cc: AVX2 integer dot kernels for the super-block types (Q2_K, Q3_K, Q4_K,
// Q5_K, Q6_K, IQ4_XS) against Q8_K activations. Per 32 elements: decode the codes once (unsigned, offset
// folded out), then per token one maddubs and one madd by the sub-block's integer scale into an i32
// accumulator; per super-block one FMA by d_w * d_x, and offsets/mins through Q8_K's group sums.
#include <type_traits>

#include "kernels/cpu/dot_kernels.h"
#include "kernels/cpu/x86/simd_x86.h"
#include "tensor/blocks.h"

namespace strata::kernels {

namespace {

using x86::act_row;
using x86::half_to_float;

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 16 x i16: lanes 0..7 hold scale i, lanes 8..15 scale i + 1 (two groups of 16), from 16 int8 scales.
inline __m256i scale_pair(__m128i s8, int i) {
  const __m128i idx = _mm_add_epi8(_mm_set1_epi8(static_cast<char>(i)), _mm_set_epi64x(0x0101010101010101, 0));
  return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(s8, idx));
}

// acc += cvt(isum) * (d_w * d_x) - cvt(mins) * (dmin_w * d_x)
inline __m256 finish(__m256 acc, __m256i isum, float dd, __m256i mins, float dm) {
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(dd), acc);
  return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_set1_ps(dm), acc);
}

template <int NT>
struct Tokens {
  const BlockQ8_K* a[NT];
  __m256 acc[NT];
  Tokens(const void* act, size_t stride) {
    for (int t = 0; t < NT; ++t) {
      a[t] = act_row<BlockQ8_K>(act, stride, t);
      acc[t] = _mm256_setzero_ps();
    }
  }
  void store(float* out) const {
    for (int t = 0; t < NT; ++t) out[t] = x86::hsum(acc[t]);
  }
};

// Q4_K and Q5_K share their layout up to Q5_K's fifth bits (qh[32] before qs), so one kernel serves both.
template <int NT, bool kFive>
void q45_k_nt(const void* w_row, const void* act, size_t stride, int64_t k, float* out) {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  const auto* w = static_cast<const Block*>(w_row);
  Tokens<NT> tk(act, stride);
  const __m256i low4 = _mm256_set1_epi8(0x0f), bit4 = _mm256_set1_epi8(0x10);
  for (int64_t ib = 0; ib < k / kQKK; ++ib) {
    const Block& b = w[ib];
    const __m128i scm = x86::k4_scales_mins(b.scales);
    const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scm, scm));  // min j for groups 2j, 2j+1
    const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scm));
    __m256i isum[NT];
    for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
    // Fifth bits: bit j of qh[l] belongs to sub-block j. Shifting the 16-bit words right by 2 per pair
    // keeps bits 0 and 1 of every byte clean (only top bits take in the neighbour byte's bits).
    __m256i hbits = _mm256_setzero_si256();
    if constexpr (kFive) hbits = load256(b.qh);
    for (int c = 0; c < 4; ++c) {
      const __m256i q = load256(b.qs + 32 * c);
      __m256i lo = _mm256_and_si256(q, low4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      if constexpr (kFive) {
        lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(hbits, 4), bit4));
        hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(hbits, 3), bit4));
        hbits = _mm256_srli_epi16(hbits, 2);
      }
      const __m256i s_lo = x86::broadcast_word(sc16, 2 * c), s_hi = x86::broadcast_word(sc16, 2 * c + 1);
      for (int t = 0; t < NT; ++t) {
        const __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, load256(tk.a[t][ib].qs + 64 * c)), s_lo);
        const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, load256(tk.a[t][ib].qs + 64 * c + 32)), s_hi);
        isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(p0, p1));
      }
    }
    const float d = half_to_float(b.d), dmin = half_to_float(b.dmin);
    for (int t = 0; t < NT; ++t) {
      const __m256i mins = _mm256_madd_epi16(load256(tk.a[t][ib].bsums), mins16);
      tk.acc[t] = finish(tk.acc[t], isum[t], d * tk.a[t][ib].d, mins, dmin * tk.a[t][ib].d);
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

template <int NT>
void q6_k_nt(const void* w_row, const void* act, size_t stride, int64_t k, float* out) {
  const auto* w = static_cast<const BlockQ6_K*>(w_row);
  Tokens<NT> tk(act, stride);
  const __m256i low4 = _mm256_set1_epi8(0x0f), two_bits = _mm256_set1_epi8(0x30);
  for (int64_t ib = 0; ib < k / kQKK; ++ib) {
    const BlockQ6_K& b = w[ib];
    const __m128i s8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
    __m256i isum[NT];
    for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i qh = load256(b.qh + 32 * h);
      const __m256i ql0 = load256(b.ql + 64 * h), ql1 = load256(b.ql + 64 * h + 32);
      // Unsigned 6-bit codes (the -32 offset is applied through the group sums below).
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), two_bits)),
          _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), two_bits)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, two_bits)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                          _mm256_and_si256(_mm256_srli_epi16(qh, 2), two_bits)),
      };
      for (int g = 0; g < 4; ++g) {
        const __m256i s = scale_pair(s8, 8 * h + 2 * g);
        for (int t = 0; t < NT; ++t) {
          const __m256i x = load256(tk.a[t][ib].qs + 128 * h + 32 * g);
          isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[g], x), s));
        }
      }
    }
    const __m256i s16 = _mm256_cvtepi8_epi16(s8);
    const float d = half_to_float(b.d);
    for (int t = 0; t < NT; ++t) {
      // sum sc * (q - 32) * x = sum sc * q * x - 32 * sum sc * bsum
      const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(load256(tk.a[t][ib].bsums), s16), 5);
      const __m256i total = _mm256_sub_epi32(isum[t], offset);  // same scale: subtract in integers
      tk.acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), _mm256_set1_ps(d * tk.a[t][ib].d), tk.acc[t]);
    }
  }
  tk.store(out);
}

template <int NT>
void q3_k_nt(const void* w_row, const void* act, size_t stride, int64_t k, float* out) {
  const auto* w = static_cast<const BlockQ3_K*>(w_row);
  Tokens<NT> tk(act, stride);
  const __m256i mask2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
  for (int64_t ib = 0; ib < k / kQKK; ++ib) {
    const BlockQ3_K& b = w[ib];
    uint8_t sc_biased[16];
    unpack_q3k_scales(b.scales, sc_biased);
    const __m128i s8 = _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc_biased)), _mm_set1_epi8(32));
    __m256i isum[NT];
    for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
    // The high bit of element 32i + l is bit i of hmask[l]; one right shift per step keeps bit 0 of every
    // byte clean for the 8 steps.
    __m256i hbits = load256(b.hmask);
    for (int h = 0; h < 2; ++h) {
      const __m256i qv = load256(b.qs + 32 * h);
      for (int j = 0; j < 4; ++j) {
        // Unsigned 3-bit code low | high << 2 in [0, 7]; the value is code - 4.
        const __m256i low = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * j), mask2);
        const __m256i q = _mm256_or_si256(low, _mm256_slli_epi16(_mm256_and_si256(hbits, one), 2));
        hbits = _mm256_srli_epi16(hbits, 1);
        const __m256i s = scale_pair(s8, 8 * h + 2 * j);
        for (int t = 0; t < NT; ++t) {
          const __m256i x = load256(tk.a[t][ib].qs + 128 * h + 32 * j);
          isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q, x), s));
        }
      }
    }
    const __m256i s16 = _mm256_cvtepi8_epi16(s8);
    const float d = half_to_float(b.d);
    for (int t = 0; t < NT; ++t) {
      const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(load256(tk.a[t][ib].bsums), s16), 2);
      const __m256i total = _mm256_sub_epi32(isum[t], offset);
      tk.acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), _mm256_set1_ps(d * tk.a[t][ib].d), tk.acc[t]);
    }
  }
  tk.store(out);
}

template <int NT>
void q2_k_nt(const void* w_row, const void* act, size_t stride, int64_t k, float* out) {
  const auto* w = static_cast<const BlockQ2_K*>(w_row);
  Tokens<NT> tk(act, stride);
  const __m256i mask2 = _mm256_set1_epi8(3);
  const __m128i low4 = _mm_set1_epi8(0x0f);
  for (int64_t ib = 0; ib < k / kQKK; ++ib) {
    const BlockQ2_K& b = w[ib];
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
    const __m128i s8 = _mm_and_si128(packed, low4);
    const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), low4));
    __m256i isum[NT];
    for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i qv = load256(b.qs + 32 * h);
      for (int j = 0; j < 4; ++j) {
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * j), mask2);
        const __m256i s = scale_pair(s8, 8 * h + 2 * j);
        for (int t = 0; t < NT; ++t) {
          const __m256i x = load256(tk.a[t][ib].qs + 128 * h + 32 * j);
          isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q, x), s));
        }
      }
    }
    const float d = half_to_float(b.d), dmin = half_to_float(b.dmin);
    for (int t = 0; t < NT; ++t) {
      const __m256i mins = _mm256_madd_epi16(load256(tk.a[t][ib].bsums), mins16);
      tk.acc[t] = finish(tk.acc[t], isum[t], d * tk.a[t][ib].d, mins, dmin * tk.a[t][ib].d);
    }
  }
  tk.store(out);
}

template <int NT>
void iq4_xs_nt(const void* w_row, const void* act, size_t stride, int64_t k, float* out) {
  const auto* w = static_cast<const BlockIQ4_XS*>(w_row);
  Tokens<NT> tk(act, stride);
  const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Values)));
  for (int64_t ib = 0; ib < k / kQKK; ++ib) {
    const BlockIQ4_XS& b = w[ib];
    __m256i isum[NT];
    for (int t = 0; t < NT; ++t) isum[t] = _mm256_setzero_si256();
    for (int s = 0; s < 8; ++s) {
      const __m256i q = _mm256_shuffle_epi8(table, x86::unpack_nibbles32(b.qs + 16 * s));
      const __m256i mag = _mm256_sign_epi8(q, q);
      const int ls = ((b.scales_l[s / 2] >> (4 * (s % 2))) & 0xf) | (((b.scales_h >> (2 * s)) & 3) << 4);
      const __m256i scale = _mm256_set1_epi16(static_cast<int16_t>(ls - 32));
      for (int t = 0; t < NT; ++t) {
        const __m256i x = _mm256_sign_epi8(load256(tk.a[t][ib].qs + 32 * s), q);
        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(mag, x), scale));
      }
    }
    const float d = half_to_float(b.d);
    for (int t = 0; t < NT; ++t)
      tk.acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(d * tk.a[t][ib].d), tk.acc[t]);
  }
  tk.store(out);
}

}  // namespace

void dot_q2_k_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(q2_k_nt, w, act, stride, k, out)
}
void dot_q3_k_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(q3_k_nt, w, act, stride, k, out)
}
void dot_q4_k_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(q4_k_nt, w, act, stride, k, out)
}
void dot_q5_k_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(q5_k_nt, w, act, stride, k, out)
}
void dot_q6_k_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(q6_k_nt, w, act, stride, k, out)
}
void dot_iq4_xs_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(iq4_xs_nt, w, act, stride, k, out)
}

// This file's column of the CPU kernel table (type_kernels.cc merges the columns).
namespace {
constexpr DotEntry kEntries[] = {
    {DType::Q2_K, ActFormat::Q8K, dot_q2_k_avx2},
    {DType::Q3_K, ActFormat::Q8K, dot_q3_k_avx2},
    {DType::Q4_K, ActFormat::Q8K, dot_q4_k_avx2},
    {DType::Q5_K, ActFormat::Q8K, dot_q5_k_avx2},
    {DType::Q6_K, ActFormat::Q8K, dot_q6_k_avx2},
    {DType::IQ4_XS, ActFormat::Q8K, dot_iq4_xs_avx2},
};
}  // namespace
extern const DotColumn kDotColumnAvx2K{CpuIsa::Avx2, kEntries, std::size(kEntries)};

}  // namespace strata::kernels
