// tests/planner/planner_arch_roles_test.cc: the planner's roles and layers are the architecture enumeration's,
// for dense and MoE shapes, and its hyperparameters are the one reader's.
#include <gtest/gtest.h>

#include <map>

#include "arch/tensors.h"
#include "model_shapes.h"
#include "planner/tensor_roles.h"

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
