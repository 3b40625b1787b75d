// kernels/cpu/attention.cc: attention over an F16 KV cache: the dispatched entry points, the portable
// kernels, and the double-accumulating reference twins the fast ones are tested against.
#include "kernels/cpu/attention.h"

#include "core/check.h"
#include "core/fp16.h"
#include "kernels/ops.h"

namespace strata::kernels {

namespace {

// Four positions per pass, so that the table lookups of four key rows overlap.
void scores_portable(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos, int64_t head_dim, float scale,
                     float* scores) {
  int64_t p = 0;
  for (; p + 4 <= n_pos; p += 4) {
    const uint16_t* k0 = k + p * stride;
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (int64_t i = 0; i < head_dim; ++i) {
      a0 += q[i] * fp16_to_f32(k0[i]);
      a1 += q[i] * fp16_to_f32(k0[stride + i]);
      a2 += q[i] * fp16_to_f32(k0[2 * stride + i]);
      a3 += q[i] * fp16_to_f32(k0[3 * stride + i]);
    }
    scores[p] = a0 * scale;
    scores[p + 1] = a1 * scale;
    scores[p + 2] = a2 * scale;
    scores[p + 3] = a3 * scale;
  }
  for (; p < n_pos; ++p) {
    const uint16_t* kp = k + p * stride;
    float a = 0;
    for (int64_t i = 0; i < head_dim; ++i) a += q[i] * fp16_to_f32(kp[i]);
    scores[p] = a * scale;
  }
}

void values_portable(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim, float* out) {
  for (int64_t i = 0; i < head_dim; ++i) out[i] = 0.0f;
  for (int64_t p = 0; p < n_pos; ++p) {
    const uint16_t* vp = v + p * stride;
    const float wp = w[p];
    for (int64_t i = 0; i < head_dim; ++i) out[i] += wp * fp16_to_f32(vp[i]);
  }
}

}  // namespace

AttentionKernels attention_kernels(CpuIsa isa) {
  STRATA_CHECK(cpu_supports(isa));
  switch (isa) {
#if defined(__x86_64__)
    case CpuIsa::Avx512: return {attn_scores_f16_avx512, attn_values_f16_avx512};
    case CpuIsa::Avx2: return {attn_scores_f16_avx2, attn_values_f16_avx2};
#endif
    default: return {scores_portable, values_portable};
  }
}

void attention_scores_f16(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float scale, float* scores) {
  static const AttentionKernels kernels = attention_kernels(best_cpu_isa());
  kernels.scores(q, k, stride, n_pos, head_dim, scale, scores);
}

void attention_values_f16(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float* out) {
  static const AttentionKernels kernels = attention_kernels(best_cpu_isa());
  kernels.values(w, v, stride, n_pos, head_dim, out);
}

void attention_scores_f16_reference(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos,
                                    int64_t head_dim, float scale, float* scores) {
  for (int64_t p = 0; p < n_pos; ++p) {
    double a = 0.0;
    for (int64_t i = 0; i < head_dim; ++i) a += static_cast<double>(q[i]) * fp16_to_f32_slow(k[p * stride + i]);
    scores[p] = static_cast<float>(a * scale);
  }
}

void attention_values_f16_reference(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos,
                                    int64_t head_dim, float* out) {
  for (int64_t i = 0; i < head_dim; ++i) {
    double a = 0.0;
    for (int64_t p = 0; p < n_pos; ++p) a += static_cast<double>(w[p]) * fp16_to_f32_slow(v[p * stride + i]);
    out[i] = static_cast<float>(a);
  }
}

}  // namespace strata::kernels
