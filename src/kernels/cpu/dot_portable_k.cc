// kernels/cpu/dot_portable_k.cc: portable integer dot kernels for the 256-element types (Q2_K..Q6_K,
// IQ4_XS) against Q8_K activations. Every super-block is decoded once to int8 codes with one integer
// scale and min per group of 16, then dotted with each token:
//   sum = d_x * (d_w * sum_g scale_g * sum(q * x_q)_g - dmin_w * sum_g min_g * bsum_g).
#include "core/fp16.h"
#include "kernels/cpu/dot_kernels.h"
#include "tensor/blocks.h"

namespace strata::kernels {

namespace {

struct DecodedK {
  int8_t q[kQKK];
  int16_t scale[16];  // per group of 16 (types with 32-element sub-blocks repeat it for both halves)
  int16_t min[16];    // per group of 16; zero for the symmetric types
  float d;
  float dmin;
};

void set_pair(int16_t* v, int j, int value) {
  v[2 * j] = static_cast<int16_t>(value);
  v[2 * j + 1] = static_cast<int16_t>(value);
}

// Decoders loop over 32 contiguous bytes (element e = 128h + 32j + l reads byte 32h + l) so that the
// compiler vectorises them; see tensor/blocks.h for the layouts.
void decode(const BlockQ2_K& b, DecodedK& o) {
  for (int h = 0; h < 2; ++h)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) o.q[128 * h + 32 * j + l] = static_cast<int8_t>((b.qs[32 * h + l] >> (2 * j)) & 3);
  for (int g = 0; g < 16; ++g) {
    o.scale[g] = b.scales[g] & 0xf;
    o.min[g] = b.scales[g] >> 4;
  }
  o.d = fp16_to_f32(b.d);
  o.dmin = fp16_to_f32(b.dmin);
}

void decode(const BlockQ3_K& b, DecodedK& o) {
  for (int h = 0; h < 2; ++h)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) {
        const int low = (b.qs[32 * h + l] >> (2 * j)) & 3;
        const int high = (b.hmask[l] >> (4 * h + j)) & 1;
        o.q[128 * h + 32 * j + l] = static_cast<int8_t>(low - 4 + 4 * high);
      }
  uint8_t sc[16];
  unpack_q3k_scales(b.scales, sc);
  for (int g = 0; g < 16; ++g) {
    o.scale[g] = static_cast<int16_t>(sc[g] - 32);
    o.min[g] = 0;
  }
  o.d = fp16_to_f32(b.d);
  o.dmin = 0.0f;
}

void decode(const BlockQ4_K& b, DecodedK& o) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      o.q[64 * c + l] = static_cast<int8_t>(b.qs[32 * c + l] & 0xf);
      o.q[64 * c + 32 + l] = static_cast<int8_t>(b.qs[32 * c + l] >> 4);
    }
  uint8_t sc[8], m[8];
  unpack_k4_scales(b.scales, sc, m);
  for (int j = 0; j < 8; ++j) {
    set_pair(o.scale, j, sc[j]);
    set_pair(o.min, j, m[j]);
  }
  o.d = fp16_to_f32(b.d);
  o.dmin = fp16_to_f32(b.dmin);
}

void decode(const BlockQ5_K& b, DecodedK& o) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      o.q[64 * c + l] = static_cast<int8_t>((b.qs[32 * c + l] & 0xf) | (((b.qh[l] >> (2 * c)) & 1) << 4));
      o.q[64 * c + 32 + l] = static_cast<int8_t>((b.qs[32 * c + l] >> 4) | (((b.qh[l] >> (2 * c + 1)) & 1) << 4));
    }
  uint8_t sc[8], m[8];
  unpack_k4_scales(b.scales, sc, m);
  for (int j = 0; j < 8; ++j) {
    set_pair(o.scale, j, sc[j]);
    set_pair(o.min, j, m[j]);
  }
  o.d = fp16_to_f32(b.d);
  o.dmin = fp16_to_f32(b.dmin);
}

