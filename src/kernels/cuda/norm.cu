// kernels/cuda/norm.cu: RMSNorm, the residual add and the gated activations (kernels, then launchers).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "core/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/row_reduce.cuh"

namespace strata::cuda {

namespace {

// ---- kernels -------------------------------------------------------------------------------------------

// One block per row (rms_scale, row_reduce.cuh), then each element scaled. With a residual y, the row is
// first updated in place, x += y (add_residual_row).
__global__ void __launch_bounds__(kNormThreads)
    rms_norm_kernel(float* x, const float* y, const float* __restrict__ weight, int64_t n, float eps,
                    float* out) {
  float* xr = x + blockIdx.x * n;
  if (y != nullptr) add_residual_row(xr, y + blockIdx.x * n, n);
  float* orow = out + blockIdx.x * n;
  const float scale = rms_scale(xr, n, eps);
  for (int64_t i = threadIdx.x; i < n; i += kNormThreads) orow[i] = xr[i] * scale * (weight ? weight[i] : 1.0f);
}

__global__ void add_kernel(float* __restrict__ y, const float* __restrict__ x, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] += x[i];
}

__global__ void glu_kernel(const float* gate, const float* __restrict__ up, int64_t n, Glu kind, float alpha, float limit,
                           float* out) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float g = gate[i], u = up[i], act;
    if (kind == Glu::Gelu) {
      act = gelu_tanh(g);
    } else if (kind == Glu::SiluClamped) {
      g = fminf(g, limit);
      u = fminf(fmaxf(u, -limit), limit) + 1.0f;
      act = g / (1.0f + expf(-alpha * g));
    } else {
      act = silu(g);
    }
    out[i] = __fmul_rn(act, u);
  }
}

__global__ void fill_kernel(float* __restrict__ x, int64_t n, float value) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[i] = value;
}

// F16 (bf16 false) or BF16 bits to floats: small weights (norm scales, biases) of any length.
__global__ void half_to_float_kernel(const uint16_t* __restrict__ src, int64_t n, bool bf16, float* __restrict__ dst) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = bf16 ? __uint_as_float(static_cast<uint32_t>(src[i]) << 16) : __half2float(__ushort_as_half(src[i]));
}

unsigned elementwise_blocks(int64_t n) {
  const int64_t blocks = (n + 255) / 256;
  return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);  // grid-stride loops cover the rest
}

__global__ void float_to_half_kernel(const float* __restrict__ src, int64_t n, __half* __restrict__ dst) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = __float2half_rn(src[i]);
}

__global__ void add_bias_rows_kernel(float* __restrict__ y, const float* __restrict__ bias, int64_t n, int64_t rows) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[i] += bias[i % rows];
}

}  // namespace

// ---- launchers -----------------------------------------------------------------------------------------

void rms_norm(const float* x, const float* weight, int64_t n_rows, int64_t n, float eps, float* out,
              cudaStream_t stream) {
  STRATA_CHECK(x != nullptr && out != nullptr && n > 0 && n_rows >= 0 && n_rows <= 0x7fffffff);
  if (n_rows == 0) return;
  // The kernel writes x only when given a residual.
  rms_norm_kernel<<<static_cast<unsigned>(n_rows), kNormThreads, 0, stream>>>(const_cast<float*>(x), nullptr, weight,
                                                                             n, eps, out);
  STRATA_CUDA_CHECK_LAUNCH();
}

void add_rms_norm(float* x, const float* y, const float* weight, int64_t n_rows, int64_t n, float eps, float* out,
                  cudaStream_t stream) {
  STRATA_CHECK(x != nullptr && y != nullptr && out != nullptr && n > 0 && n_rows >= 0 && n_rows <= 0x7fffffff);
  if (n_rows == 0) return;
  rms_norm_kernel<<<static_cast<unsigned>(n_rows), kNormThreads, 0, stream>>>(x, y, weight, n, eps, out);
  STRATA_CUDA_CHECK_LAUNCH();
}

void add_inplace(float* y, const float* x, int64_t n, cudaStream_t stream) {
  STRATA_CHECK(y != nullptr && x != nullptr && n >= 0);
  if (n == 0) return;
  add_kernel<<<elementwise_blocks(n), 256, 0, stream>>>(y, x, n);
  STRATA_CUDA_CHECK_LAUNCH();
}

void glu(const float* gate, const float* up, int64_t n, Glu kind, float alpha, float limit, float* out,
         cudaStream_t stream) {
  STRATA_CHECK(gate != nullptr && up != nullptr && out != nullptr && n >= 0);
  if (n == 0) return;
  glu_kernel<<<elementwise_blocks(n), 256, 0, stream>>>(gate, up, n, kind, alpha, limit, out);
  STRATA_CUDA_CHECK_LAUNCH();
}

void fill(float* x, int64_t n, float value, cudaStream_t stream) {
  STRATA_CHECK(x != nullptr && n >= 0);
  if (n == 0) return;
  fill_kernel<<<elementwise_blocks(n), 256, 0, stream>>>(x, n, value);
  STRATA_CUDA_CHECK_LAUNCH();
}

void half_to_float(const uint16_t* src, int64_t n, bool bf16, float* dst, cudaStream_t stream) {
  STRATA_CHECK(src != nullptr && dst != nullptr && n >= 0);
  if (n == 0) return;
  half_to_float_kernel<<<elementwise_blocks(n), 256, 0, stream>>>(src, n, bf16, dst);
  STRATA_CUDA_CHECK_LAUNCH();
}

void float_to_half(const float* src, int64_t n, uint16_t* dst, cudaStream_t stream) {
  STRATA_CHECK(src != nullptr && dst != nullptr && n >= 0);
  if (n == 0) return;
  float_to_half_kernel<<<elementwise_blocks(n), 256, 0, stream>>>(src, n, reinterpret_cast<__half*>(dst));
  STRATA_CUDA_CHECK_LAUNCH();
}

void add_bias_rows(float* y, const float* bias, int64_t n_tok, int64_t rows, cudaStream_t stream) {
  STRATA_CHECK(y != nullptr && bias != nullptr && n_tok >= 0 && rows > 0);
  if (n_tok == 0) return;
  add_bias_rows_kernel<<<elementwise_blocks(n_tok * rows), 256, 0, stream>>>(y, bias, n_tok * rows, rows);
  STRATA_CUDA_CHECK_LAUNCH();
}

}  // namespace strata::cuda
