// kernels/cpu/ops_cpu.h: the CPU backend's kernels on host float rows (the backend's ops loop over them).
#pragma once

#include <cstdint>
#include <span>

#include "core/thread_pool.h"
#include "kernels/backend.h"
#include "tensor/tensor.h"

namespace strata::kernels {

// y[t, r] = sum_i W[r, i] * x[t, i].  W: [k, rows] in any DType; x: [n_tok, k]; y: [n_tok, rows].
// Dispatched by weight type and CPU features (the kernel table), rows split across the pool.
void matmul(const TensorView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool);

// One product of matmul_many: matmul(w, x, n_tok, y).
struct MatmulJob {
  TensorView w;
  const float* x;
  int64_t n_tok;
  float* y;
};
// Several independent products: those the kernel table takes run as one pool dispatch (a MoE layer's
// experts: a few dispatches a layer instead of several per expert), the rest one by one.
void matmul_many(std::span<const MatmulJob> jobs, ThreadPool& pool);

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i]   (out may alias x)
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);

// RoPE in two steps, so that a position's angles (a pow, a cos and a sin per pair, in double) are found once for
// its q and k rows: cos_sin [n_rot] gets pair i's cos at 2i and sin at 2i + 1 for position pos (RopeParams says
// how; freq_factors: [n_rot / 2] or nullptr), and rope_apply rotates the heads of one row x [n_heads, head_dim].
void rope_angles(int64_t pos, const RopeParams& p, const float* freq_factors, float* cos_sin);
void rope_apply(float* x, int64_t n_heads, int64_t head_dim, const RopeParams& p, const float* cos_sin);

// Attention over an F16 KV cache for one query head against n_pos cached positions, each position's
// head slice `stride` halves after the previous one (the cache's kv_dim):
//   scores[p] = scale * sum_i q[i] * K[p][i]        out[i] = (accumulate ? out[i] : 0) + sum_p w[p] * V[p][i]
// Dispatched by CPU features (kernels/cpu/attention.h has every level).
void attention_scores_f16(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float scale, float* scores);
void attention_values_f16(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float* out, bool accumulate = false);

// The whole causal attention op of Backend::attention on host memory (the cache already holds this batch's
// K/V): one (token, head) item at a time from a shared counter across the pool.
void attention_causal_f16(const AttentionParams& p, const float* q, const KvLayer& cache, int64_t pos0, int64_t n_tok,
                          const float* sinks, float* out, ThreadPool& pool);

// x[i] = exp(x[i] - max) / sum; with a sink, the sink is one more logit in the sum (and the max), not an output.
void softmax(float* x, int64_t n);
void softmax_with_sink(float* x, int64_t n, float sink);

// gate[i] = act(gate[i]) * up[i]
void swiglu(float* gate, const float* up, int64_t n);
void geglu(float* gate, const float* up, int64_t n);
void swiglu_clamped(float* gate, const float* up, int64_t n);  // GluKind::SwiGluClamped

// Reads one row of any type as floats (dequantizing); used for embedding lookups and norm weights.
void dequantize_row(const TensorView& w, int64_t row, float* out);

}  // namespace strata::kernels
