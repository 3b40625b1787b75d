// kernels/cuda/moe.cu: MoE routing (top-k and softmax per token on the GPU) and the expert row gather and
// scatter (kernels, then launchers).
#include <cuda_runtime.h>

#include <cfloat>

#include "core/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launchers.h"

namespace strata::cuda {

namespace {

// One warp per token: the logits in shared memory, n_used rounds of a warp argmax (ties to the lower id).
__global__ void moe_route_kernel(const float* __restrict__ logits, int64_t n_expert, int64_t n_used, bool softmax_all,
                                 bool norm_topk, int32_t* __restrict__ ids, float* __restrict__ weights) {
  __shared__ float v[kMoeMaxExperts];
  const int lane = threadIdx.x;
  const float* r = logits + blockIdx.x * n_expert;
  float mx = -FLT_MAX;
  for (int64_t e = lane; e < n_expert; e += 32) {
    v[e] = r[e];
    mx = fmaxf(mx, v[e]);
  }
  for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  float total = 0.0f;  // softmax denominator over all experts (softmax_all)
  for (int64_t e = lane; e < n_expert; e += 32) total += expf(v[e] - mx);
  for (int o = 16; o > 0; o >>= 1) total += __shfl_xor_sync(0xffffffffu, total, o);
  __syncwarp();
  float chosen_sum = 0.0f, chosen_max = -FLT_MAX;
  for (int64_t j = 0; j < n_used; ++j) {
    float best = -INFINITY;
    int best_id = 0x7fffffff;
    for (int64_t e = lane; e < n_expert; e += 32)
      if (v[e] > best || (v[e] == best && e < best_id)) best = v[e], best_id = static_cast<int>(e);
    for (int o = 16; o > 0; o >>= 1) {
      const float ob = __shfl_xor_sync(0xffffffffu, best, o);
      const int oi = __shfl_xor_sync(0xffffffffu, best_id, o);
      if (ob > best || (ob == best && oi < best_id)) best = ob, best_id = oi;
    }
    if (lane == 0) {
      ids[blockIdx.x * n_used + j] = best_id;
      weights[blockIdx.x * n_used + j] = best;  // the logit for now; turned into a weight below
      v[best_id] = -INFINITY;
    }
    if (j == 0) chosen_max = best;
    chosen_sum += softmax_all ? expf(best - mx) : expf(best - chosen_max);
    __syncwarp();
  }
  for (int64_t j = lane; j < n_used; j += 32) {
    float* w = weights + blockIdx.x * n_used + j;
    if (softmax_all) {
      const float p = expf(*w - mx) / total;
      *w = norm_topk ? p * total / chosen_sum : p;
    } else {
      *w = expf(*w - chosen_max) / chosen_sum;
    }
  }
}

__global__ void gather_rows_kernel(const float* __restrict__ src, int64_t cols, const int32_t* __restrict__ rows,
                                   float* __restrict__ dst) {
  const float* s = src + static_cast<int64_t>(rows[blockIdx.x]) * cols;
  float* d = dst + blockIdx.x * cols;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) d[c] = s[c];
}

// Each thread owns columns and walks the rows in order, so repeated destination rows add in i order.
__global__ void scatter_add_kernel(const float* __restrict__ src, int64_t cols, const int32_t* __restrict__ rows,
                                   const float* __restrict__ scale, int64_t n, float* dst) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= cols) return;
  for (int64_t i = 0; i < n; ++i) dst[static_cast<int64_t>(rows[i]) * cols + c] += scale[i] * src[i * cols + c];
}

}  // namespace

void moe_route(const float* logits, int64_t n_tok, int64_t n_expert, int64_t n_used, bool softmax_all, bool norm_topk,
               int32_t* ids, float* weights, cudaStream_t stream) {
  STRATA_CHECK(logits != nullptr && ids != nullptr && weights != nullptr);
  STRATA_CHECK(n_expert > 0 && n_expert <= kMoeMaxExperts && n_used > 0 && n_used <= n_expert);
  STRATA_CHECK(n_tok >= 0 && n_tok <= 0x7fffffff);
  if (n_tok == 0) return;
  moe_route_kernel<<<static_cast<unsigned>(n_tok), 32, 0, stream>>>(logits, n_expert, n_used, softmax_all, norm_topk,
                                                                   ids, weights);
  STRATA_CUDA_CHECK_LAUNCH();
}

void gather_rows(const float* src, int64_t cols, const int32_t* rows, int64_t n, float* dst, cudaStream_t stream) {
  STRATA_CHECK(src != nullptr && rows != nullptr && dst != nullptr && cols > 0 && n >= 0 && n <= 0x7fffffff);
  if (n == 0) return;
  gather_rows_kernel<<<static_cast<unsigned>(n), 256, 0, stream>>>(src, cols, rows, dst);
  STRATA_CUDA_CHECK_LAUNCH();
}

void scatter_add(const float* src, int64_t cols, const int32_t* rows, const float* scale, int64_t n, float* dst,
                 cudaStream_t stream) {
  STRATA_CHECK(src != nullptr && rows != nullptr && scale != nullptr && dst != nullptr && cols > 0 && n >= 0);
  if (n == 0) return;
  scatter_add_kernel<<<static_cast<unsigned>((cols + 255) / 256), 256, 0, stream>>>(src, cols, rows, scale, n, dst);
  STRATA_CUDA_CHECK_LAUNCH();
}

}  // namespace strata::cuda
