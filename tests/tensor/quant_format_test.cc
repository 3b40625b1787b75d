// tests/tensor/quant_format_test.cc: every type's scalar dequantizer against blocks packed here by hand from
// the format definition, with edge values (zero and negative scales, extreme codes, distinct sub-blocks).
// Expected values are computed in this file from the definition, never by calling the codec under test;
// all chosen scales are exact in half precision so every expected product is exact.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "tensor/blocks.h"
#include "tensor/dtype.h"

namespace strata {
namespace {

// The IQ4 levels, written out again from the format definition (not taken from blocks.h).
constexpr int kLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

uint16_t half(float f) {
  const uint16_t h = f32_to_fp16(f);
  EXPECT_EQ(fp16_to_f32(h), f) << "test scale must be exact in half precision";
  return h;
}

template <typename Block>
std::vector<float> dequantize(DType type, const std::vector<Block>& blocks) {
  const auto& t = dtype_traits(type);
  EXPECT_EQ(t.block_bytes, sizeof(Block));
  std::vector<float> out(blocks.size() * t.block_elems);
  t.dequantize_row(blocks.data(), out.data(), static_cast<int64_t>(out.size()));
  return out;
}

void expect_equal(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "element " << i;
}

// Packs 32 codes the way every 32-element type does: byte j = code j | code (j + 16) << 4.
void pack32(const int q[32], uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 15) | ((q[j + 16] & 15) << 4));
}

TEST(QuantFormat, BlockSizesMatchGguf) {
  struct Want {
    DType t;
    uint32_t elems, bytes;
  };
  const Want want[] = {{DType::Q4_0, 32, 18},     {DType::Q4_1, 32, 20},   {DType::Q5_0, 32, 22},
                       {DType::Q5_1, 32, 24},     {DType::Q8_0, 32, 34},   {DType::Q2_K, 256, 84},
                       {DType::Q3_K, 256, 110},   {DType::Q4_K, 256, 144}, {DType::Q5_K, 256, 176},
                       {DType::Q6_K, 256, 210},   {DType::Q8_K, 256, 292}, {DType::IQ4_NL, 32, 18},
                       {DType::IQ4_XS, 256, 136}, {DType::F16, 1, 2},      {DType::BF16, 1, 2},
                       {DType::MXFP4, 32, 17}};
  for (const auto& w : want) {
    const DTypeTraits* t = find_dtype(static_cast<uint32_t>(w.t));
    ASSERT_NE(t, nullptr) << static_cast<uint32_t>(w.t);
    EXPECT_EQ(t->block_elems, w.elems) << t->name;
    EXPECT_EQ(t->block_bytes, w.bytes) << t->name;
    EXPECT_EQ(find_dtype_by_name(t->name), t);
  }
  EXPECT_EQ(find_dtype(39)->type, DType::MXFP4);  // llama.cpp's GGML_TYPE_MXFP4
  EXPECT_EQ(find_dtype(99), nullptr);
  EXPECT_EQ(find_dtype_by_name("q4_k")->type, DType::Q4_K);
}

TEST(QuantFormat, Q4_0) {
  // Block 0: negative scale, codes sweep 0..15 then 15..0. Block 1: zero scale.
  std::vector<BlockQ4_0> b(2);
  int q[32];
  for (int j = 0; j < 32; ++j) q[j] = j < 16 ? j : 31 - j;
  b[0].d = half(-0.5f);
  pack32(q, b[0].qs);
  b[1].d = half(0.0f);
  std::memset(b[1].qs, 0xff, 16);
  std::vector<float> want(64, 0.0f);
  for (int j = 0; j < 32; ++j) want[j] = (q[j] - 8) * -0.5f;
  const auto got = dequantize(DType::Q4_0, b);
  expect_equal(got, want);
  EXPECT_EQ(got[0], 4.0f);    // code 0: (0 - 8) * -0.5
  EXPECT_EQ(got[16], -3.5f);  // code 15 (high nibble of byte 0)
}

TEST(QuantFormat, Q4_1) {
  std::vector<BlockQ4_1> b(1);
  int q[32];
  for (int j = 0; j < 32; ++j) q[j] = (j * 7) % 16;
  b[0].d = half(0.25f);
  b[0].m = half(-1.5f);
  pack32(q, b[0].qs);
  std::vector<float> want(32);
  for (int j = 0; j < 32; ++j) want[j] = q[j] * 0.25f - 1.5f;
  const auto got = dequantize(DType::Q4_1, b);
  expect_equal(got, want);
  EXPECT_EQ(got[0], -1.5f);
  EXPECT_EQ(got[1], 0.25f);  // code 7: 7 * 0.25 - 1.5
}

