// model/forward.cc: the forward pass, written as the model card reads:
// embed → [rms_norm → qkv (+bias) → qk norm → rope → attention (window, sinks) → out (+bias) → residual →
//          rms_norm → ffn|moe → residual] × L → norm → logits.
// The quirks of each family are columns of its architecture row (arch/arch.h), no-ops where off.
// Each op runs on the backend the placement names for its tensor in this phase; Activations moves a matrix
// between backends only when an op on another backend reads it.
#include "model/forward.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/check.h"

namespace strata::model {

namespace {

// Enqueues op(view) on `be` once the weight's bytes are ready, then hands them back behind it (an event
// only for an owned weight: a resident one needs none, and an event per op is host time on a GPU).
template <class Op>
Status with_weight(Result<WeightRef> acquired, kernels::Backend& be, Op&& op) {
  STRATA_ASSIGN_OR_RETURN(WeightRef w, std::move(acquired));
  if (w.ready()) be.wait(*w.ready());
  op(w.view());
  if (w.owned()) w.release_after(be.record());
  return Status::ok();
}

// A weight the op on `be` reads must be in memory `be` addresses (small vectors follow their planner role,
// so a mismatch is a placement the pass cannot run: an error, never a crash in the backend).
Status check_readable(const WeightRef& w, kernels::Backend& be) {
  if (be.can_read(w->device)) return Status::ok();
  return error("{}: weight '{}' is in memory this backend cannot read", be.name(), w->name);
}

// As with_weight, for an op that also reads a bias (or any second small weight): `bias` may be kNoTensor.
template <class Acquire, class Op>
Status with_weight_and(Result<WeightRef> acquired, Acquire&& acquire, TensorId bias, kernels::Backend& be, Op&& op) {
  if (bias == kNoTensor) return with_weight(std::move(acquired), be, [&](const TensorView& w) { op(w, TensorView{}); });
  STRATA_ASSIGN_OR_RETURN(WeightRef w, std::move(acquired));
  STRATA_ASSIGN_OR_RETURN(WeightRef b, acquire(bias));
  STRATA_RETURN_IF_ERROR(check_readable(b, be));
  if (w.ready()) be.wait(*w.ready());
  if (b.ready()) be.wait(*b.ready());
  op(w.view(), b.view());
  if (w.owned() || b.owned()) {  // an event only for bytes a source moves (recording breaks a recorded step)
    kernels::EventPtr done = be.record();
    w.release_after(done);
    b.release_after(done);
  }
  return Status::ok();
}

kernels::GluKind glu_kind(arch::Activation a) {
  return a == arch::Activation::SwiGluClamped ? kernels::GluKind::SwiGluClamped : kernels::GluKind::SwiGlu;
}

}  // namespace

#define STRATA_ACT(var, expr) STRATA_ASSIGN_OR_RETURN(kernels::ActView var, (expr))

Forward::Forward(const Model& model, WeightSource& weights, ExpertSource* experts, kernels::Backend& backend)
    : Forward(model, weights, experts, Placement::single(backend, model)) {}

Forward::Forward(const Model& model, WeightSource& weights, ExpertSource* experts, Placement placement)
    : m_(model), hp_(model.hp), weights_(weights), experts_(experts), placement_(std::move(placement)),
      acts_(model.hp, placement_), rope_(arch::rope_params(model.hp)), glu_(glu_kind(model.hp.arch->activation)) {
  STRATA_CHECK(!hp_.is_moe() || experts_ != nullptr);
  // Softmax over the selected logits equals softmax over all then renormalising the top k.
  route_.gating = hp_.norm_topk ? kernels::RouterGating::SoftmaxSelected : kernels::RouterGating::SoftmaxAll;
  route_.n_expert_used = hp_.n_expert_used;
  STRATA_CHECK(placement_.decode_site.size() == m_.tensors.size() && placement_.kv_site.size() == m_.layers.size());
  // Decode steps can be recorded when one device backend runs all of a model's decode ops and holds its cache
  // (a MoE model's too where that backend routes on the device and no layer has expert biases, which route
  // through the host).
  const bool expert_biases = std::any_of(m_.layers.begin(), m_.layers.end(), [](const LayerTensors& L) {
    return std::any_of(L.ffn_exps_bias.begin(), L.ffn_exps_bias.end(), [](TensorId id) { return id != kNoTensor; });
  });
  if (!placement_.kv_site.empty()) {
    const int b = placement_.kv_site.front();
    const auto same = [b](uint8_t s) { return s == b; };
    if (!on(b).device().is_host() && (!hp_.is_moe() || (on(b).moe_decode_on_device() && !expert_biases)) &&
        std::all_of(placement_.kv_site.begin(), placement_.kv_site.end(), same) &&
        std::all_of(placement_.decode_site.begin(), placement_.decode_site.end(), same))
      graph_site_ = b;
  }
}

Result<WeightRef> Forward::acquire(TensorId id, int for_site) {
  Result<WeightRef> w = for_site < 0 ? weights_.acquire(id) : weights_.acquire_for(id, on(for_site).device());
  if (w && (w->owned() || w->ready())) unsafe_ = true;  // bytes that move cannot be replayed from
  return w;
}

Status Forward::matmul(TensorId id, Act x, Act y, int64_t n, TensorId bias) {
  const int b = site(id);
  STRATA_ACT(xv, acts_.in(x, b, n));
  STRATA_ACT(yv, acts_.out(y, b, n));
  const std::vector<RowGroup>& groups = row_groups_;
  const bool split = !on(b).device().is_host() && n == acts_rows_ && groups.size() > 1;
  return with_weight_and(acquire(id, b), [this](TensorId t) { return acquire(t); }, bias, on(b),
                         [&](const TensorView& w, const TensorView& bv) {
                           if (!split) return on(b).matmul(w, xv, yv, bv);
                           for (const RowGroup& g : groups)
                             on(b).matmul(w, xv.rows_from(g.row0, g.n), yv.rows_from(g.row0, g.n), bv);
                         });
}

// A device's products of several sequences run in groups (RowGroup): each sequence's rows go through the kernel
// they go through alone, so that its outputs do not depend on the sequences beside it.
void Forward::plan_row_groups() {
  auto plan = [this](std::vector<RowGroup>& out, auto rows_of) {
    out.clear();
    bool last_short = false;
    for (const Segment& g : segments_) {
      const int64_t rows = rows_of(g);
      const bool is_short = rows <= kernels::kDecodeProductRows;
      const bool joins = !out.empty() && is_short == last_short &&
                         (!is_short || out.back().n + rows <= kernels::kDecodeProductRows);
      if (joins) {
        out.back().n += rows;
      } else {
        out.push_back({out.empty() ? 0 : out.back().row0 + out.back().n, rows});
      }
      last_short = is_short;
    }
  };
  plan(row_groups_, [](const Segment& g) { return g.n; });
  plan(out_groups_, [](const Segment& g) { return g.n_out; });
  acts_rows_ = 0;
  for (const Segment& g : segments_) acts_rows_ += g.n;
}

Status Forward::products(Act x, std::initializer_list<Product> ps, int64_t n) {
  const int b = site(ps.begin()->w);
  const bool one_site = std::all_of(ps.begin(), ps.end(), [&](const Product& p) { return site(p.w) == b; });
  // A device backend's matmul_many is its matmuls one by one (they share a quantized input either way): only
  // the host takes them together.
  if (!one_site || ps.size() == 1 || !on(b).device().is_host()) {
    for (const Product& p : ps) STRATA_RETURN_IF_ERROR(matmul(p.w, x, p.y, n, p.bias));
    return Status::ok();
  }
  STRATA_ACT(xv, acts_.in(x, b, n));
  held_.clear();
  items_.clear();
  for (const Product& p : ps) {
    STRATA_ASSIGN_OR_RETURN(WeightRef w, acquire(p.w, b));
    WeightRef bias;
    if (p.bias != kNoTensor) {
      STRATA_ASSIGN_OR_RETURN(bias, acquire(p.bias));
      STRATA_RETURN_IF_ERROR(check_readable(bias, on(b)));
    }
    STRATA_ACT(yv, acts_.out(p.y, b, n));
    const kernels::MatmulItem item{w.view(), xv, yv, p.bias != kNoTensor ? bias.view() : TensorView{}};
    if (w.owned() || bias.owned()) {
      // Streamed bytes are computed at once and handed back: a source's few staging slots are not held by
      // one product while the next is read.
      if (w.ready()) on(b).wait(*w.ready());
      if (bias.ready()) on(b).wait(*bias.ready());
      on(b).matmul(item.w, item.x, item.y, item.bias);
      kernels::EventPtr done = on(b).record();
      w.release_after(done);
      bias.release_after(done);
      continue;
    }
    items_.push_back(item);
    held_.push_back(std::move(w));
    if (p.bias != kNoTensor) held_.push_back(std::move(bias));
  }
  for (const WeightRef& w : held_)
    if (w.ready()) on(b).wait(*w.ready());
  if (!items_.empty()) on(b).matmul_many(items_);
  held_.clear();  // resident weights: nothing to hand back behind an event
  return Status::ok();
}

// Per-head RMSNorm (Qwen3): each head of a [n, heads * hd] activation normalised over its hd values, i.e.
// rms_norm on the [n * heads, hd] reshape. A no-op for rows without a QK norm.
Status Forward::head_norm(TensorId id, Act a, int64_t n_heads, int64_t n) {
  if (id == kNoTensor) return Status::ok();
  const int b = site(id);
  STRATA_ACT(v, acts_.inout(a, b, n));
  const kernels::ActView heads = v.reshaped(n * n_heads, hp_.head_dim);
  return with_weight(acquire(id), on(b),
                     [&](const TensorView& w) { on(b).rms_norm(heads, w, hp_.rms_eps, heads); });
}

// RoPE frequency factors (Llama 3.1+ rope_freqs.weight): copied to the host once, so every layer's RoPE reads
// them whichever backend runs it and whatever the source does with the bytes afterwards.
Status Forward::load_rope_factors() {
  rope_.freq_factors = TensorView{};
  if (m_.rope_freqs == kNoTensor) {
    rope_loaded_ = true;
    return Status::ok();
  }
  const int b = site(m_.rope_freqs);
  STRATA_ASSIGN_OR_RETURN(WeightRef w, weights_.acquire(m_.rope_freqs));
  if (w.ready()) w.ready()->synchronize();
  const int64_t n = w->n_elements();
  rope_factors_.resize(static_cast<size_t>(n));
  if (w->device.is_host()) {
    dtype_traits(w->type).dequantize_row(w->data, rope_factors_.data(), n);
  } else {
    if (w->type != DType::F32) return error("tensor '{}' must be F32 off the host", w->name);
    on(b).copy(w->data, w->device, rope_factors_.data(), kHostDevice, static_cast<uint64_t>(n) * sizeof(float));
    on(b).synchronize();
  }
  w.release_after(nullptr);
  rope_.freq_factors.type = DType::F32;
  rope_.freq_factors.ne = {n, 1, 1, 1};
  rope_.freq_factors.data = reinterpret_cast<const uint8_t*>(rope_factors_.data());
  rope_.freq_factors.name = "rope_freqs.weight";
  rope_loaded_ = true;
  return Status::ok();
}

Status Forward::norm(TensorId id, Act x, Act out, int64_t n) {
  const int b = site(id);
  if (x == Act::X && pending_.site == b && pending_.n == n) {  // the deferred residual and this norm, one op
    const Act y = pending_.y;
    pending_.site = -1;
    STRATA_ACT(xv, acts_.inout(Act::X, b, n));
    STRATA_ACT(yv, acts_.in(y, b, n));
    STRATA_ACT(ov, acts_.out(out, b, n));
    return with_weight(acquire(id), on(b),
                       [&](const TensorView& w) { on(b).add_rms_norm(xv, yv, w, hp_.rms_eps, ov); });
  }
  STRATA_RETURN_IF_ERROR(flush_residual());
  STRATA_ACT(xv, acts_.in(x, b, n));
  STRATA_ACT(ov, acts_.out(out, b, n));
  return with_weight(acquire(id), on(b),
                     [&](const TensorView& w) { on(b).rms_norm(xv, w, hp_.rms_eps, ov); });
}

void Forward::residual(Act y, int b, int64_t n) {
  STRATA_CHECK_MSG(pending_.site < 0, "a residual add is already deferred");
  pending_ = {y, b, n};
}

Status Forward::flush_residual() {
  if (pending_.site < 0) return Status::ok();
  const PendingResidual p = pending_;
  pending_.site = -1;
  STRATA_ACT(x, acts_.inout(Act::X, p.site, p.n));
  STRATA_ACT(y, acts_.in(p.y, p.site, p.n));
  on(p.site).add(x, y);
  return Status::ok();
}

Status Forward::to_host(Act a, int64_t row0, int64_t rows, float* dst) {
  const int b = site(m_.output);
  STRATA_ACT(v, acts_.in(a, b, row0 + rows));
  v = v.rows_from(row0, rows);
  on(b).copy(v, kernels::ActView{kHostDevice, dst, rows, v.cols});
  on(b).record()->synchronize();
  return Status::ok();
}

// A batch longer than the cache's largest pass (a model with sliding-window rings) goes in passes of that many.
Status Forward::eval(std::span<const int32_t> tokens, KvCache& cache, std::span<float> logits, bool all_logits) {
  const int64_t n = static_cast<int64_t>(tokens.size()), step = std::max<int64_t>(cache.max_pass(), 1);
  for (int64_t t0 = 0; t0 < n || t0 == 0; t0 += step) {
    const int64_t m = std::min(step, n - t0);
    // Without all_logits each pass writes its last token's row over the previous pass's.
    std::span<float> out = all_logits ? logits.subspan(static_cast<size_t>(t0 * hp_.n_vocab)) : logits;
    const SeqInput one{tokens.subspan(static_cast<size_t>(t0), static_cast<size_t>(m)), &cache, out, all_logits};
    STRATA_RETURN_IF_ERROR(eval_batch(std::span(&one, 1)));
  }
  return Status::ok();
}

Status Forward::check_input(const SeqInput& s) const {
  const int64_t n = static_cast<int64_t>(s.tokens.size());
  const int64_t pos0 = s.cache->n_filled();
  if (n == 0) return error("no tokens to evaluate");
  STRATA_RETURN_IF_ERROR(s.cache->status());
  if (pos0 + n > s.cache->n_ctx())
    return error("context is full: {} tokens cached + {} new exceed the context of {}", pos0, n, s.cache->n_ctx());
  if (n > s.cache->max_pass())  // a ring would overwrite positions this pass's first queries still see
    return error("{} tokens in one pass exceed this cache's largest pass of {}", n, s.cache->max_pass());
  STRATA_CHECK(s.logits.size() >= static_cast<uint64_t>(s.all_logits ? n : 1) * hp_.n_vocab);
  for (int32_t t : s.tokens)
    if (t < 0 || t >= hp_.n_vocab) return error("token id {} is outside the vocabulary of {}", t, hp_.n_vocab);
  return Status::ok();
}

Status Forward::eval_batch(std::span<const SeqInput> seqs) {
  if (seqs.empty()) return error("no sequences to evaluate");
  segments_.clear();
  int64_t n = 0, n_out = 0;
  bool all_single = true;
  for (const SeqInput& s : seqs) {
    STRATA_RETURN_IF_ERROR(check_input(s));
    for (const Segment& other : segments_)
      if (other.cache == s.cache) return error("two sequences of one batch share a KV cache");
    const int64_t len = static_cast<int64_t>(s.tokens.size());
    const int64_t out = s.all_logits ? len : 1;
    segments_.push_back({n, len, s.cache->n_filled(), s.cache, out});
    n += len;
    n_out += out;
    all_single = all_single && len == 1;
  }
  const bool one = seqs.size() == 1;
  std::span<const int32_t> tokens = seqs[0].tokens;
  if (!one) {
    batch_tokens_.clear();
    for (const SeqInput& s : seqs) batch_tokens_.insert(batch_tokens_.end(), s.tokens.begin(), s.tokens.end());
    tokens = batch_tokens_;
  }
  decode_ = all_single;
  weights_.begin_pass(decode_);
  acts_.begin(n);
  if (!rope_loaded_) STRATA_RETURN_IF_ERROR(load_rope_factors());  // a weight: its bytes never change

  // Logits computed on the host go straight to one caller, or for several sequences into one host matrix that
  // is then handed out; a device's are copied to each caller's span.
  const bool host_output = on(site(m_.output)).device() == kHostDevice;
  if (!one && host_output) batch_logits_.resize(static_cast<size_t>(n_out * hp_.n_vocab));
  const std::span<float> host_logits = one ? seqs[0].logits : std::span<float>(batch_logits_);
  if (!(decode_ && replay_step(tokens))) STRATA_RETURN_IF_ERROR(pass(tokens, host_logits));
  for (const Segment& g : segments_) g.cache->set_filled(g.pos0 + g.n);

  last_hidden_.resize(static_cast<size_t>(hp_.n_embd));
  STRATA_RETURN_IF_ERROR(to_host(Act::XB, n_out - 1, 1, last_hidden_.data()));
  // The host backend wrote the logits in place; another backend computed them into Act::Logits.
  if (!host_output) {
    int64_t row0 = 0;
    for (size_t i = 0; i < seqs.size(); ++i) {
      STRATA_RETURN_IF_ERROR(to_host(Act::Logits, row0, segments_[i].n_out, seqs[i].logits.data()));
      row0 += segments_[i].n_out;
    }
  } else if (!one) {
    const float* row = batch_logits_.data();
    for (size_t i = 0; i < seqs.size(); ++i) {
      const size_t count = static_cast<size_t>(segments_[i].n_out * hp_.n_vocab);
      std::copy(row, row + count, seqs[i].logits.data());
      row += count;
    }
  }
  return Status::ok();
}

bool Forward::replay_step(std::span<const int32_t> tokens) {
  const size_t n = segments_.size();
  if (graph_site_ < 0 || graphs_off_ || (n > 1 && batch_graphs_off_)) return false;
  kernels::Backend& g = on(graph_site_);
  // The recording holds the addresses of this pass's activations and of each sequence's cache: any change (a
  // sequence joining or leaving a batch) is a new key.
  uint64_t key = reinterpret_cast<uintptr_t>(this) ^ n;
  step_pos_.clear();
  for (const Segment& s : segments_) {
    for (uint64_t v : {static_cast<uint64_t>(reinterpret_cast<uintptr_t>(s.cache->layer(0).k)),
                       static_cast<uint64_t>(s.cache->n_ctx()), static_cast<uint64_t>(s.cache->max_pass())})
      key = (key ^ v) * 0x9E3779B97F4A7C15ull;
    step_pos_.push_back(s.pos0);
  }
  key = (key ^ acts_.generation()) * 0x9E3779B97F4A7C15ull;
  const kernels::StepInputs in{tokens, step_pos_};
  bool ran = g.replay(key, in);
  // A step is recorded only after one of the same key ran op by op (scratch and tables sized for it).
  if (!ran && last_eager_key_ == key && g.begin_capture(key, in)) {
    unsafe_ = false;
    const Status st = pass(tokens, {});  // segments_: these sequences at their positions
    if (!g.end_capture(st.is_ok() && !unsafe_)) {
      (n > 1 ? batch_graphs_off_ : graphs_off_) = true;  // not recordable (nothing ran): op by op from now on
      return false;
    }
    ran = g.replay(key, in);
  }
  if (!ran) {
    last_eager_key_ = key;  // the caller runs this step op by op
    return false;
  }
  ++replayed_;
  // What the replayed ops wrote that eval reads next.
  const auto rows = static_cast<int64_t>(n);
  return static_cast<bool>(acts_.out(Act::XB, graph_site_, rows)) &&
         static_cast<bool>(acts_.out(Act::Logits, graph_site_, rows));
}

Status Forward::pass(std::span<const int32_t> tokens, std::span<float> logits) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  plan_row_groups();
  pending_.site = -1;  // nothing deferred survives a pass (one that failed midway included)
  // x [n, d] ← token embeddings
  weights_.begin_layer(WeightSource::kGlobalLayer);
  {
    const int b = site(m_.token_embd);
    STRATA_ACT(x, acts_.out(Act::X, b, n));
    if (weights_.gathers_rows(m_.token_embd)) {
      // The source reads just these tokens' rows (a streamed embedding): its view's row i is token i's.
      gather_ids_.resize(static_cast<size_t>(n));
      std::iota(gather_ids_.begin(), gather_ids_.end(), 0);
      Result<WeightRef> rows = weights_.acquire_rows(m_.token_embd, tokens);
      if (rows && (rows->owned() || rows->ready())) unsafe_ = true;  // bytes that move cannot be replayed from
      STRATA_RETURN_IF_ERROR(with_weight(std::move(rows), on(b),
                                         [&](const TensorView& embd) { on(b).get_rows(embd, gather_ids_, x); }));
    } else {
      STRATA_RETURN_IF_ERROR(with_weight(acquire(m_.token_embd), on(b),
                                         [&](const TensorView& embd) { on(b).get_rows(embd, tokens, x); }));
    }
  }

