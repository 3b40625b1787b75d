// tests/kernels/backend_ops_test.cc: the backend-parity table (after llama.cpp's test-backend-ops): every op
// case (types x shapes x flags) on every registered backend's every device against the reference twins
// (kernels/reference/), each case with its own error bound. A backend joins by registering in
// kernels/backend_registry.cc; a kind this build or machine lacks is reported as a visible GTest skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>

#include "kernels/backend.h"
#include "kernels/backend_harness.h"
#include "kernels/reference/reference.h"

namespace strata::kernels {
namespace {

using testing::gaussian;
using testing::OnBackend;
using testing::quantized;
using testing::rel_error;

// A case runs its op on one backend and returns the error against the reference; it passes at <= bound.
struct OpCase {
  std::string name;
  double bound;
  std::function<double(OnBackend&, std::mt19937&)> run;
  // The bound on a GPU backend where its arithmetic legitimately differs (< 0: the same bound).
  double device_bound = -1.0;
};

constexpr DType kWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                                  DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::IQ4_NL, DType::Q2_K,
                                  DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS,
                                  DType::MXFP4};

// Matmul bounds: float weights see float activations (summation order only); quantized weights see 8-bit
// activations on the CPU (about 0.4% per 32-block, 0.6% per 256-block; see docs/kernels.md), with headroom.
double matmul_bound(DType t) {
  if (t == DType::F32 || t == DType::F16 || t == DType::BF16) return 2e-6;
  return dtype_traits(t).block_elems == 32 ? 1.2e-2 : 1.6e-2;
}

void add_get_rows(std::vector<OpCase>& cases) {
  for (DType t : kWeightTypes) {
    const int64_t k = dtype_traits(t).block_elems == 256 ? 512 : 96;
    cases.push_back({"get_rows " + std::string(dtype_traits(t).name), 1e-7, [=](OnBackend& on, std::mt19937& rng) {
                       const auto bytes = quantized(t, k, 9, rng);
                       const std::vector<int32_t> ids = {3, 0, 8, 3};
                       std::vector<float> want(ids.size() * k);
                       reference::get_rows(testing::host_view(bytes, t, k, 9), ids, want.data());
                       ActView out = on.empty(static_cast<int64_t>(ids.size()), k);
                       on.backend().get_rows(on.weight(bytes, t, k, 9), ids, out);
                       return rel_error(on.read(out), want);
                     }});
  }
}

void add_rms_norm(std::vector<OpCase>& cases) {
  for (DType wt : {DType::F32, DType::F16})
    for (int64_t cols : {1, 7, 256, 1000})
      for (int64_t rows : {1, 5})
        cases.push_back({"rms_norm " + std::string(dtype_traits(wt).name) + " " + std::to_string(rows) + "x" +
                             std::to_string(cols),
                         2e-6, [=](OnBackend& on, std::mt19937& rng) {
                           const auto x = gaussian(rows * cols, rng, 3.0f);
                           const auto w = quantized(wt, cols, 1, rng);
                           std::vector<float> want(x.size());
                           reference::rms_norm(x.data(), rows, cols, testing::host_view(w, wt, cols, 1), 1e-5f,
                                               want.data());
                           ActView xv = on.act(x, rows, cols), out = on.empty(rows, cols);
                           on.backend().rms_norm(xv, on.weight(w, wt, cols, 1), 1e-5f, out);
                           return rel_error(on.read(out), want);
                         }});
}

// The residual add fused with the next norm: x += y, out = rms_norm(x), out a fresh buffer or y itself; rows up
// to 8 with 32-divisible widths take a GPU backend's 8-bit path, the rest the plain one.
void add_residual_norm(std::vector<OpCase>& cases) {
  for (int64_t cols : {256, 1000, 4096})
    for (int64_t rows : {1, 5, 12})
      for (bool into_y : {false, true})
        cases.push_back({"add_rms_norm " + std::to_string(rows) + "x" + std::to_string(cols) + (into_y ? " out=y" : ""),
                         2e-6, [=](OnBackend& on, std::mt19937& rng) {
                           const auto x = gaussian(rows * cols, rng, 3.0f), y = gaussian(rows * cols, rng, 3.0f);
                           const auto w = quantized(DType::F32, cols, 1, rng);
                           std::vector<float> sum = x, want(x.size());
                           reference::add(sum.data(), y.data(), rows * cols);
                           reference::rms_norm(sum.data(), rows, cols, testing::host_view(w, DType::F32, cols, 1),
                                               1e-5f, want.data());
                           ActView xv = on.act(x, rows, cols), yv = on.act(y, rows, cols);
                           ActView out = into_y ? yv : on.empty(rows, cols);
                           on.backend().add_rms_norm(xv, yv, on.weight(w, DType::F32, cols, 1), 1e-5f, out);
                           return std::max(rel_error(on.read(out), want), rel_error(on.read(xv), sum));
                         }});
}

void add_matmul(std::vector<OpCase>& cases) {
  for (DType t : kWeightTypes)
    for (int64_t n_tok : {1, 3, 9})
      for (bool bias : {false, true}) {
        const int64_t k = dtype_traits(t).block_elems == 256 ? 512 : 160, rows = 67;
        cases.push_back({"matmul " + std::string(dtype_traits(t).name) + " n=" + std::to_string(n_tok) +
                             (bias ? " +bias" : ""),
                         matmul_bound(t), [=](OnBackend& on, std::mt19937& rng) {
                           const auto w = quantized(t, k, rows, rng);
                           const auto b = quantized(DType::F32, rows, 1, rng);
                           const auto x = gaussian(n_tok * k, rng);
                           const TensorView hb = bias ? testing::host_view(b, DType::F32, rows, 1) : TensorView{};
                           std::vector<float> want(n_tok * rows);
                           reference::matmul(testing::host_view(w, t, k, rows), x.data(), n_tok, want.data(), hb);
                           ActView y = on.empty(n_tok, rows);
                           const TensorView db = bias ? on.weight(b, DType::F32, rows, 1) : TensorView{};
                           on.backend().matmul(on.weight(w, t, k, rows), on.act(x, n_tok, k), y, db);
                           return rel_error(on.read(y), want);
                         },
                         // Past 8 tokens the CUDA backend multiplies on tensor cores with both operands
                         // rounded to F16: about 3e-4 (kernels/cuda/gemm.cuh).
                         n_tok > 8 ? std::max(matmul_bound(t), 2e-3) : -1.0});
      }
}

// A MoE layer's experts in one call: each expert's gate and up read the same rows of one gathered input and
// write their own rows of two outputs (as the forward pass issues them), with several experts of one type, or
// of mixed types and widths in one call; some products carry a bias.
void add_matmul_many(std::vector<OpCase>& cases) {
  struct Mix {
    std::string name;
    std::vector<DType> types;  // one per expert (gate and up share it)
  };
  const std::vector<Mix> mixes = {{"Q4_K", {DType::Q4_K, DType::Q4_K, DType::Q4_K, DType::Q4_K}},
                                  {"Q8_0", {DType::Q8_0, DType::Q8_0, DType::Q8_0}},
                                  {"F32", {DType::F32, DType::F32}},
                                  {"mixed", {DType::Q4_K, DType::Q6_K, DType::F16, DType::MXFP4, DType::IQ4_NL}}};
  for (const Mix& mix : mixes)
    for (int64_t per_expert : {1, 3}) {
      double bound = 0;
      for (DType t : mix.types) bound = std::max(bound, matmul_bound(t));
      cases.push_back({"matmul_many " + mix.name + " rows/expert<=" + std::to_string(per_expert), bound,
                       [=](OnBackend& on, std::mt19937& rng) {
                         const int64_t k = 512, rows = 72, n_exp = static_cast<int64_t>(mix.types.size());
                         std::vector<int64_t> first(n_exp + 1, 0);  // expert e's input rows [first[e], first[e+1])
                         for (int64_t e = 0; e < n_exp; ++e) first[e + 1] = first[e] + 1 + (e * 7 + 2) % per_expert;
                         const int64_t m = first[n_exp];
                         const auto x = gaussian(m * k, rng);
                         const auto b = quantized(DType::F32, rows, 1, rng);
                         std::vector<std::vector<uint8_t>> w;
                         for (int64_t i = 0; i < 2 * n_exp; ++i) w.push_back(quantized(mix.types[i / 2], k, rows, rng));
                         std::vector<float> want(2 * m * rows);
                         ActView xv = on.act(x, m, k), y1 = on.empty(m, rows), y2 = on.empty(m, rows);
                         std::vector<MatmulItem> items;
                         for (int64_t i = 0; i < 2 * n_exp; ++i) {
                           const int64_t e = i / 2, at = first[e], me = first[e + 1] - first[e];
                           const DType t = mix.types[e];
                           const bool bias = i % 3 == 1;
                           float* out = want.data() + (i % 2) * m * rows + at * rows;
                           reference::matmul(testing::host_view(w[i], t, k, rows), x.data() + at * k, me, out,
                                             bias ? testing::host_view(b, DType::F32, rows, 1) : TensorView{});
                           items.push_back({on.weight(w[i], t, k, rows), xv.rows_from(at, me),
                                            (i % 2 == 0 ? y1 : y2).rows_from(at, me),
                                            bias ? on.weight(b, DType::F32, rows, 1) : TensorView{}});
                         }
                         on.backend().matmul_many(items);
                         std::vector<float> got = on.read(y1), got2 = on.read(y2);
                         got.insert(got.end(), got2.begin(), got2.end());
                         return rel_error(got, want);
                       }});
    }
}

// Products in a decode step's order: a backend may keep a product's input in another form between products
// (the CUDA backend quantizes it to 8 bits once); a write to that input (a copy, a GLU) must be seen: a stale
// input gives an error near 1. Twice the product bound: the GLU's output (a product of two Gaussians) is
// heavy-tailed, which 8-bit activations represent less well (the CPU reaches ~0.7 of the single bound).
void add_matmul_chain(std::vector<OpCase>& cases) {
  for (DType t : {DType::Q4_K, DType::Q8_0, DType::F16})
    cases.push_back({"matmul chain " + std::string(dtype_traits(t).name), std::max(2 * matmul_bound(t), 1e-5),
                     [=](OnBackend& on, std::mt19937& rng) {
                       const int64_t n = 2, k = 512, rows = 64;
                       const auto x = gaussian(n * k, rng, 2.0f), x2 = gaussian(n * k, rng);
                       const auto g = gaussian(n * k, rng), u = gaussian(n * k, rng);
                       const auto wn = quantized(DType::F32, k, 1, rng);
                       const auto w1 = quantized(t, k, rows, rng), w2 = quantized(t, k, rows, rng);
                       const TensorView h1 = testing::host_view(w1, t, k, rows);
                       const TensorView h2 = testing::host_view(w2, t, k, rows);
                       std::vector<float> xb(n * k), h(n * k), want(4 * n * rows);
                       reference::rms_norm(x.data(), n, k, testing::host_view(wn, DType::F32, k, 1), 1e-5f, xb.data());
                       reference::matmul(h1, xb.data(), n, want.data());
                       reference::matmul(h2, xb.data(), n, want.data() + n * rows);
                       reference::matmul(h1, x2.data(), n, want.data() + 2 * n * rows);
                       reference::glu(GluKind::SwiGlu, g.data(), u.data(), n * k, h.data());
                       reference::matmul(h2, h.data(), n, want.data() + 3 * n * rows);

                       Backend& be = on.backend();
                       const TensorView d1 = on.weight(w1, t, k, rows), d2 = on.weight(w2, t, k, rows);
                       ActView xv = on.act(x, n, k), xbv = on.empty(n, k), gv = on.act(g, n, k), uv = on.act(u, n, k);
                       ActView y = on.empty(4 * n, rows);
                       be.rms_norm(xv, on.weight(wn, DType::F32, k, 1), 1e-5f, xbv);
                       be.matmul(d1, xbv, y.rows_from(0, n));
                       be.matmul(d2, xbv, y.rows_from(n, n));
                       be.copy(x2.data(), kHostDevice, xbv.data, xbv.device, x2.size() * sizeof(float));
                       be.matmul(d1, xbv, y.rows_from(2 * n, n));
                       be.glu(GluKind::SwiGlu, gv, uv, gv);
                       be.matmul(d2, gv, y.rows_from(3 * n, n));
                       return rel_error(on.read(y), want);
                     }});
}

void add_rope(std::vector<OpCase>& cases) {
  const char* scaling_names[] = {"none", "linear", "yarn", "llama3"};
  for (RopeLayout layout : {RopeLayout::Interleaved, RopeLayout::Halves})
    for (int s = 0; s < 4; ++s)
      for (bool factors : {false, true})
        for (int64_t n_rot : {64, 32}) {
          RopeParams p;
          p.layout = layout;
          p.n_rot = n_rot;
          p.freq_base = 500000.0f;
          p.scaling = static_cast<RopeScaling>(s);
          p.factor = 8.0f;
          p.n_ctx_orig = 8192;
          p.yarn_ext_factor = 1.0f;
          const std::string name = std::string("rope ") + (layout == RopeLayout::Interleaved ? "normal" : "neox") +
                                   " " + scaling_names[s] + (factors ? " +freq_factors" : "") + " n_rot=" +
                                   std::to_string(n_rot);
          // Float sin/cos of double angles against double products: a few ulps of the largest element.
          cases.push_back({name, 2e-6, [=](OnBackend& on, std::mt19937& rng) mutable {
                             const int64_t n_tok = 3, n_head = 4, hd = 64, pos0 = 7000;
                             auto x = gaussian(n_tok * n_head * hd, rng);
                             std::vector<float> ff(n_rot / 2);
                             for (size_t i = 0; i < ff.size(); ++i) ff[i] = 1.0f + static_cast<float>(i % 5);
                             std::vector<uint8_t> ff_bytes(ff.size() * 4);
                             std::memcpy(ff_bytes.data(), ff.data(), ff_bytes.size());
                             RopeParams hp = p;
                             if (factors) hp.freq_factors = testing::host_view(ff_bytes, DType::F32, n_rot / 2, 1);
                             std::vector<float> want = x;
                             reference::rope(want.data(), n_tok, n_head, hd, pos0, hp);
                             if (factors) p.freq_factors = on.weight(ff_bytes, DType::F32, n_rot / 2, 1);
                             ActView xv = on.act(x, n_tok, n_head * hd);
                             on.backend().rope(xv, n_head, hd, pos0, p);
                             return rel_error(on.read(xv), want);
                           }});
        }
}

struct Heads {
  int64_t n_head, n_head_kv, head_dim;
};

// n Gaussian values as F16 bits (a cache's rows), one draw each in order.
std::vector<uint16_t> random_halves(int64_t n, std::mt19937& rng) {
  std::vector<uint16_t> h(static_cast<size_t>(n));
  for (auto& x : h) x = f32_to_fp16(gaussian(1, rng)[0]);
  return h;
}

// n_head Gaussian sink logits as F32 bytes, for a weight view.
std::vector<uint8_t> random_sinks(int64_t n_head, std::mt19937& rng) {
  const auto sk = gaussian(n_head, rng);
  std::vector<uint8_t> bytes(sk.size() * 4);
  std::memcpy(bytes.data(), sk.data(), bytes.size());
  return bytes;
}

// One attention op on `on` against the twin: a cache of n_rows rows for n_ctx positions (fewer rows: a
// sliding-window ring, position p in row p % n_rows) filled with random halves, then a pass of n_tok at pos0.
double attention_case(OnBackend& on, std::mt19937& rng, AttentionParams p, Heads h, int64_t n_ctx, int64_t n_rows,
                      int64_t pos0, int64_t n_tok, bool sinks) {
  if (!on.backend().supports(p)) return 0.0;
  const int64_t kv_dim = h.n_head_kv * h.head_dim;
  std::vector<uint16_t> kc = random_halves(n_rows * kv_dim, rng), vc = random_halves(n_rows * kv_dim, rng);
  const auto q = gaussian(n_tok * h.n_head * h.head_dim, rng);
  const auto k = gaussian(n_tok * kv_dim, rng), v = gaussian(n_tok * kv_dim, rng);
  const std::vector<uint8_t> sk_bytes = random_sinks(h.n_head, rng);
  AttentionParams hp = p;
  if (sinks) hp.sinks = testing::host_view(sk_bytes, DType::F32, h.n_head, 1);
  std::vector<uint16_t> hk = kc, hv = vc;
  std::vector<float> want(q.size());
  reference::attention(hp, q.data(), k.data(), v.data(), {kHostDevice, hk.data(), hv.data(), n_ctx, kv_dim, n_rows},
                       pos0, n_tok, want.data());
  if (sinks) p.sinks = on.weight(sk_bytes, DType::F32, h.n_head, 1);
  KvLayer cache = on.kv(kc, vc, n_ctx, kv_dim);
  cache.n_slots = n_rows;
  ActView out = on.empty(n_tok, h.n_head * h.head_dim);
  on.backend().attention(p, on.act(q, n_tok, q.size() / n_tok), on.act(k, n_tok, kv_dim), on.act(v, n_tok, kv_dim),
                         cache, pos0, out);
  // The op's cache rows must be exactly the F16 of k and v, in the rows of their positions.
  if (on.read(cache.k, kc.size()) != hk || on.read(cache.v, vc.size()) != hv) return 1.0;
  return rel_error(on.read(out), want);
}

void add_attention(std::vector<OpCase>& cases) {
  for (Heads h : {Heads{4, 4, 8}, Heads{8, 2, 64}, Heads{6, 3, 80}})
    for (int64_t pos0 : {0, 5})
      for (int64_t n_tok : {1, 4})
        for (int64_t window : {0, 3})
          for (bool sinks : {false, true}) {
            AttentionParams p{h.n_head, h.n_head_kv, h.head_dim, 1.0f / std::sqrt(static_cast<float>(h.head_dim)),
                              window, {}};
            const std::string name = "attention h=" + std::to_string(h.n_head) + "/" + std::to_string(h.n_head_kv) +
                                     " hd=" + std::to_string(h.head_dim) + " pos0=" + std::to_string(pos0) +
                                     " n=" + std::to_string(n_tok) + (window ? " window=3" : "") +
                                     (sinks ? " +sinks" : "");
            // The CPU rounds q and the probabilities to F16 before the products with the F16 cache (as the
            // reference engine does): ~1e-3 relative, against a twin that does not round.
            cases.push_back({name, 3e-3, [=](OnBackend& on, std::mt19937& rng) {
                               return attention_case(on, rng, p, h, 16, 16, pos0, n_tok, sinks);
                             }});
          }
  // Sliding-window rings of window + n_tok - 1 rows (the least a pass of n_tok may have) and a few more, deep
  // into a long context, so that the pass's writes and its queries' windows wrap around the ring's end.
  for (Heads h : {Heads{4, 2, 8}, Heads{8, 2, 64}, Heads{2, 1, 128}})
    for (int64_t n_tok : {1, 5, 12})
      for (int64_t spare : {0, 3})
        for (bool sinks : {false, true}) {
          const int64_t window = 7, n_rows = window + n_tok - 1 + spare, pos0 = 4 * n_rows - 3;
          AttentionParams p{h.n_head, h.n_head_kv, h.head_dim, 1.0f / std::sqrt(static_cast<float>(h.head_dim)),
                            window, {}};
          const std::string name = "attention ring rows=" + std::to_string(n_rows) + " h=" + std::to_string(h.n_head) +
                                   "/" + std::to_string(h.n_head_kv) + " hd=" + std::to_string(h.head_dim) +
                                   " pos0=" + std::to_string(pos0) + " n=" + std::to_string(n_tok) + " window=7" +
                                   (sinks ? " +sinks" : "");
          cases.push_back({name, 3e-3, [=](OnBackend& on, std::mt19937& rng) {
                             return attention_case(on, rng, p, h, 1000, n_rows, pos0, n_tok, sinks);
                           }});
        }
}

// Several sequences in one attention_batch, each with its own cache (full or a ring), position and row count,
// RoPE applied by the op, against rope + attention of the twin per sequence.
struct BatchSeq {
  int64_t n_ctx, n_rows, pos0, n;
};
double attention_batch_case(OnBackend& on, std::mt19937& rng, AttentionParams p, Heads h,
                            const std::vector<BatchSeq>& seqs, bool sinks) {
  if (!on.backend().supports(p)) return 0.0;
  const int64_t kv_dim = h.n_head_kv * h.head_dim, q_dim = h.n_head * h.head_dim;
  int64_t n_tok = 0;
  for (const BatchSeq& s : seqs) n_tok += s.n;
  RopeParams rope;
  rope.layout = RopeLayout::Halves;
  rope.n_rot = h.head_dim;
  rope.freq_base = 10000.0f;
  const auto q = gaussian(n_tok * q_dim, rng);
  const auto k = gaussian(n_tok * kv_dim, rng), v = gaussian(n_tok * kv_dim, rng);
  const std::vector<uint8_t> sk_bytes = random_sinks(h.n_head, rng);
  AttentionParams hp = p;
  if (sinks) hp.sinks = testing::host_view(sk_bytes, DType::F32, h.n_head, 1);
  if (sinks) p.sinks = on.weight(sk_bytes, DType::F32, h.n_head, 1);
  std::vector<float> want(q.size()), want_q = q, want_k = k;
  std::vector<std::vector<uint16_t>> host_k, host_v;
  std::vector<KvLayer> caches;
  std::vector<AttentionSeq> batch;
  int64_t row0 = 0;
  for (const BatchSeq& s : seqs) {
    std::vector<uint16_t> kc = random_halves(s.n_rows * kv_dim, rng), vc = random_halves(s.n_rows * kv_dim, rng);
    caches.push_back(on.kv(kc, vc, s.n_ctx, kv_dim));
    caches.back().n_slots = s.n_rows;
    reference::rope(want_q.data() + row0 * q_dim, s.n, h.n_head, h.head_dim, s.pos0, rope);
    reference::rope(want_k.data() + row0 * kv_dim, s.n, h.n_head_kv, h.head_dim, s.pos0, rope);
    reference::attention(hp, want_q.data() + row0 * q_dim, want_k.data() + row0 * kv_dim, v.data() + row0 * kv_dim,
                         {kHostDevice, kc.data(), vc.data(), s.n_ctx, kv_dim, s.n_rows}, s.pos0, s.n,
                         want.data() + row0 * q_dim);
    host_k.push_back(std::move(kc));
    host_v.push_back(std::move(vc));
    row0 += s.n;
  }
  // Sequences listed out of row order: the op must follow each one's row0.
  row0 = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    batch.push_back({&caches[i], seqs[i].pos0, row0, seqs[i].n});
    row0 += seqs[i].n;
  }
  std::reverse(batch.begin(), batch.end());
  ActView qv = on.act(q, n_tok, q_dim), kv = on.act(k, n_tok, kv_dim), out = on.empty(n_tok, q_dim);
  on.backend().attention_batch(p, &rope, qv, kv, on.act(v, n_tok, kv_dim), batch, out);
  // Each cache holds its own rows' F16 k (rotated: a last-bit difference of the rotation may round either way)
  // and v (exactly).
  auto floats = [](const std::vector<uint16_t>& h) {
    std::vector<float> f(h.size());
    for (size_t i = 0; i < h.size(); ++i) f[i] = fp16_to_f32(h[i]);
    return f;
  };
  double err = std::max({rel_error(on.read(out), want), rel_error(on.read(qv), want_q), rel_error(on.read(kv), want_k)});
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (on.read(caches[i].v, host_v[i].size()) != host_v[i]) return 1.0;
    err = std::max(err, rel_error(floats(on.read(caches[i].k, host_k[i].size())), floats(host_k[i])));
  }
  return err;
}

