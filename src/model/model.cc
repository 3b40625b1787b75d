// model/model.cc: binding GGUF tensor names to the model's slots, with shape checks.
#include "model/model.h"

#include <fmt/format.h>

#include "core/check.h"
#include "tensor/dtype.h"

namespace strata::model {

namespace {

class Binder {
 public:
  Binder(const gguf::GgufFile& f, Model& m) : f_(f), m_(m) {}

  // Finds `name` and checks its dims; returns kNoTensor when optional and absent.
  Result<TensorId> bind(const std::string& name, std::vector<int64_t> dims, bool required = true) {
    auto it = f_.tensor_index.find(name);
    if (it == f_.tensor_index.end()) {
      if (required) return error("missing tensor '{}'", name);
      return kNoTensor;
    }
    const gguf::TensorInfo& t = f_.tensors[it->second];
    if (t.dims != dims)
      return error("tensor '{}' has shape {} but the model needs {}", name, fmt::join(t.dims, "x"), fmt::join(dims, "x"));
    if (!find_dtype(t.type_id)) return error("tensor '{}' has unsupported type id {}", name, t.type_id);
    return static_cast<TensorId>(it->second);
  }

 private:
  const gguf::GgufFile& f_;
  Model& m_;
};

}  // namespace

Result<Model> bind_model(const gguf::GgufFile& file) {
  Model m;
  STRATA_ASSIGN_OR_RETURN(m.hp, read_hparams(file));
  const HParams& hp = m.hp;
  m.tensors = file.tensors;
  Binder b(file, m);
  STRATA_ASSIGN_OR_RETURN(m.token_embd, b.bind("token_embd.weight", {hp.n_embd, hp.n_vocab}));
  STRATA_ASSIGN_OR_RETURN(m.output_norm, b.bind("output_norm.weight", {hp.n_embd}));
  STRATA_ASSIGN_OR_RETURN(m.output, b.bind("output.weight", {hp.n_embd, hp.n_vocab}, /*required=*/false));
  if (m.output == kNoTensor) m.output = m.token_embd;  // tied embeddings

  m.layers.resize(hp.n_layer);
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    LayerTensors& L = m.layers[i];
    auto n = [i](const char* suffix) { return fmt::format("blk.{}.{}.weight", i, suffix); };
    STRATA_ASSIGN_OR_RETURN(L.attn_norm, b.bind(n("attn_norm"), {hp.n_embd}));
    STRATA_ASSIGN_OR_RETURN(L.attn_q, b.bind(n("attn_q"), {hp.n_embd, hp.q_dim()}));
    STRATA_ASSIGN_OR_RETURN(L.attn_k, b.bind(n("attn_k"), {hp.n_embd, hp.kv_dim()}));
    STRATA_ASSIGN_OR_RETURN(L.attn_v, b.bind(n("attn_v"), {hp.n_embd, hp.kv_dim()}));
    STRATA_ASSIGN_OR_RETURN(L.attn_output, b.bind(n("attn_output"), {hp.q_dim(), hp.n_embd}));
    STRATA_ASSIGN_OR_RETURN(L.ffn_norm, b.bind(n("ffn_norm"), {hp.n_embd}));
    if (hp.is_moe()) {
      STRATA_ASSIGN_OR_RETURN(L.ffn_gate_inp, b.bind(n("ffn_gate_inp"), {hp.n_embd, hp.n_expert}));
      STRATA_ASSIGN_OR_RETURN(L.ffn_exps[0], b.bind(n("ffn_gate_exps"), {hp.n_embd, hp.n_ff, hp.n_expert}));
      STRATA_ASSIGN_OR_RETURN(L.ffn_exps[1], b.bind(n("ffn_up_exps"), {hp.n_embd, hp.n_ff, hp.n_expert}));
      STRATA_ASSIGN_OR_RETURN(L.ffn_exps[2], b.bind(n("ffn_down_exps"), {hp.n_ff, hp.n_embd, hp.n_expert}));
    } else {
      STRATA_ASSIGN_OR_RETURN(L.ffn_gate, b.bind(n("ffn_gate"), {hp.n_embd, hp.n_ff}));
      STRATA_ASSIGN_OR_RETURN(L.ffn_up, b.bind(n("ffn_up"), {hp.n_embd, hp.n_ff}));
      STRATA_ASSIGN_OR_RETURN(L.ffn_down, b.bind(n("ffn_down"), {hp.n_ff, hp.n_embd}));
    }
  }
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
