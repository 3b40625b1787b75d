// tensor/codec_k.cc: scalar codecs of the K-quants (super-blocks of 256): Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K.
// Dequantization walks elements by the index formulas in tensor/blocks.h. Every product there is exact in
// float (a half scale times integers of at most 13 significant bits), so results are bit-exact whatever
// the evaluation order. The quantizers are plain round-to-nearest: sub-block scales first, then the
// super-block scale that quantizes them, then each element against its quantized scale.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "tensor/blocks.h"
#include "tensor/codecs.h"

namespace strata {

namespace {

int clamp_round(float v, int lo, int hi) { return std::clamp(static_cast<int>(std::nearbyint(v)), lo, hi); }
float inverse_or_zero(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

float signed_absmax(const float* x, int n) {
  float best = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
  return best;
}

// Asymmetric sub-block fit shared by Q2_K, Q4_K and Q5_K: x ~ scale * q - min with q in [0, levels],
// min >= 0 (the range always includes zero so that the min field stays non-negative).
struct ScaleMin {
  float scale;
  float min;
};
ScaleMin fit_scale_min(const float* x, int n, int levels) {
  float lo = 0.0f, hi = 0.0f;
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  return {(hi - lo) / static_cast<float>(levels), -lo};
}

// Quantizes the n asymmetric sub-block fits to `bits`-bit scale and min codes under two super-block
// halves d and dmin (both stored as fp16 and returned as stored).
void quantize_scale_mins(const ScaleMin* fits, int n, int bits, uint16_t& d_out, uint16_t& dmin_out, uint8_t* sc,
                         uint8_t* m) {
  const int top = (1 << bits) - 1;
  float max_scale = 0.0f, max_min = 0.0f;
  for (int i = 0; i < n; ++i) {
    max_scale = std::max(max_scale, fits[i].scale);
    max_min = std::max(max_min, fits[i].min);
  }
  d_out = f32_to_fp16(max_scale / static_cast<float>(top));
  dmin_out = f32_to_fp16(max_min / static_cast<float>(top));
  const float id = inverse_or_zero(fp16_to_f32(d_out)), idmin = inverse_or_zero(fp16_to_f32(dmin_out));
  for (int i = 0; i < n; ++i) {
    sc[i] = static_cast<uint8_t>(clamp_round(fits[i].scale * id, 0, top));
    m[i] = static_cast<uint8_t>(clamp_round(fits[i].min * idmin, 0, top));
  }
}

// Codes of x against the quantized fit x ~ (d * sc) * q - (dmin * m), q in [0, levels].
void quantize_against(const float* x, int n, float d, float dmin, int levels, int* q) {
  const float id = inverse_or_zero(d);
  for (int i = 0; i < n; ++i) q[i] = clamp_round((x[i] + dmin) * id, 0, levels);
}

// Q4_K / Q5_K share the packed 12-byte scale field; this is the inverse of unpack_k4_scales.
void pack_k4_scales(const uint8_t sc[8], const uint8_t m[8], uint8_t packed[12]) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    packed[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
    packed[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xf) | ((m[j + 4] & 0xf) << 4));
  }
}

// Quantizes one 256 super-block of Q4_K (bits = 4) or Q5_K (bits = 5) into codes q[256] plus scale fields.
void quantize_k45(const float* x, int bits, uint16_t& d, uint16_t& dmin, uint8_t scales[12], int q[kQKK]) {
  const int levels = (1 << bits) - 1;
  ScaleMin fits[8];
  for (int j = 0; j < 8; ++j) fits[j] = fit_scale_min(x + 32 * j, 32, levels);
  uint8_t sc[8], m[8];
  quantize_scale_mins(fits, 8, 6, d, dmin, sc, m);
  pack_k4_scales(sc, m, scales);
  for (int j = 0; j < 8; ++j)
    quantize_against(x + 32 * j, 32, fp16_to_f32(d) * sc[j], fp16_to_f32(dmin) * m[j], levels, q + 32 * j);
}

}  // namespace

// ---- Q2_K -------------------------------------------------------------------------------------------

void dequantize_row_q2_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ2_K*>(src);
  for (int64_t ib = 0; ib < n / kQKK; ++ib, dst += kQKK) {
    const float d = fp16_to_f32(b[ib].d), dmin = fp16_to_f32(b[ib].dmin);
    for (int e = 0; e < kQKK; ++e) {
      const int h = e / 128, j = (e % 128) / 32, l = e % 32;
      const int q = (b[ib].qs[32 * h + l] >> (2 * j)) & 3;
      const uint8_t s = b[ib].scales[e / 16];
      dst[e] = d * static_cast<float>(s & 0xf) * static_cast<float>(q) - dmin * static_cast<float>(s >> 4);
    }
  }
}

