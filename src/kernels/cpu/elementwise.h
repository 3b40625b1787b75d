// kernels/cpu/elementwise.h: the per-ISA kernels of the small row ops around the matmuls (SwiGLU, the RMS norm,
// F16 rounding of rows, axpy); exposed so that tests can hold every level this CPU runs against the reference twins.
#pragma once

#include <cstdint>

#include "kernels/cpu/cpu_isa.h"

namespace strata::kernels {

// out[i] = gate[i] / (1 + e^-gate[i]) * up[i]; out may alias gate. The vector levels' e^x is within about
// 2 ulp (kernels/cpu/x86/vec_x86.h), so a level differs from the portable one by a few ulp, not bit for bit.
using SwiGluFn = void (*)(const float* gate, const float* up, int64_t n, float* out);
// out[i] = x[i] * s * weight[i], s = 1 / sqrt(mean(x^2) + eps), the squares summed in double; out may alias x.
using RmsNormFn = void (*)(const float* x, const float* weight, int64_t n, float eps, float* out);
// dst[i] = x[i] rounded to F16 (nearest even, as f32_to_fp16): bit-identical at every level.
using ToF16Fn = void (*)(const float* x, uint16_t* dst, int64_t n);
// x[i] = the F32 value of x[i] rounded to F16: bit-identical at every level.
using RoundF16Fn = void (*)(float* x, int64_t n);
// y[i] += a * x[i] (a MoE expert's output into the token's sum); the vector levels fuse the multiply and add
// (one rounding instead of two), so they differ from the portable level by half an ulp at most.
using AxpyFn = void (*)(float a, const float* x, int64_t n, float* y);

struct ElementwiseKernels {
  SwiGluFn swiglu;
  RmsNormFn rms_norm;
  ToF16Fn to_f16;
  RoundF16Fn round_f16;
  AxpyFn axpy;
};

// REQUIRES: cpu_supports(isa).
ElementwiseKernels elementwise_kernels(CpuIsa isa);
// The kernels of best_cpu_isa(), chosen once.
const ElementwiseKernels& elementwise();

#if defined(__x86_64__)
ElementwiseKernels elementwise_kernels_avx2();
ElementwiseKernels elementwise_kernels_avx512();
#endif

}  // namespace strata::kernels
