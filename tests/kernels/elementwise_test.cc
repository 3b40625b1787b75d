// tests/kernels/elementwise_test.cc: the small row ops of the CPU (SwiGLU, the RMS norm, F16 rounding, axpy) at
// every ISA level this CPU supports, against the reference twins: row lengths around each vector width (the
// tails), the exp's clamped ends, and F16 rounding bit for bit against the scalar codec over a sweep of float bits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "kernels/backend_harness.h"
#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/reference/reference.h"

namespace strata::kernels {
namespace {

constexpr int64_t kLengths[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 128, 768, 1000, 2049};

std::vector<CpuIsa> supported_isas() {
  std::vector<CpuIsa> out;
  for (int i = 0; i < kNumCpuIsas; ++i)
    if (cpu_supports(static_cast<CpuIsa>(i))) out.push_back(static_cast<CpuIsa>(i));
  return out;
}

// Gaussian gates with the exp's ends mixed in: past +-87 the vector exp clamps, which must not show.
std::vector<float> gates(int64_t n, std::mt19937& rng) {
  auto g = testing::gaussian(static_cast<size_t>(n), rng, 3.0f);
  const float ends[] = {0.0f, -0.0f, 87.5f, -87.5f, 88.5f, -88.5f, 100.0f, -100.0f, 1e4f, -1e4f, 1e-20f};
  for (size_t i = 0; i < g.size(); i += 5) g[i] = ends[(i / 5) % std::size(ends)];
  return g;
}

TEST(ElementwiseTest, SwiGluMatchesTwinAtEveryLevel) {
  std::mt19937 rng(7);
  for (CpuIsa isa : supported_isas()) {
    const ElementwiseKernels k = elementwise_kernels(isa);
    for (int64_t n : kLengths) {
      const auto g = gates(n, rng), u = testing::gaussian(static_cast<size_t>(n), rng);
      std::vector<float> want(g.size()), got(g.size()), in_place = g;
      reference::glu(GluKind::SwiGlu, g.data(), u.data(), n, want.data());
      k.swiglu(g.data(), u.data(), n, got.data());
      k.swiglu(in_place.data(), u.data(), n, in_place.data());
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_NEAR(got[i], want[i], 1e-6 * std::fabs(want[i]) + 1e-30)
            << cpu_isa_name(isa) << " n=" << n << " i=" << i << " gate=" << g[i];
        ASSERT_EQ(in_place[i], got[i]) << cpu_isa_name(isa) << " n=" << n << " i=" << i;
        // A value's result does not depend on where in the row it sits (body or tail).
        float one;
        k.swiglu(&g[i], &u[i], 1, &one);
        ASSERT_EQ(one, got[i]) << cpu_isa_name(isa) << " n=" << n << " i=" << i;
      }
    }
  }
}

TEST(ElementwiseTest, RmsNormMatchesTwinAtEveryLevel) {
  std::mt19937 rng(11);
  for (CpuIsa isa : supported_isas()) {
    const ElementwiseKernels k = elementwise_kernels(isa);
    for (int64_t n : kLengths) {
      const auto x = testing::gaussian(static_cast<size_t>(n), rng, 3.0f);
      const auto w = testing::quantized(DType::F32, n, 1, rng);
      std::vector<float> want(x.size()), got(x.size()), in_place = x;
      reference::rms_norm(x.data(), 1, n, testing::host_view(w, DType::F32, n, 1), 1e-5f, want.data());
      const float* wf = reinterpret_cast<const float*>(w.data());
      k.rms_norm(x.data(), wf, n, 1e-5f, got.data());
      k.rms_norm(in_place.data(), wf, n, 1e-5f, in_place.data());
      EXPECT_LE(testing::rel_error(got, want), 1e-6) << cpu_isa_name(isa) << " n=" << n;
      EXPECT_EQ(in_place, got) << cpu_isa_name(isa) << " n=" << n;
    }
  }
}

TEST(ElementwiseTest, AxpyMatchesDoubleAtEveryLevel) {
  std::mt19937 rng(13);
  for (CpuIsa isa : supported_isas()) {
    const ElementwiseKernels k = elementwise_kernels(isa);
    for (int64_t n : kLengths) {
      const auto x = testing::gaussian(static_cast<size_t>(n), rng), y = testing::gaussian(static_cast<size_t>(n), rng);
      const float a = -0.37f;
      std::vector<float> got = y;
      k.axpy(a, x.data(), n, got.data());
      for (int64_t i = 0; i < n; ++i) {
        const double want = static_cast<double>(y[i]) + static_cast<double>(a) * x[i];
        ASSERT_NEAR(got[i], want, 1.2e-7 * (std::fabs(y[i]) + std::fabs(a * x[i])))
            << cpu_isa_name(isa) << " n=" << n << " i=" << i;
      }
    }
  }
}

// Every level rounds as the scalar codec does (nearest even, subnormals, overflow to infinity), bit for bit.
TEST(ElementwiseTest, F16RoundingIsBitIdenticalAtEveryLevel) {
  std::vector<float> x;
  for (uint64_t u = 0; u < (1ull << 32); u += 65521) {
    const float f = bits_to_f32(static_cast<uint32_t>(u));
    if (!std::isnan(f)) x.push_back(f);
  }
  for (float f : {0.0f, -0.0f, 65504.0f, 65520.0f, -65520.0f, 5.96e-8f, 2.98e-8f, 1e-10f, INFINITY, -INFINITY})
    x.push_back(f);
  std::vector<uint16_t> want(x.size());
  std::vector<float> want_round(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    want[i] = f32_to_fp16(x[i]);
    want_round[i] = fp16_to_f32(want[i]);
  }
  for (CpuIsa isa : supported_isas()) {
    const ElementwiseKernels k = elementwise_kernels(isa);
    for (int64_t n : {static_cast<int64_t>(x.size()), int64_t{13}}) {  // a long row, and one that is mostly tail
      std::vector<uint16_t> got(static_cast<size_t>(n));
      k.to_f16(x.data(), got.data(), n);
      std::vector<float> rounded(x.begin(), x.begin() + n);
      k.round_f16(rounded.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[i], want[i]) << cpu_isa_name(isa) << " x=" << x[i];
        ASSERT_EQ(f32_to_bits(rounded[i]), f32_to_bits(want_round[i])) << cpu_isa_name(isa) << " x=" << x[i];
      }
    }
  }
}

}  // namespace
}  // namespace strata::kernels
