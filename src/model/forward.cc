// model/forward.cc: the forward pass, written as the model card reads:
// embed → [rms_norm → qkv → rope → attention → out → residual → rms_norm → ffn|moe → residual] × L → norm → logits.
#include "model/forward.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>

#include "core/check.h"
#include "core/fp16.h"
#include "kernels/ops.h"

namespace strata::model {

Forward::Forward(const Model& model, WeightSource& weights, ExpertSource* experts, kernels::Backend& backend)
    : m_(model), hp_(model.hp), weights_(weights), experts_(experts), backend_(backend) {
  STRATA_CHECK(!hp_.is_moe() || experts_ != nullptr);
}

void Forward::resize(int64_t n) {
  const int64_t d = hp_.n_embd;
  x_.resize(n * d);
  xb_.resize(n * std::max(d, hp_.q_dim()));
  q_.resize(n * hp_.q_dim());
  k_.resize(n * hp_.kv_dim());
  v_.resize(n * hp_.kv_dim());
  att_.resize(n * hp_.q_dim());
  gate_.resize(n * hp_.n_ff);
  up_.resize(n * hp_.n_ff);
  ffn_out_.resize(n * d);
  router_.resize(n * std::max<int64_t>(hp_.n_expert, 1));
}

Status Forward::matmul(TensorId id, const float* x, int64_t n_tok, float* y) {
  STRATA_ASSIGN_OR_RETURN(WeightRef w, weights_.acquire(id));
  backend_.matmul(w.view(), x, n_tok, y);
  return Status::ok();
}

Status Forward::norm(TensorId id, const float* x, int64_t n_tok, float* out) {
  const int64_t d = hp_.n_embd;
  STRATA_ASSIGN_OR_RETURN(WeightRef w, weights_.acquire(id));
  norm_w_.resize(d);
  kernels::dequantize_row(w.view(), 0, norm_w_.data());
  for (int64_t t = 0; t < n_tok; ++t) kernels::rms_norm(x + t * d, norm_w_.data(), d, hp_.rms_eps, out + t * d);
  return Status::ok();
}

Status Forward::eval(std::span<const int32_t> tokens, KvCache& cache, std::span<float> logits, bool all_logits) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t d = hp_.n_embd;
  const int64_t pos0 = cache.n_filled();
  if (n == 0) return error("no tokens to evaluate");
  if (pos0 + n > cache.n_ctx())
    return error("context is full: {} tokens cached + {} new exceed the context of {}", pos0, n, cache.n_ctx());
  const uint64_t want = static_cast<uint64_t>(all_logits ? n : 1) * hp_.n_vocab;
  STRATA_CHECK(logits.size() >= want);
  for (int32_t t : tokens)
    if (t < 0 || t >= hp_.n_vocab) return error("token id {} is outside the vocabulary of {}", t, hp_.n_vocab);
  resize(n);

  // x [n, d] ← token embeddings
  weights_.begin_layer(WeightSource::kGlobalLayer);
  {
    STRATA_ASSIGN_OR_RETURN(WeightRef embd, weights_.acquire(m_.token_embd));
    for (int64_t t = 0; t < n; ++t) kernels::dequantize_row(embd.view(), tokens[t], x_.data() + t * d);
  }

  for (int64_t l = 0; l < hp_.n_layer; ++l) {
    weights_.begin_layer(static_cast<int>(l));
    STRATA_RETURN_IF_ERROR(attention_block(l, n, pos0, cache));  // x += attn(rms_norm(x))
    STRATA_RETURN_IF_ERROR(norm(m_.layers[l].ffn_norm, x_.data(), n, xb_.data()));
    STRATA_RETURN_IF_ERROR(hp_.is_moe() ? moe_ffn(l, n) : dense_ffn(l, n));  // ffn_out [n, d]
    for (int64_t i = 0; i < n * d; ++i) x_[i] += ffn_out_[i];
    weights_.end_layer(static_cast<int>(l));
  }
  cache.set_filled(pos0 + n);

