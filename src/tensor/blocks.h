// tensor/blocks.h: the byte layout of every quantized block (GGUF/ggml layouts), pinned by static_assert,
// plus the small bit-unpacking helpers that the codecs and the fast kernels both need.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace strata {

// Elements per block: the "legacy" types use 32, the K-quants and IQ4_XS use super-blocks of 256.
constexpr int kQK32 = 32;
constexpr int kQKK = 256;

// Scales are IEEE half (uint16 bits) unless noted; weights are read as x = d * q (+ m) per block.

// Q4_0: x = d * (q - 8); q = nibble. Element j < 16 is the low nibble of qs[j], element j + 16 its high nibble.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK32 / 2];
};
// Q4_1: x = d * q + m; nibbles as in Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK32 / 2];
};
// Q5_0: x = d * (q - 16); q = nibble | bit << 4, bit j of qh (little-endian u32) for element j.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK32 / 2];
};
// Q5_1: x = d * q + m; 5-bit q as in Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK32 / 2];
};
// Q8_0: x = d * q, q signed 8-bit.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK32];
};

// Q2_K: 16 sub-blocks of 16. scales[i]: low nibble scale, high nibble min; x = d*sc*q - dmin*m, q 2 bits.
// Element e = 128h + 32j + l (h < 2, j < 4, l < 32) is bits 2j..2j+1 of qs[32h + l]; sub-block e / 16.
struct BlockQ2_K {
  uint8_t scales[kQKK / 16];
  uint8_t qs[kQKK / 4];
  uint16_t d;
  uint16_t dmin;
};
// Q3_K: 16 sub-blocks of 16 with signed 6-bit scales (stored biased by 32, packed in 12 bytes).
// Element e = 128h + 32j + l: low 2 bits from bits 2j.. of qs[32h + l]; the third bit is bit 4h+j of
// hmask[l]; x = d * (sc - 32) * (low2 - (bit ? 0 : 4)).
struct BlockQ3_K {
  uint8_t hmask[kQKK / 8];
  uint8_t qs[kQKK / 4];
  uint8_t scales[12];
  uint16_t d;
};
// Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes; x = d*sc*q - dmin*m.
// Element e = 64c + 32s + l is the low (s = 0) or high (s = 1) nibble of qs[32c + l]; sub-block e / 32.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQKK / 2];
};
// Q5_K: Q4_K plus a fifth bit: bit e / 32 of qh[e % 32].
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};
// Q6_K: 16 sub-blocks of 16 with signed 8-bit scales; x = d * sc * (q - 32), q 6 bits.
// Element e = 128h + 32g + l (g < 4): low 4 bits are nibble (g >= 2) of ql[64h + 32(g & 1) + l]; high
// 2 bits are bits 2g..2g+1 of qh[32h + l]; scale index e / 16.
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];
  uint8_t qh[kQKK / 4];
  int8_t scales[kQKK / 16];
  uint16_t d;
};
// Q8_K: float scale, signed 8-bit q, and the sums of q over each group of 16 (for the mins of K-quants).
struct BlockQ8_K {
  float d;
  int8_t qs[kQKK];
  int16_t bsums[kQKK / 16];
};

// IQ4_NL: x = d * kIq4Values[nibble]; nibbles laid out as in Q4_0.
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[kQK32 / 2];
};
// IQ4_XS: 8 sub-blocks of 32, 6-bit scale ls = low nibble (scales_l) | 2 high bits (scales_h) << 4;
// x = d * (ls - 32) * kIq4Values[nibble]; within a sub-block nibbles are laid out as in Q4_0.
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[kQKK / 64];
  uint8_t qs[kQKK / 2];
};

