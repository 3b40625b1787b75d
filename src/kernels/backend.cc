// kernels/backend.cc: the backend-independent pieces of the interface: names, the completed event, copies of views.
#include "kernels/backend.h"

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
