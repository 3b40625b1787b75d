// model/forward.h: the forward pass of every architecture row over a batch of tokens, reading weights through the sources
// and running each op on the backend its placement names.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "kernels/backend.h"
#include "model/activations.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/placement.h"
#include "model/weight_source.h"

namespace strata::model {

class Forward {
 public:
  // `experts` may be null for dense models. Every op on `backend`.
  Forward(const Model& model, WeightSource& weights, ExpertSource* experts, kernels::Backend& backend);
  // Each op on placement's site for its tensor and phase (decode: one token; prefill: a batch).
  Forward(const Model& model, WeightSource& weights, ExpertSource* experts, Placement placement);

  // Evaluates `tokens` at positions cache.n_filled() ... and appends their K/V to the cache, in passes of
  // at most cache.max_pass() tokens (a sliding-window ring holds only that many beyond its window).
  // logits: [n_vocab] for the last token, or [tokens.size(), n_vocab] when all_logits.
  Status eval(std::span<const int32_t> tokens, KvCache& cache, std::span<float> logits, bool all_logits);

  // The final normalised hidden state of the last evaluated token ([n_embd]), for embeddings.
  std::span<const float> last_hidden() const { return last_hidden_; }
  const Placement& placement() const { return placement_; }
  const HandoffCounters& handoffs() const { return acts_.counters(); }

 private:
  Status eval_pass(std::span<const int32_t> tokens, KvCache& cache, std::span<float> logits, bool all_logits);
  Status attention_block(int64_t layer, int64_t n_tok, int64_t pos0, KvCache& cache);
  Status dense_ffn(int64_t layer, int64_t n_tok);
  Status moe_ffn(int64_t layer, int64_t n_tok);
  Status expert(int64_t layer, int64_t n_tok, int32_t e, std::span<const int32_t> rows, std::span<const float> scale);
  Status expert_matmul(int64_t layer, ExpertTensor which, int32_t e, Act x, Act y, int64_t m);
  // One weight op: acquire, wait for its bytes, enqueue, give the bytes back behind the op.
  Status matmul(TensorId id, Act x, Act y, int64_t n_tok, TensorId bias = kNoTensor);
  Status head_norm(TensorId id, Act a, int64_t n_heads, int64_t n_tok);
  Status load_rope_factors();
  Status norm(TensorId id, Act x, Act out, int64_t n_tok);
  Status to_host(Act a, int64_t row0, int64_t rows, float* dst);
  int site(TensorId id) const { return placement_.site(id, decode_); }
  kernels::Backend& on(int b) const { return *placement_.backends[static_cast<size_t>(b)]; }

  const Model& m_;
  const HParams& hp_;
  WeightSource& weights_;
  ExpertSource* experts_;
  Placement placement_;
  Activations acts_;
  bool decode_ = false;  // this pass's phase
  kernels::RopeParams rope_;           // every layer's; freq_factors point into rope_factors_
  std::vector<float> rope_factors_;
  kernels::GluKind glu_;
  kernels::RouteParams route_;
  std::array<WeightRef, 3> exp_bias_;  // this MoE layer's expert biases (gate, up, down), when the row has them
  // Host-side routing, reused across layers: the router's choices and the tokens grouped per expert.
  std::vector<int32_t> route_ids_, rows_;
  std::vector<float> route_w_, scale_;
  std::vector<int64_t> expert_begin_;
  std::vector<float> last_hidden_;
};

}  // namespace strata::model
