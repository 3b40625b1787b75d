// kernels/cuda/quant_decode.cuh: per-type device decoders: one 32-element chunk of a weight row to floats.
// Every weight product (mat-vec, GEMM tile loads, embedding gather) reads weights through these, so a new
// type is one struct here plus one row in type_table.cu. Layouts are tensor/blocks.h's (pinned there by
// static_assert); loads are as wide as each block's alignment allows (16 bytes for F16/BF16/F32/Q4_K/Q5_K).
// Types with an integer form also have chunk_int: the chunk as 8-bit integers four to a word (element l in
// byte l, signed) and per 16-element half a scale a and offset m, element l = a[l/16] * q_l + m[l/16]; the
// 8-bit-activation mat-vec (matvec_q8.cuh) dots those integers with dp4a.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "core/fp16.h"
#include "tensor/blocks.h"

namespace strata::cuda {

// Decoders are host-and-device: the host build runs them against the codecs in CI, where no GPU is.
#define STRATA_HD __host__ __device__ __forceinline__

STRATA_HD float half_bits_to_float(uint32_t bits) {
#ifdef __CUDA_ARCH__
  return __half2float(__ushort_as_half(static_cast<unsigned short>(bits)));
#else
  return fp16_to_f32(static_cast<uint16_t>(bits));
#endif
}
STRATA_HD float bf16_bits_to_float(uint32_t bits_high) {  // bits already in the top half of the word
#ifdef __CUDA_ARCH__
  return __uint_as_float(bits_high);
#else
  return bits_to_f32(bits_high);
#endif
}
// IQ4 level of a nibble: on the device a register lookup (two byte permutes over the 16 packed levels; a
// constant-memory table serialises when a warp's lanes read different entries).
STRATA_HD float iq4_level(int q) {
#ifdef __CUDA_ARCH__
  // kIq4Values as little-endian bytes.
  const uint32_t lo = __byte_perm(0xbfad9881u, 0xf6eaddcfu, q & 7);
  const uint32_t hi = __byte_perm(0x26190d01u, 0x71594535u, q & 7);
  return __int_as_float(0x4B400000 + static_cast<int8_t>((q & 8) ? hi : lo)) - 12582912.0f;  // exact, no I2F
#else
  return static_cast<float>(kIq4Values[q]);
#endif
}
// A small integer (|q| < 2^22) to float without the quarter-rate I2F: the integer is added into the significand
// of 1.5 * 2^23 and the bias subtracted, both full-rate operations. Exact.
STRATA_HD float small_int_to_float(int q) {
#ifdef __CUDA_ARCH__
  return __int_as_float(0x4B400000 + q) - 12582912.0f;
#else
  return static_cast<float>(q);
#endif
}
STRATA_HD uint32_t load_u16(const uint8_t* p) { return *reinterpret_cast<const uint16_t*>(p); }
// A 32-bit word from a 2-byte-aligned address (blocks of 18, 22, 34, 110, 210 bytes).
STRATA_HD uint32_t load_u32_a2(const uint8_t* p) { return load_u16(p) | (load_u16(p + 2) << 16); }
STRATA_HD uint32_t load_u32(const uint8_t* p) { return *reinterpret_cast<const uint32_t*>(p); }

// 16 bytes from a 2-byte-aligned address as four little-endian words.
STRATA_HD void load16_a2(const uint8_t* p, uint32_t w[4]) {
#pragma unroll
  for (int i = 0; i < 4; ++i) w[i] = load_u32_a2(p + 4 * i);
}
STRATA_HD void load16_a4(const uint8_t* p, uint32_t w[4]) {
#pragma unroll
  for (int i = 0; i < 4; ++i) w[i] = load_u32(p + 4 * i);
}
STRATA_HD void load16_a16(const uint8_t* p, uint32_t w[4]) {
  const uint4 v = *reinterpret_cast<const uint4*>(p);
  w[0] = v.x, w[1] = v.y, w[2] = v.z, w[3] = v.w;
}
STRATA_HD int byte_of(const uint32_t w[], int i) { return (w[i >> 2] >> (8 * (i & 3))) & 0xff; }

// Q4_0/Q4_1/IQ4_NL/IQ4_XS nibble order: element l < 16 is the low nibble of byte l, l + 16 its high nibble.
template <typename F>
STRATA_HD void split_nibbles(const uint32_t qs[4], float out[32], F level) {
#pragma unroll
  for (int l = 0; l < 16; ++l) {
    const int b = byte_of(qs, l);
    out[l] = level(b & 0xf);
    out[l + 16] = level(b >> 4);
  }
}

// Integer forms (chunk_int) of the nibble types: elements 0..15 the low nibbles, 16..31 the high ones.
STRATA_HD void split_nibble_ints(const uint32_t qs[4], uint32_t q[8]) {
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    q[i] = qs[i] & 0x0f0f0f0fu;
    q[i + 4] = (qs[i] >> 4) & 0x0f0f0f0fu;
  }
}
// Bits 0..3 of b to bit 4 of bytes 0..3 (the fifth bit of four 5-bit values).
STRATA_HD uint32_t fifth_bits(uint32_t b) {
  return ((b & 1u) | ((b & 2u) << 7) | ((b & 4u) << 14) | ((b & 8u) << 21)) << 4;
}
// __byte_perm without its sign mode (selectors 0..7): byte n of the result is byte sel[n] of {hi_word, lo_word}.
STRATA_HD uint32_t byte_perm(uint32_t lo_word, uint32_t hi_word, uint32_t sel) {
#ifdef __CUDA_ARCH__
  return __byte_perm(lo_word, hi_word, sel);
#else
  const uint64_t v = static_cast<uint64_t>(hi_word) << 32 | lo_word;
  uint32_t r = 0;
  for (int n = 0; n < 4; ++n) r |= static_cast<uint32_t>((v >> (8 * ((sel >> (4 * n)) & 7))) & 0xff) << (8 * n);
  return r;
#endif
}
// Four IQ4 levels (signed bytes) of four nibbles held one per byte: two byte permutes over the 16 packed
// levels (kIq4Values as little-endian bytes, as iq4_level), picked per byte by the nibble's top bit. The host
// runs the same selection (byte_perm emulated), so the decode test checks it.
STRATA_HD uint32_t iq4_levels4(uint32_t nib) {
  const uint32_t x = nib & 0x07070707u;
  const uint32_t sel = (x & 0xffu) | ((x >> 4) & 0xf0u) | ((x >> 8) & 0xf00u) | ((x >> 12) & 0xf000u);
  const uint32_t lo = byte_perm(0xbfad9881u, 0xf6eaddcfu, sel), hi = byte_perm(0x26190d01u, 0x71594535u, sel);
  const uint32_t high = ((nib >> 3) & 0x01010101u) * 0xffu;
  return (hi & high) | (lo & ~high);
}

