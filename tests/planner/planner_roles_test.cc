// tests/planner/planner_roles_test.cc: tensor roles and per-token bytes from GGUF names, shapes and metadata.
#include <gtest/gtest.h>

#include <cmath>

#include "gguf/writer.h"
#include "planner/model_shapes.h"
#include "planner/tensor_roles.h"
#include "support/test_support.h"
#include "tensor/dtype.h"

namespace strata::planner {
namespace {

using namespace strata::planner::testing;

const TensorRole& find(const ModelRoles& r, const std::string& name) {
  for (const auto& t : r.tensors)
    if (t.name == name) return t;
  ADD_FAILURE() << "no tensor " << name;
  static TensorRole none;
  return none;
}

TEST(TensorRoles, DenseLlamaShape) {
  auto r = classify_tensors(make_gguf(llama3_8b()));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->hp.n_layer, 32);
  EXPECT_EQ(r->hp.n_embd, 4096);
  EXPECT_EQ(r->hp.n_ff, 14336);
  EXPECT_EQ(r->hp.n_head_kv, 8);
  EXPECT_EQ(r->hp.n_vocab, 128256);
  EXPECT_FALSE(r->hp.tied_output);
  EXPECT_FALSE(r->is_moe());
  EXPECT_EQ(find(*r, "token_embd.weight").role, Role::Embedding);
  EXPECT_EQ(find(*r, "output.weight").role, Role::Output);
  EXPECT_EQ(find(*r, "output_norm.weight").role, Role::OutputNorm);
  EXPECT_EQ(find(*r, "blk.7.attn_norm.weight").role, Role::AttnNorm);
  EXPECT_EQ(find(*r, "blk.7.attn_q.weight").role, Role::AttnQ);
  EXPECT_EQ(find(*r, "blk.7.attn_k.weight").role, Role::AttnK);
  EXPECT_EQ(find(*r, "blk.7.attn_v.weight").role, Role::AttnV);
  EXPECT_EQ(find(*r, "blk.7.attn_output.weight").role, Role::AttnOutput);
  EXPECT_EQ(find(*r, "blk.7.ffn_norm.weight").role, Role::FfnNorm);
  EXPECT_EQ(find(*r, "blk.7.ffn_gate.weight").role, Role::FfnGate);
  EXPECT_EQ(find(*r, "blk.7.ffn_up.weight").role, Role::FfnUp);
  EXPECT_EQ(find(*r, "blk.31.ffn_down.weight").role, Role::FfnDown);
  EXPECT_EQ(find(*r, "blk.31.ffn_down.weight").layer, 31);
  EXPECT_EQ(find(*r, "output.weight").layer, -1);
  // A dense matrix is read whole for every token; the embedding only one row of it.
  const TensorRole& q = find(*r, "blk.0.attn_q.weight");
  EXPECT_DOUBLE_EQ(q.decode_bytes, static_cast<double>(q.size_bytes));
  EXPECT_DOUBLE_EQ(q.decode_flops, 2.0 * 4096 * 4096);
  const TensorRole& embd = find(*r, "token_embd.weight");
  EXPECT_EQ(embd.row_bytes, dtype_traits(DType::Q4_K).row_bytes(4096));
  EXPECT_DOUBLE_EQ(embd.decode_bytes, static_cast<double>(embd.row_bytes));
  EXPECT_DOUBLE_EQ(r->prefill_bytes(embd, 512), 512.0 * embd.row_bytes);
  EXPECT_DOUBLE_EQ(r->prefill_bytes(q, 512), static_cast<double>(q.size_bytes));
  EXPECT_EQ(r->total_bytes, make_gguf(llama3_8b()).total_tensor_bytes());
  EXPECT_GT(r->dense_ffn_bytes, r->attention_bytes);
}

TEST(TensorRoles, ExpertsReadOnlyTheUsedFraction) {
  auto r = classify_tensors(make_gguf(moe_128x8()));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(r->is_moe());
  EXPECT_EQ(r->hp.n_expert, 128);
  EXPECT_EQ(r->hp.n_expert_used, 8);
  EXPECT_EQ(r->hp.head_dim, 128);  // from key_length, not n_embd / n_head
  const TensorRole& up = find(*r, "blk.3.ffn_up_exps.weight");
  EXPECT_EQ(up.role, Role::ExpertUp);
  EXPECT_EQ(up.n_expert, 128);
  EXPECT_EQ(up.expert_slice_bytes * 128, up.size_bytes);
  EXPECT_DOUBLE_EQ(up.decode_bytes, static_cast<double>(up.size_bytes) * 8 / 128);
  EXPECT_DOUBLE_EQ(up.decode_reads, 8);
  EXPECT_EQ(find(*r, "blk.3.ffn_gate_inp.weight").role, Role::Router);
  EXPECT_EQ(find(*r, "blk.3.ffn_down_exps.weight").role, Role::ExpertDown);
  // A prompt batch touches each expert with probability 1 - (1 - k/n)^batch.
  EXPECT_NEAR(r->prefill_bytes(up, 1), up.decode_bytes, 1.0);
  EXPECT_NEAR(r->prefill_bytes(up, 16), up.size_bytes * (1 - std::pow(1 - 8.0 / 128, 16)), 1.0);
  EXPECT_NEAR(r->prefill_bytes(up, 512), static_cast<double>(up.size_bytes), up.size_bytes * 1e-6);
  EXPECT_GT(r->expert_bytes, r->total_bytes * 9 / 10);
}

TEST(TensorRoles, TiedEmbeddingIsReadWholeForLogits) {
  ShapeSpec s = llama3_8b();
  s.n_layer = 2;
  gguf::GgufFile f = make_gguf(s);
  f.tensors.pop_back();  // drop output.weight: the lm head reuses token_embd
  f.tensor_index.erase("output.weight");
  auto r = classify_tensors(f);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(r->hp.tied_output);
  const TensorRole& embd = find(*r, "token_embd.weight");
  EXPECT_DOUBLE_EQ(embd.decode_bytes, static_cast<double>(embd.size_bytes + embd.row_bytes));
}

TEST(TensorRoles, ErrorsNameTheKeyOrTensor) {
  gguf::GgufFile f = make_gguf(llama3_8b());
  // A tensor beyond block_count.
  gguf::TensorInfo extra = f.tensors[1];
  extra.name = "blk.40.attn_q.weight";
  f.tensors.push_back(extra);
  auto r = classify_tensors(f);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("blk.40.attn_q.weight"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("block_count"), std::string::npos);

  // Expert tensors whose slice count disagrees with expert_count.
  ShapeSpec s = mixtral_8x7b();
  s.n_layer = 1;
  gguf::GgufFile m = make_gguf(s);
  for (auto& [k, v] : m.metadata)
    if (k == "llama.expert_count") v = gguf::Value::of_u32(4);
  r = classify_tensors(m);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("expert"), std::string::npos) << r.status().message();

