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

}  // namespace strata::kernels
