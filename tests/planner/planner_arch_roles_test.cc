// tests/planner/planner_arch_roles_test.cc: the planner's roles and layers are the architecture enumeration's,
// for dense and MoE shapes, and its hyperparameters are the one reader's.
#include <gtest/gtest.h>

#include <map>

#include "arch/tensors.h"
#include "model_shapes.h"
#include "planner/tensor_roles.h"
#include "support/test_support.h"
#include "tensor/dtype.h"

namespace strata::planner {
namespace {

using namespace strata::planner::testing;

TEST(ArchRoles, RolesComeFromTheEnumeration) {
  for (const ShapeSpec& s : {llama3_8b(), mixtral_8x7b(), moe_128x8()}) {
    SCOPED_TRACE(s.arch);
    const gguf::GgufFile f = make_gguf(s);
    auto roles = classify_tensors(f);
    ASSERT_TRUE(roles.is_ok()) << roles.status().message();
    auto hp = arch::read_hparams(f);
    ASSERT_TRUE(hp.is_ok()) << hp.status().message();
    EXPECT_EQ(roles->hp.arch, hp->arch);
    EXPECT_EQ(roles->hp.n_ff_expert, hp->n_ff_expert);
    EXPECT_EQ(roles->hp.n_ff_expert, s.n_ff_expert ? s.n_ff_expert : 0);
    std::map<std::string, arch::TensorSpec> listed;
    for (const arch::TensorSpec& t : arch::list_tensors(*hp)) listed.emplace(t.name, t);
    size_t matched = 0;
    for (const TensorRole& t : roles->tensors) {
      auto it = listed.find(t.name);
      if (it == listed.end()) continue;
      ++matched;
      EXPECT_EQ(t.role, it->second.role) << t.name;
      EXPECT_EQ(t.layer, it->second.layer) << t.name;
      EXPECT_EQ(t.dims, it->second.shape) << t.name;
    }
    EXPECT_EQ(matched, roles->tensors.size()) << "every tensor of these files is one the enumeration lists";
  }
}

// The tensors only the newer rows have (biases, QK norms, sinks, frequency factors, gpt-oss's renamed FFN
// norm) get their roles, on files written by `strata synth --arch` for every row.
TEST(ArchRoles, EveryRowsQuirkTensorsHaveRoles) {
  struct Case {
    std::string arch, flags;
    std::map<std::string, arch::Role> want;
  };
  using arch::Role;
  const std::vector<Case> cases = {
      {"llama", "--rope-freqs", {{"rope_freqs.weight", Role::Bias}, {"blk.0.attn_q.weight", Role::AttnQ}}},
      {"qwen2", "", {{"blk.0.attn_q.bias", Role::Bias}, {"blk.1.attn_k.bias", Role::Bias}, {"blk.1.attn_v.bias", Role::Bias}}},
      {"qwen3", "--head-dim 32", {{"blk.0.attn_q_norm.weight", Role::AttnNorm}, {"blk.1.attn_k_norm.weight", Role::AttnNorm}}},
      {"qwen3moe", "--experts 8 --ff-expert 32",
       {{"blk.0.attn_q_norm.weight", Role::AttnNorm}, {"blk.0.ffn_gate_inp.weight", Role::Router},
        {"blk.1.ffn_up_exps.weight", Role::ExpertUp}}},
      {"gpt-oss", "--experts 4 --ff-expert 64",
       {{"blk.0.attn_sinks.weight", Role::Bias}, {"blk.0.attn_output.bias", Role::Bias},
        {"blk.1.post_attention_norm.weight", Role::FfnNorm}, {"blk.1.ffn_gate_inp.bias", Role::Bias},
        {"blk.1.ffn_down_exps.bias", Role::Bias}, {"blk.1.ffn_down_exps.weight", Role::ExpertDown}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.arch);
    const std::string path = strata::testing::temp_dir() + "/" + c.arch + ".gguf";
    auto r = strata::testing::run_command(strata::testing::strata_binary() + " synth " + path + " --arch " + c.arch +
                                          " --layers 2 --dim 64 --heads 4 --kv-heads 2 --vocab 400 --sparse " + c.flags);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto f = gguf::read_file(path, strata::gguf_type_lookup());
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    auto roles = classify_tensors(*f);
    ASSERT_TRUE(roles.is_ok()) << roles.status().message();
    std::map<std::string, Role> got;
    for (const TensorRole& t : roles->tensors) got[t.name] = t.role;
    for (const auto& [name, role] : c.want) {
      ASSERT_TRUE(got.count(name)) << name;
      EXPECT_EQ(got[name], role) << name << " is " << arch::role_name(got[name]);
    }
    for (const auto& [name, role] : got) EXPECT_NE(role, Role::Other) << name << " has no role";
  }
}

TEST(ArchRoles, UnknownArchitectureIsOneErrorListingTheRows) {
  ShapeSpec s = llama3_8b();
  s.arch = "mamba";
  s.n_layer = 1;
  auto r = classify_tensors(make_gguf(s));
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("'mamba'"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("llama, qwen2"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace strata::planner
