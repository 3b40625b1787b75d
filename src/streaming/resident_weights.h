// streaming/resident_weights.h: the all-in-RAM weight source: every tensor read once into memory at load (but
// those another device holds, which are never read through it).
#pragma once

#include <string>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/progress.h"
#include "core/status.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace strata::streaming {

class ResidentWeights final : public model::WeightSource, public model::ExpertSource {
 public:
  // Reads the tensor data section of `file` (checked reads; a truncated file is an error), less the tensors
  // with elsewhere[id]: those live in another device's memory only (a plan's GPU tier), and acquiring one
  // here is an internal error. `progress` hears "loading" in bytes after each chunk.
  static Result<std::unique_ptr<ResidentWeights>> load(const gguf::GgufFile& file, const model::Model& model,
                                                       const ProgressFn& progress = {},
                                                       const std::vector<bool>& elsewhere = {});

  Result<model::WeightRef> acquire(model::TensorId id) override;
  Result<model::WeightRef> acquire_expert(int layer, model::ExpertTensor which, int32_t expert) override;

  uint64_t resident_bytes() const { return data_.size(); }

 private:
  ResidentWeights(const model::Model& model) : model_(model) {}
  const model::Model& model_;
  std::vector<uint64_t> offset_;  // per tensor id: its bytes' offset in data_, or kNotHeld
  AlignedBuffer data_;             // the held tensors, in file order (runs of adjacent tensors read as one)
  static constexpr uint64_t kNotHeld = ~0ull;
};

}  // namespace strata::streaming
