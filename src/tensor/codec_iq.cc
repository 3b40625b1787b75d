// tensor/codec_iq.cc: scalar codecs of the non-uniform 4-bit types IQ4_NL (blocks of 32) and IQ4_XS
// (super-blocks of 256 with 6-bit sub-block scales). Both decode a nibble through kIq4Values.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "tensor/blocks.h"
#include "tensor/codecs.h"

namespace strata {

namespace {

float signed_absmax(const float* x, int n) {
  float best = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
  return best;
}

float inverse_or_zero(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

// The index of the level nearest to v (levels are sorted ascending).
int nearest_level(float v) {
  int best = 0;
  float best_err = std::fabs(v - kIq4Values[0]);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(v - kIq4Values[i]);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return best;
}

// 32 elements against the effective scale d: nibble j low, nibble j + 16 high (the Q4_0 layout).
void quantize_nibbles(const float* x, float d, uint8_t qs[16]) {
  const float id = inverse_or_zero(d);
  for (int j = 0; j < 16; ++j)
    qs[j] = static_cast<uint8_t>(nearest_level(x[j] * id) | (nearest_level(x[j + 16] * id) << 4));
}

inline int nibble(const uint8_t* qs, int j) { return j < 16 ? (qs[j] & 0xf) : (qs[j - 16] >> 4); }

}  // namespace

void dequantize_row_iq4_nl(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockIQ4_NL*>(src);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, dst += kQK32) {
    const float d = fp16_to_f32(b[ib].d);
    for (int j = 0; j < kQK32; ++j) dst[j] = d * static_cast<float>(kIq4Values[nibble(b[ib].qs, j)]);
  }
}

void quantize_row_iq4_nl(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockIQ4_NL*>(dst);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, src += kQK32) {
    // The signed extreme maps onto -127, the level of largest magnitude.
    b[ib].d = f32_to_fp16(signed_absmax(src, kQK32) / -127.0f);
    quantize_nibbles(src, fp16_to_f32(b[ib].d), b[ib].qs);
  }
}

void dequantize_row_iq4_xs(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockIQ4_XS*>(src);
  for (int64_t ib = 0; ib < n / kQKK; ++ib) {
    const float d = fp16_to_f32(b[ib].d);
    for (int s = 0; s < 8; ++s, dst += 32) {
      const int ls = ((b[ib].scales_l[s / 2] >> (4 * (s % 2))) & 0xf) | (((b[ib].scales_h >> (2 * s)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < 32; ++j) dst[j] = dl * static_cast<float>(kIq4Values[nibble(b[ib].qs + 16 * s, j)]);
    }
  }
}

void quantize_row_iq4_xs(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockIQ4_XS*>(dst);
  for (int64_t ib = 0; ib < n / kQKK; ++ib, src += kQKK) {
    float scale[8], max_scale = 0.0f;
    for (int s = 0; s < 8; ++s) {
      scale[s] = signed_absmax(src + 32 * s, 32) / -127.0f;
      if (std::fabs(scale[s]) > std::fabs(max_scale)) max_scale = scale[s];
    }
    // Sub-block scales are 6-bit signed codes ls - 32 in [-32, 31]; the largest maps onto -32.
    b[ib].d = f32_to_fp16(max_scale / -32.0f);
    const float d = fp16_to_f32(b[ib].d), id = inverse_or_zero(d);
    b[ib].scales_h = 0;
    std::memset(b[ib].scales_l, 0, sizeof(b[ib].scales_l));
    for (int s = 0; s < 8; ++s) {
      const int code = std::clamp(static_cast<int>(std::nearbyint(scale[s] * id)), -32, 31);
      const int ls = code + 32;
      b[ib].scales_l[s / 2] |= static_cast<uint8_t>((ls & 0xf) << (4 * (s % 2)));
      b[ib].scales_h |= static_cast<uint16_t>((ls >> 4) << (2 * s));
      quantize_nibbles(src + 32 * s, d * static_cast<float>(code), b[ib].qs + 16 * s);
    }
  }
}

}  // namespace strata
