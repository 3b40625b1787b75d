// kernels/reference/reference.h: the slow reference twins of every backend op, on host arrays: scalar
// dequantisation, double accumulation, one thread, written for clarity. The parity oracle (tests only).
#pragma once

#include <cstdint>
#include <span>

#include "kernels/backend.h"
#include "tensor/tensor.h"

namespace strata::kernels::reference {

// Shapes and contracts are Backend's (kernels/backend.h); arrays are row-major on the host.
void get_rows(const TensorView& table, std::span<const int32_t> ids, float* out);
void rms_norm(const float* x, int64_t rows, int64_t cols, const TensorView& weight, float eps, float* out);
// y[t, r] = sum_i W[r, i] * x[t, i] (+ bias[r]).
void matmul(const TensorView& w, const float* x, int64_t n_tok, float* y, const TensorView& bias = {});
void rope(float* x, int64_t n_tok, int64_t n_head, int64_t head_dim, int64_t pos0, const RopeParams& p);
// Writes k, v into the host cache rows pos0.. (F16), then attends; q, out: [n_tok, n_head * head_dim].
void attention(const AttentionParams& p, const float* q, const float* k, const float* v, const KvLayer& cache,
               int64_t pos0, int64_t n_tok, float* out);
void glu(GluKind kind, const float* gate, const float* up, int64_t n, float* out);
void add(float* x, const float* y, int64_t n);
void moe_route(const float* logits, int64_t n_tok, int64_t n_expert, const RouteParams& p, int32_t* ids,
               float* weights);
void gather_rows(const float* src, int64_t cols, std::span<const int32_t> rows, float* dst);
void scatter_add(const float* src, int64_t cols, std::span<const int32_t> rows, std::span<const float> scale,
                 float* dst);

// The attention kernels' twins (one query head against n_pos cached positions; kernels/cpu/ops_cpu.h).
void attention_scores_f16(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float scale, float* scores);
void attention_values_f16(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float* out, bool accumulate = false);

}  // namespace strata::kernels::reference
