// kernels/cuda/quantize_q8.cu: activations to 8 bits for the integer mat-vec (matvec_q8.cuh's layout), alone
// or fused into the ops whose output feeds products next (RMSNorm, GLU), saving a launch each.
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/matvec_q8.cuh"
#include "kernels/cuda/row_reduce.cuh"

namespace strata::cuda {

namespace {

// Lane l of a warp holds element l of a 32-element block: writes its int8 and, from lane 0, the block's
// {scale, half sums}. The scale is the block's absolute maximum / 127; a NaN or infinity in the block makes
// it NaN, so the products the block feeds come out NaN rather than dropping it.
__device__ __forceinline__ void quantize_warp_block(float v, int lane, int8_t* q, float4* meta) {
  float amax = fabsf(v);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const bool bad = __any_sync(0xffffffffu, !isfinite(v));
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  const int qi = bad ? 0 : __float2int_rn(v * inv);
  q[lane] = static_cast<int8_t>(qi);
  int s = qi;
#pragma unroll
  for (int o = 8; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);  // within each 16-lane half
  const int s_hi = __shfl_sync(0xffffffffu, s, 16);
  const float d = bad ? __int_as_float(0x7fc00000) : amax / 127.0f;
  if (lane == 0) *meta = make_float4(d, d * static_cast<float>(s), d * static_cast<float>(s_hi), 0.0f);
}

// One warp per 32-element block.
__global__ void quantize_q8_kernel(const float* __restrict__ x, int64_t n_blocks, int8_t* __restrict__ q,
                                   float4* __restrict__ meta) {
  const int64_t blk = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (blk >= n_blocks) return;  // per warp: blockDim is a multiple of 32
  quantize_warp_block(x[blk * 32 + lane], lane, q + blk * 32, meta + blk);
}

// rms_norm_kernel (norm.cu) that also writes its output's 8-bit form: one block per row, a warp per
// 32-element block in the second pass. The same rms_scale as rms_norm_kernel, so `out` is identical.
__global__ void __launch_bounds__(kNormThreads)
    rms_norm_q8_kernel(float* x, const float* y, const float* __restrict__ weight, int64_t n, float eps,
                       float* out, int8_t* __restrict__ q, float4* __restrict__ meta) {
  float* xr = x + blockIdx.x * n;
  if (y != nullptr) add_residual_row(xr, y + blockIdx.x * n, n);  // the residual first (add_rms_norm_q8)
  const float scale = rms_scale(xr, n, eps);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll 4
  for (int64_t b = warp; b < n / 32; b += kNormThreads / 32) {  // independent blocks: their reductions overlap
    const int64_t i = b * 32 + lane;
    const float v = xr[i] * scale * (weight ? weight[i] : 1.0f);
    out[blockIdx.x * n + i] = v;
    quantize_warp_block(v, lane, q + blockIdx.x * n + b * 32, meta + blockIdx.x * (n / 32) + b);
  }
}

// glu_kernel (norm.cu) that also writes its output's 8-bit form: one warp per 32-element block.
__global__ void glu_q8_kernel(const float* gate, const float* __restrict__ up, int64_t n_blocks, bool use_gelu,
                              float* out, int8_t* __restrict__ q, float4* __restrict__ meta) {
  const int64_t blk = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (blk >= n_blocks) return;
  const int64_t i = blk * 32 + lane;
  const float g = gate[i];
  const float act = use_gelu ? gelu_tanh(g) : silu(g);
  const float v = __fmul_rn(act, up[i]);  // as glu_kernel (norm.cu)
  out[i] = v;
  quantize_warp_block(v, lane, q + blk * 32, meta + blk);
}

}  // namespace

int64_t q8_workspace_bytes(int64_t k, int64_t n_tok) { return q8_bytes(k, n_tok); }

void quantize_q8(const float* x, int64_t n_tok, int64_t k, void* workspace, cudaStream_t stream) {
  STRATA_CHECK(x != nullptr && workspace != nullptr && n_tok > 0 && k > 0 && k % 32 == 0);
  const int64_t n_blocks = n_tok * k / 32;
  constexpr int kThreads = 256;
  const int64_t grid = (n_blocks * 32 + kThreads - 1) / kThreads;
  STRATA_CHECK(grid <= 0x7fffffff);
  auto* q = static_cast<int8_t*>(workspace);
  auto* meta = reinterpret_cast<float4*>(q + n_tok * k);
  quantize_q8_kernel<<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(x, n_blocks, q, meta);
  STRATA_CUDA_CHECK_LAUNCH();
}

void rms_norm_q8(const float* x, const float* weight, int64_t n_rows, int64_t n, float eps, float* out,
                 void* workspace, cudaStream_t stream) {
  STRATA_CHECK(x != nullptr && out != nullptr && workspace != nullptr && n > 0 && n % 32 == 0 && n_rows > 0 &&
               n_rows <= 0x7fffffff);
  auto* q = static_cast<int8_t*>(workspace);
  auto* meta = reinterpret_cast<float4*>(q + n_rows * n);
  rms_norm_q8_kernel<<<static_cast<unsigned>(n_rows), kNormThreads, 0, stream>>>(const_cast<float*>(x), nullptr,
                                                                                weight, n, eps, out, q, meta);
  STRATA_CUDA_CHECK_LAUNCH();
}

void add_rms_norm_q8(float* x, const float* y, const float* weight, int64_t n_rows, int64_t n, float eps, float* out,
                     void* workspace, cudaStream_t stream) {
  STRATA_CHECK(x != nullptr && y != nullptr && out != nullptr && workspace != nullptr && n > 0 && n % 32 == 0 &&
               n_rows > 0 && n_rows <= 0x7fffffff);
  auto* q = static_cast<int8_t*>(workspace);
  auto* meta = reinterpret_cast<float4*>(q + n_rows * n);
  rms_norm_q8_kernel<<<static_cast<unsigned>(n_rows), kNormThreads, 0, stream>>>(x, y, weight, n, eps, out, q, meta);
  STRATA_CUDA_CHECK_LAUNCH();
}

void glu_q8(const float* gate, const float* up, int64_t n_tok, int64_t n, bool use_gelu, float* out, void* workspace,
            cudaStream_t stream) {
  STRATA_CHECK(gate != nullptr && up != nullptr && out != nullptr && workspace != nullptr && n_tok > 0 && n > 0 &&
               n % 32 == 0);
  const int64_t n_blocks = n_tok * n / 32;
  constexpr int kThreads = 256;
  const int64_t grid = (n_blocks * 32 + kThreads - 1) / kThreads;
  STRATA_CHECK(grid <= 0x7fffffff);
  auto* q = static_cast<int8_t*>(workspace);
  auto* meta = reinterpret_cast<float4*>(q + n_tok * n);
  glu_q8_kernel<<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(gate, up, n_blocks, use_gelu, out, q, meta);
  STRATA_CUDA_CHECK_LAUNCH();
}

}  // namespace strata::cuda
