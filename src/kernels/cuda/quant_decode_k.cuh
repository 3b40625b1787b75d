// kernels/cuda/quant_decode_k.cuh: device decoders for the 256-element super-block types (Q2_K..Q6_K,
// IQ4_XS): chunk j of a row is sub-block j % 8 of super-block j / 8, 32 elements.
#pragma once

#include "kernels/cuda/quant_decode.cuh"

namespace strata::cuda {

struct DecodeQ2_K {
  static constexpr int kBlockElems = kQKK, kBlockBytes = sizeof(BlockQ2_K);
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const uint8_t* b = row + (j / 8) * kBlockBytes;
    const int s = static_cast<int>(j % 8), h = s / 4, g = s % 4;
    const uint32_t dd = load_u32(b + 80);
    const float d = half_bits_to_float(dd & 0xffff), dmin = half_bits_to_float(dd >> 16);
    const int sc0 = b[2 * s], sc1 = b[2 * s + 1];
    const float d0 = d * (sc0 & 0xf), m0 = dmin * (sc0 >> 4), d1 = d * (sc1 & 0xf), m1 = dmin * (sc1 >> 4);
    uint32_t qs[8];
    load16_a4(b + 16 + 32 * h, qs);
    load16_a4(b + 16 + 32 * h + 16, qs + 4);
#pragma unroll
    for (int l = 0; l < 32; ++l) {
      const float q = small_int_to_float((byte_of(qs, l) >> (2 * g)) & 3);
      out[l] = l < 16 ? d0 * q - m0 : d1 * q - m1;
    }
  }
  STRATA_HD static void chunk_int(const uint8_t* row, int64_t j, uint32_t q[8], float a[2], float m[2]) {
    const uint8_t* b = row + (j / 8) * kBlockBytes;
    const int s = static_cast<int>(j % 8), h = s / 4, g = s % 4;
    const uint32_t dd = load_u32(b + 80);
    const float d = half_bits_to_float(dd & 0xffff), dmin = half_bits_to_float(dd >> 16);
    const int sc0 = b[2 * s], sc1 = b[2 * s + 1];
    a[0] = d * (sc0 & 0xf), m[0] = -dmin * (sc0 >> 4), a[1] = d * (sc1 & 0xf), m[1] = -dmin * (sc1 >> 4);
    load16_a4(b + 16 + 32 * h, q);
    load16_a4(b + 16 + 32 * h + 16, q + 4);
#pragma unroll
    for (int i = 0; i < 8; ++i) q[i] = (q[i] >> (2 * g)) & 0x03030303u;
  }
};

struct DecodeQ3_K {
  static constexpr int kBlockElems = kQKK, kBlockBytes = sizeof(BlockQ3_K);
  STRATA_HD static int scale(const uint8_t* packed, int i) {
    const int low = i < 8 ? (packed[i] & 0xf) : (packed[i - 8] >> 4);
    const int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
    return (low | (high << 4)) - 32;
  }
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const uint8_t* b = row + (j / 8) * kBlockBytes;
    const int s = static_cast<int>(j % 8), h = s / 4, g = s % 4;
    const float d = half_bits_to_float(load_u16(b + 108));
    const float d0 = d * scale(b + 96, 2 * s), d1 = d * scale(b + 96, 2 * s + 1);
    uint32_t hm[8], qs[8];
    load16_a2(b, hm);
    load16_a2(b + 16, hm + 4);
    load16_a2(b + 32 + 32 * h, qs);
    load16_a2(b + 48 + 32 * h, qs + 4);
#pragma unroll
    for (int l = 0; l < 32; ++l) {
      const int low = (byte_of(qs, l) >> (2 * g)) & 3;
      const int high = (byte_of(hm, l) >> (4 * h + g)) & 1;
      out[l] = (l < 16 ? d0 : d1) * small_int_to_float(low - (high ? 0 : 4));
    }
  }
  // element = a * (low + 4 * high) - 4a: the integer low | high << 2, the offset in m.
  STRATA_HD static void chunk_int(const uint8_t* row, int64_t j, uint32_t q[8], float a[2], float m[2]) {
    const uint8_t* b = row + (j / 8) * kBlockBytes;
    const int s = static_cast<int>(j % 8), h = s / 4, g = s % 4;
    const float d = half_bits_to_float(load_u16(b + 108));
    a[0] = d * scale(b + 96, 2 * s), a[1] = d * scale(b + 96, 2 * s + 1);
    m[0] = -4.0f * a[0], m[1] = -4.0f * a[1];
    uint32_t hm[8];
    load16_a2(b, hm);
    load16_a2(b + 16, hm + 4);
    load16_a2(b + 32 + 32 * h, q);
    load16_a2(b + 48 + 32 * h, q + 4);
#pragma unroll
    for (int i = 0; i < 8; ++i)
      q[i] = ((q[i] >> (2 * g)) & 0x03030303u) | (((hm[i] >> (4 * h + g)) & 0x01010101u) << 2);
  }
};

