// kernels/cpu/attention.h: the per-ISA attention kernels over an F16 KV cache (ops.h has the dispatched
// entry points); exposed so that tests can hold every level the CPU runs against the reference twin.
#pragma once

#include <cstdint>
#include <vector>

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

// One KV head's prompt attention for a block of queries (a head group's query heads over a few consecutive
// tokens) against cache rows [0, end[j]) of query j: out[j] = softmax(scale q_j K^T, with the sink as one more
// logit) V, q already rounded to F16, probabilities rounded to F16 (the per-query kernels' contract).
inline constexpr int kAttnBlockQueries = 32;  // at most this many queries a block
inline constexpr int64_t kAttnBlockRows = 32;  // V rows converted to F32 at a time
struct AttnBlock {
  const float* q[kAttnBlockQueries];
  float* out[kAttnBlockQueries];
  int64_t end[kAttnBlockQueries];
  const float* sink = nullptr;  // per query, or null
  int nq = 0;
  const uint16_t* k = nullptr;  // the head's first element in row 0
  const uint16_t* v = nullptr;
  int64_t stride = 0;           // halves between rows
  int64_t head_dim = 0;
  float scale = 0;
};
// Per-thread buffers the block kernel reuses (grown to the longest context seen).
struct AttnBlockScratch {
  std::vector<float> qt, st, rows;
};
using AttnBlockFn = void (*)(const AttnBlock& b, AttnBlockScratch& scratch);

struct AttentionKernels {
  AttnScoresFn scores;
  AttnValuesFn values;
  AttnBlockFn block = nullptr;  // null: prompts go query by query through scores and values
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
void attn_block_f16_avx2(const AttnBlock& b, AttnBlockScratch& scratch);
void attn_block_f16_avx512(const AttnBlock& b, AttnBlockScratch& scratch);
#endif

}  // namespace strata::kernels
