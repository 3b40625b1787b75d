// model/model.cc: binding the architecture's tensor enumeration to the model's slots, with shape checks, and
// the check that the forward pass computes what the architecture row asks for.
#include "model/model.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/check.h"
#include "tensor/dtype.h"

namespace strata::model {

namespace {

using arch::Kind;

// The slot of the bound model that holds a tensor of kind `k` in layer `layer` (-1: outside the blocks).
TensorId* slot(Model& m, Kind k, int layer) {
  switch (k) {
    case Kind::token_embd: return &m.token_embd;
    case Kind::rope_freqs: return &m.rope_freqs;
    case Kind::output_norm: return &m.output_norm;
    case Kind::output: return &m.output;
    default: break;
  }
  LayerTensors& L = m.layers[layer];
  switch (k) {
    case Kind::attn_norm: return &L.attn_norm;
    case Kind::attn_q: return &L.attn_q;
    case Kind::attn_q_bias: return &L.attn_q_bias;
    case Kind::attn_k: return &L.attn_k;
    case Kind::attn_k_bias: return &L.attn_k_bias;
    case Kind::attn_v: return &L.attn_v;
    case Kind::attn_v_bias: return &L.attn_v_bias;
    case Kind::attn_q_norm: return &L.attn_q_norm;
    case Kind::attn_k_norm: return &L.attn_k_norm;
    case Kind::attn_sinks: return &L.attn_sinks;
    case Kind::attn_output: return &L.attn_output;
    case Kind::attn_output_bias: return &L.attn_output_bias;
    case Kind::ffn_norm: return &L.ffn_norm;
    case Kind::ffn_gate: return &L.ffn_gate;
    case Kind::ffn_up: return &L.ffn_up;
    case Kind::ffn_down: return &L.ffn_down;
    case Kind::ffn_gate_inp: return &L.ffn_gate_inp;
    case Kind::ffn_gate_inp_bias: return &L.ffn_gate_inp_bias;
    case Kind::ffn_gate_exps: return &L.ffn_exps[static_cast<int>(ExpertTensor::Gate)];
    case Kind::ffn_up_exps: return &L.ffn_exps[static_cast<int>(ExpertTensor::Up)];
    case Kind::ffn_down_exps: return &L.ffn_exps[static_cast<int>(ExpertTensor::Down)];
    case Kind::ffn_gate_exps_bias: return &L.ffn_exps_bias[static_cast<int>(ExpertTensor::Gate)];
    case Kind::ffn_up_exps_bias: return &L.ffn_exps_bias[static_cast<int>(ExpertTensor::Up)];
    case Kind::ffn_down_exps_bias: return &L.ffn_exps_bias[static_cast<int>(ExpertTensor::Down)];
    default: break;
  }
  STRATA_CHECK_MSG(false, "a tensor kind without a slot in model::LayerTensors");
  return nullptr;
}

// Finds the spec's tensor and checks its dims and type; kNoTensor when optional and absent.
Result<TensorId> find_checked(const gguf::GgufFile& f, const arch::TensorSpec& s) {
  auto it = f.tensor_index.find(s.name);
  if (it == f.tensor_index.end()) {
    if (s.required) return error("missing tensor '{}'", s.name);
    return kNoTensor;
  }
  const gguf::TensorInfo& t = f.tensors[it->second];
  if (t.dims != s.shape)
    return error("tensor '{}' has shape {} but the model needs {}", s.name, fmt::join(t.dims, "x"), fmt::join(s.shape, "x"));
  if (!find_dtype(t.type_id)) return error("tensor '{}' has unsupported type id {}", s.name, t.type_id);
  return static_cast<TensorId>(it->second);
}

// What model/forward.cc computes today. A row or a file asking for more is refused with the computation named,
// never run with the quirk skipped; adding the block to the forward pass removes its line here.
Status check_forward_computes(const Model& m) {
  const HParams& hp = m.hp;
  const arch::Arch& a = *hp.arch;
  auto lacks = [&](std::string_view what) {
    return error("architecture '{}': this build's forward pass does not compute {} yet", a.name, what);
  };
  for (const arch::LayerParams& lp : hp.layers)
    if (lp.n_head_kv != hp.n_head_kv) return lacks("a head_count_kv that differs between layers");
  if (hp.head_dim_v != hp.head_dim) return lacks("a value head size (attention.value_length) unlike the key's");
  return Status::ok();
}

}  // namespace

Result<Model> bind_model(const gguf::GgufFile& file) {
  Model m;
  STRATA_ASSIGN_OR_RETURN(m.hp, read_hparams(file));
  const HParams& hp = m.hp;
  if (hp.is_moe() && hp.n_ff_expert == 0)
    return error("missing metadata key '{}.expert_feed_forward_length' (or feed_forward_length)", hp.arch->name);
  m.tensors = file.tensors;
  m.layers.resize(static_cast<size_t>(hp.n_layer));
  auto bind = [&](const arch::TensorSpec& s) -> Status {
    STRATA_ASSIGN_OR_RETURN(TensorId id, find_checked(file, s));
    if (id == kNoTensor && s.tied_to_embedding) id = m.token_embd;  // tied embeddings: the lm head reads token_embd
    *slot(m, s.kind, s.layer) = id;
    if (id != kNoTensor) m.bound.push_back(BoundTensor{s, id});
    return Status::ok();
  };
  STRATA_RETURN_IF_ERROR(arch::for_each_tensor(hp, bind));
  STRATA_RETURN_IF_ERROR(check_forward_computes(m));
  return m;
}

TensorView make_view(const Model& m, TensorId id, const uint8_t* data) {
  STRATA_CHECK(id >= 0 && static_cast<size_t>(id) < m.tensors.size());
  const gguf::TensorInfo& t = m.tensors[id];
  TensorView v;
  v.type = static_cast<DType>(t.type_id);
  for (size_t d = 0; d < t.dims.size() && d < 4; ++d) v.ne[d] = t.dims[d];
  v.data = data;
  v.name = t.name;
  return v;
}

}  // namespace strata::model
