// model/synth.h: synthetic models of any architecture row (dense or MoE) with seeded random weights and a valid
// vocabulary.
// Used by `strata synth`, the tests and the benchmarks; the weights are random, not a trained model.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/progress.h"
#include "core/status.h"

namespace strata::model {

struct SynthSpec {
  std::string arch = "llama";  // a row of the architecture table; its quirks' tensors and keys are written
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
  int64_t head_dim = 0;   // 0: dim / heads; else written as attention.key_length / value_length
  int64_t ff_expert = 0;  // one expert's width; 0: ff (written as expert_feed_forward_length off llama)
  int64_t window = 0;     // sliding window of an arch that slides (0: 128)
  int norm_topk = -1;     // expert_weights_norm: -1 not written, 0 false, 1 true
  std::string rope_scaling;   // rope.scaling.type: "" (not written), none, linear, yarn
  float rope_scaling_factor = 1.0f;
  int64_t rope_n_ctx_orig = 0;  // rope.scaling.original_context_length (0: not written)
  bool rope_freqs = false;      // llama: rope_freqs.weight with Llama 3.1's frequency factors
  float rms_eps = 0.0f;          // 0: the row's default
  std::string vocab_family;     // "": SentencePiece; llama3, qwen, gpt-oss: that family's byte-level BPE
  uint64_t seed = 1;
  std::string type = "F32";  // a DType name, or a mix: Q4_K_M, Q5_K_M, MXFP4_MOE
  bool tied = false;
  int threads = 0;  // 0: all
  bool sparse = false;  // header only, the weights a hole of their full size (for planning and `inspect`)
  double router_skew = 0;  // > 0: expert popularity per layer ~ Zipf with this exponent (model/synth_skew.h)
  ProgressFn progress;  // bytes of weights written
};

struct SynthSummary {
  int64_t ff = 0;
  int64_t kv_heads = 0;
  uint64_t weight_bytes = 0;
  double seconds = 0;
};

// The shape, vocabulary and RoPE of a real model (llama3-8b, llama3-70b, qwen3-30b-a3b, qwen3-235b-a22b,
// gpt-oss-20b, gpt-oss-120b, mixtral-8x7b); weights stay random. An error lists the names.
Result<SynthSpec> synth_preset(std::string_view name);

// Writes the model to `path` (atomically: a temporary file renamed into place).
Result<SynthSummary> write_synth_model(const SynthSpec& spec, const std::string& path);

}  // namespace strata::model