// Byte i (< 12) of the packed scales held in three words, without indexing a register array at run time.
STRATA_HD int packed_byte(uint32_t w0, uint32_t w1, uint32_t w2, int i) {
  const uint32_t w = i < 4 ? w0 : (i < 8 ? w1 : w2);
  return (w >> (8 * (i & 3))) & 0xff;
}

template <bool kFifthBit>
struct DecodeQ45_K {
  static constexpr int kBlockElems = kQKK, kBlockBytes = kFifthBit ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  // Sub-block s's scale and min: element = dl * q - ml.
  STRATA_HD static void scale_min(const uint8_t* b, int s, float& dl, float& ml) {
    uint32_t head[4];  // d, dmin and the 12 packed scale bytes: one 16-byte load
    load16_a16(b, head);
    int sc, m;
    if (s < 4) {
      sc = packed_byte(head[1], head[2], head[3], s) & 63;
      m = packed_byte(head[1], head[2], head[3], s + 4) & 63;
    } else {
      const int hi = packed_byte(head[1], head[2], head[3], s + 4);
      sc = (hi & 0xf) | ((packed_byte(head[1], head[2], head[3], s - 4) >> 6) << 4);
      m = (hi >> 4) | ((packed_byte(head[1], head[2], head[3], s) >> 6) << 4);
    }
    dl = half_bits_to_float(head[0] & 0xffff) * sc;
    ml = half_bits_to_float(head[0] >> 16) * m;
  }
  // The chunk's 4- or 5-bit integers, four to a word (element l in byte l).
  STRATA_HD static void ints(const uint8_t* b, int s, uint32_t q[8]) {
    const int c = s / 2, shift = 4 * (s % 2);
    const uint8_t* qs_base = b + (kFifthBit ? 48 : 16) + 32 * c;
    load16_a16(qs_base, q);
    load16_a16(qs_base + 16, q + 4);
    uint32_t qh[8] = {};
    if constexpr (kFifthBit) {
      load16_a16(b + 16, qh);
      load16_a16(b + 32, qh + 4);
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      q[i] = (q[i] >> shift) & 0x0f0f0f0fu;
      if constexpr (kFifthBit) q[i] |= ((qh[i] >> s) & 0x01010101u) << 4;
    }
  }
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const uint8_t* b = row + (j / 8) * kBlockBytes;
    const int s = static_cast<int>(j % 8);
    float dl, ml;
    scale_min(b, s, dl, ml);
    uint32_t q[8];
    ints(b, s, q);
#pragma unroll
    for (int l = 0; l < 32; ++l) out[l] = dl * small_int_to_float(byte_of(q, l)) - ml;
  }
  STRATA_HD static void chunk_int(const uint8_t* row, int64_t j, uint32_t q[8], float a[2], float m[2]) {
    const uint8_t* b = row + (j / 8) * kBlockBytes;
    const int s = static_cast<int>(j % 8);
    float dl, ml;
    scale_min(b, s, dl, ml);
    a[0] = a[1] = dl;
    m[0] = m[1] = -ml;
    ints(b, s, q);
  }
};
using DecodeQ4_K = DecodeQ45_K<false>;
using DecodeQ5_K = DecodeQ45_K<true>;