// MXFP4 (OCP microscaling, gpt-oss experts): one E8M0 exponent byte e and 32 E2M1 codes, nibbles laid out
// as in Q4_0. x = 2^(e - 127) * e2m1(nibble). Kernels read it as d * kMxfp4Values[nibble] with the doubled
// levels below (integers) and the half scale d = 2^(e - 128), as ggml does.
struct BlockMXFP4 {
  uint8_t e;
  uint8_t qs[kQK32 / 2];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockMXFP4) == 17 && alignof(BlockMXFP4) == 1);
static_assert(alignof(BlockQ4_0) == 2 && alignof(BlockQ8_0) == 2 && alignof(BlockQ6_K) == 2);

// The 16 non-uniform levels shared by IQ4_NL and IQ4_XS (part of the format definition).
inline constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// E2M1 levels times two (0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives; bit 3 is the sign), so they are integers.
inline constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// The float bits of MXFP4's half scale 2^(e - 128): a normal float for e >= 2, the subnormals 2^-127 and
// 2^-128 for e = 1 and 0. E8M0's NaN (e = 255) reads as 2^127, as in ggml.
static constexpr uint32_t mxfp4_half_scale_bits(uint8_t e) {
  return e >= 2 ? static_cast<uint32_t>(e - 1) << 23 : 0x00200000u << e;
}

// The helpers below are `static inline` on purpose: kernel files compiled with wider ISA flags (-mavx2, ...)
// then get private copies, so the linker can never merge in a copy that the running CPU lacks.
static inline uint32_t load_u32_le(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // every target strata builds for is little-endian
}

// Q4_K/Q5_K: the 8 six-bit scales and 8 six-bit mins from the 12 packed bytes. For j < 4 the scale and
// min are the low 6 bits of bytes j and j + 4; for j >= 4 the low 4 bits come from the nibbles of byte
// j + 4 and the top 2 bits from the spare top bits of bytes j - 4 (scale) and j (min).
// This form returns them as 8 bytes each, little-endian in a u64 (scale j = byte j), for SIMD kernels.
static inline void unpack_k4_scales_u64(const uint8_t packed[12], uint64_t& sc, uint64_t& m) {
  const uint32_t w0 = load_u32_le(packed), w1 = load_u32_le(packed + 4), w2 = load_u32_le(packed + 8);
  const uint32_t s_lo = w0 & 0x3f3f3f3fu;
  const uint32_t m_lo = w1 & 0x3f3f3f3fu;
  const uint32_t s_hi = (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4);
  const uint32_t m_hi = ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4);
  sc = (static_cast<uint64_t>(s_hi) << 32) | s_lo;
  m = (static_cast<uint64_t>(m_hi) << 32) | m_lo;
}

static inline void unpack_k4_scales(const uint8_t packed[12], uint8_t sc[8], uint8_t m[8]) {
  uint64_t s64, m64;
  unpack_k4_scales_u64(packed, s64, m64);
  std::memcpy(sc, &s64, 8);
  std::memcpy(m, &m64, 8);
}

// Q3_K: the 16 six-bit scales (still biased by 32). Scale i takes its low 4 bits from the low (i < 8) or
// high (i >= 8) nibble of byte i % 8, and its top 2 bits from bits 2(i / 4).. of byte 8 + i % 4.
static inline void unpack_q3k_scales(const uint8_t packed[12], uint8_t sc[16]) {
  const uint32_t w0 = load_u32_le(packed), w1 = load_u32_le(packed + 4), w2 = load_u32_le(packed + 8);
  const uint32_t out[4] = {
      (w0 & 0x0f0f0f0fu) | ((w2 & 0x03030303u) << 4),
      (w1 & 0x0f0f0f0fu) | (((w2 >> 2) & 0x03030303u) << 4),
      ((w0 >> 4) & 0x0f0f0f0fu) | (((w2 >> 4) & 0x03030303u) << 4),
      ((w1 >> 4) & 0x0f0f0f0fu) | (((w2 >> 6) & 0x03030303u) << 4),
  };
  std::memcpy(sc, out, 16);
}

}  // namespace strata