void add_attention_batch(std::vector<OpCase>& cases) {
  for (Heads h : {Heads{8, 2, 64}, Heads{6, 3, 80}})
    for (int64_t window : {0, 6})
      for (bool sinks : {false, true}) {
        AttentionParams p{h.n_head, h.n_head_kv, h.head_dim, 1.0f / std::sqrt(static_cast<float>(h.head_dim)),
                          window, {}};
        // Decode steps of three sequences at different depths, a mixed step (a prompt chunk beside decodes), and
        // one sequence alone (decode and prompt); with a window, some caches are rings of the least rows their
        // pass may have.
        const std::vector<std::vector<BatchSeq>> shapes = {
            {{300, 300, 0, 1}, {300, window ? window : 300, 200, 1}, {300, 300, 77, 1}},
            {{100, 100, 40, 1}, {100, window ? window + 4 : 100, 60, 5}, {100, 100, 0, 9}},
            {{300, window ? window : 300, 123, 1}},
            {{100, window ? window + 6 : 100, 20, 7}}};
        const char* shape_names[] = {" decode", " mixed", " one", " one prompt"};
        for (size_t si = 0; si < shapes.size(); ++si) {
          const std::string name = "attention batch h=" + std::to_string(h.n_head) + "/" + std::to_string(h.n_head_kv) +
                                   " hd=" + std::to_string(h.head_dim) + shape_names[si] +
                                   (window ? " window=6" : "") + (sinks ? " +sinks" : "");
          const auto shape = shapes[si];
          cases.push_back({name, 3e-3, [=](OnBackend& on, std::mt19937& rng) {
                             return attention_batch_case(on, rng, p, h, shape, sinks);
                           }});
        }
      }
}