struct DecodeF32 {
  static constexpr int kBlockElems = 1, kBlockBytes = 4;
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const float4* p = reinterpret_cast<const float4*>(row + j * 128);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const float4 v = p[i];
      out[4 * i] = v.x, out[4 * i + 1] = v.y, out[4 * i + 2] = v.z, out[4 * i + 3] = v.w;
    }
  }
};

struct DecodeF16 {
  static constexpr int kBlockElems = 1, kBlockBytes = 2;
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const uint4* p = reinterpret_cast<const uint4*>(row + j * 64);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint4 v = p[i];
      const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        out[8 * i + 2 * k] = half_bits_to_float(w[k] & 0xffff);
        out[8 * i + 2 * k + 1] = half_bits_to_float(w[k] >> 16);
      }
    }
  }
};

struct DecodeBF16 {
  static constexpr int kBlockElems = 1, kBlockBytes = 2;
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const uint4* p = reinterpret_cast<const uint4*>(row + j * 64);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint4 v = p[i];
      const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        out[8 * i + 2 * k] = bf16_bits_to_float(w[k] << 16);
        out[8 * i + 2 * k + 1] = bf16_bits_to_float(w[k] & 0xffff0000u);
      }
    }
  }
};

struct DecodeQ4_0 {
  static constexpr int kBlockElems = kQK32, kBlockBytes = sizeof(BlockQ4_0);
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const uint8_t* b = row + j * kBlockBytes;
    const float d = half_bits_to_float(load_u16(b));
    uint32_t qs[4];
    load16_a2(b + 2, qs);
    split_nibbles(qs, out, [d](int q) { return d * small_int_to_float(q - 8); });
  }
  STRATA_HD static void chunk_int(const uint8_t* row, int64_t j, uint32_t q[8], float a[2], float m[2]) {
    const uint8_t* b = row + j * kBlockBytes;
    a[0] = a[1] = half_bits_to_float(load_u16(b));
    m[0] = m[1] = -8.0f * a[0];
    uint32_t qs[4];
    load16_a2(b + 2, qs);
    split_nibble_ints(qs, q);
  }
};

