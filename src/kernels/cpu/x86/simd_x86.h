// kernels/cpu/x86/simd_x86.h: small AVX2 helpers for the x86 kernel files (each compiled with its own ISA flags).
// Everything here is `static inline`: an AVX2 file and an AVX-512 file must never share one out-of-line copy.
#pragma once

#if !defined(__x86_64__) || !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "simd_x86.h is only for the x86 kernel files built with -mavx2 -mfma -mf16c"
#endif

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace strata::kernels::x86 {

static inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// Sum of unsigned u8 x signed s8 products in pairs, widened to 8 x i32 (each lane: 4 adjacent products).
// REQUIRES: |u * s| pairs stay below 2^15 (true for u <= 128 with s in [-127, 127]).
static inline __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// 32 nibbles from 16 bytes, in the 32-element layout: bytes 0..15 low nibbles, bytes 16..31 high nibbles.
static inline __m256i unpack_nibbles32(const uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0f));
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
  return _mm256_set_m128i(hi, lo);
}

// Byte j of the result is 0xff when bit j of `bits` is set (j < 32).
static inline __m256i bits_to_bytes(uint32_t bits) {
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0x0000000000000000));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

// Q4_K/Q5_K: the 8 six-bit scales (bytes 0..7) and 8 six-bit mins (bytes 8..15) from the 12 packed bytes:
// the SIMD form of unpack_k4_scales_u64 (tensor/blocks.h), same word arithmetic on 32-bit lanes.
// Reads 16 bytes: `packed` must point inside a larger block (in Q4_K/Q5_K the codes follow the scales).
static inline __m128i k4_scales_mins(const uint8_t* packed) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));        // w0 w1 w2 (w3)
  const __m128i low = _mm_and_si128(v, _mm_set_epi32(0, 0, 0x3f3f3f3f, 0x3f3f3f3f));  // s_lo, m_lo
  const __m128i w2w2 = _mm_shuffle_epi32(v, 0x0a);
  const __m128i nibbles = _mm_and_si128(_mm_srlv_epi32(w2w2, _mm_set_epi32(0, 0, 4, 0)), _mm_set1_epi32(0x0f0f0f0f));
  const __m128i top = _mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(v, 6), _mm_set1_epi32(0x03030303)), 4);
  return _mm_unpacklo_epi32(low, _mm_or_si128(nibbles, top));  // s_lo, s_hi, m_lo, m_hi
}

// Byte masks for _mm256_shuffle_epi8 that broadcast 16-bit word j of each 128-bit lane to the whole lane.
struct WordSelect {
  alignas(32) int8_t bytes[8][32];
};
constexpr WordSelect make_word_select() {
  WordSelect t{};
  for (int j = 0; j < 8; ++j)
    for (int b = 0; b < 32; ++b) t.bytes[j][b] = static_cast<int8_t>(2 * j + (b & 1));
  return t;
}
static constexpr WordSelect kWordSelect = make_word_select();

// v holds 8 x i16 in each 128-bit lane; returns word j broadcast to all 16 lanes.
static inline __m256i broadcast_word(__m256i v, int j) {
  return _mm256_shuffle_epi8(v, _mm256_load_si256(reinterpret_cast<const __m256i*>(kWordSelect.bytes[j])));
}

template <typename T>
static inline const T* act_row(const void* act, size_t stride, int t) {
  return reinterpret_cast<const T*>(static_cast<const uint8_t*>(act) + static_cast<size_t>(t) * stride);
}

}  // namespace strata::kernels::x86

// Instantiates a kernel template for the token count of this call (1..kDotTokensOther = 4).
#define STRATA_DOT_FOR_NT(kernel, ...) \
  switch (n_tok) {                     \
    case 1:                            \
      kernel<1>(__VA_ARGS__);          \
      break;                           \
    case 2:                            \
      kernel<2>(__VA_ARGS__);          \
      break;                           \
    case 3:                            \
      kernel<3>(__VA_ARGS__);          \
      break;                           \
    default:                           \
      kernel<4>(__VA_ARGS__);          \
      break;                           \
  }

// The same for the AVX-512 kernels, which take up to kDotTokensAvx512 = 8 tokens per call.
#define STRATA_DOT_FOR_NT8(kernel, ...) \
  switch (n_tok) {                      \
    case 1: kernel<1>(__VA_ARGS__); break; \
    case 2: kernel<2>(__VA_ARGS__); break; \
    case 3: kernel<3>(__VA_ARGS__); break; \
    case 4: kernel<4>(__VA_ARGS__); break; \
    case 5: kernel<5>(__VA_ARGS__); break; \
    case 6: kernel<6>(__VA_ARGS__); break; \
    case 7: kernel<7>(__VA_ARGS__); break; \
    default: kernel<8>(__VA_ARGS__); break; \
  }
