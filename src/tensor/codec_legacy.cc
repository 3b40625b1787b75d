// tensor/codec_legacy.cc: scalar codecs of the 32-element types Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0.
// Dequantization follows the format definitions in tensor/blocks.h exactly; every product there is exact
// in float, so the results do not depend on operation order or FMA contraction.
#include <algorithm>
#include <cmath>

#include "core/fp16.h"
#include "tensor/blocks.h"
#include "tensor/codecs.h"

namespace strata {

namespace {

// The element of largest magnitude, keeping its sign (the "symmetric" types map it to the most negative
// level, which is one step further from zero than the most positive one).
float signed_absmax(const float* x, int n) {
  float best = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
  return best;
}

int clamp_round(float v, int lo, int hi) { return std::clamp(static_cast<int>(std::nearbyint(v)), lo, hi); }

float inverse_or_zero(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

// Stores a 32-vector of 4-bit codes as Q4_0 packs them: element j low nibble, j + 16 high nibble.
void pack_nibbles(const int q[kQK32], uint8_t qs[kQK32 / 2]) {
  for (int j = 0; j < kQK32 / 2; ++j) qs[j] = static_cast<uint8_t>((q[j] & 0xf) | ((q[j + 16] & 0xf) << 4));
}

// Stores the fifth bits of 32 five-bit codes: bit j of the little-endian u32.
void pack_high_bits(const int q[kQK32], uint8_t qh[4]) {
  uint32_t h = 0;
  for (int j = 0; j < kQK32; ++j) h |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  std::memcpy(qh, &h, 4);
}

// The 4-bit code of element j (0..31) from Q4_0-style packed nibbles.
inline int nibble(const uint8_t* qs, int j) { return j < 16 ? (qs[j] & 0xf) : (qs[j - 16] >> 4); }

}  // namespace

void dequantize_row_q4_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, dst += kQK32) {
    const float d = fp16_to_f32(b[ib].d);
    for (int j = 0; j < kQK32; ++j) dst[j] = static_cast<float>(nibble(b[ib].qs, j) - 8) * d;
  }
}

void quantize_row_q4_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_0*>(dst);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, src += kQK32) {
    b[ib].d = f32_to_fp16(signed_absmax(src, kQK32) / -8.0f);
    const float id = inverse_or_zero(fp16_to_f32(b[ib].d));
    int q[kQK32];
    for (int j = 0; j < kQK32; ++j) q[j] = clamp_round(src[j] * id, -8, 7) + 8;
    pack_nibbles(q, b[ib].qs);
  }
}

void dequantize_row_q4_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_1*>(src);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, dst += kQK32) {
    const float d = fp16_to_f32(b[ib].d), m = fp16_to_f32(b[ib].m);
    for (int j = 0; j < kQK32; ++j) dst[j] = static_cast<float>(nibble(b[ib].qs, j)) * d + m;
  }
}

void quantize_row_q4_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_1*>(dst);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, src += kQK32) {
    const auto [lo, hi] = std::minmax_element(src, src + kQK32);
    b[ib].d = f32_to_fp16((*hi - *lo) / 15.0f);
    b[ib].m = f32_to_fp16(*lo);
    const float id = inverse_or_zero(fp16_to_f32(b[ib].d)), m = fp16_to_f32(b[ib].m);
    int q[kQK32];
    for (int j = 0; j < kQK32; ++j) q[j] = clamp_round((src[j] - m) * id, 0, 15);
    pack_nibbles(q, b[ib].qs);
  }
}

void dequantize_row_q5_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_0*>(src);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, dst += kQK32) {
    const float d = fp16_to_f32(b[ib].d);
    const uint32_t qh = load_u32_le(b[ib].qh);
    for (int j = 0; j < kQK32; ++j) {
      const int q = nibble(b[ib].qs, j) | static_cast<int>(((qh >> j) & 1) << 4);
      dst[j] = static_cast<float>(q - 16) * d;
    }
  }
}

void quantize_row_q5_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_0*>(dst);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, src += kQK32) {
    b[ib].d = f32_to_fp16(signed_absmax(src, kQK32) / -16.0f);
    const float id = inverse_or_zero(fp16_to_f32(b[ib].d));
    int q[kQK32];
    for (int j = 0; j < kQK32; ++j) q[j] = clamp_round(src[j] * id, -16, 15) + 16;
    pack_nibbles(q, b[ib].qs);
    pack_high_bits(q, b[ib].qh);
  }
}

void dequantize_row_q5_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_1*>(src);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, dst += kQK32) {
    const float d = fp16_to_f32(b[ib].d), m = fp16_to_f32(b[ib].m);
    const uint32_t qh = load_u32_le(b[ib].qh);
    for (int j = 0; j < kQK32; ++j) {
      const int q = nibble(b[ib].qs, j) | static_cast<int>(((qh >> j) & 1) << 4);
      dst[j] = static_cast<float>(q) * d + m;
    }
  }
}

void quantize_row_q5_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_1*>(dst);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, src += kQK32) {
    const auto [lo, hi] = std::minmax_element(src, src + kQK32);
    b[ib].d = f32_to_fp16((*hi - *lo) / 31.0f);
    b[ib].m = f32_to_fp16(*lo);
    const float id = inverse_or_zero(fp16_to_f32(b[ib].d)), m = fp16_to_f32(b[ib].m);
    int q[kQK32];
    for (int j = 0; j < kQK32; ++j) q[j] = clamp_round((src[j] - m) * id, 0, 31);
    pack_nibbles(q, b[ib].qs);
    pack_high_bits(q, b[ib].qh);
  }
}

void dequantize_row_q8_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, dst += kQK32) {
    const float d = fp16_to_f32(b[ib].d);
    for (int j = 0; j < kQK32; ++j) dst[j] = static_cast<float>(b[ib].qs[j]) * d;
  }
}

void quantize_row_q8_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, src += kQK32) {
    b[ib].d = f32_to_fp16(std::fabs(signed_absmax(src, kQK32)) / 127.0f);
    const float id = inverse_or_zero(fp16_to_f32(b[ib].d));
    for (int j = 0; j < kQK32; ++j) b[ib].qs[j] = static_cast<int8_t>(clamp_round(src[j] * id, -127, 127));
  }
}

}  // namespace strata