void decode(const BlockQ6_K& b, DecodedK& o) {
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    int8_t* q = o.q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      q[l] = static_cast<int8_t>(((ql[l] & 0xf) | ((qh[l] & 3) << 4)) - 32);
      q[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32);
      q[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      q[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
  for (int g = 0; g < 16; ++g) {
    o.scale[g] = b.scales[g];
    o.min[g] = 0;
  }
  o.d = fp16_to_f32(b.d);
  o.dmin = 0.0f;
}

void decode(const BlockIQ4_XS& b, DecodedK& o) {
  for (int s = 0; s < 8; ++s) {
    for (int j = 0; j < 16; ++j) {
      o.q[32 * s + j] = kIq4Values[b.qs[16 * s + j] & 0xf];
      o.q[32 * s + 16 + j] = kIq4Values[b.qs[16 * s + j] >> 4];
    }
    const int ls = ((b.scales_l[s / 2] >> (4 * (s % 2))) & 0xf) | (((b.scales_h >> (2 * s)) & 3) << 4);
    set_pair(o.scale, s, ls - 32);
    set_pair(o.min, s, 0);
  }
  o.d = fp16_to_f32(b.d);
  o.dmin = 0.0f;
}

template <typename Block>
void dot_k(const void* w_row, const void* act, size_t act_stride, int n_tok, int64_t k, float* out) {
  const auto* w = static_cast<const Block*>(w_row);
  float acc[kMaxDotTokens] = {};
  DecodedK dec;
  // Codes times their group's scale, once per super-block: |scale * q| <= 128 * 32 fits int16, and the
  // per-token work becomes one 256-long int16 x int8 dot product, which compilers vectorise.
  int16_t scaled[kQKK];
  for (int64_t ib = 0; ib < k / kQKK; ++ib) {
    decode(w[ib], dec);
    for (int g = 0; g < 16; ++g)
      for (int l = 0; l < 16; ++l) scaled[16 * g + l] = static_cast<int16_t>(dec.scale[g] * dec.q[16 * g + l]);
    for (int t = 0; t < n_tok; ++t) {
      const auto* a = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(act) + t * act_stride) + ib;
      int32_t total = 0, mins = 0;
      for (int e = 0; e < kQKK; ++e) total += scaled[e] * a->qs[e];
      for (int g = 0; g < 16; ++g) mins += dec.min[g] * a->bsums[g];
      acc[t] += a->d * (dec.d * static_cast<float>(total) - dec.dmin * static_cast<float>(mins));
    }
  }
  for (int t = 0; t < n_tok; ++t) out[t] = acc[t];
}

}  // namespace

void dot_q2_k_portable(const void* w, const void* a, size_t s, int n, int64_t k, float* o) {
  dot_k<BlockQ2_K>(w, a, s, n, k, o);
}
void dot_q3_k_portable(const void* w, const void* a, size_t s, int n, int64_t k, float* o) {
  dot_k<BlockQ3_K>(w, a, s, n, k, o);
}
void dot_q4_k_portable(const void* w, const void* a, size_t s, int n, int64_t k, float* o) {
  dot_k<BlockQ4_K>(w, a, s, n, k, o);
}
void dot_q5_k_portable(const void* w, const void* a, size_t s, int n, int64_t k, float* o) {
  dot_k<BlockQ5_K>(w, a, s, n, k, o);
}
void dot_q6_k_portable(const void* w, const void* a, size_t s, int n, int64_t k, float* o) {
  dot_k<BlockQ6_K>(w, a, s, n, k, o);
}
void dot_iq4_xs_portable(const void* w, const void* a, size_t s, int n, int64_t k, float* o) {
  dot_k<BlockIQ4_XS>(w, a, s, n, k, o);
}

// This file's column of the CPU kernel table (type_kernels.cc merges the columns).
namespace {
constexpr DotEntry kEntries[] = {
    {DType::Q2_K, ActFormat::Q8K, dot_q2_k_portable},
    {DType::Q3_K, ActFormat::Q8K, dot_q3_k_portable},
    {DType::Q4_K, ActFormat::Q8K, dot_q4_k_portable},
    {DType::Q5_K, ActFormat::Q8K, dot_q5_k_portable},
    {DType::Q6_K, ActFormat::Q8K, dot_q6_k_portable},
    {DType::IQ4_XS, ActFormat::Q8K, dot_iq4_xs_portable},
};
}  // namespace
extern const DotColumn kDotColumnPortableK{CpuIsa::Portable, kEntries, std::size(kEntries)};

}  // namespace strata::kernels