TEST(QuantFormat, Q5_0AndQ5_1) {
  int q[32];
  for (int j = 0; j < 32; ++j) q[j] = (j * 7) % 32;  // a permutation of 0..31: every code, both extremes
  uint32_t qh = 0;
  for (int j = 0; j < 32; ++j) qh |= static_cast<uint32_t>(q[j] >> 4) << j;
  std::vector<BlockQ5_0> b0(1);
  b0[0].d = half(2.0f);
  std::memcpy(b0[0].qh, &qh, 4);
  pack32(q, b0[0].qs);
  std::vector<BlockQ5_1> b1(1);
  b1[0].d = half(0.5f);
  b1[0].m = half(-8.0f);
  std::memcpy(b1[0].qh, &qh, 4);
  pack32(q, b1[0].qs);
  std::vector<float> want0(32), want1(32);
  for (int j = 0; j < 32; ++j) {
    want0[j] = (q[j] - 16) * 2.0f;
    want1[j] = q[j] * 0.5f - 8.0f;
  }
  expect_equal(dequantize(DType::Q5_0, b0), want0);
  expect_equal(dequantize(DType::Q5_1, b1), want1);
  EXPECT_EQ(dequantize(DType::Q5_0, b0)[9], 30.0f);  // code 63 % 32 = 31: (31 - 16) * 2
}

TEST(QuantFormat, Q8_0) {
  std::vector<BlockQ8_0> b(1);
  b[0].d = half(-0.125f);
  for (int j = 0; j < 32; ++j) b[0].qs[j] = static_cast<int8_t>(j == 0 ? -128 : j == 1 ? 127 : j * 9 - 140);
  std::vector<float> want(32);
  for (int j = 0; j < 32; ++j) want[j] = b[0].qs[j] * -0.125f;
  const auto got = dequantize(DType::Q8_0, b);
  expect_equal(got, want);
  EXPECT_EQ(got[0], 16.0f);
  EXPECT_EQ(got[1], -15.875f);
}

TEST(QuantFormat, IQ4_NL) {
  std::vector<BlockIQ4_NL> b(1);
  int q[32];
  for (int j = 0; j < 32; ++j) q[j] = j < 16 ? j : (j * 5) % 16;
  b[0].d = half(-0.5f);
  pack32(q, b[0].qs);
  std::vector<float> want(32);
  for (int j = 0; j < 32; ++j) want[j] = -0.5f * kLevels[q[j]];
  const auto got = dequantize(DType::IQ4_NL, b);
  expect_equal(got, want);
  EXPECT_EQ(got[0], 63.5f);    // level -127
  EXPECT_EQ(got[15], -56.5f);  // level 113
}

// The E2M1 levels from the OCP MX definition: sign bit 3, exponent bits 2..1, mantissa bit 0, bias 1;
// exponent 0 is subnormal (0 or 0.5). Block scale 2^(e - 127) from the E8M0 byte.
float e2m1(int q) {
  const int sign = (q & 8) ? -1 : 1, ex = (q >> 1) & 3, man = q & 1;
  const float mag = ex == 0 ? 0.5f * man : std::ldexp(1.0f + 0.5f * man, ex - 1);
  return sign * mag;
}

TEST(QuantFormat, MXFP4) {
  // Block 0: e = 127 (scale 1), codes sweep 0..15 then a permutation. Blocks 1-5: scale exponents 130, 2, 1, 0
  // (the last two subnormal half scales) and 255 (E8M0 NaN, read as 2^128 as ggml does).
  const uint8_t exps[] = {127, 130, 2, 1, 0, 255};
  std::vector<BlockMXFP4> b(std::size(exps));
  int q[32];
  for (int j = 0; j < 32; ++j) q[j] = j < 16 ? j : (j * 7 + 3) % 16;
  std::vector<float> want;
  for (size_t i = 0; i < b.size(); ++i) {
    b[i].e = exps[i];
    pack32(q, b[i].qs);
    for (int j = 0; j < 32; ++j) want.push_back(std::ldexp(e2m1(q[j]), exps[i] - 127));
  }
  const auto got = dequantize(DType::MXFP4, b);
  expect_equal(got, want);
  EXPECT_EQ(got[7], 6.0f);
  EXPECT_EQ(got[15], -6.0f);
  EXPECT_EQ(got[32 + 6], 32.0f);  // code 6 = 4.0, times 2^3
}