struct DecodeQ4_1 {
  static constexpr int kBlockElems = kQK32, kBlockBytes = sizeof(BlockQ4_1);
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const uint8_t* b = row + j * kBlockBytes;
    const uint32_t dm = load_u32(b);
    const float d = half_bits_to_float(dm & 0xffff), m = half_bits_to_float(dm >> 16);
    uint32_t qs[4];
    load16_a4(b + 4, qs);
    split_nibbles(qs, out, [d, m](int q) { return d * small_int_to_float(q) + m; });
  }
  STRATA_HD static void chunk_int(const uint8_t* row, int64_t j, uint32_t q[8], float a[2], float m[2]) {
    const uint8_t* b = row + j * kBlockBytes;
    const uint32_t dm = load_u32(b);
    a[0] = a[1] = half_bits_to_float(dm & 0xffff);
    m[0] = m[1] = half_bits_to_float(dm >> 16);
    uint32_t qs[4];
    load16_a4(b + 4, qs);
    split_nibble_ints(qs, q);
  }
};

struct DecodeQ5_0 {
  static constexpr int kBlockElems = kQK32, kBlockBytes = sizeof(BlockQ5_0);
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const uint8_t* b = row + j * kBlockBytes;
    const float d = half_bits_to_float(load_u16(b));
    const uint32_t qh = load_u32_a2(b + 2);
    uint32_t qs[4];
    load16_a2(b + 6, qs);
#pragma unroll
    for (int l = 0; l < 16; ++l) {
      const int q = byte_of(qs, l);
      // int arithmetic: with the unsigned qh in the expression, "- 16" would wrap.
      const int lo = (q & 0xf) | static_cast<int>(((qh >> l) & 1) << 4);
      const int hi = (q >> 4) | static_cast<int>(((qh >> (l + 16)) & 1) << 4);
      out[l] = d * small_int_to_float(lo - 16);
      out[l + 16] = d * small_int_to_float(hi - 16);
    }
  }
  STRATA_HD static void chunk_int(const uint8_t* row, int64_t j, uint32_t q[8], float a[2], float m[2]) {
    const uint8_t* b = row + j * kBlockBytes;
    a[0] = a[1] = half_bits_to_float(load_u16(b));
    m[0] = m[1] = -16.0f * a[0];
    const uint32_t qh = load_u32_a2(b + 2);
    uint32_t qs[4];
    load16_a2(b + 6, qs);
    split_nibble_ints(qs, q);
#pragma unroll
    for (int i = 0; i < 8; ++i) q[i] |= fifth_bits((qh >> (4 * i)) & 0xf);  // element l's fifth bit is bit l
  }
};

struct DecodeQ5_1 {
  static constexpr int kBlockElems = kQK32, kBlockBytes = sizeof(BlockQ5_1);
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const uint8_t* b = row + j * kBlockBytes;
    const uint32_t dm = load_u32(b);
    const float d = half_bits_to_float(dm & 0xffff), m = half_bits_to_float(dm >> 16);
    const uint32_t qh = load_u32(b + 4);
    uint32_t qs[4];
    load16_a4(b + 8, qs);
#pragma unroll
    for (int l = 0; l < 16; ++l) {
      const int q = byte_of(qs, l);
      out[l] = d * small_int_to_float((q & 0xf) | (((qh >> l) & 1) << 4)) + m;
      out[l + 16] = d * small_int_to_float((q >> 4) | (((qh >> (l + 16)) & 1) << 4)) + m;
    }
  }
  STRATA_HD static void chunk_int(const uint8_t* row, int64_t j, uint32_t q[8], float a[2], float m[2]) {
    const uint8_t* b = row + j * kBlockBytes;
    const uint32_t dm = load_u32(b);
    a[0] = a[1] = half_bits_to_float(dm & 0xffff);
    m[0] = m[1] = half_bits_to_float(dm >> 16);
    const uint32_t qh = load_u32(b + 4);
    uint32_t qs[4];
    load16_a4(b + 8, qs);
    split_nibble_ints(qs, q);
#pragma unroll
    for (int i = 0; i < 8; ++i) q[i] |= fifth_bits((qh >> (4 * i)) & 0xf);
  }
};

