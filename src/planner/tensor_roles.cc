// planner/tensor_roles.cc: tensors → roles through the architecture enumeration, and bytes per token.
#include "planner/tensor_roles.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace strata::planner {

bool is_expert_role(Role r) { return r == Role::ExpertGate || r == Role::ExpertUp || r == Role::ExpertDown; }
bool is_dense_ffn_role(Role r) { return r == Role::FfnGate || r == Role::FfnUp || r == Role::FfnDown; }
bool is_attention_role(Role r) {
  return r == Role::AttnQ || r == Role::AttnK || r == Role::AttnV || r == Role::AttnQkv || r == Role::AttnOutput;
}
bool is_resident_only_role(Role r) {
  return r == Role::AttnNorm || r == Role::FfnNorm || r == Role::OutputNorm || r == Role::Router || r == Role::Bias;
}

double ModelRoles::prefill_bytes(const TensorRole& t, int n_tokens) const {
  const double b = std::max(1, n_tokens);
  if (t.role == Role::Embedding) {
    return b * static_cast<double>(t.row_bytes) + (hp.tied_output ? static_cast<double>(t.size_bytes) : 0.0);
  }
  if (is_expert_role(t.role) && hp.n_expert > 0) {
    // Probability a given expert is untouched by b tokens each choosing k of n uniformly.
    const double p_used = static_cast<double>(hp.n_expert_used) / hp.n_expert;
    const double touched = 1.0 - std::pow(1.0 - p_used, b);
    return static_cast<double>(t.size_bytes) * touched;
  }
  return static_cast<double>(t.size_bytes);
}

double ModelRoles::prefill_flops(const TensorRole& t, int n_tokens) const {
  return t.decode_flops * std::max(1, n_tokens);
}

void finalize_roles(ModelRoles& roles) {
  arch::HParams& hp = roles.hp;
  roles.total_bytes = roles.expert_bytes = roles.dense_ffn_bytes = roles.attention_bytes = 0;
  bool has_output = false;
  for (const auto& t : roles.tensors) has_output |= t.role == Role::Output;
  hp.tied_output = !has_output;
  const double used_fraction =
      hp.n_expert > 0 ? static_cast<double>(hp.n_expert_used) / static_cast<double>(hp.n_expert) : 1.0;
  for (auto& t : roles.tensors) {
    double elems = 1;
    for (int64_t d : t.dims) elems *= static_cast<double>(d);
    const double rows = t.dims.empty() || t.dims[0] == 0 ? 1.0 : elems / static_cast<double>(t.dims[0]);
    t.row_bytes = static_cast<uint64_t>(static_cast<double>(t.size_bytes) / std::max(1.0, rows));
    const double size = static_cast<double>(t.size_bytes);
    t.decode_reads = 1;
    if (t.role == Role::Embedding) {
      t.decode_bytes = static_cast<double>(t.row_bytes) + (hp.tied_output ? size : 0.0);
      t.decode_flops = hp.tied_output ? 2.0 * elems : 0.0;
    } else if (is_expert_role(t.role)) {
      const bool stacked = t.dims.size() == 3;
      t.n_expert = stacked ? static_cast<int>(t.dims[2]) : 1;
      t.expert_slice_bytes = t.size_bytes / std::max(1, t.n_expert);
      t.decode_bytes = size * used_fraction;
      t.decode_flops = 2.0 * elems * used_fraction;
      t.decode_reads = stacked ? hp.n_expert_used : used_fraction;
      roles.expert_bytes += t.size_bytes;
    } else if (t.dims.size() <= 1) {
      t.decode_bytes = size;
      t.decode_flops = elems;
    } else {
      t.decode_bytes = size;
      t.decode_flops = 2.0 * elems;
    }
    if (is_dense_ffn_role(t.role)) roles.dense_ffn_bytes += t.size_bytes;
    if (is_attention_role(t.role)) roles.attention_bytes += t.size_bytes;
    roles.total_bytes += t.size_bytes;
  }
}

Result<ModelRoles> classify_tensors(const gguf::GgufFile& file) {
  ModelRoles roles;
  arch::HParams& hp = roles.hp;
  auto read = arch::read_hparams(file);
  if (!read) return read.status().with_context(file.path);
  hp = std::move(read).value();
  const std::string p = std::string(hp.arch_name()) + ".";
  // The enumeration's view of every tensor it lists; the rest are named by the kind table.
  std::unordered_map<std::string, arch::TensorSpec> listed;
  for (arch::TensorSpec& s : arch::list_tensors(hp)) listed.emplace(s.name, std::move(s));

  for (const auto& info : file.tensors) {
    TensorRole t;
    t.name = info.name;
    const arch::ParsedName parsed = arch::parse_tensor_name(info.name);
    auto it = listed.find(info.name);
    t.layer = it != listed.end() ? it->second.layer : parsed.layer;
    t.role = it != listed.end() ? it->second.role : arch::role_of_name(parsed, info.dims.size());
    t.type_id = info.type_id;
    t.dims = info.dims;
    t.size_bytes = info.size_bytes;
    t.file_offset = info.file_offset;
    if (t.layer >= hp.n_layer)
      return error("{}: tensor '{}' is in layer {} but {}block_count is {}", file.path, t.name, t.layer, p, hp.n_layer);
    if (is_expert_role(t.role)) {
      if (hp.n_expert <= 0)
        return error("{}: tensor '{}' holds experts but {}expert_count is missing", file.path, t.name, p);
      if (t.dims.size() == 3 && t.dims[2] != hp.n_expert)
        return error("{}: tensor '{}' has {} expert slices but {}expert_count is {}", file.path, t.name, t.dims[2], p, hp.n_expert);
      if (t.dims.size() != 3 && parsed.legacy_expert < 0)
        return error("{}: expert tensor '{}' should have 3 dimensions, has {}", file.path, t.name, t.dims.size());
      if (hp.n_ff_expert == 0 && t.dims.size() >= 2)  // old files name no width: take it from the slices
        hp.n_ff_expert = t.role == Role::ExpertDown ? t.dims[0] : t.dims[1];
    }
    roles.tensors.push_back(std::move(t));
  }
  finalize_roles(roles);
  return roles;
}

}  // namespace strata::planner
