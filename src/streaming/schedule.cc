// streaming/schedule.cc: the forward pass's dense read order and its streamed cycle.
#include "streaming/schedule.h"

#include "core/check.h"

namespace strata::streaming {

std::vector<PassRead> pass_reads(const model::Model& m) {
  const int n_layer = static_cast<int>(m.layers.size());
  std::vector<PassRead> r;
  r.push_back({0, m.token_embd});
  for (int l = 0; l < n_layer; ++l) {
    const model::LayerTensors& L = m.layers[l];
    const int p = 1 + l;
    for (model::TensorId id : {L.attn_norm, L.attn_q, L.attn_k, L.attn_v, L.attn_output, L.ffn_norm})
      r.push_back({p, id});
    if (L.ffn_gate_inp != model::kNoTensor) {
      r.push_back({p, L.ffn_gate_inp});  // then expert slices, through the expert source
    } else {
      for (model::TensorId id : {L.ffn_gate, L.ffn_up, L.ffn_down}) r.push_back({p, id});
    }
  }
  r.push_back({n_layer + 1, m.output_norm});
  r.push_back({n_layer + 1, m.output});
  return r;
}

bool is_expert_tensor(const model::Model& m, model::TensorId id) {
  for (const model::LayerTensors& L : m.layers)
    for (model::TensorId e : L.ffn_exps)
      if (e == id && e != model::kNoTensor) return true;
  return false;
}

Schedule::Schedule(const model::Model& m, const std::vector<bool>& streamed)
    : n_positions_(static_cast<int>(m.layers.size()) + 2) {
  for (const PassRead& r : pass_reads(m)) {
    STRATA_CHECK(r.tensor >= 0 && static_cast<size_t>(r.tensor) < streamed.size());
    if (streamed[r.tensor]) reads_.push_back(r);
  }
  count_before_.assign(n_positions_, 0);
  for (int p = 0; p < n_positions_; ++p)
    for (const PassRead& r : reads_)
      if (r.position < p) ++count_before_[p];
}

}  // namespace strata::streaming
