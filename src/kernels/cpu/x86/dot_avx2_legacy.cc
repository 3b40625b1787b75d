// kernels/cpu/x86/dot_avx2_legacy.cc: AVX2 integer dot kernels for the 32-element types (Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, IQ4_NL, MXFP4) against ActBlock32 activations. Each block is decoded once to 32 int8 codes in a
// ymm register, then every token does one u8 x s8 multiply-add and one FMA with d_w * d_x.
// Signed codes use the sign trick: |w| (unsigned) times sign(w) * x (signed) equals w * x.
#include <cstring>

#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/dot_kernels.h"
#include "kernels/cpu/x86/simd_x86.h"

namespace strata::kernels {

namespace {

using x86::act_row;
using x86::dot_u8s8;
using x86::half_to_float;

// Each decoder yields the block's codes and scales. kSigned: codes are signed (use the sign trick);
// otherwise they are unsigned and the block adds m * sum(x) (Q4_1, Q5_1).
struct DecodeQ4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kSigned = true;
  static __m256i codes(const Block& b) { return _mm256_sub_epi8(x86::unpack_nibbles32(b.qs), _mm256_set1_epi8(8)); }
  static float m(const Block&) { return 0.0f; }
};
struct DecodeQ4_1 {
  using Block = BlockQ4_1;
  static constexpr bool kSigned = false;
  static __m256i codes(const Block& b) { return x86::unpack_nibbles32(b.qs); }
  static float m(const Block& b) { return half_to_float(b.m); }
};
struct DecodeQ5_0 {
  using Block = BlockQ5_0;
  static constexpr bool kSigned = true;
  // q - 16 is the nibble when the fifth bit is set, else the nibble - 16, i.e. the nibble with 0xf0 or-ed in.
  static __m256i codes(const Block& b) {
    const __m256i high = x86::bits_to_bytes(load_u32_le(b.qh));
    return _mm256_or_si256(x86::unpack_nibbles32(b.qs),
                           _mm256_andnot_si256(high, _mm256_set1_epi8(static_cast<char>(0xf0))));
  }
  static float m(const Block&) { return 0.0f; }
};
struct DecodeQ5_1 {
  using Block = BlockQ5_1;
  static constexpr bool kSigned = false;
  static __m256i codes(const Block& b) {
    const __m256i high = x86::bits_to_bytes(load_u32_le(b.qh));
    return _mm256_or_si256(x86::unpack_nibbles32(b.qs), _mm256_and_si256(high, _mm256_set1_epi8(0x10)));
  }
  static float m(const Block& b) { return half_to_float(b.m); }
};
struct DecodeQ8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kSigned = true;
  static __m256i codes(const Block& b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)); }
  static float m(const Block&) { return 0.0f; }
};
struct DecodeIQ4_NL {
  using Block = BlockIQ4_NL;
  static constexpr bool kSigned = true;
  static __m256i codes(const Block& b) {
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Values)));
    return _mm256_shuffle_epi8(table, x86::unpack_nibbles32(b.qs));
  }
  static float m(const Block&) { return 0.0f; }
};
// MXFP4 is IQ4_NL with other levels (the doubled E2M1 values) and a power-of-two scale byte for the half.
struct DecodeMXFP4 {
  using Block = BlockMXFP4;
  static constexpr bool kSigned = true;
  static __m256i codes(const Block& b) {
    const __m256i table =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kMxfp4Values)));
    return _mm256_shuffle_epi8(table, x86::unpack_nibbles32(b.qs));
  }
  static float m(const Block&) { return 0.0f; }
};

// The block scale: IEEE half for every type here but MXFP4.
template <typename Block>
inline float block_scale(const Block& b) {
  return half_to_float(b.d);
}
inline float block_scale(const BlockMXFP4& b) {
  const uint32_t bits = mxfp4_half_scale_bits(b.e);
  float d;
  std::memcpy(&d, &bits, 4);
  return d;
}

