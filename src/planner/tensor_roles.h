// planner/tensor_roles.h: what each GGUF tensor is for (role, layer) and how many bytes it reads per token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gguf/gguf_file.h"

namespace strata::planner {

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
  Bias,         // any other one-dimensional tensor (biases, scales)
  Other,        // an unrecognised matrix: planned as a dense weight read once per token
};

std::string_view role_name(Role role);
bool is_expert_role(Role role);
bool is_dense_ffn_role(Role role);
bool is_attention_role(Role role);
// Small tensors that stay resident: norms, biases and the router (expert reads wait on it).
bool is_resident_only_role(Role role);

struct ModelHparams {
  std::string arch;
  int n_layer = 0;
  int n_embd = 0;
  int n_ff = 0;          // dense FFN width (0 when every layer is MoE)
  int n_ff_expert = 0;   // one expert's FFN width
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;      // key/value width per head
  int n_expert = 0;
  int n_expert_used = 0;
  int n_vocab = 0;
  int n_ctx_train = 0;
  bool tied_output = false;  // no output tensor: the lm head reads token_embd
};

struct TensorRole {
  std::string name;
  Role role = Role::Other;
  int layer = -1;  // -1 for tensors outside the blocks
  uint32_t type_id = 0;
  std::vector<int64_t> dims;
  uint64_t size_bytes = 0;
  uint64_t file_offset = 0;
  int n_expert = 0;              // expert tensors: slices along the last dimension
  uint64_t expert_slice_bytes = 0;
  uint64_t row_bytes = 0;        // bytes of one ne[0] row (embedding gathers read one per token)
  // Per decoded token: bytes read (experts: n_expert_used / n_expert of the tensor) and multiply-adds x2.
  double decode_bytes = 0;
  double decode_flops = 0;
  // Separate reads per token when the tensor lives on disk (experts: one per selected slice).
  double decode_reads = 0;
};

struct ModelRoles {
  ModelHparams hp;
  std::vector<TensorRole> tensors;  // file order
  uint64_t total_bytes = 0;
  uint64_t expert_bytes = 0;
  uint64_t dense_ffn_bytes = 0;
  uint64_t attention_bytes = 0;

  bool is_moe() const { return hp.n_expert > 1 && expert_bytes > 0; }
  // Bytes a prompt batch of n_tokens reads from this tensor: whole matrices once, embedding rows per
  // token, and for experts the expected distinct slices touched when routing is uniform.
  double prefill_bytes(const TensorRole& t, int n_tokens) const;
  double prefill_flops(const TensorRole& t, int n_tokens) const;
};

// Classifies every tensor by its GGUF name (llama-family names) and reads the hyperparameters from
// `<arch>.*` metadata. Errors name the missing key or the tensor whose shape contradicts it.
Result<ModelRoles> classify_tensors(const gguf::GgufFile& file);

// Recomputes totals and per-token figures after tensors or hyperparameters are filled in directly
// (tests build 70B-shaped roles without any file).
void finalize_roles(ModelRoles& roles);

}  // namespace strata::planner