TEST(QuantFormat, Q2_K) {
  // Sub-block i: scale i, min 15 - i (all distinct, both extremes). Codes vary with position.
  std::vector<BlockQ2_K> b(2);
  for (int i = 0; i < 16; ++i) b[0].scales[i] = static_cast<uint8_t>(i | ((15 - i) << 4));
  b[0].d = half(0.5f);
  b[0].dmin = half(0.25f);
  int q[256];
  for (int e = 0; e < 256; ++e) q[e] = (e * 3 + e / 7) % 4;
  std::memset(b[0].qs, 0, sizeof(b[0].qs));
  // Element e = 128h + 32j + l lives in bits 2j of byte 32h + l.
  for (int h = 0; h < 2; ++h)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) b[0].qs[32 * h + l] |= static_cast<uint8_t>(q[128 * h + 32 * j + l] << (2 * j));
  // Block 1: negative d, every code 3, scale 15 and min 0 everywhere.
  std::memset(b[1].scales, 0x0f, 16);
  std::memset(b[1].qs, 0xff, sizeof(b[1].qs));
  b[1].d = half(-2.0f);
  b[1].dmin = half(1.0f);
  std::vector<float> want(512);
  for (int e = 0; e < 256; ++e) want[e] = 0.5f * (e / 16) * q[e] - 0.25f * (15 - e / 16);
  for (int e = 256; e < 512; ++e) want[e] = -2.0f * 15 * 3;
  const auto got = dequantize(DType::Q2_K, b);
  expect_equal(got, want);
  EXPECT_EQ(got[0], -3.75f);  // scale 0, min 15: 0 - 0.25 * 15
}

TEST(QuantFormat, Q3_K) {
  const int sc[16] = {0, 63, 5, 10, 17, 23, 31, 32, 33, 40, 47, 50, 55, 60, 1, 62};  // biased by 32
  std::vector<BlockQ3_K> b(1);
  b[0].d = half(-0.25f);
  std::memset(b[0].scales, 0, 12);
  // Scale i: low nibble in byte i (i < 8) or the high nibble of byte i - 8; top 2 bits at bit 2(i/4) of byte 8 + i%4.
  for (int i = 0; i < 16; ++i) {
    if (i < 8)
      b[0].scales[i] |= static_cast<uint8_t>(sc[i] & 15);
    else
      b[0].scales[i - 8] |= static_cast<uint8_t>((sc[i] & 15) << 4);
    b[0].scales[8 + i % 4] |= static_cast<uint8_t>((sc[i] >> 4) << (2 * (i / 4)));
  }
  int low[256], high[256];
  for (int e = 0; e < 256; ++e) {
    low[e] = (e * 5 + e / 9) % 4;
    high[e] = (e / 3 + e) % 2;
  }
  std::memset(b[0].qs, 0, sizeof(b[0].qs));
  std::memset(b[0].hmask, 0, sizeof(b[0].hmask));
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, j = (e % 128) / 32, l = e % 32;
    b[0].qs[32 * h + l] |= static_cast<uint8_t>(low[e] << (2 * j));
    b[0].hmask[l] |= static_cast<uint8_t>(high[e] << (e / 32));
  }
  std::vector<float> want(256);
  for (int e = 0; e < 256; ++e) want[e] = -0.25f * (sc[e / 16] - 32) * (low[e] - (high[e] ? 0 : 4));
  const auto got = dequantize(DType::Q3_K, b);
  expect_equal(got, want);
  // Element 0: scale code 0 (-32), low 0, high bit 0 -> q = -4: -0.25 * -32 * -4.
  EXPECT_EQ(got[0], -32.0f);
}

