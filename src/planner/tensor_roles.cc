// planner/tensor_roles.cc: GGUF tensor names → roles, hyperparameters from metadata, bytes per token.
#include "planner/tensor_roles.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace strata::planner {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::Embedding: return "embedding";
    case Role::Output: return "output";
    case Role::OutputNorm: return "output_norm";
    case Role::AttnNorm: return "attn_norm";
    case Role::AttnQ: return "attn_q";
    case Role::AttnK: return "attn_k";
    case Role::AttnV: return "attn_v";
    case Role::AttnQkv: return "attn_qkv";
    case Role::AttnOutput: return "attn_output";
    case Role::FfnNorm: return "ffn_norm";
    case Role::FfnGate: return "ffn_gate";
    case Role::FfnUp: return "ffn_up";
    case Role::FfnDown: return "ffn_down";
    case Role::Router: return "router";
    case Role::ExpertGate: return "ffn_gate_exps";
    case Role::ExpertUp: return "ffn_up_exps";
    case Role::ExpertDown: return "ffn_down_exps";
    case Role::Bias: return "bias";
    case Role::Other: return "other";
  }
  return "?";
}

bool is_expert_role(Role r) { return r == Role::ExpertGate || r == Role::ExpertUp || r == Role::ExpertDown; }
bool is_dense_ffn_role(Role r) { return r == Role::FfnGate || r == Role::FfnUp || r == Role::FfnDown; }
bool is_attention_role(Role r) {
  return r == Role::AttnQ || r == Role::AttnK || r == Role::AttnV || r == Role::AttnQkv || r == Role::AttnOutput;
}
bool is_resident_only_role(Role r) {
  return r == Role::AttnNorm || r == Role::FfnNorm || r == Role::OutputNorm || r == Role::Router || r == Role::Bias;
}

namespace {

struct ParsedName {
  int layer = -1;
  std::string base;     // name without "blk.N." and without ".weight"
  bool is_bias = false;
  int legacy_expert = -1;  // old per-expert files: blk.N.ffn_gate.E.weight
};

bool parse_int(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && out >= 0;
}

ParsedName parse_name(std::string_view name) {
  ParsedName p;
  if (name.ends_with(".weight")) name.remove_suffix(7);
  else if (name.ends_with(".bias")) { name.remove_suffix(5); p.is_bias = true; }
  if (name.starts_with("blk.")) {
    std::string_view rest = name.substr(4);
    size_t dot = rest.find('.');
    int layer = 0;
    if (dot != std::string_view::npos && parse_int(rest.substr(0, dot), layer)) {
      p.layer = layer;
      name = rest.substr(dot + 1);
    }
  }
  // Old Mixtral conversions store one tensor per expert: ffn_gate.3
  size_t dot = name.rfind('.');
  int expert = 0;
  if (dot != std::string_view::npos && parse_int(name.substr(dot + 1), expert)) {
    p.legacy_expert = expert;
    name = name.substr(0, dot);
  }
  p.base = std::string(name);
  return p;
}

Role role_for(const ParsedName& p, size_t n_dims) {
  const std::string& b = p.base;
  if (p.is_bias) return Role::Bias;
  if (p.layer < 0) {
    if (b == "token_embd") return Role::Embedding;
    if (b == "output") return Role::Output;
    if (b == "output_norm") return Role::OutputNorm;
    return n_dims <= 1 ? Role::Bias : Role::Other;
  }
  if (p.legacy_expert >= 0) {
    if (b == "ffn_gate") return Role::ExpertGate;
    if (b == "ffn_up") return Role::ExpertUp;
    if (b == "ffn_down") return Role::ExpertDown;
  }
  if (b.ends_with("_norm")) return b.starts_with("ffn") || b.starts_with("post_ffw") ? Role::FfnNorm : Role::AttnNorm;
  if (b == "attn_q") return Role::AttnQ;
  if (b == "attn_k") return Role::AttnK;
  if (b == "attn_v") return Role::AttnV;
  if (b == "attn_qkv") return Role::AttnQkv;
  if (b == "attn_output") return Role::AttnOutput;
  if (b == "ffn_gate_inp" || b == "ffn_gate_inp_shexp") return Role::Router;
  if (b == "ffn_gate_exps") return Role::ExpertGate;
  if (b == "ffn_up_exps") return Role::ExpertUp;
  if (b == "ffn_down_exps") return Role::ExpertDown;
  if (b == "ffn_gate" || b == "ffn_gate_shexp") return Role::FfnGate;
  if (b == "ffn_up" || b == "ffn_up_shexp") return Role::FfnUp;
  if (b == "ffn_down" || b == "ffn_down_shexp") return Role::FfnDown;
  return n_dims <= 1 ? Role::Bias : Role::Other;
}

// An integer hyperparameter that some architectures store per layer as an array: the largest entry.
Result<std::optional<int64_t>> get_int_or_max(const gguf::GgufFile& f, const std::string& key) {
  const gguf::Value* v = f.find(key);
  if (v && v->is_array()) {
    int64_t best = 0;
    for (const auto& item : v->as_array()->items) {
      auto i = item.as_int();
      if (!i) return error("metadata key '{}' should hold integers", key);
      best = std::max(best, *i);
    }
    return std::optional<int64_t>{best};
  }
  return f.get_int(key);
}

Result<int> required_int(const gguf::GgufFile& f, const std::string& key) {
  STRATA_ASSIGN_OR_RETURN(auto v, get_int_or_max(f, key));
  if (!v) return error("metadata key '{}' is missing", key);
  if (*v <= 0 || *v > (int64_t{1} << 30)) return error("metadata key '{}' has an implausible value {}", key, *v);
  return static_cast<int>(*v);
}

Result<int> optional_int(const gguf::GgufFile& f, const std::string& key, int fallback) {
  STRATA_ASSIGN_OR_RETURN(auto v, get_int_or_max(f, key));
  if (!v) return fallback;
  if (*v < 0 || *v > (int64_t{1} << 30)) return error("metadata key '{}' has an implausible value {}", key, *v);
  return static_cast<int>(*v);
}

}  // namespace

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
  ModelHparams& hp = roles.hp;
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
  ModelHparams& hp = roles.hp;
  STRATA_ASSIGN_OR_RETURN(auto arch, file.get_string("general.architecture"));
  if (!arch || arch->empty()) return error("{}: metadata key 'general.architecture' is missing", file.path);
  hp.arch = *arch;
  const std::string p = hp.arch + ".";
  auto ctx = [&](const Status& s) { return s.with_context(file.path); };
