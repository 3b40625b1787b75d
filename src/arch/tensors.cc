// arch/tensors.cc: the kind table and the forward-order enumeration of a model's tensors.
#include "arch/tensors.h"

#include <charconv>

#include <fmt/format.h>

namespace strata::arch {

namespace {

struct KindInfo {
  Kind kind;
  std::string_view base;  // name without "blk.N." and the suffix
  bool bias;              // ".bias" rather than ".weight"
  Role role;
};

// clang-format off
const KindInfo kKinds[kNumKinds] = {
  {Kind::token_embd,         "token_embd",    false, Role::Embedding},
  {Kind::rope_freqs,         "rope_freqs",    false, Role::Bias},
  {Kind::attn_norm,          "attn_norm",     false, Role::AttnNorm},
  {Kind::attn_q,             "attn_q",        false, Role::AttnQ},
  {Kind::attn_q_bias,        "attn_q",        true,  Role::Bias},
  {Kind::attn_k,             "attn_k",        false, Role::AttnK},
  {Kind::attn_k_bias,        "attn_k",        true,  Role::Bias},
  {Kind::attn_v,             "attn_v",        false, Role::AttnV},
  {Kind::attn_v_bias,        "attn_v",        true,  Role::Bias},
  {Kind::attn_q_norm,        "attn_q_norm",   false, Role::AttnNorm},
  {Kind::attn_k_norm,        "attn_k_norm",   false, Role::AttnNorm},
  {Kind::attn_sinks,         "attn_sinks",    false, Role::Bias},
  {Kind::attn_output,        "attn_output",   false, Role::AttnOutput},
  {Kind::attn_output_bias,   "attn_output",   true,  Role::Bias},
  {Kind::ffn_norm,           "ffn_norm",      false, Role::FfnNorm},
  {Kind::ffn_gate,           "ffn_gate",      false, Role::FfnGate},
  {Kind::ffn_up,             "ffn_up",        false, Role::FfnUp},
  {Kind::ffn_down,           "ffn_down",      false, Role::FfnDown},
  {Kind::ffn_gate_inp,       "ffn_gate_inp",  false, Role::Router},
  {Kind::ffn_gate_inp_bias,  "ffn_gate_inp",  true,  Role::Bias},
  {Kind::ffn_gate_exps,      "ffn_gate_exps", false, Role::ExpertGate},
  {Kind::ffn_gate_exps_bias, "ffn_gate_exps", true,  Role::Bias},
  {Kind::ffn_up_exps,        "ffn_up_exps",   false, Role::ExpertUp},
  {Kind::ffn_up_exps_bias,   "ffn_up_exps",   true,  Role::Bias},
  {Kind::ffn_down_exps,      "ffn_down_exps", false, Role::ExpertDown},
  {Kind::ffn_down_exps_bias, "ffn_down_exps", true,  Role::Bias},
  {Kind::output_norm,        "output_norm",   false, Role::OutputNorm},
  {Kind::output,             "output",        false, Role::Output},
};
// Names other families use for kinds strata knows (fused, shared-expert, post-norm tensors): roles only.
const std::pair<std::string_view, Role> kForeignNames[] = {
  {"attn_qkv", Role::AttnQkv},           {"ffn_gate_inp_shexp", Role::Router}, {"ffn_gate_shexp", Role::FfnGate},
  {"ffn_up_shexp", Role::FfnUp},         {"ffn_down_shexp", Role::FfnDown},    {"post_attention_norm", Role::FfnNorm},
  {"post_ffw_norm", Role::FfnNorm},
};
// clang-format on

const KindInfo& info(Kind k) { return kKinds[static_cast<int>(k)]; }

// Emits specs in order; the first visitor error stops the walk.
class Emitter {
 public:
  Emitter(const HParams& hp, const TensorVisitor& visit) : hp_(hp), visit_(visit) {}