  // logits [n_out, n_vocab] ← output · rms_norm(x)
  weights_.begin_layer(WeightSource::kGlobalLayer);
  const int64_t first = all_logits ? 0 : n - 1;
  const int64_t n_out = n - first;
  STRATA_RETURN_IF_ERROR(norm(m_.output_norm, x_.data() + first * d, n_out, xb_.data()));
  last_hidden_.assign(xb_.data() + (n_out - 1) * d, xb_.data() + n_out * d);
  STRATA_RETURN_IF_ERROR(matmul(m_.output, xb_.data(), n_out, logits.data()));
  weights_.end_layer(WeightSource::kGlobalLayer);
  return Status::ok();
}

Status Forward::attention_block(int64_t l, int64_t n, int64_t pos0, KvCache& cache) {
  const LayerTensors& L = m_.layers[l];
  const int64_t d = hp_.n_embd, hd = hp_.head_dim, n_head = hp_.n_head, kv_dim = hp_.kv_dim(), q_dim = hp_.q_dim();
  const int64_t group = hp_.n_head / hp_.n_head_kv;

  STRATA_RETURN_IF_ERROR(norm(L.attn_norm, x_.data(), n, xb_.data()));  // xb [n, d]
  STRATA_RETURN_IF_ERROR(matmul(L.attn_q, xb_.data(), n, q_.data()));   // q [n, n_head * hd]
  STRATA_RETURN_IF_ERROR(matmul(L.attn_k, xb_.data(), n, k_.data()));   // k [n, n_head_kv * hd]
  STRATA_RETURN_IF_ERROR(matmul(L.attn_v, xb_.data(), n, v_.data()));   // v [n, n_head_kv * hd]
  for (int64_t t = 0; t < n; ++t) {
    kernels::rope(q_.data() + t * q_dim, n_head, hd, hp_.n_rot, pos0 + t, hp_.rope_freq_base, hp_.arch->rope_layout);
    kernels::rope(k_.data() + t * kv_dim, hp_.n_head_kv, hd, hp_.n_rot, pos0 + t, hp_.rope_freq_base,
                  hp_.arch->rope_layout);
    uint16_t* kc = cache.k(l, pos0 + t);
    uint16_t* vc = cache.v(l, pos0 + t);
    for (int64_t i = 0; i < kv_dim; ++i) {
      kc[i] = f32_to_fp16(k_[t * kv_dim + i]);
      vc[i] = f32_to_fp16(v_[t * kv_dim + i]);
    }
  }

  // att [n, n_head * hd]: causal softmax(q·K / sqrt(hd)) · V, one (token, head) pair per work item.
  // q and the probabilities are rounded to F16 before their products with the F16 cache, as the
  // reference engine does; it keeps our logits within its rounding.
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const uint16_t* k_cache = cache.k(l, 0);  // position p of kv head h at [p * kv_dim + h * hd]
  const uint16_t* v_cache = cache.v(l, 0);
  // Items go out from a shared counter, not in fixed shares: a causal token's cost grows with its
  // position, so the thread holding the last tokens of a prompt would otherwise hold most of the work.
  const size_t n_items = static_cast<size_t>(n * n_head);
  std::atomic<size_t> next_item{0};
  backend_.pool().run_on_all([&](int) {
    std::vector<float> scores(static_cast<size_t>(pos0 + n));
    std::vector<float> qr(static_cast<size_t>(hd));
    for (size_t item; (item = next_item.fetch_add(1, std::memory_order_relaxed)) < n_items;) {
      const int64_t t = static_cast<int64_t>(item) / n_head, h = static_cast<int64_t>(item) % n_head;
      const int64_t kvh = h / group;
      const int64_t n_pos = pos0 + t + 1;
      const float* qh = q_.data() + t * q_dim + h * hd;
      for (int64_t i = 0; i < hd; ++i) qr[i] = fp16_to_f32(f32_to_fp16(qh[i]));
      kernels::attention_scores_f16(qr.data(), k_cache + kvh * hd, kv_dim, n_pos, hd, scale, scores.data());
      kernels::softmax(scores.data(), n_pos);
      for (int64_t p = 0; p < n_pos; ++p) scores[p] = fp16_to_f32(f32_to_fp16(scores[p]));
      kernels::attention_values_f16(scores.data(), v_cache + kvh * hd, kv_dim, n_pos, hd,
                                    att_.data() + t * q_dim + h * hd);
    }
  });

  STRATA_RETURN_IF_ERROR(matmul(L.attn_output, att_.data(), n, xb_.data()));  // [n, d]
  for (int64_t i = 0; i < n * d; ++i) x_[i] += xb_[i];
  return Status::ok();
}

