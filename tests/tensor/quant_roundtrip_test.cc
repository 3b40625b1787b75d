// tests/tensor/quant_roundtrip_test.cc: quantize -> dequantize for every type stays within a per-type error
// bound on random data (fresh seed per run, printed on failure), and edge inputs stay finite and exact.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tensor/dtype.h"

namespace strata {
namespace {

struct Bound {
  DType type;
  double max_rel_rms;  // ||dequant(quant(x)) - x|| / ||x|| on N(0, 1) data; measured values in the comment
};
// Round-to-nearest on Gaussian data: bounds are about 1.3x the error measured over several seeds (comments).
const Bound kBounds[] = {
    {DType::F32, 0.0},     {DType::F16, 2.8e-4},  {DType::BF16, 2.2e-3},   // 0, 2.1e-4, 1.7e-3
    {DType::Q8_0, 7.2e-3}, {DType::Q8_K, 9.2e-3},                          // 5.4e-3, 7.0e-3
    {DType::Q5_0, 5.6e-2}, {DType::Q5_1, 5.0e-2},                          // 4.3e-2, 3.8e-2
    {DType::Q4_0, 0.115},  {DType::Q4_1, 0.10},   {DType::IQ4_NL, 0.105},  // 0.087, 0.079, 0.080
    {DType::Q6_K, 2.5e-2}, {DType::Q5_K, 5.0e-2}, {DType::Q4_K, 0.10},     // 0.019, 0.038, 0.079
    {DType::Q3_K, 0.20},   {DType::Q2_K, 0.43},   {DType::IQ4_XS, 0.105},  // 0.156, 0.33, 0.080
    // MXFP4 takes the published files' scale 2^(floor(log2 amax) - 2): blocks whose amax lies above 1.5 x a
    // power of two clamp it to the top level, the price of a scale with no mantissa.
    {DType::MXFP4, 0.15},                                                  // 0.114
};

std::vector<float> roundtrip(const DTypeTraits& t, const std::vector<float>& x) {
  std::vector<uint8_t> q(t.row_bytes(static_cast<int64_t>(x.size())));
  t.quantize_row(x.data(), q.data(), static_cast<int64_t>(x.size()));
  std::vector<float> y(x.size());
  t.dequantize_row(q.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

double rel_rms(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    num += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    den += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(num / den);
}

TEST(QuantRoundtrip, GaussianWithinBound) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(256 * 24);
  for (auto& v : x) v = normal(rng);
  for (const auto& b : kBounds) {
    const auto& t = dtype_traits(b.type);
    const double err = rel_rms(roundtrip(t, x), x);
    EXPECT_LE(err, b.max_rel_rms) << t.name;
    // A bound far above the measured error would hide a regression: the error must stay near it.
    if (b.max_rel_rms > 0) {
      EXPECT_GE(err, b.max_rel_rms / 2) << t.name << " bound is too loose";
    }
  }
}

TEST(QuantRoundtrip, EdgeInputs) {
  // Per 256 elements: zeros; a constant; a single outlier among tiny values; all negative; huge magnitudes.
  std::vector<float> x(256 * 5);
  for (int i = 0; i < 256; ++i) {
    x[i] = 0.0f;
    x[256 + i] = 3.25f;
    x[512 + i] = (i == 77) ? 100.0f : 1e-3f * static_cast<float>(i % 7);
    x[768 + i] = -1.0f - static_cast<float>(i % 13) * 0.1f;
    x[1024 + i] = 1000.0f * std::sin(static_cast<float>(i));
  }
  for (const auto& b : kBounds) {
    const auto& t = dtype_traits(b.type);
    const auto y = roundtrip(t, x);
    for (size_t i = 0; i < y.size(); ++i) ASSERT_TRUE(std::isfinite(y[i])) << t.name << " element " << i;
    for (int i = 0; i < 256; ++i) ASSERT_EQ(y[i], 0.0f) << t.name << ": zeros must stay exactly zero";
    // The outlier survives within one quantization step of its own block.
    EXPECT_NEAR(y[512 + 77], 100.0f, 100.0f * 0.15f) << t.name;
    // Each segment keeps its error bound relative to its own magnitude (2x slack for the odd shapes).
    for (int seg = 1; seg < 5; ++seg) {
      std::vector<float> xs(x.begin() + 256 * seg, x.begin() + 256 * (seg + 1));
      std::vector<float> ys(y.begin() + 256 * seg, y.begin() + 256 * (seg + 1));
      if (seg == 2) continue;  // the outlier segment's tiny values are below one step by design
      EXPECT_LE(rel_rms(ys, xs), 2 * b.max_rel_rms + 1e-6) << t.name << " segment " << seg;
    }
  }
}

TEST(QuantRoundtrip, RowLengthNotPowerOfTwo) {
  // 32-element types accept any multiple of 32: 96 = 3 blocks.
  std::vector<float> x(96);
  for (int i = 0; i < 96; ++i) x[i] = std::cos(static_cast<float>(i) * 0.37f);
  for (DType type : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::IQ4_NL, DType::MXFP4}) {
    const auto& t = dtype_traits(type);
    EXPECT_EQ(t.row_bytes(96), 3u * t.block_bytes);
    EXPECT_LE(rel_rms(roundtrip(t, x), x), type == DType::MXFP4 ? 0.2 : 0.15) << t.name;  // MXFP4: 0.16
  }
}

}  // namespace
}  // namespace strata