void add_elementwise(std::vector<OpCase>& cases) {
  const char* names[] = {"swiglu", "geglu", "swiglu_clamped"};
  for (GluKind kind : {GluKind::SwiGlu, GluKind::GeGlu, GluKind::SwiGluClamped})
    for (int64_t n : {1, 1000})
      cases.push_back({std::string("glu ") + names[static_cast<int>(kind)] + " n=" + std::to_string(n),
                       2e-6, [=](OnBackend& on, std::mt19937& rng) {
                         // The clamped variant sees values past its limit (7) on both sides.
                         const float su = kind == GluKind::SwiGluClamped ? 6.0f : 1.0f;
                         const auto g = gaussian(2 * n, rng, 3.0f * su), u = gaussian(2 * n, rng, su);
                         std::vector<float> want(g.size());
                         reference::glu(kind, g.data(), u.data(), 2 * n, want.data());
                         ActView gv = on.act(g, 2, n);
                         on.backend().glu(kind, gv, on.act(u, 2, n), gv);  // in place, as the forward pass runs it
                         return rel_error(on.read(gv), want);
                       }});
  cases.push_back({"add 3x300", 0.0, [](OnBackend& on, std::mt19937& rng) {
                     auto x = gaussian(900, rng);
                     const auto y = gaussian(900, rng);
                     ActView xv = on.act(x, 3, 300);
                     on.backend().add(xv, on.act(y, 3, 300));
                     reference::add(x.data(), y.data(), 900);
                     return rel_error(on.read(xv), x);
                   }});
  cases.push_back({"fill 2x33", 0.0, [](OnBackend& on, std::mt19937& rng) {
                     ActView xv = on.act(gaussian(66, rng), 2, 33);
                     on.backend().fill(xv, 0.0f);
                     const auto got = on.read(xv);
                     return static_cast<double>(std::count_if(got.begin(), got.end(), [](float v) { return v != 0; }));
                   }});
}

