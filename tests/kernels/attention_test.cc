// tests/kernels/attention_test.cc: the attention kernels over an F16 cache, at every ISA level this CPU
// supports, against their double-accumulating reference twins: head sizes with and without a vector
// tail, position counts around the four-row step, a cache stride wider than the head (grouped KV heads); the
// prompt block kernel against the query-by-query path, and whole prompts of the CPU's causal attention against
// the op's twin.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/ops_cpu.h"
#include "kernels/reference/reference.h"

namespace strata::kernels {
namespace {

constexpr int64_t kHeadDims[] = {1, 8, 12, 16, 40, 64, 80, 96, 128, 200, 256};
constexpr int64_t kPositions[] = {1, 2, 3, 4, 5, 7, 17, 130};

struct Data {
  std::vector<float> q, w;
  std::vector<uint16_t> cache;  // n_pos rows of `stride` halves; the head under test starts at `offset`
  int64_t stride = 0, offset = 0;
};

Data make_data(int64_t head_dim, int64_t n_pos, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  Data d;
  d.stride = 3 * head_dim + 5;  // three KV heads and some padding: the kernels must honour the stride
  d.offset = head_dim + 2;
  d.q.resize(static_cast<size_t>(head_dim));
  for (auto& x : d.q) x = u(rng);
  d.cache.resize(static_cast<size_t>(d.stride * n_pos));
  for (auto& h : d.cache) h = f32_to_fp16(u(rng));
  // Softmax-like weights: positive, summing to one.
  d.w.resize(static_cast<size_t>(n_pos));
  double sum = 0;
  for (auto& x : d.w) sum += (x = std::exp(u(rng)));
  for (auto& x : d.w) x = static_cast<float>(x / sum);
  return d;
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

std::vector<CpuIsa> supported_isas() {
  std::vector<CpuIsa> out;
  for (int i = 0; i < kNumCpuIsas; ++i)
    if (cpu_supports(static_cast<CpuIsa>(i))) out.push_back(static_cast<CpuIsa>(i));
  return out;
}

// Float accumulation against double: the error grows with the number of terms; 1e-6 of the largest
// output per term leaves ample room while catching any wrong element, lane or row.
double bound(int64_t terms) { return 2e-7 * static_cast<double>(terms) + 1e-6; }

// Runs `check(isa, kernels, head_dim, n_pos, data, seed)` over every supported level, head size and length.
template <typename Check>
void for_every_case(Check check) {
  const uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  for (CpuIsa isa : supported_isas())
    for (int64_t hd : kHeadDims)
      for (int64_t n_pos : kPositions) check(isa, attention_kernels(isa), hd, n_pos, make_data(hd, n_pos, rng), seed);
}

TEST(Attention, ScoresMatchTheReferenceAtEveryIsa) {
  for_every_case([](CpuIsa isa, const AttentionKernels& kern, int64_t hd, int64_t n_pos, const Data& d, uint32_t seed) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    std::vector<float> ref(static_cast<size_t>(n_pos)), got(static_cast<size_t>(n_pos), NAN);
    reference::attention_scores_f16(d.q.data(), d.cache.data() + d.offset, d.stride, n_pos, hd, scale, ref.data());
    kern.scores(d.q.data(), d.cache.data() + d.offset, d.stride, n_pos, hd, scale, got.data());
    const double tol = bound(hd) * std::max(1.0, max_abs(ref));
    for (int64_t p = 0; p < n_pos; ++p)
      ASSERT_NEAR(got[p], ref[p], tol) << cpu_isa_name(isa) << " head_dim " << hd << " n_pos " << n_pos
                                       << " position " << p << " seed " << seed;
  });
}

TEST(Attention, ValuesMatchTheReferenceAtEveryIsa) {
  for_every_case([](CpuIsa isa, const AttentionKernels& kern, int64_t hd, int64_t n_pos, const Data& d, uint32_t seed) {
    std::vector<float> ref(static_cast<size_t>(hd)), got(static_cast<size_t>(hd), NAN);
    reference::attention_values_f16(d.w.data(), d.cache.data() + d.offset, d.stride, n_pos, hd, ref.data());
    kern.values(d.w.data(), d.cache.data() + d.offset, d.stride, n_pos, hd, got.data(), false);
    const double tol = bound(n_pos) * std::max(1.0, max_abs(ref));
    for (int64_t i = 0; i < hd; ++i)
      ASSERT_NEAR(got[i], ref[i], tol) << cpu_isa_name(isa) << " head_dim " << hd << " n_pos " << n_pos
                                       << " element " << i << " seed " << seed;
  });
}

// A sliding-window ring hands the value kernel its positions in two runs (the rows before the wrap, then
// those after it); accumulating the second run onto the first must give the bits of one run over both.
TEST(Attention, ValuesInTwoRunsEqualOneRunBitForBit) {
  for_every_case([](CpuIsa isa, const AttentionKernels& kern, int64_t hd, int64_t n_pos, const Data& d, uint32_t seed) {
    std::vector<float> whole(static_cast<size_t>(hd), NAN), split(static_cast<size_t>(hd), NAN);
    kern.values(d.w.data(), d.cache.data() + d.offset, d.stride, n_pos, hd, whole.data(), false);
    for (int64_t cut : {int64_t{1}, n_pos / 2, n_pos - 1}) {
      if (cut <= 0 || cut >= n_pos) continue;
      kern.values(d.w.data(), d.cache.data() + d.offset, d.stride, cut, hd, split.data(), false);
      kern.values(d.w.data() + cut, d.cache.data() + d.offset + cut * d.stride, d.stride, n_pos - cut, hd,
                  split.data(), true);
      ASSERT_EQ(split, whole) << cpu_isa_name(isa) << " head_dim " << hd << " n_pos " << n_pos << " cut " << cut
                              << " seed " << seed;
    }
  });
}

TEST(Attention, HandBuiltCacheGivesExactSums) {
  // Small integers are exact in F16 and in float sums: every level must give the same numbers exactly.
  const int64_t hd = 24, n_pos = 6, stride = 24;
  std::vector<float> q(hd), w(n_pos);
  std::vector<uint16_t> cache(static_cast<size_t>(stride * n_pos));
  for (int64_t i = 0; i < hd; ++i) q[i] = static_cast<float>(i % 5) - 2.0f;
  for (int64_t p = 0; p < n_pos; ++p) {
    w[p] = static_cast<float>(p + 1);
    for (int64_t i = 0; i < hd; ++i) cache[p * stride + i] = f32_to_fp16(static_cast<float>((p * 7 + i * 3) % 11 - 5));
  }
  std::vector<float> s_ref(n_pos), v_ref(hd);
  reference::attention_scores_f16(q.data(), cache.data(), stride, n_pos, hd, 0.5f, s_ref.data());
  reference::attention_values_f16(w.data(), cache.data(), stride, n_pos, hd, v_ref.data());
  for (int64_t p = 0; p < n_pos; ++p) {
    double expect = 0;
    for (int64_t i = 0; i < hd; ++i) expect += q[i] * ((p * 7 + i * 3) % 11 - 5);
    EXPECT_EQ(s_ref[p], static_cast<float>(expect * 0.5)) << p;
  }
  for (CpuIsa isa : supported_isas()) {
    const AttentionKernels kern = attention_kernels(isa);
    std::vector<float> s(n_pos), v(hd);
    kern.scores(q.data(), cache.data(), stride, n_pos, hd, 0.5f, s.data());
    kern.values(w.data(), cache.data(), stride, n_pos, hd, v.data(), false);
    EXPECT_EQ(s, s_ref) << cpu_isa_name(isa);
    EXPECT_EQ(v, v_ref) << cpu_isa_name(isa);
  }
}

TEST(Attention, DispatchedEntryPointsUseTheBestLevel) {
  std::mt19937 rng(7);
  Data d = make_data(128, 33, rng);
  const AttentionKernels best = attention_kernels(best_cpu_isa());
  std::vector<float> a(33), b(33), va(128), vb(128);
  attention_scores_f16(d.q.data(), d.cache.data(), d.stride, 33, 128, 0.1f, a.data());
  best.scores(d.q.data(), d.cache.data(), d.stride, 33, 128, 0.1f, b.data());
  EXPECT_EQ(a, b);
  attention_values_f16(d.w.data(), d.cache.data(), d.stride, 33, 128, va.data());
  best.values(d.w.data(), d.cache.data(), d.stride, 33, 128, vb.data(), false);
  EXPECT_EQ(va, vb);
}

double rel_rms(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    den += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// One block (the queries of a head group over consecutive tokens, each its own causal end) against the same
// queries one at a time: reference scores, softmax (with the sink), probabilities rounded to F16, reference values.
TEST(Attention, PromptBlocksMatchQueryByQuery) {
  const uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (CpuIsa isa : supported_isas()) {
    const AttentionKernels kern = attention_kernels(isa);
    if (!kern.block) continue;
    AttnBlockScratch scratch;
    for (int64_t hd : {8, 40, 64, 80, 128, 200})
      for (int nq : {1, 3, 16, 17, 32})
        for (int64_t first_end : {1, 5, 61})
          for (bool with_sink : {false, true}) {
            const int64_t per_token = nq >= 4 ? 4 : 1;  // queries sharing a token (a head group)
            const int64_t n_pos = first_end + (nq - 1) / per_token;
            const int64_t stride = 2 * hd + 3;
            std::vector<uint16_t> k(static_cast<size_t>(stride * n_pos)), v(k.size());
            for (auto& x : k) x = f32_to_fp16(u(rng));
            for (auto& x : v) x = f32_to_fp16(u(rng));
            std::vector<std::vector<float>> q(nq, std::vector<float>(hd)), out(nq, std::vector<float>(hd, NAN));
            std::vector<float> sinks(nq);
            AttnBlock b;
            b.nq = nq;
            b.k = k.data() + hd;  // the second KV head of the rows
            b.v = v.data() + hd;
            b.stride = stride;
            b.head_dim = hd;
            b.scale = 1.0f / std::sqrt(static_cast<float>(hd));
            for (int j = 0; j < nq; ++j) {
              for (auto& x : q[j]) x = fp16_to_f32(f32_to_fp16(u(rng)));
              sinks[j] = u(rng);
              b.q[j] = q[j].data();
              b.out[j] = out[j].data();
              b.end[j] = first_end + j / per_token;
            }
            if (with_sink) b.sink = sinks.data();
            kern.block(b, scratch);
            for (int j = 0; j < nq; ++j) {
              const int64_t n = b.end[j];
              std::vector<float> w(static_cast<size_t>(n)), want(static_cast<size_t>(hd));
              reference::attention_scores_f16(q[j].data(), b.k, stride, n, hd, b.scale, w.data());
              if (with_sink) softmax_with_sink(w.data(), n, sinks[j]);
              else softmax(w.data(), n);
              for (auto& x : w) x = fp16_to_f32(f32_to_fp16(x));
              reference::attention_values_f16(w.data(), b.v, stride, n, hd, want.data());
              ASSERT_LT(rel_rms(out[j], want), 2e-3)
                  << cpu_isa_name(isa) << " head_dim " << hd << " nq " << nq << " query " << j << " end " << n
                  << (with_sink ? " sink" : "") << " seed " << seed;
            }
          }
  }
}

// Whole prompts through the dispatched causal attention (blocks where the CPU has a block kernel) against the
// op's twin: head groups of 1 to 8, prompts that end mid-block, a prompt after earlier positions, sinks.
TEST(Attention, CausalPromptsMatchTheTwin) {
  struct Shape {
    int64_t n_head, n_head_kv, head_dim;
  };
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0.0f, 1.0f);
  ThreadPool pool(2);
  for (Shape h : {Shape{8, 8, 64}, Shape{32, 8, 128}, Shape{16, 2, 80}, Shape{4, 1, 256}})
    for (int64_t pos0 : {0, 37})
      for (int64_t n_tok : {2, 33, 70})
        for (bool with_sink : {false, true}) {
          const int64_t n_ctx = pos0 + n_tok, kv_dim = h.n_head_kv * h.head_dim, q_dim = h.n_head * h.head_dim;
          std::vector<float> q(static_cast<size_t>(n_tok * q_dim)), k(static_cast<size_t>(n_tok * kv_dim)),
              v(k.size()), sinks(static_cast<size_t>(h.n_head));
          for (auto* a : {&q, &k, &v, &sinks})
            for (auto& x : *a) x = g(rng);
          std::vector<uint16_t> kc(static_cast<size_t>(n_ctx * kv_dim)), vc(kc.size());
          for (auto& x : kc) x = f32_to_fp16(g(rng));
          for (auto& x : vc) x = f32_to_fp16(g(rng));
          AttentionParams p{h.n_head, h.n_head_kv, h.head_dim, 1.0f / std::sqrt(static_cast<float>(h.head_dim)), 0, {}};
          std::vector<uint8_t> sink_bytes(sinks.size() * sizeof(float));
          std::memcpy(sink_bytes.data(), sinks.data(), sink_bytes.size());
          AttentionParams twin = p;
          if (with_sink) {
            twin.sinks.type = DType::F32;
            twin.sinks.ne = {h.n_head, 1, 1, 1};
            twin.sinks.data = sink_bytes.data();
          }
          std::vector<uint16_t> tk = kc, tv = vc;
          std::vector<float> want(q.size()), got(q.size(), NAN);
          reference::attention(twin, q.data(), k.data(), v.data(), {kHostDevice, tk.data(), tv.data(), n_ctx, kv_dim, 0},
                               pos0, n_tok, want.data());
          // The op writes this pass's K/V into the cache first; the kernel reads the cache as the twin left it.
          attention_causal_f16(p, q.data(), {kHostDevice, tk.data(), tv.data(), n_ctx, kv_dim, 0}, pos0, n_tok,
                               with_sink ? sinks.data() : nullptr, got.data(), pool);
          EXPECT_LT(rel_rms(got, want), 3e-3) << "heads " << h.n_head << "/" << h.n_head_kv << " hd " << h.head_dim
                                              << " pos0 " << pos0 << " n " << n_tok << (with_sink ? " sink" : "");
        }
}

}  // namespace
}  // namespace strata::kernels
