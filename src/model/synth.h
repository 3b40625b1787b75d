// model/synth.h: synthetic llama-shaped models (dense or MoE) with seeded random weights and a valid vocabulary.
// Used by `strata synth`, the tests and the benchmarks; the weights are random, not a trained model.
#pragma once

#include <cstdint>
#include <string>

#include "core/progress.h"
#include "core/status.h"

namespace strata::model {

struct SynthSpec {
  int64_t layers = 2;
  int64_t dim = 64;
  int64_t ff = 0;        // 0: ~8/3 dim rounded to 32
  int64_t heads = 4;
  int64_t kv_heads = 0;  // 0: same as heads
  int64_t vocab = 512;
  int64_t experts = 0;   // 0: dense
  int64_t experts_used = 2;
  int64_t ctx = 2048;
  float rope_base = 10000.0f;
  uint64_t seed = 1;
  std::string type = "F32";  // a DType name, or a mix: Q4_K_M, Q5_K_M, MXFP4_MOE
  bool tied = false;
  int threads = 0;  // 0: all
  bool sparse = false;  // header only, the weights a hole of their full size (for planning and `inspect`)
  ProgressFn progress;  // bytes of weights written
};

struct SynthSummary {
  int64_t ff = 0;
  int64_t kv_heads = 0;
  uint64_t weight_bytes = 0;
  double seconds = 0;
};

// Writes the model to `path` (atomically: a temporary file renamed into place).
Result<SynthSummary> write_synth_model(const SynthSpec& spec, const std::string& path);

}  // namespace strata::model
