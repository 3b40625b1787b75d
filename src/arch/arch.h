// arch/arch.h: the architecture table: one row per architecture, each quirk of a family a column.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "kernels/ops.h"

namespace strata::arch {

enum class NormKind { RmsNorm };
// SwiGlu: silu(gate) * up. SwiGluClamped (gpt-oss): gate and up clamped, gate * sigmoid(1.702 gate) * (up + 1).
enum class Activation { SwiGlu, SwiGluClamped };
// PerHeadRms (Qwen3): q and k RMS-normed per head (weights [head_dim]) after projection, before RoPE.
enum class QkNorm { None, PerHeadRms };
// How router logits become expert weights: softmax over all experts, then the top k (renormalised to sum 1
// when norm_topk). Softmax over the selected logits alone is the same as Softmax with norm_topk.
enum class Gating { Softmax };

// Which projections carry a bias tensor (`<name>.bias` beside `<name>.weight`).
struct Biases {
  bool qkv = false;       // attn_q/k/v
  bool attn_out = false;  // attn_output
  bool router = false;    // ffn_gate_inp
  bool experts = false;   // ffn_{gate,up,down}_exps
};

// One architecture. Every column is read by the metadata reader, the tensor enumeration, or the forward pass;
// a column left at its default is a no-op there.
struct Arch {
  std::string_view name;            // general.architecture, and the metadata key prefix
  kernels::RopeLayout rope_layout;  // llama GGUFs store q/k permuted for interleaved pairs; NeoX rotates halves
  NormKind norm;
  Activation activation;
  Biases biases;
  QkNorm qk_norm;
  bool attn_sinks;            // a learned per-head logit joins each softmax (blk.N.attn_sinks, [n_head])
  int swa_period;             // 0: full attention everywhere; n: layer l uses the sliding window unless l % n == n-1
  Gating gating;
  bool norm_topk_default;     // renormalise the top-k weights (metadata expert_weights_norm overrides)
  bool tied_output;           // output.weight may be absent: the lm head reads token_embd
  bool rope_freqs;            // rope_freqs.weight (per-dimension frequency factors) may be present
  std::string_view ffn_norm;  // the pre-FFN norm's tensor name: ffn_norm, or post_attention_norm (gpt-oss)
  float default_rope_freq_base;
  float default_rms_eps;
};

// The row for `name`, or nullptr.
const Arch* find_arch(std::string_view name);
// The row for `name`, or an error naming it and listing the supported ones.
Result<const Arch*> lookup_arch(std::string_view name);
// "llama, qwen2, ..." in table order.
std::string supported_arch_names();

}  // namespace strata::arch