void quantize_row_q2_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ2_K*>(dst);
  for (int64_t ib = 0; ib < n / kQKK; ++ib, src += kQKK) {
    ScaleMin fits[16];
    for (int j = 0; j < 16; ++j) fits[j] = fit_scale_min(src + 16 * j, 16, 3);
    uint8_t sc[16], m[16];
    quantize_scale_mins(fits, 16, 4, b[ib].d, b[ib].dmin, sc, m);
    int q[kQKK];
    for (int j = 0; j < 16; ++j) {
      b[ib].scales[j] = static_cast<uint8_t>(sc[j] | (m[j] << 4));
      quantize_against(src + 16 * j, 16, fp16_to_f32(b[ib].d) * sc[j], fp16_to_f32(b[ib].dmin) * m[j], 3, q + 16 * j);
    }
    std::memset(b[ib].qs, 0, sizeof(b[ib].qs));
    for (int e = 0; e < kQKK; ++e)
      b[ib].qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>(q[e] << (2 * ((e % 128) / 32)));
  }
}

// ---- Q3_K -------------------------------------------------------------------------------------------

void dequantize_row_q3_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ3_K*>(src);
  for (int64_t ib = 0; ib < n / kQKK; ++ib, dst += kQKK) {
    const float d = fp16_to_f32(b[ib].d);
    uint8_t sc[16];
    unpack_q3k_scales(b[ib].scales, sc);
    for (int e = 0; e < kQKK; ++e) {
      const int h = e / 128, j = (e % 128) / 32, l = e % 32;
      const int low = (b[ib].qs[32 * h + l] >> (2 * j)) & 3;
      const bool high = (b[ib].hmask[l] >> (4 * h + j)) & 1;
      const int q = low - (high ? 0 : 4);
      dst[e] = d * static_cast<float>(sc[e / 16] - 32) * static_cast<float>(q);
    }
  }
}

void quantize_row_q3_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ3_K*>(dst);
  for (int64_t ib = 0; ib < n / kQKK; ++ib, src += kQKK) {
    // Symmetric sub-blocks: the signed extreme maps to code -4, the level with the larger magnitude.
    float scale[16], max_scale = 0.0f;
    for (int j = 0; j < 16; ++j) {
      scale[j] = signed_absmax(src + 16 * j, 16) / -4.0f;
      if (std::fabs(scale[j]) > std::fabs(max_scale)) max_scale = scale[j];
    }
    b[ib].d = f32_to_fp16(max_scale / -32.0f);
    const float d = fp16_to_f32(b[ib].d), id = inverse_or_zero(d);
    uint8_t sc[16];
    std::memset(b[ib].hmask, 0, sizeof(b[ib].hmask));
    std::memset(b[ib].qs, 0, sizeof(b[ib].qs));
    for (int j = 0; j < 16; ++j) {
      const int s = clamp_round(scale[j] * id, -32, 31);
      sc[j] = static_cast<uint8_t>(s + 32);
      const float inv = inverse_or_zero(d * static_cast<float>(s));
      for (int l = 0; l < 16; ++l) {
        const int e = 16 * j + l;
        const int q = clamp_round(src[e] * inv, -4, 3) + 4;  // 0..7: bit 2 is the hmask bit
        const int h = e / 128, jj = (e % 128) / 32, ll = e % 32;
        b[ib].qs[32 * h + ll] |= static_cast<uint8_t>((q & 3) << (2 * jj));
        if (q & 4) b[ib].hmask[ll] |= static_cast<uint8_t>(1 << (4 * h + jj));
      }
    }
    std::memset(b[ib].scales, 0, sizeof(b[ib].scales));
    for (int i = 0; i < 16; ++i) {
      if (i < 8)
        b[ib].scales[i] |= sc[i] & 0xf;
      else
        b[ib].scales[i - 8] |= static_cast<uint8_t>((sc[i] & 0xf) << 4);
      b[ib].scales[8 + i % 4] |= static_cast<uint8_t>((sc[i] >> 4) << (2 * (i / 4)));
    }
  }
}

// ---- Q4_K / Q5_K ------------------------------------------------------------------------------------

void dequantize_row_q4_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_K*>(src);
  for (int64_t ib = 0; ib < n / kQKK; ++ib, dst += kQKK) {
    const float d = fp16_to_f32(b[ib].d), dmin = fp16_to_f32(b[ib].dmin);
    uint8_t sc[8], m[8];
    unpack_k4_scales(b[ib].scales, sc, m);
    for (int e = 0; e < kQKK; ++e) {
      const int c = e / 64, s = (e % 64) / 32, l = e % 32;
      const int q = (b[ib].qs[32 * c + l] >> (4 * s)) & 0xf;
      dst[e] = d * static_cast<float>(sc[e / 32]) * static_cast<float>(q) - dmin * static_cast<float>(m[e / 32]);
    }
  }
}

void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_K*>(dst);
  for (int64_t ib = 0; ib < n / kQKK; ++ib, src += kQKK) {
    int q[kQKK];
    quantize_k45(src, 4, b[ib].d, b[ib].dmin, b[ib].scales, q);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        b[ib].qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
  }
}

