// streaming/resident_weights.h: the all-in-RAM weight source: every tensor read once into memory at load.
#pragma once

#include <string>

#include "core/aligned_buffer.h"
#include "core/progress.h"
#include "core/status.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace strata::streaming {

class ResidentWeights final : public model::WeightSource, public model::ExpertSource {
 public:
  // Reads the whole tensor data section of `file` (checked reads; a truncated file is an error).
  // `progress` hears "loading" in bytes after each chunk.
  static Result<std::unique_ptr<ResidentWeights>> load(const gguf::GgufFile& file, const model::Model& model,
                                                       const ProgressFn& progress = {});

  Result<model::WeightRef> acquire(model::TensorId id) override;
  Result<model::WeightRef> acquire_expert(int layer, model::ExpertTensor which, int32_t expert) override;

  uint64_t resident_bytes() const { return data_.size(); }

 private:
  ResidentWeights(const model::Model& model) : model_(model) {}
  const model::Model& model_;
  uint64_t data_offset_ = 0;
  AlignedBuffer data_;  // the file's data section, from data_offset_
};

}  // namespace strata::streaming
