// engine/device_weights.h: the tensors a plan keeps in GPU memory, copied there once at load; every other tensor
// comes from the wrapped source (resident RAM or streaming).
#pragma once

#include <memory>
#include <vector>

#include "core/status.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace strata::engine {

class DeviceWeights final : public model::WeightSource, public model::ExpertSource {
 public:
  // Copies every tensor with on_device[id] from `base` into Weights buffers of `device`.
  static Result<std::unique_ptr<DeviceWeights>> make(const model::Model& m, model::WeightSource& base,
                                                     model::ExpertSource* base_experts,
                                                     const std::vector<bool>& on_device, kernels::Backend& device);

  void begin_layer(int layer) override { base_.begin_layer(layer); }
  void end_layer(int layer) override { base_.end_layer(layer); }
  Result<model::WeightRef> acquire(model::TensorId id) override;
  void on_route(int layer, std::span<const int32_t> experts) override;
  Result<model::WeightRef> acquire_expert(int layer, model::ExpertTensor which, int32_t expert) override;
  int max_held_experts() const override {
    return base_experts_ ? base_experts_->max_held_experts() : model::ExpertSource::max_held_experts();
  }
  uint64_t device_bytes() const { return device_bytes_; }

 private:
  DeviceWeights(const model::Model& m, model::WeightSource& base, model::ExpertSource* base_experts)
      : m_(m), base_(base), base_experts_(base_experts) {}

  const model::Model& m_;
  model::WeightSource& base_;
  model::ExpertSource* base_experts_;
  std::vector<std::unique_ptr<kernels::Buffer>> buffers_;
  std::vector<TensorView> views_;  // per tensor id; data == nullptr where the base source serves it
  uint64_t device_bytes_ = 0;
};

}  // namespace strata::engine