  void global(Kind k, std::vector<int64_t> shape, int position, bool required = true) {
    emit(k, -1, position, std::move(shape), required);
  }
  void layer(int l, Kind k, std::vector<int64_t> shape, bool required = true) {
    emit(k, l, position_of_layer(l), std::move(shape), required);
  }
  // The tensor and, when `with_bias`, its bias (shape: the weight's minus ne[0]).
  void layer_biased(int l, Kind k, Kind bias, bool with_bias, std::vector<int64_t> shape) {
    std::vector<int64_t> bias_shape(shape.begin() + 1, shape.end());
    layer(l, k, std::move(shape));
    if (with_bias) layer(l, bias, std::move(bias_shape));
  }
  void rename_last(std::string_view base, int l) {
    if (!pending_.empty()) pending_.back().name = fmt::format("blk.{}.{}.weight", l, base);
  }
  Status flush() {
    for (const TensorSpec& s : pending_) {
      if (!status_.is_ok()) break;
      status_ = visit_(s);
    }
    pending_.clear();
    return status_;
  }
  std::vector<TensorSpec>& pending() { return pending_; }

 private:
  void emit(Kind k, int l, int position, std::vector<int64_t> shape, bool required) {
    const KindInfo& ki = info(k);
    TensorSpec s;
    s.name = l < 0 ? fmt::format("{}.{}", ki.base, ki.bias ? "bias" : "weight")
                   : fmt::format("blk.{}.{}.{}", l, ki.base, ki.bias ? "bias" : "weight");
    s.kind = k;
    s.role = ki.role;
    s.layer = l;
    s.position = position;
    s.shape = std::move(shape);
    s.required = required;
    // Expert biases ([n_out, n_expert], a few KB per expert) are read whole like any small vector; the pass
    // slices a row per expert.
    s.expert_stacked = ki.role == Role::ExpertGate || ki.role == Role::ExpertUp || ki.role == Role::ExpertDown;
    pending_.push_back(std::move(s));
  }

