// kernels/cuda/backend_cuda_ops.cc: the CUDA backend's ops: shape checks against the interface's contracts,
// host index arrays uploaded into scratch, then the launchers (kernels/cuda/launchers.h) on the stream.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/check.h"
#include "kernels/cuda/backend_cuda.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launchers.h"
#include "kernels/rope_angles.h"

namespace strata::kernels {

static_assert(cuda::kMatvecMaxTokens == kDecodeProductRows, "the decode kernels' row limit is the interface's");

template <typename T>
T* CudaBackend::upload(std::span<const T> host, Scratch& s) {
  auto* p = static_cast<T*>(scratch(s, std::max<uint64_t>(host.size_bytes(), 1)));
  if (capture_breaks(true, "an upload of a host array")) return p;  // a recorded copy would read this host array again at every replay
  if (!host.empty())
    STRATA_CUDA_CHECK(cudaMemcpyAsync(p, host.data(), host.size_bytes(), cudaMemcpyHostToDevice, stream_.get()));
  return p;
}

const float* CudaBackend::floats_of(const TensorView& w, int64_t n, Scratch& s) {
  if (w.data == nullptr) return nullptr;
  STRATA_CHECK(w.n_elements() >= n);
  if (w.device.is_host()) {  // a host weight (a norm left in RAM, a test's host view): upload its floats
    std::vector<float> host(static_cast<size_t>(w.ne[0]));
    dtype_traits(w.type).dequantize_row(w.data, host.data(), w.ne[0]);
    host.resize(static_cast<size_t>(n));
    return upload(std::span<const float>(host), s);
  }
  check_weight(w);
  if (w.type == DType::F32) return reinterpret_cast<const float*>(w.data);
  auto* out = static_cast<float*>(scratch(s, static_cast<uint64_t>(n) * sizeof(float)));
  if (w.type == DType::F16 || w.type == DType::BF16) {
    cuda::half_to_float(reinterpret_cast<const uint16_t*>(w.data), n, w.type == DType::BF16, out, stream_.get());
  } else {
    static const int32_t kRowZero = 0;
    int32_t* id = upload(std::span<const int32_t>(&kRowZero, 1), ids_);
    cuda::get_rows(w.type, w.data, n, 1, id, 1, out, stream_.get());
  }
  return out;
}

void CudaBackend::get_rows(const TensorView& table, std::span<const int32_t> ids, ActView out) {
  forget_q8();
  check_weight(table);
  check_mine(out);
  STRATA_CHECK(out.rows == static_cast<int64_t>(ids.size()) && out.cols == table.ne[0]);
  // Recording a step: its tokens are read from the step inputs at each replay.
  const bool step_token_read = cap_.on && std::ranges::equal(ids, cap_.tokens);
  const int32_t* dids = step_token_read ? step_token() : upload(ids, ids_);
  cuda::get_rows(table.type, table.data, table.ne[0], table.n_rows(), dids, out.rows, out.data, stream_.get());
}

void CudaBackend::rms_norm(ActView x, const TensorView& weight, float eps, ActView out) {
  forget_q8();
  check_mine(x);
  check_mine(out);
  STRATA_CHECK(x.rows == out.rows && x.cols == out.cols);
  const float* w = floats_of(weight, x.cols, norm_w_);
  if (q8_feeds_products(out)) {  // the products reading `out` next find it quantized
    cuda::rms_norm_q8(x.data, w, x.rows, x.cols, eps, out.data, q8_workspace(out), stream_.get());
    return;
  }
  cuda::rms_norm(x.data, w, x.rows, x.cols, eps, out.data, stream_.get());
}

void CudaBackend::matmul(const TensorView& w, ActView x, ActView y, const TensorView& bias) {
  check_weight(w);
  check_mine(x);
  check_mine(y);
  const int64_t k = w.ne[0], rows = w.n_rows();
  STRATA_CHECK_MSG(x.cols == k && y.cols == rows && x.rows == y.rows, "matmul shapes");
  STRATA_CHECK(x.data != y.data);
  const float* b = floats_of(bias, rows, bias_);
  if (x.rows > cuda::kMatvecMaxTokens && gemm_.ok()) {
    prompt_product(w, x, y, b);
    wrote(y);
    return;
  }
  if (x.rows > cuda::kMatvecMaxTokens || !cuda::has_matvec_q8(w.type)) {
    cuda::matmul(w.type, w.data, k, rows, x.data, x.rows, b, y.data, stream_.get());
    wrote(y);
    return;
  }
  // 8-bit activations: x is quantized once and reused by the products that read it next (q, k, v; gate, up)
  // until an op writes device memory (wrote()).
  if (xq_of_ != x.data || xq_rows_ != x.rows || xq_cols_ != k)
    cuda::quantize_q8(x.data, x.rows, k, q8_workspace(x), stream_.get());
  cuda::matvec_q8(w.type, w.data, k, rows, xq_.buf.data(), x.rows, b, y.data, stream_.get());
  wrote(y);
}

// A prompt's product on cuBLAS's tensor-core GEMM: x rounded to F16 once, the weight dequantized to F16 in
// slices of at most kF16SliceBytes (an F16 weight is used in place), F32 accumulation.
// Batch-invariant: every GEMM call has kInvariantTokens tokens (the last tile padded with zero rows, its
// outputs through y_tail_) and slices of kInvariantSliceBytes, neither depending on the pass's token count, so
// cuBLAS runs one kernel, whose sums for a token do not depend on the tokens beside it.
void CudaBackend::prompt_product(const TensorView& w, ActView x, ActView y, const float* bias) {
  const int64_t k = w.ne[0], rows = w.n_rows(), n = x.rows;
  const int64_t tile = batch_invariant_ ? kInvariantTokens : n;
  const int64_t n_pad = (n + tile - 1) / tile * tile;
  auto* x16 = static_cast<uint16_t*>(scratch(x16_, static_cast<uint64_t>(n_pad * k) * sizeof(uint16_t)));
  cuda::float_to_half(x.data, n * k, x16, stream_.get());
  if (n_pad > n)
    STRATA_CUDA_CHECK(cudaMemsetAsync(x16 + n * k, 0, static_cast<size_t>((n_pad - n) * k) * sizeof(uint16_t), stream_.get()));
  float* y_tail = n_pad > n ? static_cast<float*>(scratch(y_tail_, static_cast<uint64_t>(tile * rows) * sizeof(float)))
                            : nullptr;
  const bool in_place = w.type == DType::F16;
  const int64_t slice_bytes = batch_invariant_ ? kInvariantSliceBytes : kF16SliceBytes;
  const int64_t slice = in_place && !batch_invariant_ ? rows : std::clamp<int64_t>(slice_bytes / 2 / k, 1, rows);
  auto* w16 = in_place ? nullptr
                       : static_cast<uint16_t*>(scratch(w16_, static_cast<uint64_t>(slice * k) * sizeof(uint16_t)));
  for (int64_t r0 = 0; r0 < rows; r0 += slice) {
    const int64_t m = std::min(slice, rows - r0);
    const uint16_t* a = reinterpret_cast<const uint16_t*>(w.data) + r0 * k;
    if (!in_place) {
      cuda::weight_to_f16(w.type, w.data, k, r0, m, w16, stream_.get());
      a = w16;
    }
    for (int64_t t0 = 0; t0 < n_pad; t0 += tile)
      gemm_.run(a, m, k, x16 + t0 * k, tile, t0 + tile <= n ? y.data + t0 * rows + r0 : y_tail + r0, rows);
  }
  if (y_tail != nullptr) {
    const int64_t t_last = n_pad - tile;
    STRATA_CUDA_CHECK(cudaMemcpyAsync(y.data + t_last * rows, y_tail, static_cast<size_t>((n - t_last) * rows) * sizeof(float),
                                      cudaMemcpyDeviceToDevice, stream_.get()));
  }
  if (bias != nullptr) cuda::add_bias_rows(y.data, bias, n, rows, stream_.get());
}

bool CudaBackend::q8_feeds_products(const ActView& out) const {
  return out.rows > 0 && out.rows <= cuda::kMatvecMaxTokens && out.cols % 32 == 0;
}

void* CudaBackend::q8_workspace(const ActView& a) {
  void* ws = scratch(xq_, static_cast<uint64_t>(cuda::q8_workspace_bytes(a.cols, a.rows)));
  xq_of_ = a.data, xq_rows_ = a.rows, xq_cols_ = a.cols;
  return ws;
}

void CudaBackend::wrote(const ActView& out) {
  if (xq_of_ == nullptr) return;
  const float* end = xq_of_ + xq_rows_ * xq_cols_;
  if (out.data < end && xq_of_ < out.data + out.n_elements()) xq_of_ = nullptr;
}

const double* CudaBackend::rope_table(const RopeParams& p, float& mscale) {
  auto same = [&p](const RopeParams& q) {
    return q.layout == p.layout && q.n_rot == p.n_rot && q.freq_base == p.freq_base &&
           q.freq_factors.data == p.freq_factors.data && q.scaling == p.scaling && q.factor == p.factor &&
           q.n_ctx_orig == p.n_ctx_orig && q.yarn_ext_factor == p.yarn_ext_factor &&
           q.yarn_attn_factor == p.yarn_attn_factor && q.yarn_beta_fast == p.yarn_beta_fast &&
           q.yarn_beta_slow == p.yarn_beta_slow && q.llama3_low_freq_factor == p.llama3_low_freq_factor &&
           q.llama3_high_freq_factor == p.llama3_high_freq_factor;
  };
  for (const auto& t : rope_tables_)
    if (same(t->params)) {
      mscale = t->mscale;
      return t->inv_freq.as<double>();
    }
  if (capture_breaks(true, "a new RoPE table")) {  // a new table needs the host; the recording is discarded, so any address will do
    mscale = 1.0f;
    return static_cast<const double*>(static_cast<const void*>(step_pos()));
  }
  // Every scheme's angle is linear in the position, so the angle at position 1 is the pair's rate.
  const int64_t half = p.n_rot / 2;
  std::vector<float> ff(static_cast<size_t>(half), 1.0f);
  if (p.freq_factors.data != nullptr) {
    STRATA_CHECK(p.freq_factors.type == DType::F32 && p.freq_factors.n_elements() >= half);
    if (p.freq_factors.device.is_host())
      std::memcpy(ff.data(), p.freq_factors.data, half * sizeof(float));
    else  // on this stream: the factors may have been uploaded by it a moment ago
      STRATA_CUDA_CHECK(cudaMemcpyAsync(ff.data(), p.freq_factors.data, half * sizeof(float), cudaMemcpyDeviceToHost,
                                        stream_.get()));
  }
  std::vector<double> rate(static_cast<size_t>(half));
  double m = 1.0;
  for (int64_t i = 0; i < half; ++i) {
    const RopeAngle a = rope_angle(p, 1, i, ff[i]);
    rate[i] = a.theta;
    m = a.mscale;
  }
  auto t = std::make_unique<RopeTable>();
  t->params = p;
  t->mscale = static_cast<float>(m);
  t->inv_freq = cuda::DeviceBuffer(rate.size() * sizeof(double));
  STRATA_CUDA_CHECK(cudaMemcpyAsync(t->inv_freq.data(), rate.data(), rate.size() * sizeof(double),
                                    cudaMemcpyHostToDevice, stream_.get()));
  stream_.synchronize();  // once per distinct RoPE configuration
  rope_tables_.push_back(std::move(t));
  mscale = rope_tables_.back()->mscale;
  return rope_tables_.back()->inv_freq.as<double>();
}

void CudaBackend::rope(ActView x, int64_t n_head, int64_t head_dim, int64_t pos0, const RopeParams& p) {
  forget_q8();
  check_mine(x);
  STRATA_CHECK(x.cols == n_head * head_dim && p.n_rot > 0 && p.n_rot <= head_dim);
  float mscale = 1.0f;
  const double* rate = rope_table(p, mscale);
  capture_breaks(!recording_one_at(x.rows, pos0), "RoPE away from the recorded position");  // the recorded step's one sequence at its position
  cuda::rope(x.data, x.rows, n_head, head_dim, p.n_rot, pos0, rate, mscale, p.layout == RopeLayout::Halves,
             stream_.get(), cap_.on ? step_pos() : nullptr);
}

bool CudaBackend::supports(const AttentionParams& p) const {
  return p.head_dim > 0 && p.head_dim <= cuda::kAttentionMaxHeadDim &&
         (p.sinks.data == nullptr || p.sinks.type == DType::F32);
}

void CudaBackend::attention(const AttentionParams& p, ActView q, ActView k, ActView v, const KvLayer& cache,
                            int64_t pos0, ActView out) {
  attention_one(p, nullptr, q, k, v, cache, pos0, out);
}

void CudaBackend::attention_one(const AttentionParams& p, const RopeParams* rope, ActView q, ActView k, ActView v,
                                const KvLayer& cache, int64_t pos0, ActView out) {
  forget_q8();
  STRATA_CHECK_MSG(supports(p), "attention shape this CUDA backend lacks (check supports first)");
  check_mine(q);
  check_mine(k);
  check_mine(v);
  check_mine(out);
  STRATA_CHECK_MSG(cache.device == device_, "KV cache not on this CUDA device");
  const int64_t n = q.rows, kv_dim = p.n_head_kv * p.head_dim;
  STRATA_CHECK(q.cols == p.n_head * p.head_dim && out.cols == q.cols && out.rows == n);
  STRATA_CHECK(k.rows == n && v.rows == n && k.cols == kv_dim && v.cols == kv_dim && cache.kv_dim == kv_dim);
  STRATA_CHECK(pos0 >= 0 && pos0 + n <= cache.n_ctx && cache.holds_pass(n, p.window));
  // Recording a step: the position comes from the step inputs, and the grid covers the positions up to a
  // bound, below which the recording stays valid.
  const int64_t* pos_dev = nullptr;
  int64_t pos_bound = pos0 + n;
  if (cap_.on) {
    capture_breaks(!recording_one_at(n, pos0), "attention away from the recorded position");
    pos_dev = step_pos();
    pos_bound = std::min(cache.n_ctx, (pos0 + n + kStepGraphPositions - 1) / kStepGraphPositions * kStepGraphPositions);
    cap_.valid_until = std::min(cap_.valid_until, pos_bound);
  }
  attention_kernels(p, rope, q, k, v, &cache, pos0, pos_dev, pos_bound, nullptr, out);
}

void CudaBackend::attention_kernels(const AttentionParams& p, const RopeParams* rope, ActView q, ActView k, ActView v,
                                    const KvLayer* cache, int64_t pos0, const int64_t* pos_dev, int64_t pos_bound,
                                    const cuda::KvTok* toks, ActView out) {
  const int64_t n = q.rows, kv_dim = p.n_head_kv * p.head_dim;
  uint16_t* kc = cache ? cache->k : nullptr;
  uint16_t* vc = cache ? cache->v : nullptr;
  const int64_t n_rows = cache ? cache->rows() : 1;  // with toks, each token's descriptor has its cache's
  if (rope != nullptr) {  // rotation and cache stores in one launch
    STRATA_CHECK(rope->n_rot > 0 && rope->n_rot <= p.head_dim);
    float mscale = 1.0f;
    const double* rate = rope_table(*rope, mscale);
    cuda::rope_kv_store_f16(q.data, k.data, v.data, n, p.n_head, p.n_head_kv, p.head_dim, rope->n_rot, rate, mscale,
                            rope->layout == RopeLayout::Halves, n_rows, pos0, kc, vc, stream_.get(), pos_dev, toks);
  } else {
    cuda::kv_store_f16(k.data, v.data, n, kv_dim, n_rows, pos0, kc, vc, stream_.get(), pos_dev, toks);
  }
  const float* sinks = floats_of(p.sinks, p.n_head, sinks_);
  // Tokens in groups, so the split workspace stays bounded on long prompts (64 MiB of floats at most).
  const int64_t per_token = cuda::attention_workspace_floats(1, p.n_head, p.head_dim, pos_bound);
  const int64_t group = std::clamp<int64_t>((int64_t{16} << 20) / std::max<int64_t>(per_token, 1), 1, 4096);
  float* ws = static_cast<float*>(scratch(attn_ws_, std::min(group, n) * per_token * sizeof(float)));
  for (int64_t t0 = 0; t0 < n; t0 += group) {
    const int64_t m = std::min(group, n - t0);
    cuda::attention_f16(q.row(t0), kc, vc, kv_dim, n_rows, m, p.n_head, p.n_head_kv, p.head_dim, pos0 + t0, p.window,
                        p.scale, sinks, ws, out.row(t0), stream_.get(), toks && pos_dev ? pos_dev + t0 : pos_dev,
                        pos_bound, toks ? toks + t0 : nullptr);
  }
}

void CudaBackend::attention_batch(const AttentionParams& p, const RopeParams* rope, ActView q, ActView k, ActView v,
                                  std::span<const AttentionSeq> seqs, ActView out) {
  if (seqs.size() == 1 && seqs[0].row0 == 0 && seqs[0].n == q.rows) {  // one sequence (a recordable decode step)
    attention_one(p, rope, q, k, v, *seqs[0].cache, seqs[0].pos0, out);
    return;
  }
  forget_q8();
  STRATA_CHECK_MSG(supports(p), "attention shape this CUDA backend lacks (check supports first)");
  check_mine(q);
  check_mine(k);
  check_mine(v);
  check_mine(out);
  const int64_t n = q.rows, kv_dim = p.n_head_kv * p.head_dim;
  STRATA_CHECK(q.cols == p.n_head * p.head_dim && out.cols == q.cols && out.rows == n);
  STRATA_CHECK(k.rows == n && v.rows == n && k.cols == kv_dim && v.cols == kv_dim);
  // One descriptor per row (its sequence's cache and its position), so that each kernel runs once for all.
  std::vector<cuda::KvTok>& toks = toks_host_;  // reused: a batched step calls this once a layer
  toks.assign(static_cast<size_t>(n), cuda::KvTok{nullptr, nullptr, 0, 0});
  int64_t pos_bound = 1, n_ctx = 1;
  for (const AttentionSeq& s : seqs) {
    STRATA_CHECK(s.cache != nullptr && s.row0 >= 0 && s.n >= 0 && s.row0 + s.n <= n);
    const KvLayer& c = *s.cache;
    STRATA_CHECK_MSG(c.device == device_, "KV cache not on this CUDA device");
    STRATA_CHECK(c.kv_dim == kv_dim && s.pos0 >= 0 && s.pos0 + s.n <= c.n_ctx && c.holds_pass(s.n, p.window));
    for (int64_t i = 0; i < s.n; ++i) {
      STRATA_CHECK_MSG(toks[s.row0 + i].n_rows == 0, "two sequences of a batch share a row");
      toks[s.row0 + i] = {c.k, c.v, c.rows(), s.pos0 + i};
    }
    pos_bound = std::max(pos_bound, s.pos0 + s.n);
    n_ctx = std::max(n_ctx, c.n_ctx);
  }
  for (const cuda::KvTok& t : toks) STRATA_CHECK_MSG(t.n_rows > 0, "a row of the batch belongs to no sequence");
  if (!cap_.on) {
    attention_kernels(p, rope, q, k, v, nullptr, 0, nullptr, pos_bound, upload(std::span<const cuda::KvTok>(toks), attn_toks_),
                      out);
    return;
  }
  // Recording a step of several sequences: row i is sequence i at the recorded position, read from the step
  // inputs at each replay; the descriptors' caches stay. The grid covers positions up to a bound, below which
  // the recording stays valid.
  bool as_recorded = static_cast<size_t>(n) == cap_.pos.size();
  for (const AttentionSeq& s : seqs)
    as_recorded = as_recorded && s.n == 1 && static_cast<size_t>(s.row0) < cap_.pos.size() && s.pos0 == cap_.pos[s.row0];
  if (capture_breaks(!as_recorded, "a batch's attention unlike the recorded step")) return;
  pos_bound = std::min(n_ctx, (pos_bound + kStepGraphPositions - 1) / kStepGraphPositions * kStepGraphPositions);
  cap_.valid_until = std::min(cap_.valid_until, pos_bound);
  attention_kernels(p, rope, q, k, v, nullptr, 0, step_pos(), pos_bound,
                    upload_constant(std::span<const cuda::KvTok>(toks)), out);
}

void CudaBackend::glu(GluKind kind, ActView gate, ActView up, ActView out) {
  forget_q8();
  check_mine(gate);
  check_mine(up);
  check_mine(out);
  STRATA_CHECK(gate.n_elements() == up.n_elements() && gate.n_elements() == out.n_elements());
  if (kind != GluKind::SwiGluClamped && q8_feeds_products(out)) {  // no fused 8-bit form of the clamped variant
    cuda::glu_q8(gate.data, up.data, out.rows, out.cols, kind == GluKind::GeGlu, out.data, q8_workspace(out),
                 stream_.get());
    return;
  }
  const cuda::Glu op = kind == GluKind::GeGlu ? cuda::Glu::Gelu
                      : kind == GluKind::SwiGluClamped ? cuda::Glu::SiluClamped : cuda::Glu::Silu;
  cuda::glu(gate.data, up.data, gate.n_elements(), op, kSwiGluClampedAlpha, kSwiGluClampedLimit, out.data,
            stream_.get());
}

void CudaBackend::add(ActView x, ActView y) {
  forget_q8();
  check_mine(x);
  check_mine(y);
  STRATA_CHECK(x.rows == y.rows && x.cols == y.cols);
  cuda::add_inplace(x.data, y.data, x.n_elements(), stream_.get());
}

void CudaBackend::add_rms_norm(ActView x, ActView y, const TensorView& weight, float eps, ActView out) {
  forget_q8();
  check_mine(x);
  check_mine(y);
  check_mine(out);
  STRATA_CHECK(x.rows == y.rows && x.cols == y.cols && x.rows == out.rows && x.cols == out.cols);
  STRATA_CHECK(out.data != x.data);  // out may be y: the kernel reads all of y before its barrier, then writes out
  const float* w = floats_of(weight, x.cols, norm_w_);
  if (q8_feeds_products(out)) {
    cuda::add_rms_norm_q8(x.data, y.data, w, x.rows, x.cols, eps, out.data, q8_workspace(out), stream_.get());
    return;
  }
  cuda::add_rms_norm(x.data, y.data, w, x.rows, x.cols, eps, out.data, stream_.get());
}

void CudaBackend::fill(ActView x, float value) {
  forget_q8();
  check_mine(x);
  cuda::fill(x.data, x.n_elements(), value, stream_.get());
}

void CudaBackend::moe_route(ActView logits, const RouteParams& p, std::span<int32_t> ids, std::span<float> weights) {
  check_mine(logits);
  const int64_t n = logits.rows, k = p.n_expert_used;
  STRATA_CHECK(static_cast<int64_t>(ids.size()) == n * k && static_cast<int64_t>(weights.size()) == n * k);
  auto* dids = static_cast<int32_t*>(scratch(route_ids_, std::max<int64_t>(n * k, 1) * sizeof(int32_t)));
  auto* dw = static_cast<float*>(scratch(route_w_, std::max<int64_t>(n * k, 1) * sizeof(float)));
  if (capture_breaks(true, "MoE routing read by the host")) return;  // the choices go to the host
  cuda::moe_route(logits.data, n, logits.cols, k, p.gating == RouterGating::SoftmaxAll, p.norm_topk, dids, dw,
                  stream_.get());
  // Into pageable host memory: the runtime returns once the copies are done, so the arrays are filled when
  // any event recorded after this call completes (the interface's promise).
  STRATA_CUDA_CHECK(cudaMemcpyAsync(ids.data(), dids, ids.size_bytes(), cudaMemcpyDeviceToHost, stream_.get()));
  STRATA_CUDA_CHECK(cudaMemcpyAsync(weights.data(), dw, weights.size_bytes(), cudaMemcpyDeviceToHost, stream_.get()));
}

// Routing, expert indexing and the weighted sum all on the device: the chosen experts' ids stay in device memory,
// where the expert mat-vecs read them, so the step needs no host round trip (and can be recorded).
void CudaBackend::moe_decode(ActView logits, const RouteParams& p, const MoeWeights& w, ActView x, ActView out) {
  check_mine(logits);
  check_mine(x);
  check_mine(out);
  const int64_t n = x.rows, k = p.n_expert_used, n_exp = logits.cols, d = x.cols, n_ff = w.gate.ne[1], d_out = out.cols;
  const int64_t slots = n * k;  // slot s: token s / k's choice s % k
  STRATA_CHECK(n > 0 && logits.rows == n && out.rows == n && k > 0 && k <= n_exp && n_exp <= cuda::kMoeMaxExperts);
  STRATA_CHECK(slots <= 65535);
  STRATA_CHECK(w.gate.ne[0] == d && w.up.ne[0] == d && w.up.ne[1] == n_ff && w.down.ne[0] == n_ff && w.down.ne[1] == d_out);
  STRATA_CHECK(w.gate.ne[2] == n_exp && w.up.ne[2] == n_exp && w.down.ne[2] == n_exp);
  STRATA_CHECK(w.gate.device == device_ && w.up.device == device_ && w.down.device == device_);
  // The expert products take rows of a multiple of 32 and their blocks (as matmul does); the down product
  // reads its inputs n_ff floats apart, which that keeps 16-byte aligned.
  STRATA_CHECK_MSG(d % 32 == 0 && n_ff % 32 == 0, "moe_decode row lengths must be multiples of 32");
  forget_q8();
  auto* ids = static_cast<int32_t*>(scratch(moe_ids_, static_cast<uint64_t>(slots) * sizeof(int32_t)));
  auto* weights = static_cast<float*>(scratch(moe_w_, static_cast<uint64_t>(slots) * sizeof(float)));
  auto* g = static_cast<float*>(scratch(moe_g_, static_cast<uint64_t>(slots * n_ff) * sizeof(float)));
  auto* u = static_cast<float*>(scratch(moe_u_, static_cast<uint64_t>(slots * n_ff) * sizeof(float)));
  auto* y = static_cast<float*>(scratch(moe_y_, static_cast<uint64_t>(slots * d_out) * sizeof(float)));
  cudaStream_t s = stream_.get();
  // The token of each slot, for its input and its sum: one token (a recorded step) needs no host array.
  int32_t* rows = nullptr;
  const float* xs = x.data;  // the slots' inputs, x_stride floats apart
  int64_t x_stride = 0;      // one token: every slot reads it
  if (n == 1) {
    rows = static_cast<int32_t*>(scratch(moe_rows_, static_cast<uint64_t>(slots) * sizeof(int32_t)));
    STRATA_CUDA_CHECK(cudaMemsetAsync(rows, 0, static_cast<size_t>(slots) * sizeof(int32_t), s));
  } else {
    moe_slot_rows_.resize(static_cast<size_t>(slots));
    for (int64_t i = 0; i < slots; ++i) moe_slot_rows_[static_cast<size_t>(i)] = static_cast<int32_t>(i / k);
    rows = upload(std::span<const int32_t>(moe_slot_rows_), moe_rows_);
    auto* gathered = static_cast<float*>(scratch(moe_x_, static_cast<uint64_t>(slots * d) * sizeof(float)));
    cuda::gather_rows(x.data, d, rows, slots, gathered, s);
    xs = gathered;
    x_stride = d;
  }
  cuda::moe_route(logits.data, n, n_exp, k, p.gating == RouterGating::SoftmaxAll, p.norm_topk, ids, weights, s);
  cuda::matvec_experts(w.gate.type, w.gate.data, d, n_ff, n_exp, ids, slots, xs, x_stride, g, s);
  cuda::matvec_experts(w.up.type, w.up.data, d, n_ff, n_exp, ids, slots, xs, x_stride, u, s);
  const cuda::Glu op = w.glu == GluKind::GeGlu ? cuda::Glu::Gelu
                      : w.glu == GluKind::SwiGluClamped ? cuda::Glu::SiluClamped : cuda::Glu::Silu;
  cuda::glu(g, u, slots * n_ff, op, kSwiGluClampedAlpha, kSwiGluClampedLimit, g, s);
  cuda::matvec_experts(w.down.type, w.down.data, n_ff, d_out, n_exp, ids, slots, g, n_ff, y, s);
  cuda::fill(out.data, out.n_elements(), 0.0f, s);
  cuda::scatter_add(y, d_out, rows, weights, slots, out.data, s);
}

void CudaBackend::gather_rows(ActView src, std::span<const int32_t> rows, ActView dst) {
  forget_q8();
  check_mine(src);
  check_mine(dst);
  STRATA_CHECK(dst.rows == static_cast<int64_t>(rows.size()) && dst.cols == src.cols);
  for (int32_t r : rows) STRATA_CHECK(r >= 0 && r < src.rows);
  cuda::gather_rows(src.data, src.cols, upload(rows, rows_), dst.rows, dst.data, stream_.get());
}

void CudaBackend::scatter_add(ActView src, std::span<const int32_t> rows, std::span<const float> scale, ActView dst) {
  forget_q8();
  check_mine(src);
  check_mine(dst);
  STRATA_CHECK(src.rows == static_cast<int64_t>(rows.size()) && rows.size() == scale.size() && src.cols == dst.cols);
  for (int32_t r : rows) STRATA_CHECK(r >= 0 && r < dst.rows);
  cuda::scatter_add(src.data, src.cols, upload(rows, rows_), upload(scale, scale_), src.rows, dst.data, stream_.get());
}

}  // namespace strata::kernels