  for (int64_t l = 0; l < hp_.n_layer; ++l) {
    weights_.begin_layer(static_cast<int>(l));
    STRATA_RETURN_IF_ERROR(attention_block(l, n));                                      // x += attn(rms_norm(x))
    STRATA_RETURN_IF_ERROR(norm(m_.layers[l].ffn_norm, Act::X, Act::XB, n));            // xb [n, d]
    STRATA_RETURN_IF_ERROR(hp_.is_moe() ? moe_ffn(l, n) : dense_ffn(l, n));              // ffn_out [n, d]
    weights_.end_layer(static_cast<int>(l));
  }

  // logits [n_out, n_vocab] ← output · rms_norm(x), over each sequence's last row (or all its rows),
  // gathered so that the lm head is read once for the whole batch.
  weights_.begin_layer(WeightSource::kGlobalLayer);
  int64_t n_out = 0;
  for (const Segment& g : segments_) n_out += g.n_out;
  const int b = site(m_.output);
  STRATA_RETURN_IF_ERROR(flush_residual());  // the last layer's residual (the output norm reads some rows only)
  {
    const int nb = site(m_.output_norm);
    STRATA_ACT(x, acts_.in(Act::X, nb, n));
    STRATA_ACT(xb, acts_.out(Act::XB, nb, n_out));
    STRATA_RETURN_IF_ERROR(with_weight(acquire(m_.output_norm), on(nb), [&](const TensorView& w) {
      int64_t out0 = 0;
      for (const Segment& g : segments_) {
        on(nb).rms_norm(x.rows_from(g.row0 + g.n - g.n_out, g.n_out), w, hp_.rms_eps, xb.rows_from(out0, g.n_out));
        out0 += g.n_out;
      }
    }));
  }
  STRATA_ACT(xb, acts_.in(Act::XB, b, n_out));
  // The host backend writes the caller's logits in place; another backend computes them for eval to copy.
  kernels::ActView out{kHostDevice, logits.data(), n_out, hp_.n_vocab};
  if (on(b).device() != kHostDevice) {
    STRATA_ASSIGN_OR_RETURN(out, acts_.out(Act::Logits, b, n_out));
  }
  const bool split = !on(b).device().is_host() && out_groups_.size() > 1;
  STRATA_RETURN_IF_ERROR(with_weight(acquire(m_.output, b), on(b), [&](const TensorView& w) {
    if (!split) return on(b).matmul(w, xb, out);
    for (const RowGroup& g : out_groups_) on(b).matmul(w, xb.rows_from(g.row0, g.n), out.rows_from(g.row0, g.n));
  }));
  weights_.end_layer(WeightSource::kGlobalLayer);
  return Status::ok();
}

