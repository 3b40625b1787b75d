// kernels/cpu/dot_portable_legacy.cc: portable integer dot kernels for the 32-element types (Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, IQ4_NL, MXFP4) against ActBlock32 activations. Each weight block is decoded once to int8
// codes, then dotted with every token: sum = d_x * (d_w * sum(q * x_q) + m_w * sum(x_q)).
#include <cstring>

#include "core/fp16.h"
#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/dot_kernels.h"
#include "tensor/blocks.h"

namespace strata::kernels {

namespace {

struct Decoded32 {
  int8_t q[kQK32];
  float d;
  float m;  // weight offset per element (Q4_1, Q5_1); 0 for the symmetric types
};

// Loops below run over 16 contiguous bytes with no branches so that the compiler vectorises them.
inline void nibbles(const uint8_t* qs, int offset, int8_t* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>((qs[j] & 0xf) - offset);
    q[j + 16] = static_cast<int8_t>((qs[j] >> 4) - offset);
  }
}

inline void add_fifth_bits(const uint8_t qh[4], int8_t* q) {
  for (int byte = 0; byte < 4; ++byte)
    for (int bit = 0; bit < 8; ++bit)
      q[8 * byte + bit] = static_cast<int8_t>(q[8 * byte + bit] | (((qh[byte] >> bit) & 1) << 4));
}

void decode(const BlockQ4_0& b, Decoded32& o) {
  nibbles(b.qs, 8, o.q);
  o.d = fp16_to_f32(b.d);
  o.m = 0.0f;
}
void decode(const BlockQ4_1& b, Decoded32& o) {
  nibbles(b.qs, 0, o.q);
  o.d = fp16_to_f32(b.d);
  o.m = fp16_to_f32(b.m);
}
void decode(const BlockQ5_0& b, Decoded32& o) {
  nibbles(b.qs, 0, o.q);
  add_fifth_bits(b.qh, o.q);
  for (int j = 0; j < kQK32; ++j) o.q[j] = static_cast<int8_t>(o.q[j] - 16);
  o.d = fp16_to_f32(b.d);
  o.m = 0.0f;
}
void decode(const BlockQ5_1& b, Decoded32& o) {
  nibbles(b.qs, 0, o.q);
  add_fifth_bits(b.qh, o.q);
  o.d = fp16_to_f32(b.d);
  o.m = fp16_to_f32(b.m);
}
void decode(const BlockQ8_0& b, Decoded32& o) {
  std::memcpy(o.q, b.qs, kQK32);
  o.d = fp16_to_f32(b.d);
  o.m = 0.0f;
}
void decode(const BlockIQ4_NL& b, Decoded32& o) {
  for (int j = 0; j < 16; ++j) {
    o.q[j] = kIq4Values[b.qs[j] & 0xf];
    o.q[j + 16] = kIq4Values[b.qs[j] >> 4];
  }
  o.d = fp16_to_f32(b.d);
  o.m = 0.0f;
}
// MXFP4: the doubled E2M1 levels are the int8 codes, the half scale 2^(e - 128) the block scale.
void decode(const BlockMXFP4& b, Decoded32& o) {
  for (int j = 0; j < 16; ++j) {
    o.q[j] = kMxfp4Values[b.qs[j] & 0xf];
    o.q[j + 16] = kMxfp4Values[b.qs[j] >> 4];
  }
  o.d = bits_to_f32(mxfp4_half_scale_bits(b.e));
  o.m = 0.0f;
}

template <typename Block>
void dot32(const void* w_row, const void* act, size_t act_stride, int n_tok, int64_t k, float* out) {
  const auto* w = static_cast<const Block*>(w_row);
  float acc[kMaxDotTokens] = {};
  Decoded32 dec;
  for (int64_t ib = 0; ib < k / kQK32; ++ib) {
    decode(w[ib], dec);
    for (int t = 0; t < n_tok; ++t) {
      const auto* a = reinterpret_cast<const ActBlock32*>(static_cast<const uint8_t*>(act) + t * act_stride) + ib;
      int32_t isum = 0;
      for (int j = 0; j < kQK32; ++j) isum += dec.q[j] * a->qs[j];
      acc[t] += a->d * (dec.d * static_cast<float>(isum) + dec.m * static_cast<float>(a->sum));
    }
  }
  for (int t = 0; t < n_tok; ++t) out[t] = acc[t];
}

}  // namespace

void dot_q4_0_portable(const void* w, const void* a, size_t s, int n, int64_t k, float* o) {
  dot32<BlockQ4_0>(w, a, s, n, k, o);
}
void dot_q4_1_portable(const void* w, const void* a, size_t s, int n, int64_t k, float* o) {
  dot32<BlockQ4_1>(w, a, s, n, k, o);
}
void dot_q5_0_portable(const void* w, const void* a, size_t s, int n, int64_t k, float* o) {
  dot32<BlockQ5_0>(w, a, s, n, k, o);
}
void dot_q5_1_portable(const void* w, const void* a, size_t s, int n, int64_t k, float* o) {
  dot32<BlockQ5_1>(w, a, s, n, k, o);
}
void dot_q8_0_portable(const void* w, const void* a, size_t s, int n, int64_t k, float* o) {
  dot32<BlockQ8_0>(w, a, s, n, k, o);
}
void dot_iq4_nl_portable(const void* w, const void* a, size_t s, int n, int64_t k, float* o) {
  dot32<BlockIQ4_NL>(w, a, s, n, k, o);
}
void dot_mxfp4_portable(const void* w, const void* a, size_t s, int n, int64_t k, float* o) {
  dot32<BlockMXFP4>(w, a, s, n, k, o);
}

// This file's column of the CPU kernel table (type_kernels.cc merges the columns).
namespace {
constexpr DotEntry kEntries[] = {
    {DType::Q4_0, ActFormat::Q8x32, dot_q4_0_portable},
    {DType::Q4_1, ActFormat::Q8x32, dot_q4_1_portable},
    {DType::Q5_0, ActFormat::Q8x32, dot_q5_0_portable},
    {DType::Q5_1, ActFormat::Q8x32, dot_q5_1_portable},
    {DType::Q8_0, ActFormat::Q8x32, dot_q8_0_portable},
    {DType::IQ4_NL, ActFormat::Q8x32, dot_iq4_nl_portable},
    {DType::MXFP4, ActFormat::Q8x32, dot_mxfp4_portable},
};
}  // namespace
extern const DotColumn kDotColumnPortableLegacy{CpuIsa::Portable, kEntries, std::size(kEntries)};

}  // namespace strata::kernels
