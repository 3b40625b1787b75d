// tests/model/buffer_weights.h: a whole model file held in memory as the forward pass's weight and expert
// source (host views into the bytes), for the model tests that run the pass without the engine.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "model/model.h"
#include "model/weight_source.h"

namespace strata::model {

// Tests that also watch the routing derive from it (on_route, acquire_expert).
class BufferWeights : public WeightSource, public ExpertSource {
 public:
  BufferWeights(const Model& m, std::vector<uint8_t> bytes) : m_(m), bytes_(std::move(bytes)) {}
  Result<WeightRef> acquire(TensorId id) override {
    return WeightRef(make_view(m_, id, bytes_.data() + m_.tensors[id].file_offset));
  }
  Result<WeightRef> acquire_expert(int layer, ExpertTensor which, int32_t e) override {
    STRATA_ASSIGN_OR_RETURN(WeightRef whole, acquire(m_.layers[layer].ffn_exps[static_cast<int>(which)]));
    return WeightRef(whole.view().slice_last(e));
  }

 private:
  const Model& m_;
  std::vector<uint8_t> bytes_;
};

}  // namespace strata::model
