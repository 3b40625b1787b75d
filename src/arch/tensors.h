// arch/tensors.h: the one enumeration of a model's tensors in forward order (gemma.cpp's ForEachTensor): name,
// role, layer, expected shape, required or optional, expert-stacked or not. Binding, the streamer's pass
// order, the planner's roles, synth and /api/show all iterate it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "arch/hparams.h"
#include "core/status.h"

namespace strata::arch {

// What a tensor is for, as the planner costs it.
enum class Role {
  Embedding,    // token_embd: a gather of one row per token (or the whole matrix when tied to the output)
  Output,       // output (lm head)
  OutputNorm,   // output_norm
  AttnNorm,     // blk.N.attn_norm, and q/k norms
  AttnQ,
  AttnK,
  AttnV,
  AttnQkv,      // fused q/k/v projections
  AttnOutput,
  FfnNorm,
  FfnGate,      // dense FFN, and shared experts
  FfnUp,
  FfnDown,
  Router,       // blk.N.ffn_gate_inp
  ExpertGate,   // blk.N.ffn_gate_exps: [n_embd, n_ff_exp, n_expert], one contiguous slice per expert
  ExpertUp,
  ExpertDown,
  Bias,         // any other one-dimensional tensor (biases, scales, sinks, frequency factors)
  Other,        // an unrecognised matrix: planned as a dense weight read once per token
};
std::string_view role_name(Role role);

// Every tensor kind any row may have. The enumeration emits these; the bound model has one slot per kind.
enum class Kind {
  token_embd, rope_freqs,
  attn_norm, attn_q, attn_q_bias, attn_k, attn_k_bias, attn_v, attn_v_bias, attn_q_norm, attn_k_norm,
  attn_sinks, attn_output, attn_output_bias, ffn_norm,
  ffn_gate, ffn_up, ffn_down,
  ffn_gate_inp, ffn_gate_inp_bias, ffn_gate_exps, ffn_gate_exps_bias, ffn_up_exps, ffn_up_exps_bias,
  ffn_down_exps, ffn_down_exps_bias,
  output_norm, output,
};
inline constexpr int kNumKinds = static_cast<int>(Kind::output) + 1;

// Read positions of one forward pass: 0 = before the layers, 1 + l = layer l, n_layer + 1 = after them.
inline int position_of_layer(int layer) { return 1 + layer; }

struct TensorSpec {
  std::string name;             // the GGUF tensor name
  Kind kind = Kind::token_embd;
  Role role = Role::Other;
  int layer = -1;               // -1 outside the blocks
  int position = 0;             // its read position in a forward pass (see position_of_layer)
  std::vector<int64_t> shape;   // ne[0] first
  bool required = true;
  bool expert_stacked = false;  // an expert matrix: last dimension indexes the experts; read by expert slice
  bool tied_to_embedding = false;  // optional output: when absent the lm head reads token_embd
};

using TensorVisitor = std::function<Status(const TensorSpec&)>;

// Visits every tensor `hp`'s architecture may have, in the order the forward pass reads them; stops at and
// returns the first error the visitor returns. REQUIRES: hp.arch set.
Status for_each_tensor(const HParams& hp, const TensorVisitor& visit);
// The same, collected.
std::vector<TensorSpec> list_tensors(const HParams& hp);

// A GGUF name taken apart: "blk.3.ffn_up.7.weight" → layer 3, base "ffn_up", expert 7, not a bias.
struct ParsedName {
  int layer = -1;
  std::string base;  // without "blk.N.", the expert index and ".weight"/".bias"
  bool is_bias = false;
  int legacy_expert = -1;  // old per-expert files (Mixtral conversions): blk.N.ffn_gate.E.weight
};
ParsedName parse_tensor_name(std::string_view name);

// The role of a tensor outside the enumeration (an unknown arch's extra tensors, old per-expert files), from
// the same kind table; 1-D unknowns are Bias, larger ones Other.
Role role_of_name(const ParsedName& p, size_t n_dims);

}  // namespace strata::arch
