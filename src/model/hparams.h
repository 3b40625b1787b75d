// model/hparams.h: architectures as data, and the hyperparameters read from GGUF metadata.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "gguf/gguf_file.h"
#include "kernels/ops.h"

namespace strata::model {

// What distinguishes one member of the llama family from another. One row per architecture.
struct ArchInfo {
  std::string_view name;            // general.architecture, and the metadata key prefix
  kernels::RopeLayout rope_layout;  // llama GGUFs store q/k permuted for interleaved pairs
  float default_rope_freq_base;
  float default_rms_eps;
};
const ArchInfo* find_arch(std::string_view name);

struct HParams {
  const ArchInfo* arch = nullptr;
  int64_t n_layer = 0;
  int64_t n_embd = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;   // n_embd / n_head unless attention.key_length says otherwise
  int64_t n_rot = 0;      // rope.dimension_count (defaults to head_dim)
  int64_t n_vocab = 0;    // from token_embd's shape
  int64_t n_ctx_train = 0;
  int64_t n_expert = 0;   // 0 for dense models
  int64_t n_expert_used = 0;
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;

  bool is_moe() const { return n_expert > 0; }
  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
};

// Reads and validates hyperparameters; every error names the metadata key and value.
Result<HParams> read_hparams(const gguf::GgufFile& file);

}  // namespace strata::model