struct DecodeQ6_K {
  static constexpr int kBlockElems = kQKK, kBlockBytes = sizeof(BlockQ6_K);
  static constexpr bool kStageLarge = true;  // 210-byte blocks: staged 16-byte loads beat 2-byte ones at any size
  // The chunk's 6-bit integers (0..63, before the offset of 32), four to a word, and each 16-half's scale.
  STRATA_HD static void ints(const uint8_t* b, int s, uint32_t q[8], float d[2]) {
    const int h = s / 4, g = s % 4;
    const float dd = half_bits_to_float(load_u16(b + 208));
    const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
    d[0] = dd * scales[2 * s], d[1] = dd * scales[2 * s + 1];
    uint32_t qh[8];
    load16_a2(b + 64 * h + 32 * (g & 1), q);
    load16_a2(b + 64 * h + 32 * (g & 1) + 16, q + 4);
    load16_a2(b + 128 + 32 * h, qh);
    load16_a2(b + 128 + 32 * h + 16, qh + 4);
#pragma unroll
    for (int i = 0; i < 8; ++i)
      q[i] = ((q[i] >> (4 * (g >> 1))) & 0x0f0f0f0fu) | (((qh[i] >> (2 * g)) & 0x03030303u) << 4);
  }
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    uint32_t q[8];
    float d[2];
    ints(row + (j / 8) * kBlockBytes, static_cast<int>(j % 8), q, d);
#pragma unroll
    for (int l = 0; l < 32; ++l) out[l] = d[l / 16] * small_int_to_float(byte_of(q, l) - 32);
  }
  // element = a * q + m with q in 0..63: the offset of 32 goes into m (times the half's sum of x).
  STRATA_HD static void chunk_int(const uint8_t* row, int64_t j, uint32_t q[8], float a[2], float m[2]) {
    ints(row + (j / 8) * kBlockBytes, static_cast<int>(j % 8), q, a);
    m[0] = -32.0f * a[0], m[1] = -32.0f * a[1];
  }
};

struct DecodeIQ4_XS {
  static constexpr int kBlockElems = kQKK, kBlockBytes = sizeof(BlockIQ4_XS);
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const uint8_t* b = row + (j / 8) * kBlockBytes;
    const int s = static_cast<int>(j % 8);
    const uint32_t head = load_u32(b);
    const int ls = ((b[4 + s / 2] >> (4 * (s % 2))) & 0xf) | ((((head >> 16) >> (2 * s)) & 3) << 4);
    const float dl = half_bits_to_float(head & 0xffff) * small_int_to_float(ls - 32);
    uint32_t qs[4];
    load16_a4(b + 8 + 16 * s, qs);
    split_nibbles(qs, out, [dl](int q) { return dl * iq4_level(q); });
  }
  STRATA_HD static void chunk_int(const uint8_t* row, int64_t j, uint32_t q[8], float a[2], float m[2]) {
    const uint8_t* b = row + (j / 8) * kBlockBytes;
    const int s = static_cast<int>(j % 8);
    const uint32_t head = load_u32(b);
    const int ls = ((b[4 + s / 2] >> (4 * (s % 2))) & 0xf) | ((((head >> 16) >> (2 * s)) & 3) << 4);
    a[0] = a[1] = half_bits_to_float(head & 0xffff) * static_cast<float>(ls - 32);
    m[0] = m[1] = 0.0f;
    uint32_t qs[4];
    load16_a4(b + 8 + 16 * s, qs);
    split_nibble_ints(qs, q);
#pragma unroll
    for (int i = 0; i < 8; ++i) q[i] = iq4_levels4(q[i]);
  }
};

}  // namespace strata::cuda
