// kernels/cuda/attention.cu: causal GQA attention over the F16 KV cache as flash-decoding (kernels, then
// launchers). Pass 1: block (split, head, token) runs an online softmax over up to kAttentionSplit
// positions, one warp per position at a time, lanes across the head dims; its 4 warps merge in shared
// memory and write (max, sum, unnormalised output). Pass 2 merges the splits (and the sink logit).
// Position p lives in cache row p % n_rows (a sliding-window layer's ring; n_rows >= every position otherwise).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>

#include "core/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launchers.h"

namespace strata::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kMaxPerLane = kAttentionMaxHeadDim / 32;

struct Span {
  int64_t first, end;  // visible positions [first, end)
};
__device__ __forceinline__ Span visible(int64_t pos0, int64_t t, int64_t window) {
  const int64_t end = pos0 + t + 1;
  return {window > 0 && end > window ? end - window : 0, end};
}

__device__ __forceinline__ float h2f(uint16_t b) { return __half2float(__ushort_as_half(b)); }

// workspace per (token, head, split): [m, l, o[head_dim]].
__global__ void __launch_bounds__(kWarps * 32)
    attention_split_kernel(const float* __restrict__ q, const uint16_t* __restrict__ kc,
                           const uint16_t* __restrict__ vc, int64_t kv_dim, int64_t n_rows, int64_t n_head,
                           int64_t group, int64_t head_dim, int64_t pos_arg, const int64_t* __restrict__ pos_dev,
                           int64_t window, float scale, int64_t n_split, float* __restrict__ ws) {
  const int64_t s = blockIdx.x, h = blockIdx.y, t = blockIdx.z;
  const int64_t pos0 = pos_dev ? *pos_dev : pos_arg;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  // Lane owns dims lane + 32 i; head_dim need not be a multiple of 32 (80, 8 occur).
  const int per_lane = static_cast<int>((head_dim + 31) / 32);
  const Span span = visible(pos0, t, window);
  const int64_t p_begin = span.first + s * kAttentionSplit;
  const int64_t p_end = min(span.end, p_begin + kAttentionSplit);
  float* out = ws + ((t * n_head + h) * n_split + s) * (head_dim + 2);

  float qv[kMaxPerLane], acc[kMaxPerLane];
  const float* qh = q + (t * n_head + h) * head_dim;
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i) {
    qv[i] = i < per_lane && lane + 32 * i < head_dim ? qh[lane + 32 * i] * scale : 0.0f;
    acc[i] = 0.0f;
  }
  const int64_t kv_off = (h / group) * head_dim;
  float m = -FLT_MAX, l = 0.0f;
  for (int64_t p = p_begin + warp; p < p_end; p += kWarps) {
    const int64_t row = p % n_rows;
    const uint16_t* kr = kc + row * kv_dim + kv_off;
    float sc = 0.0f;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i)
      if (i < per_lane && lane + 32 * i < head_dim) sc += qv[i] * h2f(kr[lane + 32 * i]);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) sc += __shfl_xor_sync(0xffffffffu, sc, o);
    const float m_new = fmaxf(m, sc);
    const float corr = expf(m - m_new), w = expf(sc - m_new);
    l = l * corr + w;
    const uint16_t* vr = vc + row * kv_dim + kv_off;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i)
      if (i < per_lane && lane + 32 * i < head_dim) acc[i] = acc[i] * corr + w * h2f(vr[lane + 32 * i]);
    m = m_new;
  }
  // Merge the warps: each rescales to the block max.
  __shared__ float wm[kWarps], wl[kWarps];
  __shared__ float wo[kWarps][kAttentionMaxHeadDim];
  if (lane == 0) wm[warp] = m, wl[warp] = l;
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i)
    if (i < per_lane && lane + 32 * i < head_dim) wo[warp][lane + 32 * i] = acc[i];
  __syncthreads();
  float bm = -FLT_MAX;
  for (int w = 0; w < kWarps; ++w) bm = fmaxf(bm, wm[w]);
  for (int64_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float o = 0.0f;
    for (int w = 0; w < kWarps; ++w) o += wo[w][d] * (wl[w] > 0.0f ? expf(wm[w] - bm) : 0.0f);
    out[2 + d] = o;
  }
  if (threadIdx.x == 0) {
    float bl = 0.0f;
    for (int w = 0; w < kWarps; ++w) bl += wl[w] > 0.0f ? wl[w] * expf(wm[w] - bm) : 0.0f;
    out[0] = bm;
    out[1] = bl;
  }
}

