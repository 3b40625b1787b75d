// kernels/cpu/elementwise.cc: the portable level of the small row ops and the dispatch by ISA level (the
// vector levels are in x86/elementwise_*.cc, the twins in reference/).
#include "kernels/cpu/elementwise.h"

#include <cmath>

#include "core/check.h"
#include "core/fp16.h"

namespace strata::kernels {

namespace {

void swiglu_portable(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void rms_norm_portable(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void to_f16_portable(const float* x, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_fp16(x[i]);
}

void round_f16_portable(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = fp16_to_f32(f32_to_fp16(x[i]));
}

void axpy_portable(float a, const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

ElementwiseKernels elementwise_kernels(CpuIsa isa) {
  STRATA_CHECK(cpu_supports(isa));
  switch (isa) {
#if defined(__x86_64__)
    case CpuIsa::Avx512: return elementwise_kernels_avx512();
    case CpuIsa::Avx2: return elementwise_kernels_avx2();
#endif
    default: return {swiglu_portable, rms_norm_portable, to_f16_portable, round_f16_portable, axpy_portable};
  }
}

const ElementwiseKernels& elementwise() {
  static const ElementwiseKernels kernels = elementwise_kernels(best_cpu_isa());
  return kernels;
}

}  // namespace strata::kernels
