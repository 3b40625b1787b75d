// tests/model/model_bind_test.cc: binding through the architecture enumeration: the slots it fills, and the
// one-line refusals when the row or the file asks for a computation this build's forward pass lacks.
#include <gtest/gtest.h>

#include "model/model.h"
#include "model/synth.h"
#include "support/test_support.h"
#include "tensor/dtype.h"

namespace strata::model {
namespace {

gguf::GgufFile synth_file(const SynthSpec& spec, const std::string& name) {
  const std::string path = testing::temp_dir() + "/" + name;
  EXPECT_TRUE(write_synth_model(spec, path).is_ok());
  auto f = gguf::read_file(path, gguf_type_lookup());
  EXPECT_TRUE(f.is_ok());
  return std::move(f).value();
}

void set(gguf::GgufFile& f, const std::string& key, gguf::Value v) {
  auto it = f.key_index.find(key);
  if (it != f.key_index.end()) {
    f.metadata[it->second].second = std::move(v);
    return;
  }
  f.key_index[key] = f.metadata.size();
  f.metadata.emplace_back(key, std::move(v));
}

std::string bind_error(const gguf::GgufFile& f) {
  auto m = bind_model(f);
  EXPECT_FALSE(m.is_ok());
  return m.is_ok() ? "" : m.status().message();
}

TEST(BindModel, FillsTheSlotsTheForwardPassReads) {
  SynthSpec spec;
  spec.vocab = 300;
  spec.experts = 4;
  spec.experts_used = 2;
  gguf::GgufFile f = synth_file(spec, "moe.gguf");
  auto m = bind_model(f);
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_EQ(m->tensors[m->token_embd].name, "token_embd.weight");
  EXPECT_EQ(m->tensors[m->output].name, "output.weight");
  EXPECT_EQ(m->rope_freqs, kNoTensor);
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->tensors[m->layers[1].attn_q].name, "blk.1.attn_q.weight");
  EXPECT_EQ(m->tensors[m->layers[1].ffn_gate_inp].name, "blk.1.ffn_gate_inp.weight");
  EXPECT_EQ(m->tensors[m->layers[1].ffn_exps[2]].name, "blk.1.ffn_down_exps.weight");
  EXPECT_EQ(m->layers[1].ffn_gate, kNoTensor);
  EXPECT_EQ(m->layers[1].attn_q_bias, kNoTensor);
  EXPECT_EQ(m->bound.size(), f.tensors.size());
}

TEST(BindModel, TiedOutputReadsTheEmbedding) {
  SynthSpec spec;
  spec.vocab = 300;
  spec.tied = true;
  auto m = bind_model(synth_file(spec, "tied.gguf"));
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  EXPECT_EQ(m->output, m->token_embd);
  EXPECT_EQ(m->bound.back().id, m->token_embd);
  EXPECT_EQ(m->bound.back().spec.name, "output.weight");
}

TEST(BindModel, RefusesWhatTheForwardPassDoesNotCompute) {
  SynthSpec spec;
  spec.vocab = 300;
  spec.heads = 4;
  spec.kv_heads = 2;
  const gguf::GgufFile base = synth_file(spec, "base.gguf");

  gguf::GgufFile scaled = base;  // scaled RoPE is computed now: the file binds, its scaling read
  set(scaled, "llama.rope.scaling.type", gguf::Value::of_string("linear"));
  set(scaled, "llama.rope.scaling.factor", gguf::Value::of_f32(4.0f));
  auto sm = bind_model(scaled);
  ASSERT_TRUE(sm.is_ok()) << sm.status().message();
  EXPECT_EQ(sm->hp.rope_scaling, arch::RopeScaling::Linear);
  EXPECT_EQ(sm->hp.rope_scaling_factor, 4.0f);

  gguf::GgufFile per_layer = base;
  gguf::Array kv{gguf::ValueType::UINT32, {gguf::Value::of_u32(2), gguf::Value::of_u32(4)}};
  set(per_layer, "llama.attention.head_count_kv", gguf::Value::array(kv));
  // Layer 1 now declares 4 kv heads: its k projection no longer has the width the reader derives.
  const std::string m = bind_error(per_layer);
  EXPECT_NE(m.find("tensor 'blk.1.attn_k.weight' has shape 64x32 but the model needs 64x64"), std::string::npos) << m;

  gguf::GgufFile other = base;
  set(other, "general.architecture", gguf::Value::of_string("mamba"));
  const std::string u = bind_error(other);
  EXPECT_NE(u.find("'mamba'"), std::string::npos) << u;
  EXPECT_NE(u.find("supported: llama"), std::string::npos) << u;

  gguf::GgufFile eps = base;
  set(eps, "llama.attention.layer_norm_rms_epsilon", gguf::Value::of_f32(-1.0f));
  EXPECT_NE(bind_error(eps).find("llama.attention.layer_norm_rms_epsilon"), std::string::npos);
}

TEST(BindModel, ExpertWidthMustBeTheOneTheMoeBlockReads) {
  SynthSpec spec;
  spec.vocab = 300;
  spec.experts = 4;
  spec.experts_used = 2;
  gguf::GgufFile f = synth_file(spec, "moe_width.gguf");
  set(f, "llama.expert_feed_forward_length", gguf::Value::of_u32(32));
  const std::string m = bind_error(f);
  EXPECT_TRUE(m.find("ffn_gate_exps") != std::string::npos || m.find("expert_feed_forward_length") != std::string::npos) << m;
}

}  // namespace
}  // namespace strata::model