Status Forward::attention_block(int64_t l, int64_t n) {
  const LayerTensors& L = m_.layers[l];
  const int kb = placement_.kv_site[static_cast<size_t>(l)];  // the backend holding this layer's cache

  STRATA_RETURN_IF_ERROR(norm(L.attn_norm, Act::X, Act::XB, n));                    // xb [n, d]
  STRATA_RETURN_IF_ERROR(products(Act::XB, {{L.attn_q, Act::Q, L.attn_q_bias},     // q [n, n_head * hd] (+ bq)
                                             {L.attn_k, Act::K, L.attn_k_bias},     // k [n, n_head_kv * hd] (+ bk)
                                             {L.attn_v, Act::V, L.attn_v_bias}},    // v [n, n_head_kv * hd] (+ bv)
                                    n));
  STRATA_RETURN_IF_ERROR(head_norm(L.attn_q_norm, Act::Q, hp_.n_head, n));           // q per head rms_norm (Qwen3)
  STRATA_RETURN_IF_ERROR(head_norm(L.attn_k_norm, Act::K, hp_.n_head_kv, n));        // k per head rms_norm (Qwen3)

  STRATA_ACT(q, acts_.inout(Act::Q, kb, n));
  STRATA_ACT(k, acts_.inout(Act::K, kb, n));
  STRATA_ACT(v, acts_.in(Act::V, kb, n));

  // Per sequence, at its own positions and against its own cache: RoPE, then
  // att [n, n_head * hd]: causal softmax(q·K / sqrt(hd) [, sink]) · V over the cache (the last `window`
  // positions on a sliding-window layer), after appending this batch's k, v.
  kernels::AttentionParams attn;
  attn.n_head = hp_.n_head;
  attn.n_head_kv = hp_.n_head_kv;
  attn.head_dim = hp_.head_dim;
  attn.scale = 1.0f / std::sqrt(static_cast<float>(hp_.head_dim));
  attn.window = hp_.layers[static_cast<size_t>(l)].sliding_window;
  STRATA_ACT(att, acts_.out(Act::Att, kb, n));
  WeightRef sinks;
  if (L.attn_sinks != kNoTensor) {
    STRATA_ASSIGN_OR_RETURN(sinks, acquire(L.attn_sinks, kb));  // where the attention runs (the KV cache's site)
    STRATA_RETURN_IF_ERROR(check_readable(sinks, on(kb)));
    if (sinks.ready()) on(kb).wait(*sinks.ready());
    attn.sinks = sinks.view();
  }
  if (!on(kb).supports(attn)) return error("{}: attention with window {} or sinks is not supported", on(kb).name(), attn.window);
  attn_seqs_.clear();
  for (const Segment& g : segments_) attn_seqs_.push_back({&g.cache->layer(l), g.pos0, g.row0, g.n});
  on(kb).attention_batch(attn, &rope_, q, k, v, attn_seqs_, att);  // every sequence at once
  if (L.attn_sinks != kNoTensor && sinks.owned()) sinks.release_after(on(kb).record());

  STRATA_RETURN_IF_ERROR(matmul(L.attn_output, Act::Att, Act::XB, n, L.attn_output_bias));  // [n, d] (+ bo)
  residual(Act::XB, site(L.attn_output), n);  // x += attn_out (with the next norm)
  return Status::ok();
}

