// kernels/cuda/attention.cu: causal GQA attention over the F16 KV cache as flash-decoding (kernels, then
// launchers). Pass 1: block (split, head, token) runs an online softmax over up to kAttentionSplit
// positions, each warp two positions at a time, lanes across the head dims; its 4 warps merge in shared
// memory and write (max, sum, unnormalised output). Pass 2 merges the splits (and the sink logit).
// Position p lives in cache row p % n_rows (a sliding-window layer's ring; n_rows >= every position otherwise).
// A batch of sequences gives each token its own cache and position (KvTok).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>

#include "core/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launchers.h"

namespace strata::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kMaxPairsPerLane = kAttentionMaxHeadDim / 64;

struct Span {
  int64_t first, end;  // visible positions [first, end)
};
__device__ __forceinline__ Span visible(int64_t pos, int64_t window) {
  const int64_t end = pos + 1;
  return {window > 0 && end > window ? end - window : 0, end};
}

// Token t's cache and position: from the batch's descriptors (the position from pos_dev[t] in a recorded
// step), or the one cache at pos0 + t.
__device__ __forceinline__ KvTok token_kv(const KvTok* toks, int64_t t, const uint16_t* kc, const uint16_t* vc,
                                          int64_t n_rows, int64_t pos_arg, const int64_t* pos_dev) {
  if (toks != nullptr) {
    KvTok kt = toks[t];
    if (pos_dev != nullptr) kt.pos = pos_dev[t];
    return kt;
  }
  return {const_cast<uint16_t*>(kc), const_cast<uint16_t*>(vc), n_rows, (pos_dev ? *pos_dev : pos_arg) + t};
}

__device__ __forceinline__ float2 h2f2(uint32_t b) { return __half22float2(*reinterpret_cast<const __half2*>(&b)); }

// workspace per (token, head, split): [m, l, o[head_dim]].
// Lane owns the dimension pairs (2 lane + 64 i, +1), read as one 4-byte load; a warp takes two positions at a
// time, so that two rows' loads are in flight (a position is a chain of two dependent memory reads).
__global__ void __launch_bounds__(kWarps * 32)
    attention_split_kernel(const float* __restrict__ q, const uint16_t* __restrict__ kc,
                           const uint16_t* __restrict__ vc, int64_t kv_dim, int64_t n_rows, int64_t n_head,
                           int64_t group, int64_t head_dim, int64_t pos_arg, const int64_t* __restrict__ pos_dev,
                           const KvTok* __restrict__ toks, int64_t window, float scale, int64_t n_split,
                           float* __restrict__ ws) {
  const int64_t s = blockIdx.x, h = blockIdx.y, t = blockIdx.z;
  const KvTok kt = token_kv(toks, t, kc, vc, n_rows, pos_arg, pos_dev);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const Span span = visible(kt.pos, window);
  const int64_t p_begin = span.first + s * kAttentionSplit;
  const int64_t p_end = min(span.end, p_begin + kAttentionSplit);
  float* out = ws + ((t * n_head + h) * n_split + s) * (head_dim + 2);

  float2 qv[kMaxPairsPerLane], acc[kMaxPairsPerLane];
  const float* qh = q + (t * n_head + h) * head_dim;
#pragma unroll
  for (int i = 0; i < kMaxPairsPerLane; ++i) {
    const int64_t d = 2 * lane + 64 * i;
    qv[i] = d < head_dim ? make_float2(qh[d] * scale, qh[d + 1] * scale) : make_float2(0.0f, 0.0f);
    acc[i] = make_float2(0.0f, 0.0f);
  }
  const int64_t kv_off = (h / group) * head_dim;
  float m = -FLT_MAX, l = 0.0f;
  for (int64_t p = p_begin + warp; p < p_end; p += 2 * kWarps) {
    const bool two = p + kWarps < p_end;
    const int64_t row0 = p % kt.n_rows, row1 = (two ? p + kWarps : p) % kt.n_rows;
    const uint16_t* k0 = kt.k + row0 * kv_dim + kv_off;
    const uint16_t* k1 = kt.k + row1 * kv_dim + kv_off;
    float s0 = 0.0f, s1 = 0.0f;
#pragma unroll
    for (int i = 0; i < kMaxPairsPerLane; ++i) {
      const int64_t d = 2 * lane + 64 * i;
      if (d < head_dim) {
        const float2 a = h2f2(*reinterpret_cast<const uint32_t*>(k0 + d));
        const float2 b = h2f2(*reinterpret_cast<const uint32_t*>(k1 + d));
        s0 += qv[i].x * a.x + qv[i].y * a.y;
        s1 += qv[i].x * b.x + qv[i].y * b.y;
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      s0 += __shfl_xor_sync(0xffffffffu, s0, o);
      s1 += __shfl_xor_sync(0xffffffffu, s1, o);
    }
    if (!two) s1 = -FLT_MAX;
    const float m_new = fmaxf(m, fmaxf(s0, s1));
    const float corr = expf(m - m_new), w0 = expf(s0 - m_new), w1 = two ? expf(s1 - m_new) : 0.0f;
    l = l * corr + w0 + w1;
    const uint16_t* v0 = kt.v + row0 * kv_dim + kv_off;
    const uint16_t* v1 = kt.v + row1 * kv_dim + kv_off;
#pragma unroll
    for (int i = 0; i < kMaxPairsPerLane; ++i) {
      const int64_t d = 2 * lane + 64 * i;
      if (d < head_dim) {
        const float2 a = h2f2(*reinterpret_cast<const uint32_t*>(v0 + d));
        const float2 b = h2f2(*reinterpret_cast<const uint32_t*>(v1 + d));
        acc[i].x = acc[i].x * corr + w0 * a.x + w1 * b.x;
        acc[i].y = acc[i].y * corr + w0 * a.y + w1 * b.y;
      }
    }
    m = m_new;
  }
  // Merge the warps: each rescales to the block max.
  __shared__ float wm[kWarps], wl[kWarps];
  __shared__ float wo[kWarps][kAttentionMaxHeadDim];
  if (lane == 0) wm[warp] = m, wl[warp] = l;
#pragma unroll
  for (int i = 0; i < kMaxPairsPerLane; ++i) {
    const int64_t d = 2 * lane + 64 * i;
    if (d < head_dim) wo[warp][d] = acc[i].x, wo[warp][d + 1] = acc[i].y;
  }
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
                                       int64_t pos_arg, const int64_t* __restrict__ pos_dev,
                                       const KvTok* __restrict__ toks, int64_t window, int64_t n_split,
                                       const float* __restrict__ sinks, float* __restrict__ out) {
  const int64_t h = blockIdx.x, t = blockIdx.y;
  const int64_t pos = toks ? (pos_dev ? pos_dev[t] : toks[t].pos) : (pos_dev ? *pos_dev : pos_arg) + t;
  const Span span = visible(pos, window);
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
                                int64_t n_rows, int64_t pos_arg, const int64_t* __restrict__ pos_dev,
                                const KvTok* __restrict__ toks, uint16_t* kc, uint16_t* vc) {
  const int64_t t = blockIdx.y;
  const KvTok kt = token_kv(toks, t, kc, vc, n_rows, pos_arg, pos_dev);
  const int64_t row = kt.pos % kt.n_rows;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < kv_dim;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    kt.k[row * kv_dim + i] = __half_as_ushort(__float2half_rn(k[t * kv_dim + i]));
    kt.v[row * kv_dim + i] = __half_as_ushort(__float2half_rn(v[t * kv_dim + i]));
  }
}

