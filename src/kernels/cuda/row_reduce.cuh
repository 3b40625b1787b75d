// kernels/cuda/row_reduce.cuh: the block-wide row reduction RMSNorm and its 8-bit twin share, and the
// activation GLU and its 8-bit twin share, so both compute the same floats (the 8-bit path's float output must
// equal the plain kernel's: a row takes one or the other by its pass's row count). Rounded as written, so that
// no compiler contraction differs between the kernels that inline them.
#pragma once

#include <cstdint>

namespace strata::cuda {

// One block per row. A decode step's rows are 2,880-8,192 wide: 1,024 threads keep each thread's chain of
// loads and each warp's chain of block quantizations short (with 256 the 8-bit twin took 14 us a call on an
// H100, 0.9 ms of a 5.3 ms Llama-3-8B decode step).
inline constexpr int kNormThreads = 1024;

// xr[i] += yr[i] over the row, each thread on the elements rms_scale then reads back (no barrier needed there).
__device__ __forceinline__ void add_residual_row(float* xr, const float* yr, int64_t n) {
  for (int64_t i = threadIdx.x; i < n; i += kNormThreads) xr[i] += yr[i];
}

// 1 / sqrt(mean(xr[0..n)^2) + eps), computed by one block of kNormThreads threads; every thread gets it.
// The sum of squares in float per thread, then the warps' tree (rows are <= 16k wide).
__device__ __forceinline__ float rms_scale(const float* __restrict__ xr, int64_t n, float eps) {
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += kNormThreads) ss = __fmaf_rn(xr[i], xr[i], ss);
  __shared__ float partial[kNormThreads / 32];
  for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = ss;
  __syncthreads();
  if (threadIdx.x < 32) {
    float v = threadIdx.x < kNormThreads / 32 ? partial[threadIdx.x] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (threadIdx.x == 0) partial[0] = v;
  }
  __syncthreads();
  return rsqrtf(partial[0] / static_cast<float>(n) + eps);
}

// GELU (tanh form) and SiLU of a gate value.
__device__ __forceinline__ float gelu_tanh(float g) {
  const float g3 = __fmul_rn(__fmul_rn(g, g), g);
  const float inner = __fmul_rn(0.7978845608028654f, __fmaf_rn(0.044715f, g3, g));
  return __fmul_rn(__fmul_rn(0.5f, g), __fadd_rn(1.0f, tanhf(inner)));
}
__device__ __forceinline__ float silu(float g) { return __fdiv_rn(g, __fadd_rn(1.0f, expf(-g))); }

}  // namespace strata::cuda
