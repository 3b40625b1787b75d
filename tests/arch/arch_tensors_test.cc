// tests/arch/arch_tensors_test.cc: the tensor enumeration: forward order, shapes from the hyperparameters,
// what each row adds (biases, QK norms, sinks, stacked experts), and roles by name for tensors outside it.
#include <gtest/gtest.h>

#include <map>

#include "arch/tensors.h"
#include "arch_test_util.h"

namespace strata::arch {
namespace {

using testing::FakeGguf;
using testing::small;

HParams read(const FakeGguf& g) {
  auto r = read_hparams(g.file());
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? *r : HParams{};
}

std::vector<std::string> names_of_layer(const std::vector<TensorSpec>& specs, int layer) {
  std::vector<std::string> out;
  for (const auto& s : specs)
    if (s.layer == layer) out.push_back(s.name);
  return out;
}

std::map<std::string, TensorSpec> by_name(const std::vector<TensorSpec>& specs) {
  std::map<std::string, TensorSpec> out;
  for (const auto& s : specs) EXPECT_TRUE(out.emplace(s.name, s).second) << "listed twice: " << s.name;
  return out;
}

TEST(ForEachTensor, DenseLlamaInForwardOrder) {
  const auto specs = list_tensors(read(small("llama")));
  ASSERT_EQ(specs.size(), 2u + 4 * 9 + 2);
  EXPECT_EQ(specs.front().name, "token_embd.weight");
  EXPECT_EQ(specs[1].name, "rope_freqs.weight");
  EXPECT_FALSE(specs[1].required);
  EXPECT_EQ(names_of_layer(specs, 2),
            (std::vector<std::string>{"blk.2.attn_norm.weight", "blk.2.attn_q.weight", "blk.2.attn_k.weight",
                                      "blk.2.attn_v.weight", "blk.2.attn_output.weight", "blk.2.ffn_norm.weight",
                                      "blk.2.ffn_gate.weight", "blk.2.ffn_up.weight", "blk.2.ffn_down.weight"}));
  EXPECT_EQ(specs[specs.size() - 2].name, "output_norm.weight");
  const TensorSpec& out = specs.back();
  EXPECT_EQ(out.name, "output.weight");
  EXPECT_FALSE(out.required);
  EXPECT_TRUE(out.tied_to_embedding);
  // Positions never go back, and name the layer; shapes come from the hyperparameters.
  int last = 0;
  for (const auto& s : specs) {
    EXPECT_GE(s.position, last) << s.name;
    last = s.position;
    EXPECT_EQ(s.position, s.layer < 0 ? s.position : position_of_layer(s.layer)) << s.name;
    EXPECT_FALSE(s.expert_stacked) << s.name;
  }
  EXPECT_EQ(last, position_of_layer(4));
  auto m = by_name(specs);
  EXPECT_EQ(m["token_embd.weight"].shape, (std::vector<int64_t>{64, 300}));
  EXPECT_EQ(m["token_embd.weight"].role, Role::Embedding);
  EXPECT_EQ(m["blk.1.attn_k.weight"].shape, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(m["blk.1.attn_k.weight"].role, Role::AttnK);
  EXPECT_EQ(m["blk.1.ffn_down.weight"].shape, (std::vector<int64_t>{160, 64}));
  EXPECT_EQ(m["blk.1.ffn_down.weight"].role, Role::FfnDown);
  EXPECT_EQ(m["rope_freqs.weight"].shape, (std::vector<int64_t>{4}));
}

TEST(ForEachTensor, PerLayerKvWidths) {
  auto m = by_name(list_tensors(read(small("llama").u32_array("attention.head_count_kv", {4, 2, 8, 1}))));
  EXPECT_EQ(m["blk.0.attn_k.weight"].shape, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(m["blk.1.attn_v.weight"].shape, (std::vector<int64_t>{64, 16}));
  EXPECT_EQ(m["blk.2.attn_k.weight"].shape, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(m["blk.3.attn_v.weight"].shape, (std::vector<int64_t>{64, 8}));
}

TEST(ForEachTensor, Qwen3MoeHasQkNormsAndStackedExperts) {
  FakeGguf g = small("qwen3moe");
  g.u32("attention.key_length", 16).u32("expert_count", 16).u32("expert_used_count", 4).u32("expert_feed_forward_length", 48);
  const auto specs = list_tensors(read(g));
  EXPECT_EQ(names_of_layer(specs, 0),
            (std::vector<std::string>{"blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight",
                                      "blk.0.attn_v.weight", "blk.0.attn_q_norm.weight", "blk.0.attn_k_norm.weight",
                                      "blk.0.attn_output.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate_inp.weight",
                                      "blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_exps.weight",
                                      "blk.0.ffn_down_exps.weight"}));
  auto m = by_name(specs);
  EXPECT_EQ(m["blk.0.attn_q.weight"].shape, (std::vector<int64_t>{64, 128}));
  EXPECT_EQ(m["blk.0.attn_q_norm.weight"].shape, (std::vector<int64_t>{16}));
  EXPECT_EQ(m["blk.0.attn_q_norm.weight"].role, Role::AttnNorm);
  EXPECT_EQ(m["blk.0.attn_output.weight"].shape, (std::vector<int64_t>{128, 64}));
  EXPECT_EQ(m["blk.0.ffn_gate_inp.weight"].shape, (std::vector<int64_t>{64, 16}));
  EXPECT_FALSE(m["blk.0.ffn_gate_inp.weight"].expert_stacked);
  EXPECT_EQ(m["blk.0.ffn_up_exps.weight"].shape, (std::vector<int64_t>{64, 48, 16}));
  EXPECT_EQ(m["blk.0.ffn_down_exps.weight"].shape, (std::vector<int64_t>{48, 64, 16}));
  EXPECT_TRUE(m["blk.0.ffn_down_exps.weight"].expert_stacked);
  EXPECT_EQ(m["blk.0.ffn_down_exps.weight"].role, Role::ExpertDown);
  EXPECT_EQ(m.count("rope_freqs.weight"), 0u);
  EXPECT_EQ(m.count("blk.0.ffn_up.weight"), 0u);
}

TEST(ForEachTensor, Qwen2HasQkvBiases) {
  auto m = by_name(list_tensors(read(small("qwen2"))));
  EXPECT_EQ(m["blk.3.attn_q.bias"].shape, (std::vector<int64_t>{64}));
  EXPECT_EQ(m["blk.3.attn_k.bias"].shape, (std::vector<int64_t>{32}));
  EXPECT_EQ(m["blk.3.attn_v.bias"].role, Role::Bias);
  EXPECT_EQ(m.count("blk.3.attn_output.bias"), 0u);
}

TEST(ForEachTensor, GptOssBiasesSinksAndItsNormName) {
  FakeGguf g = small("gpt-oss");
  g.u32("attention.sliding_window", 128).u32("expert_count", 8).u32("expert_used_count", 2);
  const auto specs = list_tensors(read(g));
  auto m = by_name(specs);
  EXPECT_EQ(m["blk.1.attn_sinks.weight"].shape, (std::vector<int64_t>{8}));
  EXPECT_EQ(m["blk.1.attn_output.bias"].shape, (std::vector<int64_t>{64}));
  EXPECT_EQ(m["blk.1.post_attention_norm.weight"].role, Role::FfnNorm);
  EXPECT_EQ(m.count("blk.1.ffn_norm.weight"), 0u);
  EXPECT_EQ(m["blk.1.ffn_gate_inp.bias"].shape, (std::vector<int64_t>{8}));
  EXPECT_EQ(m["blk.1.ffn_up_exps.bias"].shape, (std::vector<int64_t>{160, 8}));
  EXPECT_FALSE(m["blk.1.ffn_up_exps.bias"].expert_stacked);  // read whole, sliced per expert by the pass
  EXPECT_EQ(m["blk.1.ffn_down_exps.bias"].shape, (std::vector<int64_t>{64, 8}));
  EXPECT_TRUE(m["output.weight"].required) << "gpt-oss never ties its lm head";
}

TEST(ForEachTensor, VisitorErrorStopsTheWalk) {
  int seen = 0;
  Status st = for_each_tensor(read(small("llama")), [&](const TensorSpec& s) -> Status {
    ++seen;
    if (s.name == "blk.1.attn_q.weight") return error("stop at {}", s.name);
    return Status::ok();
  });
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.message(), "stop at blk.1.attn_q.weight");
  EXPECT_EQ(seen, 2 + 9 + 2);
}

TEST(RoleOfName, TensorsOutsideTheEnumeration) {
  auto role = [](std::string_view name, size_t n_dims) { return role_of_name(parse_tensor_name(name), n_dims); };
  const ParsedName legacy = parse_tensor_name("blk.3.ffn_up.7.weight");
  EXPECT_EQ(legacy.layer, 3);
  EXPECT_EQ(legacy.base, "ffn_up");
  EXPECT_EQ(legacy.legacy_expert, 7);
  EXPECT_EQ(role("blk.3.ffn_up.7.weight", 2), Role::ExpertUp);
  EXPECT_EQ(role("blk.3.ffn_down.0.weight", 2), Role::ExpertDown);
  EXPECT_EQ(role("blk.3.ffn_up.weight", 2), Role::FfnUp);
  EXPECT_EQ(role("blk.0.attn_qkv.weight", 2), Role::AttnQkv);
  EXPECT_EQ(role("blk.0.ffn_gate_inp_shexp.weight", 2), Role::Router);
  EXPECT_EQ(role("blk.0.ffn_down_shexp.weight", 2), Role::FfnDown);
  EXPECT_EQ(role("blk.0.attn_q.bias", 1), Role::Bias);
  EXPECT_EQ(role("blk.0.attn_q_norm.weight", 1), Role::AttnNorm);
  EXPECT_EQ(role("token_embd.weight", 2), Role::Embedding);
  EXPECT_EQ(role("output.weight", 2), Role::Output);
  EXPECT_EQ(role("rope_freqs.weight", 1), Role::Bias);
  EXPECT_EQ(role("blk.0.token_embd.weight", 2), Role::Other) << "a global name inside a block is not a global";
  EXPECT_EQ(role("mystery.weight", 1), Role::Bias);
  EXPECT_EQ(role("mystery.weight", 2), Role::Other);
  EXPECT_EQ(parse_tensor_name("blk.x.attn_q.weight").layer, -1);
}

}  // namespace
}  // namespace strata::arch
