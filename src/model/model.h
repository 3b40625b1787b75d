// model/model.h: a bound model: hyperparameters plus the id of every tensor the forward pass reads, shapes checked.
#pragma once

#include <array>
#include <vector>

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
};

struct Model {
  HParams hp;
  TensorId token_embd = kNoTensor;   // [n_embd, n_vocab]
  TensorId output_norm = kNoTensor;  // [n_embd]
  TensorId output = kNoTensor;       // [n_embd, n_vocab]; token_embd when tied
  std::vector<LayerTensors> layers;
  std::vector<gguf::TensorInfo> tensors;  // the directory (copied), indexed by TensorId
};

// Binds every tensor by its GGUF name and checks its shape and type. Errors name the tensor.
Result<Model> bind_model(const gguf::GgufFile& file);

// Builds the view of tensor `id` over `data` (its bytes). REQUIRES: id valid.
TensorView make_view(const Model& m, TensorId id, const uint8_t* data);

}  // namespace strata::model