void add_moe(std::vector<OpCase>& cases) {
  for (int64_t n_exp : {8, 60})
    for (int64_t k : {1, 2, 8})
      for (int g = 0; g < 3; ++g) {
        RouteParams p{k, g == 0 ? RouterGating::SoftmaxSelected : RouterGating::SoftmaxAll, g == 2};
        const char* gn[] = {"softmax-selected", "softmax-all", "softmax-all+norm_topk"};
        cases.push_back({"moe_route experts=" + std::to_string(n_exp) + " k=" + std::to_string(k) + " " + gn[g], 1e-6,
                         [=](OnBackend& on, std::mt19937& rng) {
                           const int64_t n = 5;
                           auto logits = gaussian(n * n_exp, rng);
                           logits[3] = logits[5];  // a tie: the lower id comes first
                           std::vector<int32_t> want_ids(n * k), ids(n * k);
                           std::vector<float> want_w(n * k), w(n * k);
                           reference::moe_route(logits.data(), n, n_exp, p, want_ids.data(), want_w.data());
                           on.backend().moe_route(on.act(logits, n, n_exp), p, ids, w);
                           on.backend().synchronize();
                           return ids == want_ids ? rel_error(w, want_w) : 1.0;
                         }});
      }
  cases.push_back({"gather_rows + scatter_add", 1e-7, [](OnBackend& on, std::mt19937& rng) {
                     const int64_t n = 6, cols = 40;
                     const auto src = gaussian(n * cols, rng), acc0 = gaussian(n * cols, rng);
                     const std::vector<int32_t> rows = {4, 1, 1, 5};
                     const std::vector<float> scale = {0.5f, 0.25f, -1.0f, 2.0f};
                     std::vector<float> gathered(rows.size() * cols), acc = acc0;
                     reference::gather_rows(src.data(), cols, rows, gathered.data());
                     reference::scatter_add(gathered.data(), cols, rows, scale, acc.data());
                     ActView g = on.empty(static_cast<int64_t>(rows.size()), cols), a = on.act(acc0, n, cols);
                     on.backend().gather_rows(on.act(src, n, cols), rows, g);
                     on.backend().scatter_add(g, rows, scale, a);
                     return std::max(rel_error(on.read(g), gathered), rel_error(on.read(a), acc));
                   }});
}

