// kernels/cpu/attention.h: the per-ISA attention kernels over an F16 KV cache (ops.h has the dispatched
// entry points); exposed so that tests can hold every level the CPU runs against the reference twin.
#pragma once

#include <cstdint>

#include "kernels/cpu/cpu_isa.h"

namespace strata::kernels {

// scores[p] = scale * sum_i q[i] * K[p][i] for p < n_pos; K[p] = k + p * stride (halves).
using AttnScoresFn = void (*)(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos, int64_t head_dim,
                              float scale, float* scores);
// out[i] = sum_p w[p] * V[p][i] for i < head_dim; V[p] = v + p * stride (halves). accumulate: the sum
// starts from out[i] instead of 0 and runs the same chain, so positions in two runs (a ring's wrap) give
// the bits of one run over both.
using AttnValuesFn = void (*)(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim,
                              float* out, bool accumulate);

struct AttentionKernels {
  AttnScoresFn scores;
  AttnValuesFn values;
};

// REQUIRES: cpu_supports(isa).
AttentionKernels attention_kernels(CpuIsa isa);

#if defined(__x86_64__)
void attn_scores_f16_avx2(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float scale, float* scores);
void attn_values_f16_avx2(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float* out, bool accumulate);
void attn_scores_f16_avx512(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos, int64_t head_dim,
                            float scale, float* scores);
void attn_values_f16_avx512(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim,
                            float* out, bool accumulate);
#endif

}  // namespace strata::kernels
