// streaming/schedule.cc: the forward pass's dense read order and its streamed cycle.
#include "streaming/schedule.h"

#include "core/check.h"

namespace strata::streaming {

std::vector<PassRead> pass_reads(const model::Model& m) {
  // The bound enumeration is the forward order; expert slices go through the expert source instead.
  std::vector<PassRead> r;
  for (const model::BoundTensor& b : m.bound)
    if (!b.spec.expert_stacked) r.push_back({b.spec.position, b.id});
  return r;
}

bool is_expert_tensor(const model::Model& m, model::TensorId id) {
  for (const model::LayerTensors& L : m.layers)
    for (model::TensorId e : L.ffn_exps)
      if (e == id && e != model::kNoTensor) return true;
  return false;
}

bool is_row_gather(const model::Model& m, model::TensorId id) {
  return id != model::kNoTensor && id == m.token_embd && m.output != m.token_embd;
}

Schedule::Schedule(const model::Model& m, const std::vector<bool>& streamed)
    : n_positions_(static_cast<int>(m.layers.size()) + 2) {
  for (const PassRead& r : pass_reads(m)) {
    STRATA_CHECK(r.tensor >= 0 && static_cast<size_t>(r.tensor) < streamed.size());
    if (streamed[r.tensor] && !is_row_gather(m, r.tensor)) reads_.push_back(r);
  }
  count_before_.assign(n_positions_, 0);
  for (int p = 0; p < n_positions_; ++p)
    for (const PassRead& r : reads_)
      if (r.position < p) ++count_before_[p];
}

}  // namespace strata::streaming