void dequantize_row_q5_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_K*>(src);
  for (int64_t ib = 0; ib < n / kQKK; ++ib, dst += kQKK) {
    const float d = fp16_to_f32(b[ib].d), dmin = fp16_to_f32(b[ib].dmin);
    uint8_t sc[8], m[8];
    unpack_k4_scales(b[ib].scales, sc, m);
    for (int e = 0; e < kQKK; ++e) {
      const int c = e / 64, s = (e % 64) / 32, l = e % 32;
      const int q = ((b[ib].qs[32 * c + l] >> (4 * s)) & 0xf) | (((b[ib].qh[l] >> (e / 32)) & 1) << 4);
      dst[e] = d * static_cast<float>(sc[e / 32]) * static_cast<float>(q) - dmin * static_cast<float>(m[e / 32]);
    }
  }
}

void quantize_row_q5_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_K*>(dst);
  for (int64_t ib = 0; ib < n / kQKK; ++ib, src += kQKK) {
    int q[kQKK];
    quantize_k45(src, 5, b[ib].d, b[ib].dmin, b[ib].scales, q);
    std::memset(b[ib].qh, 0, sizeof(b[ib].qh));
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        b[ib].qs[32 * c + l] = static_cast<uint8_t>((q[64 * c + l] & 0xf) | ((q[64 * c + 32 + l] & 0xf) << 4));
    for (int e = 0; e < kQKK; ++e) b[ib].qh[e % 32] |= static_cast<uint8_t>(((q[e] >> 4) & 1) << (e / 32));
  }
}

// ---- Q6_K -------------------------------------------------------------------------------------------

void dequantize_row_q6_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ6_K*>(src);
  for (int64_t ib = 0; ib < n / kQKK; ++ib, dst += kQKK) {
    const float d = fp16_to_f32(b[ib].d);
    for (int e = 0; e < kQKK; ++e) {
      const int h = e / 128, g = (e % 128) / 32, l = e % 32;
      const int low = (b[ib].ql[64 * h + 32 * (g & 1) + l] >> (4 * (g >> 1))) & 0xf;
      const int high = (b[ib].qh[32 * h + l] >> (2 * g)) & 3;
      dst[e] = d * static_cast<float>(b[ib].scales[e / 16]) * static_cast<float>((low | (high << 4)) - 32);
    }
  }
}

void quantize_row_q6_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ6_K*>(dst);
  for (int64_t ib = 0; ib < n / kQKK; ++ib, src += kQKK) {
    float scale[16], max_scale = 0.0f;
    for (int j = 0; j < 16; ++j) {
      scale[j] = signed_absmax(src + 16 * j, 16) / -32.0f;
      if (std::fabs(scale[j]) > std::fabs(max_scale)) max_scale = scale[j];
    }
    b[ib].d = f32_to_fp16(max_scale / -128.0f);
    const float d = fp16_to_f32(b[ib].d), id = inverse_or_zero(d);
    std::memset(b[ib].ql, 0, sizeof(b[ib].ql));
    std::memset(b[ib].qh, 0, sizeof(b[ib].qh));
    for (int j = 0; j < 16; ++j) {
      const int s = clamp_round(scale[j] * id, -128, 127);
      b[ib].scales[j] = static_cast<int8_t>(s);
      const float inv = inverse_or_zero(d * static_cast<float>(s));
      for (int l = 0; l < 16; ++l) {
        const int e = 16 * j + l;
        const int q = clamp_round(src[e] * inv, -32, 31) + 32;
        const int h = e / 128, g = (e % 128) / 32, ll = e % 32;
        b[ib].ql[64 * h + 32 * (g & 1) + ll] |= static_cast<uint8_t>((q & 0xf) << (4 * (g >> 1)));
        b[ib].qh[32 * h + ll] |= static_cast<uint8_t>((q >> 4) << (2 * g));
      }
    }
  }
}

// ---- Q8_K -------------------------------------------------------------------------------------------

void dequantize_row_q8_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_K*>(src);
  for (int64_t ib = 0; ib < n / kQKK; ++ib, dst += kQKK)
    for (int e = 0; e < kQKK; ++e) dst[e] = b[ib].d * static_cast<float>(b[ib].qs[e]);
}

void quantize_row_q8_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t ib = 0; ib < n / kQKK; ++ib, src += kQKK) {
    float amax = 0.0f;
    for (int e = 0; e < kQKK; ++e) amax = std::max(amax, std::fabs(src[e]));
    // The fast kernels' activation quantizer computes exactly these two numbers, in this order.
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    b[ib].d = amax / 127.0f;
    for (int e = 0; e < kQKK; ++e) b[ib].qs[e] = static_cast<int8_t>(clamp_round(src[e] * id, -127, 127));
    for (int g = 0; g < kQKK / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b[ib].qs[16 * g + l];
      b[ib].bsums[g] = static_cast<int16_t>(sum);
    }
  }
}

}  // namespace strata