Status Forward::dense_ffn(int64_t l, int64_t n) {
  const LayerTensors& L = m_.layers[l];
  STRATA_RETURN_IF_ERROR(products(Act::XB, {{L.ffn_gate, Act::Gate}, {L.ffn_up, Act::Up}}, n));  // [n, n_ff] each
  const int g = site(L.ffn_gate);
  STRATA_ACT(gate, acts_.inout(Act::Gate, g, n));
  STRATA_ACT(up, acts_.in(Act::Up, g, n));
  on(g).glu(glu_, gate, up, gate);
  STRATA_RETURN_IF_ERROR(matmul(L.ffn_down, Act::Gate, Act::FfnOut, n));  // [n, d]
  residual(Act::FfnOut, site(L.ffn_down), n);  // x += ffn_out (with the next layer's norm)
  return Status::ok();
}

Status Forward::moe_ffn(int64_t l, int64_t n) {
  const LayerTensors& L = m_.layers[l];
  const int64_t n_exp = hp_.n_expert, k = hp_.n_expert_used;
  STRATA_RETURN_IF_ERROR(matmul(L.ffn_gate_inp, Act::XB, Act::Router, n, L.ffn_gate_inp_bias));  // [n, n_expert]
  if (decode_) {  // one token a sequence
    STRATA_ASSIGN_OR_RETURN(bool done, moe_decode_on_device(l, n));
    if (done) return Status::ok();
  }

  // Per token: the top-k experts by router logit, weighted by a softmax over the selected logits (or, without
  // norm_topk, their share of a softmax over all experts). The choices come back to the host, which groups
  // the tokens per expert (and tells the weight source what to read).
  const int r = site(L.ffn_gate_inp);
  route_ids_.resize(static_cast<size_t>(n * k));
  route_w_.resize(static_cast<size_t>(n * k));
  {
    STRATA_ACT(logits, acts_.in(Act::Router, r, n));
    on(r).moe_route(logits, route_, route_ids_, route_w_);
    on(r).record()->synchronize();
  }
  // The experts routed to, each with its rows (tokens) contiguous in rows_, in the order their groups run.
  expert_rows_.assign(static_cast<size_t>(n_exp), 0);
  for (int32_t e : route_ids_) ++expert_rows_[static_cast<size_t>(e)];
  std::vector<int32_t>& selected = selected_;
  selected.clear();
  for (int32_t e = 0; e < n_exp; ++e)
    if (expert_rows_[e] > 0) selected.push_back(e);
  experts_->on_route(static_cast<int>(l), selected);
  // A decode step whose experts are computed from RAM where a device holds some of them (a GPU expert cache):
  // those run on that device, issued first, while the host computes the rest.
  const std::array<int, 3> sites = {site(L.ffn_exps[0]), site(L.ffn_exps[1]), site(L.ffn_exps[2])};
  const int hs = decode_ ? held_site(l, selected, sites) : -1;
  size_t n_held = 0;
  if (hs >= 0) {
    const Device dev = on(hs).device();
    n_held = static_cast<size_t>(std::stable_partition(selected.begin(), selected.end(), [&](int32_t e) {
                                   return experts_->holds_expert_on(static_cast<int>(l), e, dev);
                                 }) - selected.begin());
  }
  expert_begin_.assign(static_cast<size_t>(n_exp), 0);
  int64_t at = 0;
  for (int32_t e : selected) {
    expert_begin_[e] = at;
    at += expert_rows_[e];
  }
  rows_.resize(route_ids_.size());
  scale_.resize(route_ids_.size());
  {
    std::vector<int64_t>& next = expert_next_;  // each expert's next free row while filling
    next = expert_begin_;
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < k; ++j) {
        const size_t pos = static_cast<size_t>(next[route_ids_[t * k + j]]++);
        rows_[pos] = static_cast<int32_t>(t);
        scale_[pos] = route_w_[t * k + j];
      }
  }

  const int b = n_held > 0 ? hs : sites[2];
  STRATA_ACT(acc, acts_.out(Act::FfnOut, b, n));
  on(b).fill(acc, 0.0f);
  // gpt-oss: per-expert bias rows [n_out, n_expert], read whole once per layer and sliced per expert.
  for (int p = 0; p < 3; ++p) {
    exp_bias_[p] = WeightRef();
    if (L.ffn_exps_bias[p] == kNoTensor) continue;
    // For the site whose products add it: a plan may keep a layer's gate experts on the GPU and its up experts
    // on the host, while their biases (small, read every token) sit in GPU memory.
    STRATA_ASSIGN_OR_RETURN(exp_bias_[p], acquire(L.ffn_exps_bias[p], sites[p]));
    kernels::Backend& be = on(sites[p]);
    STRATA_RETURN_IF_ERROR(check_readable(exp_bias_[p], be));
    if (exp_bias_[p].ready()) be.wait(*exp_bias_[p].ready());
  }
  // The routed experts run in groups (a decode step's experts in one, or two where a device holds some):
  // consecutive experts of `selected`, whose rows are contiguous in rows_, while the group's rows fit the expert
  // activations and the weight source can hold all of them at once. A group is a few ops, whatever its size: on
  // the CPU a few pool dispatches a layer rather than six per expert.
  const int64_t cap = acts_.capacity(Act::ExpIn);
  const size_t most_held = static_cast<size_t>(std::max(experts_->max_held_experts(), 1));
  auto run_groups = [&](std::span<const int32_t> list, const std::array<int, 3>& at_sites) -> Status {
    for (size_t i = 0; i < list.size();) {
      size_t j = i;
      int64_t group_rows = 0;
      for (; j < list.size(); ++j) {
        const int64_t m = expert_rows_[list[j]];
        if (j > i && (group_rows + m > cap || j - i >= most_held)) break;
        group_rows += m;  // one expert's rows never exceed the batch's, which the capacity holds
      }
      STRATA_RETURN_IF_ERROR(expert_group(l, n, list.subspan(i, j - i), at_sites));
      i = j;
    }
    return Status::ok();
  };
  if (n_held > 0 && n_held < selected.size()) {
    // The host's input first: a hand-off issued after the device's groups would wait for them to finish.
    STRATA_RETURN_IF_ERROR(acts_.in(Act::XB, sites[0], n).status());
  }
  STRATA_RETURN_IF_ERROR(run_groups(std::span<const int32_t>(selected).first(n_held), {hs, hs, hs}));
  STRATA_RETURN_IF_ERROR(run_groups(std::span<const int32_t>(selected).subspan(n_held), sites));
  for (int p = 0; p < 3; ++p)
    if (L.ffn_exps_bias[p] != kNoTensor) exp_bias_[p].release_after(on(sites[p]).record());
  residual(Act::FfnOut, b, n);  // x += moe_out (with the next layer's norm)
  return Status::ok();
}

