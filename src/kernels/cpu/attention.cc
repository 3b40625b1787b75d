// kernels/cpu/attention.cc: attention over an F16 KV cache: the portable kernels, the dispatched entry
// points, and the causal driver that the CPU backend's attention op runs (the twins are in reference/).
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "core/check.h"
#include "core/fp16.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/ops_cpu.h"

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

void values_portable(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim, float* out,
                     bool accumulate) {
  if (!accumulate)
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
    case CpuIsa::Avx512: return {attn_scores_f16_avx512, attn_values_f16_avx512, attn_block_f16_avx512};
    case CpuIsa::Avx2: return {attn_scores_f16_avx2, attn_values_f16_avx2, attn_block_f16_avx2};
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
                          float* out, bool accumulate) {
  static const AttentionKernels kernels = attention_kernels(best_cpu_isa());
  kernels.values(w, v, stride, n_pos, head_dim, out, accumulate);
}

namespace {

// A prompt's attention in blocks: each item is one KV head and a run of tokens, all the head group's query heads
// of those tokens in one block kernel call (AttnBlock), so each cache row is converted once a block rather than
// once a query. Items go out latest tokens first (the costliest, their rows the most) from a shared counter.
void attention_blocks(AttnBlockFn block, const AttentionParams& p, const float* q, const KvLayer& cache, int64_t pos0,
                      int64_t n_tok, const float* sinks, float* out, ThreadPool& pool) {
  const int64_t hd = p.head_dim, kv_dim = cache.kv_dim, q_dim = p.n_head * hd;
  const int64_t group = p.n_head / p.n_head_kv;
  const int64_t per_block = std::max<int64_t>(1, kAttnBlockQueries / group);  // tokens a block
  const int64_t n_tok_blocks = (n_tok + per_block - 1) / per_block;
  const size_t n_items = static_cast<size_t>(n_tok_blocks * p.n_head_kv);
  std::atomic<size_t> next_item{0};
  pool.run_on_all([&](int) {
    AttnBlockScratch scratch;
    const RoundF16Fn round_f16 = elementwise().round_f16;
    std::vector<float> qr(static_cast<size_t>(kAttnBlockQueries * hd));
    std::vector<float> sink(kAttnBlockQueries);
    for (size_t item; (item = next_item.fetch_add(1, std::memory_order_relaxed)) < n_items;) {
      const int64_t tb = n_tok_blocks - 1 - static_cast<int64_t>(item) / p.n_head_kv;
      const int64_t kvh = static_cast<int64_t>(item) % p.n_head_kv;
      AttnBlock b;
      b.k = cache.k + kvh * hd;
      b.v = cache.v + kvh * hd;
      b.stride = kv_dim;
      b.head_dim = hd;
      b.scale = p.scale;
      for (int64_t t = tb * per_block; t < std::min(n_tok, (tb + 1) * per_block); ++t)
        for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
          float* qj = qr.data() + b.nq * hd;
          const float* qh = q + t * q_dim + h * hd;
          std::copy_n(qh, hd, qj);
          round_f16(qj, hd);
          b.q[b.nq] = qj;
          b.out[b.nq] = out + t * q_dim + h * hd;
          b.end[b.nq] = pos0 + t + 1;
          if (sinks) sink[static_cast<size_t>(b.nq)] = sinks[h];
          ++b.nq;
        }
      if (sinks) b.sink = sink.data();
      block(b, scratch);
    }
  });
}

}  // namespace

void attention_causal_f16(const AttentionParams& p, const float* q, const KvLayer& cache, int64_t pos0, int64_t n_tok,
                          const float* sinks, float* out, ThreadPool& pool) {
  const int64_t hd = p.head_dim, n_head = p.n_head, kv_dim = cache.kv_dim, q_dim = n_head * hd;
  const int64_t group = p.n_head / p.n_head_kv;
  // Prompts (several tokens) over a cache whose rows are its positions (no window, no ring) go in blocks.
  static const AttentionKernels kernels = attention_kernels(best_cpu_isa());
  if (kernels.block && n_tok > 1 && p.window == 0 && cache.rows() >= pos0 + n_tok && group <= kAttnBlockQueries)
    return attention_blocks(kernels.block, p, q, cache, pos0, n_tok, sinks, out, pool);
  // q and the probabilities are rounded to F16 before their products with the F16 cache, as the
  // reference engine does; it keeps our logits within its rounding.
  // Items go out from a shared counter, not in fixed shares: a causal token's cost grows with its
  // position, so the thread holding the last tokens of a prompt would otherwise hold most of the work.
  const size_t n_items = static_cast<size_t>(n_tok * n_head);
  std::atomic<size_t> next_item{0};
  pool.run_on_all([&](int) {
    std::vector<float> scores(static_cast<size_t>(p.window > 0 ? std::min(p.window, pos0 + n_tok) : pos0 + n_tok));
    std::vector<float> qr(static_cast<size_t>(hd));
    const RoundF16Fn round_f16 = elementwise().round_f16;
    for (size_t item; (item = next_item.fetch_add(1, std::memory_order_relaxed)) < n_items;) {
      const int64_t t = static_cast<int64_t>(item) / n_head, h = static_cast<int64_t>(item) % n_head;
      const int64_t kvh = h / group;
      const int64_t end = pos0 + t + 1;
      const int64_t first = p.window > 0 ? std::max<int64_t>(0, end - p.window) : 0;
      const int64_t n_pos = end - first;
      const float* qh = q + t * q_dim + h * hd;
      std::copy_n(qh, hd, qr.data());
      round_f16(qr.data(), hd);
      // Positions [first, end) are one run of rows, or two where a ring wraps; in position order either way,
      // so the softmax and the value sums see the terms a full cache would give them.
      const int64_t row0 = cache.row_of(first), run0 = std::min(n_pos, cache.rows() - row0);
      const int64_t off = kvh * hd;
      attention_scores_f16(qr.data(), cache.k + row0 * kv_dim + off, kv_dim, run0, hd, p.scale, scores.data());
      if (run0 < n_pos)
        attention_scores_f16(qr.data(), cache.k + off, kv_dim, n_pos - run0, hd, p.scale, scores.data() + run0);
      if (sinks)
        softmax_with_sink(scores.data(), n_pos, sinks[h]);
      else
        softmax(scores.data(), n_pos);
      round_f16(scores.data(), n_pos);
      float* oh = out + t * q_dim + h * hd;
      attention_values_f16(scores.data(), cache.v + row0 * kv_dim + off, kv_dim, run0, hd, oh);
      if (run0 < n_pos) attention_values_f16(scores.data() + run0, cache.v + off, kv_dim, n_pos - run0, hd, oh, true);
    }
  });
}

}  // namespace strata::kernels
