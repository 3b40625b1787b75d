// cli/bench_traffic.cc: decode_traffic (bench_traffic.h).
#include "cli/bench_traffic.h"

#include <vector>

namespace strata::cli {

DecodeTraffic decode_traffic(const model::Model& m, double context) {
  const auto& hp = m.hp;
  std::vector<double> share(m.tensors.size(), 1.0);
  if (hp.is_moe())
    for (const auto& L : m.layers)
      for (model::TensorId id : L.ffn_exps)
        if (id >= 0) share[static_cast<size_t>(id)] = static_cast<double>(hp.n_expert_used) / hp.n_expert;
  // The gather reads one row of the embedding, unless the output product reads all of it (tied).
  if (m.token_embd >= 0 && m.token_embd != m.output && hp.n_vocab > 0)
    share[static_cast<size_t>(m.token_embd)] = 1.0 / static_cast<double>(hp.n_vocab);
  DecodeTraffic t;
  for (size_t i = 0; i < m.tensors.size(); ++i) t.weights += share[i] * static_cast<double>(m.tensors[i].size_bytes);
  t.kv = 2.0 * 2.0 * static_cast<double>(hp.n_layer) * static_cast<double>(hp.kv_dim()) * context;
  const double ff = hp.is_moe() ? static_cast<double>(hp.n_ff) * hp.n_expert_used : static_cast<double>(hp.n_ff);
  // x, xb (twice), q, k, v, att, attn out, ffn out; gate, up.
  const double per_layer = 5.0 * hp.n_embd + 2.0 * hp.q_dim() + 2.0 * hp.kv_dim() + 2.0 * ff;
  t.acts = 2.0 * 4.0 * per_layer * static_cast<double>(hp.n_layer);
  return t;
}

}  // namespace strata::cli