template <int NT, typename D>
void dot32(const void* w_row, const void* act, size_t stride, int64_t k, float* out) {
  const auto* w = static_cast<const typename D::Block*>(w_row);
  const ActBlock32* a[NT];
  for (int t = 0; t < NT; ++t) a[t] = act_row<ActBlock32>(act, stride, t);
  __m256 acc[NT];
  float offset[NT];
  for (int t = 0; t < NT; ++t) {
    acc[t] = _mm256_setzero_ps();
    offset[t] = 0.0f;
  }
  const int64_t nb = k / kQK32;
  for (int64_t ib = 0; ib < nb; ++ib) {
    const __m256i q = D::codes(w[ib]);
    const float d = block_scale(w[ib]);
    if constexpr (D::kSigned) {
      const __m256i mag = _mm256_sign_epi8(q, q);
      for (int t = 0; t < NT; ++t) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][ib].qs));
        const __m256i p = dot_u8s8(mag, _mm256_sign_epi8(x, q));
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d * a[t][ib].d), acc[t]);
      }
    } else {
      const float m = D::m(w[ib]);
      for (int t = 0; t < NT; ++t) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][ib].qs));
        const __m256i p = dot_u8s8(q, x);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d * a[t][ib].d), acc[t]);
        offset[t] += m * a[t][ib].d * static_cast<float>(a[t][ib].sum);
      }
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = x86::hsum(acc[t]) + offset[t];
}

template <int NT>
void q4_0_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  dot32<NT, DecodeQ4_0>(w, a, s, k, o);
}
template <int NT>
void q4_1_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  dot32<NT, DecodeQ4_1>(w, a, s, k, o);
}
template <int NT>
void q5_0_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  dot32<NT, DecodeQ5_0>(w, a, s, k, o);
}
template <int NT>
void q5_1_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  dot32<NT, DecodeQ5_1>(w, a, s, k, o);
}
template <int NT>
void q8_0_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  dot32<NT, DecodeQ8_0>(w, a, s, k, o);
}
template <int NT>
void iq4_nl_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  dot32<NT, DecodeIQ4_NL>(w, a, s, k, o);
}
template <int NT>
void mxfp4_nt(const void* w, const void* a, size_t s, int64_t k, float* o) {
  dot32<NT, DecodeMXFP4>(w, a, s, k, o);
}

}  // namespace

void dot_q4_0_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(q4_0_nt, w, act, stride, k, out)
}
void dot_q4_1_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(q4_1_nt, w, act, stride, k, out)
}
void dot_q5_0_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(q5_0_nt, w, act, stride, k, out)
}
void dot_q5_1_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(q5_1_nt, w, act, stride, k, out)
}
void dot_q8_0_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(q8_0_nt, w, act, stride, k, out)
}
void dot_iq4_nl_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(iq4_nl_nt, w, act, stride, k, out)
}
void dot_mxfp4_avx2(const void* w, const void* act, size_t stride, int n_tok, int64_t k, float* out) {
  STRATA_DOT_FOR_NT(mxfp4_nt, w, act, stride, k, out)
}

// This file's column of the CPU kernel table (type_kernels.cc merges the columns).
namespace {
constexpr DotEntry kEntries[] = {
    {DType::Q4_0, ActFormat::Q8x32, dot_q4_0_avx2},
    {DType::Q4_1, ActFormat::Q8x32, dot_q4_1_avx2},
    {DType::Q5_0, ActFormat::Q8x32, dot_q5_0_avx2},
    {DType::Q5_1, ActFormat::Q8x32, dot_q5_1_avx2},
    {DType::Q8_0, ActFormat::Q8x32, dot_q8_0_avx2},
    {DType::IQ4_NL, ActFormat::Q8x32, dot_iq4_nl_avx2},
    {DType::MXFP4, ActFormat::Q8x32, dot_mxfp4_avx2},
};
}  // namespace
extern const DotColumn kDotColumnAvx2Legacy{CpuIsa::Avx2, kEntries, std::size(kEntries)};

}  // namespace strata::kernels
