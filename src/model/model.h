// model/model.h: a bound model: hyperparameters plus the id of every tensor its architecture has, shapes checked.
#pragma once

#include <array>
#include <vector>

#include "arch/tensors.h"
#include "core/status.h"
#include "gguf/gguf_file.h"
#include "model/hparams.h"
#include "model/weight_source.h"

namespace strata::model {

struct LayerTensors {
  TensorId attn_norm = kNoTensor;    // [n_embd]
  TensorId attn_q = kNoTensor;       // [n_embd, q_dim]
  TensorId attn_k = kNoTensor;       // [n_embd, kv_dim]
  TensorId attn_v = kNoTensor;       // [n_embd, kv_dim]
  TensorId attn_output = kNoTensor;  // [q_dim, n_embd]
  TensorId ffn_norm = kNoTensor;     // [n_embd]
  // Dense FFN
  TensorId ffn_gate = kNoTensor;  // [n_embd, n_ff]
  TensorId ffn_up = kNoTensor;    // [n_embd, n_ff]
  TensorId ffn_down = kNoTensor;  // [n_ff, n_embd]
  // MoE FFN
  TensorId ffn_gate_inp = kNoTensor;               // router [n_embd, n_expert]
  std::array<TensorId, 3> ffn_exps{kNoTensor, kNoTensor, kNoTensor};  // gate/up [n_embd, n_ff, n_expert], down [n_ff, n_embd, n_expert]
  // Present only where the architecture row has the column (kNoTensor otherwise).
  TensorId attn_q_bias = kNoTensor, attn_k_bias = kNoTensor, attn_v_bias = kNoTensor;  // [q_dim], [kv_dim]
  TensorId attn_output_bias = kNoTensor;                 // [n_embd]
  TensorId attn_q_norm = kNoTensor, attn_k_norm = kNoTensor;  // per-head RMSNorm weights [head_dim]
  TensorId attn_sinks = kNoTensor;                       // [n_head]
  TensorId ffn_gate_inp_bias = kNoTensor;                // [n_expert]
  std::array<TensorId, 3> ffn_exps_bias{kNoTensor, kNoTensor, kNoTensor};  // [n_ff, n_expert], down [n_embd, n_expert]
};

// One tensor of the model in forward order: what the architecture enumeration said, and what it bound to.
struct BoundTensor {
  arch::TensorSpec spec;
  TensorId id = kNoTensor;  // a tied output holds token_embd's id
};

struct Model {
  HParams hp;
  TensorId token_embd = kNoTensor;   // [n_embd, n_vocab]
  TensorId output_norm = kNoTensor;  // [n_embd]
  TensorId output = kNoTensor;       // [n_embd, n_vocab]; token_embd when tied
  TensorId rope_freqs = kNoTensor;   // [n_rot / 2] frequency factors (Llama 3.1+), when present
  std::vector<LayerTensors> layers;
  std::vector<BoundTensor> bound;         // every present tensor, in the enumeration's (forward) order
  std::vector<gguf::TensorInfo> tensors;  // the directory (copied), indexed by TensorId
};

// Binds every tensor of the architecture enumeration (arch/tensors.h) by its GGUF name and checks its shape and
// type, then checks that this build's forward pass computes everything the row and the file ask for. Errors
// name the tensor, the metadata key, or the missing computation.
Result<Model> bind_model(const gguf::GgufFile& file);

// Builds the view of tensor `id` over `data` (its bytes). REQUIRES: id valid.
TensorView make_view(const Model& m, TensorId id, const uint8_t* data);

}  // namespace strata::model