// Q4_K and Q5_K share the scale packing: for j < 4 the low 6 bits of bytes j / j+4 are scale / min j;
// for j >= 4 the low nibbles sit in byte j + 4 (scale low, min high) and the top bits in bytes j - 4 / j.
void pack_k_scales(const int sc[8], const int m[8], uint8_t out[12]) {
  for (int j = 0; j < 4; ++j) {
    out[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    out[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
    out[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
  }
}

TEST(QuantFormat, Q4_K) {
  const int sc[8] = {0, 63, 1, 62, 17, 33, 45, 5};
  const int m[8] = {63, 0, 7, 21, 34, 50, 2, 11};
  std::vector<BlockQ4_K> b(1);
  b[0].d = half(0.5f);
  b[0].dmin = half(-0.25f);  // a negative min scale is legal and flips the offsets
  pack_k_scales(sc, m, b[0].scales);
  int q[256];
  for (int e = 0; e < 256; ++e) q[e] = (e * 5 + e / 16) % 16;
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) b[0].qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
  std::vector<float> want(256);
  for (int e = 0; e < 256; ++e) want[e] = 0.5f * sc[e / 32] * q[e] - (-0.25f) * m[e / 32];
  const auto got = dequantize(DType::Q4_K, b);
  expect_equal(got, want);
  EXPECT_EQ(got[0], 15.75f);  // scale 0, min 63: 0 + 0.25 * 63
}

TEST(QuantFormat, Q5_K) {
  const int sc[8] = {63, 0, 9, 48, 31, 32, 16, 1};
  const int m[8] = {0, 63, 40, 3, 12, 60, 33, 17};
  std::vector<BlockQ5_K> b(1);
  b[0].d = half(-1.0f);
  b[0].dmin = half(0.5f);
  pack_k_scales(sc, m, b[0].scales);
  int q[256];
  for (int e = 0; e < 256; ++e) q[e] = (e * 13 + e / 32) % 32;
  std::memset(b[0].qh, 0, sizeof(b[0].qh));
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l)
      b[0].qs[32 * c + l] = static_cast<uint8_t>((q[64 * c + l] & 15) | ((q[64 * c + 32 + l] & 15) << 4));
  for (int e = 0; e < 256; ++e) b[0].qh[e % 32] |= static_cast<uint8_t>((q[e] >> 4) << (e / 32));
  std::vector<float> want(256);
  for (int e = 0; e < 256; ++e) want[e] = -1.0f * sc[e / 32] * q[e] - 0.5f * m[e / 32];
  expect_equal(dequantize(DType::Q5_K, b), want);
}

TEST(QuantFormat, Q6_K) {
  const int sc[16] = {-128, 127, 0, 1, -1, 50, -50, 99, -7, 64, -64, 3, 12, -33, 77, -100};
  std::vector<BlockQ6_K> b(1);
  b[0].d = half(-0.125f);
  for (int i = 0; i < 16; ++i) b[0].scales[i] = static_cast<int8_t>(sc[i]);
  int q[256];
  for (int e = 0; e < 256; ++e) q[e] = (e * 11 + e / 64) % 64;
  std::memset(b[0].ql, 0, sizeof(b[0].ql));
  std::memset(b[0].qh, 0, sizeof(b[0].qh));
  // Element e = 128h + 32g + l: low 4 bits in nibble g/2 of ql[64h + 32(g%2) + l],
  // high 2 bits at bit 2g of qh[32h + l].
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, g = (e % 128) / 32, l = e % 32;
    b[0].ql[64 * h + 32 * (g % 2) + l] |= static_cast<uint8_t>((q[e] & 15) << (4 * (g / 2)));
    b[0].qh[32 * h + l] |= static_cast<uint8_t>((q[e] >> 4) << (2 * g));
  }
  std::vector<float> want(256);
  for (int e = 0; e < 256; ++e) want[e] = -0.125f * sc[e / 16] * (q[e] - 32);
  const auto got = dequantize(DType::Q6_K, b);
  expect_equal(got, want);
  EXPECT_EQ(got[0], -512.0f);  // code 0 -> -32, scale -128: -0.125 * -128 * -32
}

TEST(QuantFormat, IQ4_XS) {
  const int ls[8] = {0, 63, 32, 31, 1, 47, 16, 40};  // biased by 32
  std::vector<BlockIQ4_XS> b(1);
  b[0].d = half(0.25f);
  b[0].scales_h = 0;
  std::memset(b[0].scales_l, 0, 4);
  for (int s = 0; s < 8; ++s) {
    b[0].scales_l[s / 2] |= static_cast<uint8_t>((ls[s] & 15) << (4 * (s % 2)));
    b[0].scales_h |= static_cast<uint16_t>((ls[s] >> 4) << (2 * s));
  }
  int q[256];
  for (int e = 0; e < 256; ++e) q[e] = (e * 3 + e / 32) % 16;
  for (int s = 0; s < 8; ++s) pack32(q + 32 * s, b[0].qs + 16 * s);
  std::vector<float> want(256);
  for (int e = 0; e < 256; ++e) want[e] = 0.25f * (ls[e / 32] - 32) * kLevels[q[e]];
  const auto got = dequantize(DType::IQ4_XS, b);
  expect_equal(got, want);
  EXPECT_EQ(got[0], 1016.0f);  // 0.25 * -32 * -127
}

TEST(QuantFormat, Q8_KAndFloats) {
  std::vector<BlockQ8_K> b(1);
  b[0].d = 0.75f;
  for (int e = 0; e < 256; ++e) b[0].qs[e] = static_cast<int8_t>(e - 128);
  std::vector<float> want(256);
  for (int e = 0; e < 256; ++e) want[e] = 0.75f * (e - 128);
  expect_equal(dequantize(DType::Q8_K, b), want);

  const std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x7bff, 0x0001};  // 1, -2, 65504, 2^-24
  const std::vector<float> f16_want = {1.0f, -2.0f, 65504.0f, 5.9604644775390625e-8f};
  expect_equal(dequantize(DType::F16, f16), f16_want);
  const std::vector<uint16_t> bf16 = {0x3f80, 0xc040, 0x0000};  // 1, -3, 0
  expect_equal(dequantize(DType::BF16, bf16), std::vector<float>{1.0f, -3.0f, 0.0f});
}

}  // namespace
}  // namespace strata