  const HParams& hp_;
  const TensorVisitor& visit_;
  std::vector<TensorSpec> pending_;
  Status status_ = Status::ok();
};

// blk.N: attention, then the FFN (dense or MoE), each in the order the forward pass reads it.
void emit_layer(Emitter& e, const HParams& hp, int l) {
  const Arch& a = *hp.arch;
  const int64_t d = hp.n_embd, hd = hp.head_dim, k_dim = hp.k_dim(l), v_dim = hp.v_dim(l);
  const int64_t o_dim = hp.n_head * hp.head_dim_v;
  e.layer(l, Kind::attn_norm, {d});
  e.layer_biased(l, Kind::attn_q, Kind::attn_q_bias, a.biases.qkv, {d, hp.q_dim()});
  e.layer_biased(l, Kind::attn_k, Kind::attn_k_bias, a.biases.qkv, {d, k_dim});
  e.layer_biased(l, Kind::attn_v, Kind::attn_v_bias, a.biases.qkv, {d, v_dim});
  if (a.qk_norm == QkNorm::PerHeadRms) {
    e.layer(l, Kind::attn_q_norm, {hd});
    e.layer(l, Kind::attn_k_norm, {hd});
  }
  if (a.attn_sinks) e.layer(l, Kind::attn_sinks, {hp.n_head});
  e.layer_biased(l, Kind::attn_output, Kind::attn_output_bias, a.biases.attn_out, {o_dim, d});
  e.layer(l, Kind::ffn_norm, {d});
  if (a.ffn_norm != info(Kind::ffn_norm).base) e.rename_last(a.ffn_norm, l);
  if (!hp.is_moe()) {
    e.layer(l, Kind::ffn_gate, {d, hp.n_ff});
    e.layer(l, Kind::ffn_up, {d, hp.n_ff});
    e.layer(l, Kind::ffn_down, {hp.n_ff, d});
    return;
  }
  const int64_t ff = hp.n_ff_expert, n_exp = hp.n_expert;
  e.layer_biased(l, Kind::ffn_gate_inp, Kind::ffn_gate_inp_bias, a.biases.router, {d, n_exp});
  e.layer_biased(l, Kind::ffn_gate_exps, Kind::ffn_gate_exps_bias, a.biases.experts, {d, ff, n_exp});
  e.layer_biased(l, Kind::ffn_up_exps, Kind::ffn_up_exps_bias, a.biases.experts, {d, ff, n_exp});
  e.layer_biased(l, Kind::ffn_down_exps, Kind::ffn_down_exps_bias, a.biases.experts, {ff, d, n_exp});
}

bool parse_index(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && out >= 0;
}

}  // namespace

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

Status for_each_tensor(const HParams& hp, const TensorVisitor& visit) {
  const Arch& a = *hp.arch;
  const int n_layer = static_cast<int>(hp.n_layer);
  Emitter e(hp, visit);
  // Before the layers: the embedding gather (and RoPE's frequency factors, read by every layer's RoPE).
  e.global(Kind::token_embd, {hp.n_embd, hp.n_vocab}, 0);
  if (a.rope_freqs) e.global(Kind::rope_freqs, {hp.n_rot / 2}, 0, /*required=*/false);
  STRATA_RETURN_IF_ERROR(e.flush());
  for (int l = 0; l < n_layer; ++l) {
    emit_layer(e, hp, l);
    STRATA_RETURN_IF_ERROR(e.flush());
  }
  // After them: the final norm and the lm head.
  const int tail = position_of_layer(n_layer);
  e.global(Kind::output_norm, {hp.n_embd}, tail);
  e.global(Kind::output, {hp.n_embd, hp.n_vocab}, tail, /*required=*/!a.tied_output);
  e.pending().back().tied_to_embedding = a.tied_output;
  return e.flush();
}

std::vector<TensorSpec> list_tensors(const HParams& hp) {
  std::vector<TensorSpec> out;
  Status st = for_each_tensor(hp, [&](const TensorSpec& s) {
    out.push_back(s);
    return Status::ok();
  });
  (void)st;  // the collecting visitor never fails
  return out;
}

ParsedName parse_tensor_name(std::string_view name) {
  ParsedName p;
  if (name.ends_with(".weight")) {
    name.remove_suffix(7);
  } else if (name.ends_with(".bias")) {
    name.remove_suffix(5);
    p.is_bias = true;
  }
  if (name.starts_with("blk.")) {
    std::string_view rest = name.substr(4);
    const size_t dot = rest.find('.');
    int layer = 0;
    if (dot != std::string_view::npos && parse_index(rest.substr(0, dot), layer)) {
      p.layer = layer;
      name = rest.substr(dot + 1);
    }
  }
  const size_t dot = name.rfind('.');
  int expert = 0;
  if (dot != std::string_view::npos && parse_index(name.substr(dot + 1), expert)) {
    p.legacy_expert = expert;
    name = name.substr(0, dot);
  }
  p.base = std::string(name);
  return p;
}

Role role_of_name(const ParsedName& p, size_t n_dims) {
  if (p.is_bias) return Role::Bias;
  Role role = n_dims <= 1 ? Role::Bias : Role::Other;
  for (const KindInfo& k : kKinds)
    if (!k.bias && k.base == p.base && (k.kind == Kind::token_embd || k.kind == Kind::output ||
                                        k.kind == Kind::output_norm || k.kind == Kind::rope_freqs) == (p.layer < 0))
      role = k.role;
  for (const auto& [base, r] : kForeignNames)
    if (base == p.base && p.layer >= 0) role = r;
  if (p.legacy_expert >= 0 && p.layer >= 0) {
    if (role == Role::FfnGate) return Role::ExpertGate;
    if (role == Role::FfnUp) return Role::ExpertUp;
    if (role == Role::FfnDown) return Role::ExpertDown;
  }
  return role;
}

}  // namespace strata::arch
