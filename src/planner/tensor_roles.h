// planner/tensor_roles.h: what each GGUF tensor is for (role, layer) and how many bytes it reads per token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "arch/hparams.h"
#include "arch/tensors.h"
#include "core/status.h"
#include "gguf/gguf_file.h"

namespace strata::planner {

// Roles come from the architecture's tensor enumeration (arch/tensors.h).
using arch::Role;
using arch::role_name;
bool is_expert_role(Role role);
bool is_dense_ffn_role(Role role);
bool is_attention_role(Role role);
// Small tensors that stay resident: norms, biases and the router (expert reads wait on it).
bool is_resident_only_role(Role role);

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
  arch::HParams hp;  // hp.tied_output: no Output role among the tensors (set by finalize_roles)
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

// Reads the hyperparameters (arch::read_hparams) and gives every tensor its role: from the architecture's
// enumeration when it lists the tensor, else from its name (old per-expert files, tensors of other families).
// Errors name the file and the missing key or the tensor whose shape contradicts it.
Result<ModelRoles> classify_tensors(const gguf::GgufFile& file);

// Recomputes totals and per-token figures after tensors or hyperparameters are filled in directly
// (tests build 70B-shaped roles without any file).
void finalize_roles(ModelRoles& roles);

}  // namespace strata::planner