struct DecodeQ8_0 {
  static constexpr int kBlockElems = kQK32, kBlockBytes = sizeof(BlockQ8_0);
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const uint8_t* b = row + j * kBlockBytes;
    const float d = half_bits_to_float(load_u16(b));
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      uint32_t qs[4];
      load16_a2(b + 2 + 16 * h, qs);
#pragma unroll
      for (int l = 0; l < 16; ++l) out[16 * h + l] = d * small_int_to_float(static_cast<int8_t>(byte_of(qs, l)));
    }
  }
  STRATA_HD static void chunk_int(const uint8_t* row, int64_t j, uint32_t q[8], float a[2], float m[2]) {
    const uint8_t* b = row + j * kBlockBytes;
    a[0] = a[1] = half_bits_to_float(load_u16(b));
    m[0] = m[1] = 0.0f;
    load16_a2(b + 2, q);
    load16_a2(b + 18, q + 4);
  }
};

struct DecodeIQ4_NL {
  static constexpr int kBlockElems = kQK32, kBlockBytes = sizeof(BlockIQ4_NL);
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const uint8_t* b = row + j * kBlockBytes;
    const float d = half_bits_to_float(load_u16(b));
    uint32_t qs[4];
    load16_a2(b + 2, qs);
    split_nibbles(qs, out, [d](int q) { return d * iq4_level(q); });
  }
  STRATA_HD static void chunk_int(const uint8_t* row, int64_t j, uint32_t q[8], float a[2], float m[2]) {
    const uint8_t* b = row + j * kBlockBytes;
    a[0] = a[1] = half_bits_to_float(load_u16(b));
    m[0] = m[1] = 0.0f;
    uint32_t qs[4];
    load16_a2(b + 2, qs);
    split_nibble_ints(qs, q);
#pragma unroll
    for (int i = 0; i < 8; ++i) q[i] = iq4_levels4(q[i]);
  }
};

// MXFP4: d * (doubled E2M1 level), d = 2^(e - 128) (tensor/blocks.h). Blocks are 17 bytes, so byte loads.
STRATA_HD float mxfp4_level(int q) {
#ifdef __CUDA_ARCH__
  // Magnitudes 0 1 2 3 4 6 8 12 as bytes of two words, bit 3 the sign.
  const int mag = static_cast<int>(__byte_perm(0x03020100u, 0x0c080604u, q & 7) & 0xff);
  return small_int_to_float((q & 8) ? -mag : mag);
#else
  return static_cast<float>(kMxfp4Values[q]);
#endif
}
STRATA_HD float mxfp4_half_scale(uint32_t e) {
  const uint32_t bits = e >= 2 ? (e - 1) << 23 : 0x00200000u << e;
#ifdef __CUDA_ARCH__
  return __uint_as_float(bits);
#else
  return bits_to_f32(bits);
#endif
}
struct DecodeMXFP4 {
  static constexpr int kBlockElems = kQK32, kBlockBytes = sizeof(BlockMXFP4);
  STRATA_HD static void chunk(const uint8_t* row, int64_t j, float out[32]) {
    const uint8_t* b = row + j * kBlockBytes;
    const float d = mxfp4_half_scale(b[0]);
    uint32_t qs[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
      qs[i] = b[1 + 4 * i] | (b[2 + 4 * i] << 8) | (b[3 + 4 * i] << 16) | (static_cast<uint32_t>(b[4 + 4 * i]) << 24);
    split_nibbles(qs, out, [d](int q) { return d * mxfp4_level(q); });
  }
};

}  // namespace strata::cuda

#include "kernels/cuda/quant_decode_k.cuh"