#define STRATA_HP(field, expr)        \
  do {                                \
    auto r_ = (expr);                 \
    if (!r_) return ctx(r_.status()); \
    field = *r_;                      \
  } while (0)
  STRATA_HP(hp.n_layer, required_int(file, p + "block_count"));
  STRATA_HP(hp.n_embd, required_int(file, p + "embedding_length"));
  STRATA_HP(hp.n_head, required_int(file, p + "attention.head_count"));
  STRATA_HP(hp.n_head_kv, optional_int(file, p + "attention.head_count_kv", hp.n_head));
  STRATA_HP(hp.n_ff, optional_int(file, p + "feed_forward_length", 0));
  STRATA_HP(hp.n_expert, optional_int(file, p + "expert_count", 0));
  STRATA_HP(hp.n_expert_used, optional_int(file, p + "expert_used_count", 0));
  STRATA_HP(hp.n_ff_expert, optional_int(file, p + "expert_feed_forward_length", 0));
  STRATA_HP(hp.n_ctx_train, optional_int(file, p + "context_length", 0));
  STRATA_HP(hp.head_dim, optional_int(file, p + "attention.key_length", hp.n_embd / hp.n_head));
#undef STRATA_HP
  if (hp.n_head_kv <= 0 || hp.n_head % hp.n_head_kv != 0)
    return error("{}: {}attention.head_count_kv = {} does not divide head_count = {}", file.path, p, hp.n_head_kv, hp.n_head);
  if (hp.n_expert > 0 && (hp.n_expert_used <= 0 || hp.n_expert_used > hp.n_expert))
    return error("{}: {}expert_used_count = {} is not within 1..expert_count ({})", file.path, p, hp.n_expert_used, hp.n_expert);

  for (const auto& info : file.tensors) {
    TensorRole t;
    t.name = info.name;
    ParsedName parsed = parse_name(info.name);
    t.layer = parsed.layer;
    t.role = role_for(parsed, info.dims.size());
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
      if (hp.n_ff_expert == 0 && t.dims.size() >= 2)
        hp.n_ff_expert = static_cast<int>(t.role == Role::ExpertDown ? t.dims[0] : t.dims[1]);
    }
    if (t.role == Role::Embedding && t.dims.size() >= 2) hp.n_vocab = static_cast<int>(t.dims[1]);
    roles.tensors.push_back(std::move(t));
  }
  if (hp.n_vocab == 0) {
    if (const gguf::Value* tokens = file.find("tokenizer.ggml.tokens"); tokens && tokens->as_array())
      hp.n_vocab = static_cast<int>(tokens->as_array()->items.size());
  }
  finalize_roles(roles);
  return roles;
}

}  // namespace strata::planner
