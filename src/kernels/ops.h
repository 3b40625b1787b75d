// kernels/ops.h: backend-neutral op signatures on host float activations, and their naive reference twins.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/backend.h"
#include "tensor/tensor.h"

namespace strata::kernels {

// y[t, r] = sum_i W[r, i] * x[t, i].  W: [k, rows] in any DType; x: [n_tok, k]; y: [n_tok, rows].
// Fast path: dispatched by weight type and CPU features, rows split across the pool.
void matmul(const TensorView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool);
// Slow twin: scalar dequantization of each row, double accumulation, one thread. The parity oracle.
void matmul_reference(const TensorView& w, const float* x, int64_t n_tok, float* y);

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i]   (out may alias x)
void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out);

// Rotates pairs (x[i], x[i + rot_dims/2]) ("NeoX" layout) or (x[2i], x[2i+1]) (llama/"normal" layout)
// of each head by angle pos * base^(-2i/rot_dims). x: [n_heads, head_dim]; dims past rot_dims untouched.
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dims, int64_t pos, float freq_base,
          RopeLayout layout);

// Attention over an F16 KV cache for one query head against n_pos cached positions, each position's
// head slice `stride` halves after the previous one (the cache's kv_dim):
//   scores[p] = scale * sum_i q[i] * K[p][i]        out[i] = sum_p w[p] * V[p][i]
// Dispatched by CPU features; the _reference twins accumulate in double, one term at a time.
void attention_scores_f16(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float scale, float* scores);
void attention_values_f16(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float* out);
void attention_scores_f16_reference(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos,
                                    int64_t head_dim, float scale, float* scores);
void attention_values_f16_reference(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos,
                                    int64_t head_dim, float* out);

void softmax(float* x, int64_t n);
// gate[i] = silu(gate[i]) * up[i]
void swiglu(float* gate, const float* up, int64_t n);

// Reads one row of any type as floats (dequantizing); used for embedding lookups.
void dequantize_row(const TensorView& w, int64_t row, float* out);

}  // namespace strata::kernels
