// kernels/cpu/x86/attention_avx512.cc: the attention kernels at 16 lanes (AVX-512 F; F16 through vcvtph2ps).
#include "kernels/cpu/attention.h"
#include "kernels/cpu/x86/attention_impl.h"

namespace strata::kernels {

void attn_scores_f16_avx512(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos, int64_t head_dim,
                            float scale, float* scores) {
  attn_scores<Vec16>(q, k, stride, n_pos, head_dim, scale, scores);
}

void attn_values_f16_avx512(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim,
                            float* out, bool accumulate) {
  attn_values<Vec16>(w, v, stride, n_pos, head_dim, out, accumulate);
}

void attn_block_f16_avx512(const AttnBlock& b, AttnBlockScratch& scratch) { attn_block<Vec16>(b, scratch); }

}  // namespace strata::kernels
