// model/forward.h: the llama-family forward pass over a batch of tokens, reading weights through the sources.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "kernels/backend.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace strata::model {

class Forward {
 public:
  // `experts` may be null for dense models.
  Forward(const Model& model, WeightSource& weights, ExpertSource* experts, kernels::Backend& backend);

  // Evaluates `tokens` at positions cache.n_filled() ... and appends their K/V to the cache.
  // logits: [n_vocab] for the last token, or [tokens.size(), n_vocab] when all_logits.
  Status eval(std::span<const int32_t> tokens, KvCache& cache, std::span<float> logits, bool all_logits);

  // The final normalised hidden state of the last evaluated token ([n_embd]), for embeddings.
  std::span<const float> last_hidden() const { return last_hidden_; }

 private:
  Status attention_block(int64_t layer, int64_t n_tok, int64_t pos0, KvCache& cache);
  Status dense_ffn(int64_t layer, int64_t n_tok);
  Status moe_ffn(int64_t layer, int64_t n_tok);
  Status matmul(TensorId id, const float* x, int64_t n_tok, float* y);
  Status norm(TensorId id, const float* x, int64_t n_tok, float* out);
  void resize(int64_t n_tok);

  const Model& m_;
  const HParams& hp_;
  WeightSource& weights_;
  ExpertSource* experts_;
  kernels::Backend& backend_;
  // Activations, sized for the current batch: x (residual stream), xb (normed), q, k, v, att, ffn scratch.
  std::vector<float> x_, xb_, q_, k_, v_, att_, gate_, up_, ffn_out_, router_, norm_w_;
  std::vector<float> last_hidden_;
};

}  // namespace strata::model