// One token's MoE FFN (routing, the chosen experts' gate/up/GLU/down, the weighted sum) against the reference
// ops composed. Twice the product bound: the GLU's heavy-tailed output feeds the down product (as the matmul chain).
// Row lengths are multiples of 32, as every GPU product needs.
void add_moe_decode(std::vector<OpCase>& cases) {
  struct Shape {
    DType gate_up, down;
    int64_t d, n_ff, n_exp, k;
    RouterGating gating;
    bool norm_topk;
  };
  const Shape shapes[] = {{DType::Q4_K, DType::Q6_K, 256, 512, 8, 2, RouterGating::SoftmaxSelected, false},
                          {DType::Q8_0, DType::Q8_0, 64, 96, 60, 8, RouterGating::SoftmaxAll, true},
                          {DType::F32, DType::F32, 96, 32, 16, 4, RouterGating::SoftmaxAll, false},
                          {DType::MXFP4, DType::MXFP4, 64, 128, 32, 4, RouterGating::SoftmaxSelected, false}};
  for (const Shape& s : shapes)
    for (int64_t n : {1, 3})  // one sequence (a recorded step), or three decoding together
    for (GluKind glu : {GluKind::SwiGlu, GluKind::SwiGluClamped}) {
      const double bound = 2 * std::max(matmul_bound(s.gate_up), matmul_bound(s.down));
      cases.push_back({"moe_decode " + std::string(dtype_traits(s.gate_up).name) + "/" + std::string(dtype_traits(s.down).name) +
                           " experts=" + std::to_string(s.n_exp) + " k=" + std::to_string(s.k) + " ff=" +
                           std::to_string(s.n_ff) + " n=" + std::to_string(n) + (glu == GluKind::SwiGluClamped ? " clamped" : ""),
                       bound, [=](OnBackend& on, std::mt19937& rng) {
                         const RouteParams p{s.k, s.gating, s.norm_topk};
                         const auto logits = gaussian(n * s.n_exp, rng, 2.0f), x = gaussian(n * s.d, rng);
                         const auto wg = quantized(s.gate_up, s.d, s.n_ff * s.n_exp, rng);
                         const auto wu = quantized(s.gate_up, s.d, s.n_ff * s.n_exp, rng);
                         const auto wd = quantized(s.down, s.n_ff, s.d * s.n_exp, rng);
                         auto stacked = [&](TensorView v, int64_t rows) {
                           v.ne[1] = rows;
                           v.ne[2] = s.n_exp;
                           return v;
                         };
                         const TensorView hg = stacked(testing::host_view(wg, s.gate_up, s.d, s.n_ff * s.n_exp), s.n_ff);
                         const TensorView hu = stacked(testing::host_view(wu, s.gate_up, s.d, s.n_ff * s.n_exp), s.n_ff);
                         const TensorView hd = stacked(testing::host_view(wd, s.down, s.n_ff, s.d * s.n_exp), s.d);
                         std::vector<int32_t> ids(n * s.k);
                         std::vector<float> w(n * s.k), want(n * s.d, 0.0f), g(s.n_ff), u(s.n_ff), y(s.d);
                         reference::moe_route(logits.data(), n, s.n_exp, p, ids.data(), w.data());
                         for (int64_t t = 0; t < n; ++t)
                           for (int64_t j = 0; j < s.k; ++j) {
                             const int32_t e = ids[t * s.k + j];
                             reference::matmul(hg.slice_last(e), x.data() + t * s.d, 1, g.data());
                             reference::matmul(hu.slice_last(e), x.data() + t * s.d, 1, u.data());
                             reference::glu(glu, g.data(), u.data(), s.n_ff, g.data());
                             reference::matmul(hd.slice_last(e), g.data(), 1, y.data());
                             for (int64_t i = 0; i < s.d; ++i) want[t * s.d + i] += w[t * s.k + j] * y[i];
                           }
                         const MoeWeights mw{stacked(on.weight(wg, s.gate_up, s.d, s.n_ff * s.n_exp), s.n_ff),
                                             stacked(on.weight(wu, s.gate_up, s.d, s.n_ff * s.n_exp), s.n_ff),
                                             stacked(on.weight(wd, s.down, s.n_ff, s.d * s.n_exp), s.d), glu};
                         ActView out = on.empty(n, s.d);
                         on.backend().moe_decode(on.act(logits, n, s.n_exp), p, mw, on.act(x, n, s.d), out);
                         return rel_error(on.read(out), want);
                       }});
    }
}