// grid (n_head, n_tok); thread d merges dimension d across the splits that held positions.
__global__ void attention_merge_kernel(const float* __restrict__ ws, int64_t n_head, int64_t head_dim,
                                       int64_t pos_arg, const int64_t* __restrict__ pos_dev, int64_t window,
                                       int64_t n_split, const float* __restrict__ sinks, float* __restrict__ out) {
  const int64_t h = blockIdx.x, t = blockIdx.y;
  const int64_t pos0 = pos_dev ? *pos_dev : pos_arg;
  const Span span = visible(pos0, t, window);
  const int64_t used = min(n_split, (span.end - span.first + kAttentionSplit - 1) / kAttentionSplit);
  const float* base = ws + (t * n_head + h) * n_split * (head_dim + 2);
  float m = sinks ? sinks[h] : -FLT_MAX;
  for (int64_t s = 0; s < used; ++s) m = fmaxf(m, base[s * (head_dim + 2)]);
  float l = sinks ? expf(sinks[h] - m) : 0.0f;
  for (int64_t s = 0; s < used; ++s) l += base[s * (head_dim + 2) + 1] * expf(base[s * (head_dim + 2)] - m);
  const float inv = 1.0f / l;
  for (int64_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float o = 0.0f;
    for (int64_t s = 0; s < used; ++s) o += base[s * (head_dim + 2) + 2 + d] * expf(base[s * (head_dim + 2)] - m);
    out[(t * n_head + h) * head_dim + d] = o * inv;
  }
}

__global__ void kv_store_kernel(const float* __restrict__ k, const float* __restrict__ v, int64_t kv_dim,
                                int64_t n_rows, int64_t pos_arg, const int64_t* __restrict__ pos_dev, uint16_t* kc,
                                uint16_t* vc) {
  const int64_t t = blockIdx.y;
  const int64_t pos0 = pos_dev ? *pos_dev : pos_arg;
  const int64_t row = (pos0 + t) % n_rows;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < kv_dim;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    kc[row * kv_dim + i] = __half_as_ushort(__float2half_rn(k[t * kv_dim + i]));
    vc[row * kv_dim + i] = __half_as_ushort(__float2half_rn(v[t * kv_dim + i]));
  }
}

int64_t splits_for(int64_t max_positions) { return (max_positions + kAttentionSplit - 1) / kAttentionSplit; }

}  // namespace

int64_t attention_workspace_floats(int64_t n_tok, int64_t n_head, int64_t head_dim, int64_t max_positions) {
  return n_tok * n_head * splits_for(max_positions) * (head_dim + 2);
}

void attention_f16(const float* q, const uint16_t* k_cache, const uint16_t* v_cache, int64_t kv_dim, int64_t n_rows,
                   int64_t n_tok, int64_t n_head, int64_t n_kv_head, int64_t head_dim, int64_t pos0, int64_t window,
                   float scale, const float* sinks, float* workspace, float* out, cudaStream_t stream,
                   const int64_t* pos_dev, int64_t pos_bound) {
  STRATA_CHECK(q != nullptr && k_cache != nullptr && v_cache != nullptr && workspace != nullptr && out != nullptr);
  STRATA_CHECK(head_dim > 0 && head_dim <= kAttentionMaxHeadDim);
  STRATA_CHECK(n_kv_head > 0 && n_head % n_kv_head == 0 && kv_dim == n_kv_head * head_dim);
  STRATA_CHECK(n_head <= 65535 && n_tok >= 0 && n_tok <= 65535 && pos0 >= 0 && window >= 0);
  STRATA_CHECK(pos_dev == nullptr || pos_bound >= n_tok);
  const int64_t end = pos_dev ? pos_bound : pos0 + n_tok;  // the furthest position any token sees, plus one
  // Every visible position still in its row: the whole past, or a ring of at least window + n_tok - 1.
  STRATA_CHECK(n_rows >= end || (window > 0 && n_rows >= window + n_tok - 1));
  if (n_tok == 0) return;
  const int64_t max_positions = window > 0 && window < end ? window : end;
  const int64_t n_split = splits_for(max_positions);
  STRATA_CHECK(n_split <= 0x7fffffff);
  attention_split_kernel<<<dim3(static_cast<unsigned>(n_split), static_cast<unsigned>(n_head),
                                static_cast<unsigned>(n_tok)),
                           kWarps * 32, 0, stream>>>(q, k_cache, v_cache, kv_dim, n_rows, n_head,
                                                     n_head / n_kv_head, head_dim, pos0, pos_dev, window, scale,
                                                     n_split, workspace);
  STRATA_CUDA_CHECK_LAUNCH();
  attention_merge_kernel<<<dim3(static_cast<unsigned>(n_head), static_cast<unsigned>(n_tok)), 128, 0, stream>>>(
      workspace, n_head, head_dim, pos0, pos_dev, window, n_split, sinks, out);
  STRATA_CUDA_CHECK_LAUNCH();
}

void kv_store_f16(const float* k, const float* v, int64_t n_tok, int64_t kv_dim, int64_t n_rows, int64_t pos0,
                  uint16_t* k_cache, uint16_t* v_cache, cudaStream_t stream, const int64_t* pos_dev) {
  STRATA_CHECK(k != nullptr && v != nullptr && k_cache != nullptr && v_cache != nullptr && kv_dim > 0);
  STRATA_CHECK(n_tok >= 0 && n_tok <= 65535 && pos0 >= 0 && n_rows > 0);
  if (n_tok == 0) return;
  const unsigned blocks = static_cast<unsigned>((kv_dim + 255) / 256);
  kv_store_kernel<<<dim3(blocks, static_cast<unsigned>(n_tok)), 256, 0, stream>>>(k, v, kv_dim, n_rows, pos0, pos_dev,
                                                                                  k_cache, v_cache);
  STRATA_CUDA_CHECK_LAUNCH();
}

}  // namespace strata::cuda
