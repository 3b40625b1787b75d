// tests/planner/plan_picture_test.cc: the plan summed per tier and role group (the figures the SVG bars and the
// /strata page draw): every tensor counted once on its tier, the KV cache split over layers' tiers, budgets.
#include <gtest/gtest.h>

#include "planner/model_shapes.h"
#include "planner/plan_picture.h"
#include "planner/planner.h"

namespace strata::planner {
namespace {

Plan plan_for(const testing::ShapeSpec& shape, const HardwareProfile& hw, Budgets budgets = {}) {
  auto roles = classify_tensors(testing::make_gguf(shape));
  EXPECT_TRUE(roles.is_ok()) << roles.status().message();
  auto plan = make_plan(*roles, hw, budgets);
  EXPECT_TRUE(plan.is_ok()) << plan.status().message();
  return *plan;
}

void expect_sums_match(const Plan& plan) {
  const PlanPicture pic = summarize_plan(plan);
  std::array<uint64_t, kNumTiers> by_tier{};
  uint64_t weights = 0;
  for (const auto& t : plan.tensors) {
    for (int i = 0; i < kNumTiers; ++i)
      if (pic.tiers[i].tier == t.tier) by_tier[i] += t.size_bytes;
    weights += t.size_bytes;
  }
  uint64_t kv = 0, drawn = 0;
  for (int i = 0; i < kNumTiers; ++i) {
    const TierBar& b = pic.tiers[i];
    EXPECT_EQ(b.weight_bytes, by_tier[i]) << tier_name(b.tier);
    uint64_t groups = 0;
    for (int g = 0; g < kNumRoleGroups; ++g)
      if (g != static_cast<int>(RoleGroup::KvCache)) groups += b.bytes[g];
    EXPECT_EQ(groups, b.weight_bytes) << "role groups add up to the tier's weights";
    kv += b.bytes[static_cast<int>(RoleGroup::KvCache)];
    drawn += b.weight_bytes;
  }
  EXPECT_EQ(drawn, weights);
  EXPECT_EQ(kv, plan.kv_bytes);
  EXPECT_EQ(pic.tiers[0].budget_bytes, plan.budgets.gpu_bytes);
  EXPECT_EQ(pic.tiers[2].budget_bytes, plan.budgets.ram_bytes);
}

TEST(PlanPicture, SeventyBillionOnA24GigabyteGpuSumsEveryTensorOnce) {
  const Plan plan = plan_for(testing::llama3_70b(), testing::gpu_24g());
  expect_sums_match(plan);
  const PlanPicture pic = summarize_plan(plan);
  EXPECT_GT(pic.tiers[0].weight_bytes, 0u) << "some weights on the GPU";
  EXPECT_GT(pic.tiers[0].bytes[static_cast<int>(RoleGroup::Attention)] + pic.tiers[2].bytes[static_cast<int>(RoleGroup::Attention)] +
                pic.tiers[3].bytes[static_cast<int>(RoleGroup::Attention)],
            0u);
}

TEST(PlanPicture, MixtralExpertsAreTheirOwnGroup) {
  Budgets b;
  b.ram_bytes = 8ull << 30;
  const Plan plan = plan_for(testing::mixtral_8x7b(), testing::cpu_16g(), b);
  expect_sums_match(plan);
  const PlanPicture pic = summarize_plan(plan);
  uint64_t experts = 0, ffn = 0;
  for (const TierBar& t : pic.tiers) {
    experts += t.bytes[static_cast<int>(RoleGroup::Experts)];
    ffn += t.bytes[static_cast<int>(RoleGroup::Ffn)];
  }
  EXPECT_GT(experts, 0u);
  EXPECT_EQ(ffn, 0u) << "Mixtral has no dense FFN";
  EXPECT_GT(pic.tiers[3].bytes[static_cast<int>(RoleGroup::Experts)], 0u) << "with 8 GiB some experts stream from disk";
}

TEST(PlanPicture, SvgIsOneDocumentWithABarPerTier) {
  const std::string svg = plan_svg(plan_for(testing::llama3_8b(), testing::gpu_8g()), "a <model> & \"name\"");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("a &lt;model&gt; &amp; &quot;name&quot;"), std::string::npos) << "the title is escaped";
  size_t n = 0;
  for (size_t p = svg.find("class=\"tier\""); p != std::string::npos; p = svg.find("class=\"tier\"", p + 1)) ++n;
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(svg.find("http://", svg.find("xmlns") + 40), std::string::npos) << "no external references";
  EXPECT_EQ(svg.find("<script"), std::string::npos);
}

}  // namespace
}  // namespace strata::planner
