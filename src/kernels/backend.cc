// kernels/backend.cc: the backend-independent pieces of the interface: names, the completed event, copies of views.
#include "kernels/backend.h"

#include <vector>

#include "core/check.h"

namespace strata::kernels {

namespace {

class CompletedEvent final : public Event {
 public:
  bool query() const override { return true; }
  void synchronize() override {}
};

}  // namespace

std::string_view buffer_use_name(BufferUse use) {
  switch (use) {
    case BufferUse::Weights: return "weights";
    case BufferUse::Activations: return "activations";
    case BufferUse::KvCache: return "kv-cache";
    case BufferUse::Staging: return "staging";
  }
  return "?";
}

EventPtr completed_event() {
  static const EventPtr kDone = std::make_shared<CompletedEvent>();
  return kDone;
}

void Backend::copy(ActView src, ActView dst) {
  STRATA_CHECK(src.rows == dst.rows && src.cols == dst.cols);
  copy(src.data, src.device, dst.data, dst.device, static_cast<uint64_t>(src.n_elements()) * sizeof(float));
}

void Backend::matmul_many(std::span<const MatmulItem> items) {
  for (const MatmulItem& it : items) matmul(it.w, it.x, it.y, it.bias);
}

void Backend::moe_decode(ActView logits, const RouteParams& p, const MoeWeights& w, ActView x, ActView out) {
  const int64_t n = x.rows, k = p.n_expert_used, n_ff = w.gate.ne[1], slots = n * k;
  STRATA_CHECK(n > 0 && logits.rows == n && out.rows == n && out.cols == w.down.ne[1] && k > 0);
  std::vector<int32_t> ids(static_cast<size_t>(slots));
  std::vector<float> weights(static_cast<size_t>(slots));
  moe_route(logits, p, ids, weights);
  record()->synchronize();
  // Scratch in this backend's memory, a row per (token, choice) slot: gate and up [slots, n_ff], down outputs
  // [slots, d].
  auto g = alloc(static_cast<uint64_t>(slots * n_ff) * sizeof(float), BufferUse::Activations);
  auto u = alloc(static_cast<uint64_t>(slots * n_ff) * sizeof(float), BufferUse::Activations);
  auto y = alloc(static_cast<uint64_t>(slots * out.cols) * sizeof(float), BufferUse::Activations);
  STRATA_CHECK_MSG(g && u && y, "out of memory for MoE scratch");
  const ActView gv{device(), reinterpret_cast<float*>(g->data()), slots, n_ff};
  const ActView uv{device(), reinterpret_cast<float*>(u->data()), slots, n_ff};
  const ActView yv{device(), reinterpret_cast<float*>(y->data()), slots, out.cols};
  std::vector<int32_t> rows(static_cast<size_t>(slots));
  for (int64_t s = 0; s < slots; ++s) {
    rows[static_cast<size_t>(s)] = static_cast<int32_t>(s / k);  // slot s serves token s / k
    matmul(w.gate.slice_last(ids[s]), x.rows_from(s / k, 1), gv.rows_from(s, 1));
    matmul(w.up.slice_last(ids[s]), x.rows_from(s / k, 1), uv.rows_from(s, 1));
  }
  glu(w.glu, gv, uv, gv);
  for (int64_t s = 0; s < slots; ++s) matmul(w.down.slice_last(ids[s]), gv.rows_from(s, 1), yv.rows_from(s, 1));
  fill(out, 0.0f);
  scatter_add(yv, rows, weights, out);
  record()->synchronize();  // the scratch is freed on return
}

void Backend::attention_batch(const AttentionParams& p, const RopeParams* rope, ActView q, ActView k, ActView v,
                              std::span<const AttentionSeq> seqs, ActView out) {
  for (const AttentionSeq& s : seqs) {
    STRATA_CHECK(s.cache != nullptr && s.row0 >= 0 && s.n >= 0 && s.row0 + s.n <= q.rows);
    const ActView qs = q.rows_from(s.row0, s.n), ks = k.rows_from(s.row0, s.n);
    if (rope != nullptr) {
      this->rope(qs, p.n_head, p.head_dim, s.pos0, *rope);
      this->rope(ks, p.n_head_kv, p.head_dim, s.pos0, *rope);
    }
    attention(p, qs, ks, v.rows_from(s.row0, s.n), *s.cache, s.pos0, out.rows_from(s.row0, s.n));
  }
}

}  // namespace strata::kernels