const std::vector<OpCase>& all_cases() {
  static const std::vector<OpCase> cases = [] {
    std::vector<OpCase> c;
    add_get_rows(c);
    add_rms_norm(c);
    add_residual_norm(c);
    add_matmul(c);
    add_matmul_chain(c);
    add_matmul_many(c);
    add_rope(c);
    add_attention(c);
    add_attention_batch(c);
    add_elementwise(c);
    add_moe(c);
    add_moe_decode(c);
    return c;
  }();
  return cases;
}

// Runs the whole table on one backend; every failing case is reported with its error and bound.
void run_table(Backend& be) {
  int n_pass = 0;
  double worst = 0;
  std::string worst_name;
  for (size_t i = 0; i < all_cases().size(); ++i) {
    const OpCase& c = all_cases()[i];
    std::mt19937 rng(static_cast<uint32_t>(1000 + i));
    OnBackend on(be);
    const double err = c.run(on, rng);
    const double bound = !be.device().is_host() && c.device_bound >= 0 ? c.device_bound : c.bound;
    EXPECT_LE(err, bound) << be.name() << ": " << c.name;
    if (err <= bound) ++n_pass;
    const double ratio = bound > 0 ? err / bound : (err > 0 ? INFINITY : 0);
    if (ratio >= worst) worst = ratio, worst_name = c.name;
  }
  std::printf("[ backend  ] %s (%s): %d of %zu op cases within bounds; closest to its bound: %s (%.2f of it)\n",
              std::string(be.name()).c_str(), be.describe().c_str(), n_pass, all_cases().size(), worst_name.c_str(),
              worst);
}