// The site of a device (other than the layer's expert sites) that holds some of `selected` whole in its memory,
// or -1. Layers with expert biases keep to their sites.
int Forward::held_site(int64_t l, std::span<const int32_t> selected, const std::array<int, 3>& sites) {
  const LayerTensors& L = m_.layers[l];
  for (TensorId bias : L.ffn_exps_bias)
    if (bias != kNoTensor) return -1;
  for (int b = 0; b < static_cast<int>(placement_.backends.size()); ++b) {
    if (b == sites[0] && b == sites[1] && b == sites[2]) continue;
    for (int32_t e : selected)
      if (experts_->holds_expert_on(static_cast<int>(l), e, on(b).device())) return b;
  }
  return -1;
}

// A decode step's MoE FFN (one token a sequence) routed and computed on the device, where the router and every
// expert of the layer live in the memory of one backend that routes on the device (no expert biases): true when
// it ran.
Result<bool> Forward::moe_decode_on_device(int64_t l, int64_t n) {
  const LayerTensors& L = m_.layers[l];
  const int b = site(L.ffn_gate_inp);
  if (!on(b).moe_decode_on_device()) return false;
  for (int p = 0; p < 3; ++p)
    if (site(L.ffn_exps[p]) != b || L.ffn_exps_bias[p] != kNoTensor) return false;
  // A device site's experts are whole in its memory, or in RAM and staged a slice at a time (placement sends
  // them there only then): those come back as host views and take the host-routed groups, which stage them.
  std::array<WeightRef, 3> w;
  for (int p = 0; p < 3; ++p) {
    STRATA_ASSIGN_OR_RETURN(w[p], acquire(L.ffn_exps[p]));
    if (w[p]->device != on(b).device()) return false;
  }
  for (const WeightRef& r : w)
    if (r.ready()) on(b).wait(*r.ready());
  STRATA_ACT(logits, acts_.in(Act::Router, b, n));
  STRATA_ACT(xb, acts_.in(Act::XB, b, n));
  STRATA_ACT(out, acts_.out(Act::FfnOut, b, n));
  on(b).moe_decode(logits, route_, {w[0].view(), w[1].view(), w[2].view(), glu_}, xb, out);
  // An event only for bytes a source moves: recording one would break a recorded decode step.
  kernels::EventPtr done;
  for (WeightRef& r : w)
    if (r.owned()) {
      if (!done) done = on(b).record();
      r.release_after(done);
    }
  residual(Act::FfnOut, b, n);  // x += moe_out (with the next layer's norm)
  return true;
}