Status Forward::dense_ffn(int64_t l, int64_t n) {
  const LayerTensors& L = m_.layers[l];
  STRATA_RETURN_IF_ERROR(matmul(L.ffn_gate, xb_.data(), n, gate_.data()));  // [n, n_ff]
  STRATA_RETURN_IF_ERROR(matmul(L.ffn_up, xb_.data(), n, up_.data()));      // [n, n_ff]
  kernels::swiglu(gate_.data(), up_.data(), n * hp_.n_ff);
  return matmul(L.ffn_down, gate_.data(), n, ffn_out_.data());  // [n, d]
}

Status Forward::moe_ffn(int64_t l, int64_t n) {
  const LayerTensors& L = m_.layers[l];
  const int64_t d = hp_.n_embd, n_ff = hp_.n_ff, n_exp = hp_.n_expert, k = hp_.n_expert_used;
  STRATA_RETURN_IF_ERROR(matmul(L.ffn_gate_inp, xb_.data(), n, router_.data()));  // router [n, n_expert]

  // Per token: the top-k experts by router logit, weighted by a softmax over the selected logits.
  std::vector<std::vector<std::pair<int64_t, float>>> by_expert(n_exp);  // expert → (token, weight)
  std::vector<int32_t> order(n_exp);
  for (int64_t t = 0; t < n; ++t) {
    const float* r = router_.data() + t * n_exp;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
      return r[a] > r[b] || (r[a] == r[b] && a < b);
    });
    std::vector<float> w(k);
    for (int64_t j = 0; j < k; ++j) w[j] = r[order[j]];
    kernels::softmax(w.data(), k);
    for (int64_t j = 0; j < k; ++j) by_expert[order[j]].emplace_back(t, w[j]);
  }
  std::vector<int32_t> selected;
  for (int32_t e = 0; e < n_exp; ++e)
    if (!by_expert[e].empty()) selected.push_back(e);
  experts_->on_route(static_cast<int>(l), selected);

  std::fill(ffn_out_.begin(), ffn_out_.begin() + n * d, 0.0f);
  std::vector<float> xe, ge, ue, ye;
  for (int32_t e : selected) {
    const auto& toks = by_expert[e];
    const int64_t m = static_cast<int64_t>(toks.size());
    xe.resize(m * d);
    ge.resize(m * n_ff);
    ue.resize(m * n_ff);
    ye.resize(m * d);
    for (int64_t i = 0; i < m; ++i) std::copy_n(xb_.data() + toks[i].first * d, d, xe.data() + i * d);
    {
      STRATA_ASSIGN_OR_RETURN(WeightRef wg, experts_->acquire_expert(static_cast<int>(l), ExpertTensor::Gate, e));
      backend_.matmul(wg.view(), xe.data(), m, ge.data());  // [m, n_ff]
    }
    {
      STRATA_ASSIGN_OR_RETURN(WeightRef wu, experts_->acquire_expert(static_cast<int>(l), ExpertTensor::Up, e));
      backend_.matmul(wu.view(), xe.data(), m, ue.data());  // [m, n_ff]
    }
    kernels::swiglu(ge.data(), ue.data(), m * n_ff);
    {
      STRATA_ASSIGN_OR_RETURN(WeightRef wd, experts_->acquire_expert(static_cast<int>(l), ExpertTensor::Down, e));
      backend_.matmul(wd.view(), ge.data(), m, ye.data());  // [m, d]
    }
    for (int64_t i = 0; i < m; ++i) {
      float* out = ffn_out_.data() + toks[i].first * d;
      const float w = toks[i].second;
      for (int64_t j = 0; j < d; ++j) out[j] += w * ye[i * d + j];
    }
  }
  return Status::ok();
}

}  // namespace strata::model