// One test per device kind strata knows, whether or not this build or machine has it.
void run_kind(DeviceKind kind, std::string_view kind_name) {
  const BackendKind* k = find_backend(kind);
  if (k == nullptr) GTEST_SKIP() << "this build has no " << kind_name << " backend: its op cases did not run";
  const int n = k->device_count();
  if (n == 0) GTEST_SKIP() << "no " << kind_name << " device on this machine: its op cases did not run";
  for (int i = 0; i < n; ++i) {
    auto be = k->make(i, {});
    ASSERT_NE(be, nullptr) << kind_name << " device " << i;
    run_table(*be);
  }
}

TEST(BackendOps, Cpu) { run_kind(DeviceKind::Cpu, "cpu"); }
TEST(BackendOps, Cuda) { run_kind(DeviceKind::Cuda, "cuda"); }

// A second host backend with its own buffers and device tag (the split-execution tests' stand-in device).
TEST(BackendOps, SecondCpuInstance) {
  auto be = find_backend(DeviceKind::Cpu)->make(1, {.n_threads = 2});
  EXPECT_EQ(be->device(), (Device{DeviceKind::Cpu, 1}));
  run_table(*be);
}

TEST(BackendOps, TableCoversEveryOp) {
  // A new op adds its cases here; this keeps the list honest.
  for (const char* op : {"get_rows", "rms_norm", "add_rms_norm", "matmul", "matmul_many", "rope", "attention", "glu", "add", "fill", "moe_route", "moe_decode",
                         "gather_rows"}) {
    const bool found = std::any_of(all_cases().begin(), all_cases().end(),
                                   [&](const OpCase& c) { return c.name.rfind(op, 0) == 0; });
    EXPECT_TRUE(found) << op;
  }
}

}  // namespace
}  // namespace strata::kernels