  // A missing required key.
  gguf::GgufFile g = make_gguf(llama3_8b());
  g.key_index.erase("llama.embedding_length");
  r = classify_tensors(g);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("llama.embedding_length"), std::string::npos) << r.status().message();
}

TEST(TensorRoles, RealModelFromSharedData) {
  auto file = gguf::read_file(strata::testing::shared_path("models/stories260K.gguf"), gguf_type_lookup());
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  auto r = classify_tensors(*file);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->hp.n_layer, 5);
  EXPECT_EQ(r->hp.n_embd, 64);
  EXPECT_EQ(r->hp.n_head, 8);
  EXPECT_EQ(r->hp.n_head_kv, 4);
  EXPECT_EQ(r->hp.n_vocab, 512);
  int other = 0;
  for (const auto& t : r->tensors) other += t.role == Role::Other;
  EXPECT_EQ(other, 0) << "every tensor of a llama model has a known role";
  EXPECT_EQ(r->total_bytes, file->total_tensor_bytes());
}

TEST(TensorRoles, WriterRoundTripKeepsRoles) {
  // A tiny file through the real writer and parser: per-layer names, biases, legacy per-expert tensors.
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::of_string("llama"));
  w.set("llama.block_count", gguf::Value::of_u32(1));
  w.set("llama.embedding_length", gguf::Value::of_u32(32));
  w.set("llama.attention.head_count", gguf::Value::of_u32(4));
  w.set("llama.expert_count", gguf::Value::of_u32(2));
  w.set("llama.expert_used_count", gguf::Value::of_u32(1));
  auto add = [&](const std::string& name, std::vector<int64_t> dims) {
    int64_t n = 1;
    for (auto d : dims) n *= d;
    w.add_tensor_bytes(name, dims, static_cast<uint32_t>(DType::F32), std::vector<uint8_t>(n * 4, 0));
  };
  add("blk.0.attn_q.weight", {32, 32});
  add("blk.0.attn_q.bias", {32});
  add("blk.0.ffn_gate.0.weight", {32, 64});
  add("blk.0.ffn_gate.1.weight", {32, 64});
  add("rope_freqs.weight", {4});
  auto bytes = w.to_bytes();
  ASSERT_TRUE(bytes.is_ok());
  auto file = gguf::parse_memory(*bytes, gguf_type_lookup());
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  auto r = classify_tensors(*file);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(find(*r, "blk.0.attn_q.bias").role, Role::Bias);
  EXPECT_EQ(find(*r, "blk.0.ffn_gate.1.weight").role, Role::ExpertGate);
  EXPECT_DOUBLE_EQ(find(*r, "blk.0.ffn_gate.1.weight").decode_bytes, 32.0 * 64 * 4 / 2);
  EXPECT_EQ(find(*r, "rope_freqs.weight").role, Role::Bias);
  EXPECT_EQ(find(*r, "rope_freqs.weight").layer, -1);
}

}  // namespace
}  // namespace strata::planner
