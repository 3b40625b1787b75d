// tensor/codec_mxfp4.cc: scalar codec of MXFP4 (32 E2M1 codes under one power-of-two E8M0 scale).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "tensor/blocks.h"
#include "tensor/codecs.h"

namespace strata {

namespace {

inline float half_scale(uint8_t e) { return bits_to_f32(mxfp4_half_scale_bits(e)); }

// The code whose doubled level is nearest to v (v already divided by the half scale).
uint8_t nearest_code(float v) {
  int best = 0;
  float best_err = std::fabs(v);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(v - kMxfp4Values[i]);
    if (err < best_err) {
      best = i;
      best_err = err;
    }
  }
  return static_cast<uint8_t>(best);
}

}  // namespace

void dequantize_row_mxfp4(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockMXFP4*>(src);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, dst += kQK32) {
    const float d = half_scale(b[ib].e);
    for (int j = 0; j < 16; ++j) {
      dst[j] = d * static_cast<float>(kMxfp4Values[b[ib].qs[j] & 0xf]);
      dst[j + 16] = d * static_cast<float>(kMxfp4Values[b[ib].qs[j] >> 4]);
    }
  }
}

// The scale convention of the published files: the block's largest magnitude amax sets the exponent
// floor(log2(amax)) - 2, so amax lands among the top levels 4 and 6 (values above 1.5 * 2^floor clamp to 6).
void quantize_row_mxfp4(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockMXFP4*>(dst);
  for (int64_t ib = 0; ib < n / kQK32; ++ib, src += kQK32) {
    float amax = 0.0f;
    for (int j = 0; j < kQK32; ++j) amax = std::max(amax, std::fabs(src[j]));
    b[ib].e = 0;
    std::memset(b[ib].qs, 0, sizeof(b[ib].qs));
    if (!(amax > 0.0f) || !std::isfinite(amax)) continue;  // zeros (and garbage) stay a zero block
    int exp2 = 0;
    std::frexp(amax, &exp2);  // amax = m * 2^exp2, m in [0.5, 1): floor(log2(amax)) = exp2 - 1
    b[ib].e = static_cast<uint8_t>(std::clamp(exp2 - 1 - 2 + 127, 0, 254));
    const float inv = 1.0f / half_scale(b[ib].e);
    for (int j = 0; j < 16; ++j)
      b[ib].qs[j] = static_cast<uint8_t>(nearest_code(src[j] * inv) | (nearest_code(src[j + 16] * inv) << 4));
  }
}

}  // namespace strata