// grid (n_head + n_head_kv, n_tok): a block per head of a token. q heads are rotated in place; k heads are
// rotated in place and then stored with v's into the token's cache row (the rotation as rope.cu's).
__global__ void rope_kv_store_kernel(float* __restrict__ q, float* __restrict__ k, const float* __restrict__ v,
                                     int64_t n_head, int64_t n_head_kv, int64_t head_dim, int64_t n_rot,
                                     const double* __restrict__ inv_freq, float mscale, bool halves, int64_t n_rows,
                                     int64_t pos_arg, const int64_t* __restrict__ pos_dev,
                                     const KvTok* __restrict__ toks, uint16_t* kc, uint16_t* vc) {
  const int64_t t = blockIdx.y, hh = blockIdx.x;
  const KvTok kt = token_kv(toks, t, kc, vc, n_rows, pos_arg, pos_dev);
  const bool is_q = hh < n_head;
  const int64_t kv_dim = n_head_kv * head_dim;
  float* x = is_q ? q + (t * n_head + hh) * head_dim : k + t * kv_dim + (hh - n_head) * head_dim;
  const int64_t half = n_rot / 2;
  for (int64_t i = threadIdx.x; i < half; i += blockDim.x) {
    double s, c;
    sincos(static_cast<double>(kt.pos) * inv_freq[i], &s, &c);
    const float cf = static_cast<float>(c) * mscale, sf = static_cast<float>(s) * mscale;
    const int64_t a = halves ? i : 2 * i, b = halves ? i + half : 2 * i + 1;
    const float x0 = x[a], x1 = x[b];
    x[a] = x0 * cf - x1 * sf;
    x[b] = x0 * sf + x1 * cf;
  }
  if (is_q) return;
  __syncthreads();  // the head's rotated values, written by other threads, are stored whole
  const int64_t off = kt.pos % kt.n_rows * kv_dim + (hh - n_head) * head_dim;
  const float* vh = v + t * kv_dim + (hh - n_head) * head_dim;
  for (int64_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
    kt.k[off + d] = __half_as_ushort(__float2half_rn(x[d]));
    kt.v[off + d] = __half_as_ushort(__float2half_rn(vh[d]));
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
                   const int64_t* pos_dev, int64_t pos_bound, const KvTok* toks) {
  STRATA_CHECK(q != nullptr && workspace != nullptr && out != nullptr);
  STRATA_CHECK(toks != nullptr || (k_cache != nullptr && v_cache != nullptr));
  STRATA_CHECK(head_dim > 0 && head_dim <= kAttentionMaxHeadDim && head_dim % 2 == 0);
  STRATA_CHECK(n_kv_head > 0 && n_head % n_kv_head == 0 && kv_dim == n_kv_head * head_dim);
  STRATA_CHECK(n_head <= 65535 && n_tok >= 0 && n_tok <= 65535 && pos0 >= 0 && window >= 0);
  STRATA_CHECK(pos_dev == nullptr || pos_bound >= n_tok);
  STRATA_CHECK(toks == nullptr || pos_bound >= 1);
  // The furthest position any token sees, plus one.
  const int64_t end = pos_dev != nullptr || toks != nullptr ? pos_bound : pos0 + n_tok;
  // Every visible position still in its row: the whole past, or a ring of at least window + n_tok - 1 (a
  // batch's caller checks each sequence's cache).
  STRATA_CHECK(toks != nullptr || n_rows >= end || (window > 0 && n_rows >= window + n_tok - 1));
  if (n_tok == 0) return;
  const int64_t max_positions = window > 0 && window < end ? window : end;
  const int64_t n_split = splits_for(max_positions);
  STRATA_CHECK(n_split <= 0x7fffffff);
  attention_split_kernel<<<dim3(static_cast<unsigned>(n_split), static_cast<unsigned>(n_head),
                                static_cast<unsigned>(n_tok)),
                           kWarps * 32, 0, stream>>>(q, k_cache, v_cache, kv_dim, n_rows, n_head,
                                                     n_head / n_kv_head, head_dim, pos0, pos_dev, toks, window,
                                                     scale, n_split, workspace);
  STRATA_CUDA_CHECK_LAUNCH();
  attention_merge_kernel<<<dim3(static_cast<unsigned>(n_head), static_cast<unsigned>(n_tok)), 128, 0, stream>>>(
      workspace, n_head, head_dim, pos0, pos_dev, toks, window, n_split, sinks, out);
  STRATA_CUDA_CHECK_LAUNCH();
}

void rope_kv_store_f16(float* q, float* k, const float* v, int64_t n_tok, int64_t n_head, int64_t n_head_kv,
                       int64_t head_dim, int64_t n_rot, const double* inv_freq, float mscale, bool halves,
                       int64_t n_rows, int64_t pos0, uint16_t* k_cache, uint16_t* v_cache, cudaStream_t stream,
                       const int64_t* pos_dev, const KvTok* toks) {
  STRATA_CHECK(q != nullptr && k != nullptr && v != nullptr && inv_freq != nullptr);
  STRATA_CHECK(toks != nullptr || (k_cache != nullptr && v_cache != nullptr && n_rows > 0));
  STRATA_CHECK(n_rot > 0 && n_rot % 2 == 0 && n_rot <= head_dim && n_head > 0 && n_head_kv > 0);
  STRATA_CHECK(n_head + n_head_kv <= 0x7fffffff && n_tok >= 0 && n_tok <= 65535 && pos0 >= 0);
  if (n_tok == 0) return;
  rope_kv_store_kernel<<<dim3(static_cast<unsigned>(n_head + n_head_kv), static_cast<unsigned>(n_tok)), 64, 0,
                         stream>>>(q, k, v, n_head, n_head_kv, head_dim, n_rot, inv_freq, mscale, halves, n_rows,
                                   pos0, pos_dev, toks, k_cache, v_cache);
  STRATA_CUDA_CHECK_LAUNCH();
}

void kv_store_f16(const float* k, const float* v, int64_t n_tok, int64_t kv_dim, int64_t n_rows, int64_t pos0,
                  uint16_t* k_cache, uint16_t* v_cache, cudaStream_t stream, const int64_t* pos_dev,
                  const KvTok* toks) {
  STRATA_CHECK(k != nullptr && v != nullptr && kv_dim > 0);
  STRATA_CHECK(toks != nullptr || (k_cache != nullptr && v_cache != nullptr));
  STRATA_CHECK(n_tok >= 0 && n_tok <= 65535 && pos0 >= 0 && n_rows > 0);
  if (n_tok == 0) return;
  const unsigned blocks = static_cast<unsigned>((kv_dim + 255) / 256);
  kv_store_kernel<<<dim3(blocks, static_cast<unsigned>(n_tok)), 256, 0, stream>>>(k, v, kv_dim, n_rows, pos0, pos_dev,
                                                                                  toks, k_cache, v_cache);
  STRATA_CUDA_CHECK_LAUNCH();
}

}  // namespace strata::cuda