// For the tokens routed to each expert e of `group`:
//   ffn_out[rows[i]] += scale[i] * down_e(glu(gate_e(xb[rows[i]]), up_e(xb[rows[i]])))
// (each projection plus its expert's bias row where the row has expert biases), every expert's product of
// one projection in one matmul_many.
Status Forward::expert_group(int64_t l, int64_t n, std::span<const int32_t> group, const std::array<int, 3>& at_site) {
  // Each projection computes on its site (a plan may keep a layer's gate slices on the GPU and its up slices in
  // RAM); the GLU runs where the gate's output is.
  const int g = at_site[0], u = at_site[1], d = at_site[2];
  const int64_t r0 = expert_begin_[group.front()], m = expert_begin_[group.back()] + expert_rows_[group.back()] - r0;
  const auto rows = std::span<const int32_t>(rows_).subspan(static_cast<size_t>(r0), static_cast<size_t>(m));
  const auto scale = std::span<const float>(scale_).subspan(static_cast<size_t>(r0), static_cast<size_t>(m));

  // Every slice of the group is held from here to the end: a streamed expert's entry stays put between its
  // gate/up product and its down product.
  held_.clear();
  for (int32_t e : group)
    for (ExpertTensor which : {ExpertTensor::Gate, ExpertTensor::Up, ExpertTensor::Down}) {
      kernels::Backend& be = on(at_site[static_cast<int>(which)]);
      STRATA_ASSIGN_OR_RETURN(WeightRef w, experts_->acquire_expert_for(static_cast<int>(l), which, e, be.device()));
      if (w.owned() || w.ready()) unsafe_ = true;  // bytes that move cannot be replayed from
      if (w.ready()) be.wait(*w.ready());
      held_.push_back(std::move(w));
    }
  auto bias = [&](ExpertTensor which, int32_t e) {
    TensorView v;
    if (const WeightRef& all = exp_bias_[static_cast<int>(which)]; all->data != nullptr) {
      v = all.view();  // [n_out, n_expert]: expert e's row
      v.ne[1] = 1;
      v.data = all->row(e);
    }
    return v;
  };
  {
    STRATA_ACT(xb, acts_.in(Act::XB, g, n));
    STRATA_ACT(xe, acts_.out(Act::ExpIn, g, m));
    on(g).gather_rows(xb, rows, xe);  // xe [m, d]
  }
  // Gate and up: one matmul_many where they share a site, one each where they do not.
  for (int k = 0; k < (g == u ? 1 : 2); ++k) {
    const int s = k == 0 ? g : u;
    STRATA_ACT(xe, acts_.in(Act::ExpIn, s, m));
    items_.clear();
    for (ExpertTensor which : {ExpertTensor::Gate, ExpertTensor::Up}) {
      if (at_site[static_cast<int>(which)] != s) continue;
      STRATA_ACT(y, acts_.out(which == ExpertTensor::Gate ? Act::ExpGate : Act::ExpUp, s, m));  // [m, n_ff]
      for (size_t i = 0; i < group.size(); ++i) {
        const int64_t at = expert_begin_[group[i]] - r0, me = expert_rows_[group[i]];
        items_.push_back({held_[3 * i + static_cast<size_t>(which)].view(), xe.rows_from(at, me), y.rows_from(at, me),
                          bias(which, group[i])});
      }
    }
    on(s).matmul_many(items_);
  }
  {
    STRATA_ACT(ge, acts_.inout(Act::ExpGate, g, m));
    STRATA_ACT(ue, acts_.in(Act::ExpUp, g, m));
    on(g).glu(glu_, ge, ue, ge);
  }
  {
    STRATA_ACT(ge, acts_.in(Act::ExpGate, d, m));
    STRATA_ACT(ye, acts_.out(Act::ExpOut, d, m));  // [m, d]
    items_.clear();
    for (size_t i = 0; i < group.size(); ++i) {
      const int64_t at = expert_begin_[group[i]] - r0, me = expert_rows_[group[i]];
      items_.push_back({held_[3 * i + 2].view(), ge.rows_from(at, me), ye.rows_from(at, me), bias(ExpertTensor::Down, group[i])});
    }
    on(d).matmul_many(items_);
  }
  STRATA_ACT(ye, acts_.in(Act::ExpOut, d, m));
  STRATA_ACT(acc, acts_.inout(Act::FfnOut, d, n));
  on(d).scatter_add(ye, rows, scale, acc);
  std::array<kernels::EventPtr, 3> done;
  for (int p = 0; p < 3; ++p)
    done[p] = p > 0 && at_site[p] == at_site[p - 1] ? done[p - 1] : on(at_site[p]).record();
  for (size_t i = 0; i < held_.size(); ++i) held_[i].release_after(done[i % 3]);
  held_.clear();
  return Status::ok();
}

}  // namespace strata::model
