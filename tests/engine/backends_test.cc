// tests/engine/backends_test.cc: plans come from the real profile; a GPU plan on a build without a GPU backend is
// made again without the GPU (and says so); a plan's sites map onto backends, and a model run from such a plan
// across two backend instances (a second CPU backend standing in for the GPU) matches one backend bit for bit.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/backends.h"
#include "engine/runtime.h"
#include "model/forward.h"
#include "model/synth.h"
#include "planner/model_shapes.h"
#include "support/test_support.h"

namespace strata::engine {
namespace {

std::string synth_model(const std::string& name) {
  const std::string path = testing::temp_dir() + "/" + name;
  model::SynthSpec spec;
  spec.layers = 4;
  spec.dim = 64;
  spec.heads = 4;
  spec.kv_heads = 2;
  auto s = model::write_synth_model(spec, path);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return path;
}

TEST(Backends, GpuPlanWithoutGpuBackendIsMadeAgainForTheCpu) {
  if (missing_gpu_backend(planner::testing::gpu_24g()).empty()) GTEST_SKIP() << "this build runs the GPU plan";
  EngineOptions o;
  o.model_path = synth_model("replan.gguf");
  o.n_threads = 1;
  o.profile = planner::testing::gpu_24g();
  auto lm = LoadedModel::load(o);
  ASSERT_TRUE(lm.is_ok()) << lm.status().message();
  // Without a CUDA backend in the build, or with one (kernels/cuda/) on a machine without a GPU (CI).
  const std::string& note = lm.value()->backend_note();
  EXPECT_TRUE(note.find("no CUDA backend") != std::string::npos || note.find("sees 0 GPU") != std::string::npos)
      << note;
  ASSERT_TRUE(lm.value()->plan().has_value());
  EXPECT_FALSE(plan_uses_gpu(*lm.value()->plan()));
  EXPECT_EQ(lm.value()->placement().backends.size(), 1u);
}

TEST(Backends, CpuProfileNeedsNoReplan) {
  EngineOptions o;
  o.model_path = synth_model("cpu.gguf");
  o.n_threads = 1;
  o.profile = planner::testing::cpu_16g();
  auto lm = LoadedModel::load(o);
  ASSERT_TRUE(lm.is_ok()) << lm.status().message();
  EXPECT_TRUE(lm.value()->backend_note().empty());
}

// Odd layers (weights, sites and KV) on the GPU tier; one RAM-tier tensor with a GPU site stays on the host
// (reading RAM weights from a GPU needs the staging uploads of the GPU tiers).
planner::Plan split_plan(const model::Model& m) {
  planner::Plan plan;
  plan.tensors.resize(m.tensors.size());
  plan.kv_tiers.assign(m.layers.size(), planner::Tier::Ram);
  auto gpu = [&](model::TensorId id) {
    plan.tensors[id].tier = planner::Tier::Gpu;
    plan.tensors[id].decode_site = plan.tensors[id].prefill_site = planner::Site::Gpu;
  };
  for (size_t l = 1; l < m.layers.size(); l += 2) {
    const model::LayerTensors& L = m.layers[l];
    for (model::TensorId id : {L.attn_norm, L.attn_q, L.attn_k, L.attn_v, L.attn_output, L.ffn_norm, L.ffn_gate,
                               L.ffn_up, L.ffn_down})
      gpu(id);
    plan.kv_tiers[l] = planner::Tier::Gpu;
  }
  gpu(m.output);
  plan.tensors[m.layers[0].ffn_up].prefill_site = planner::Site::Gpu;  // RAM tier: stays on the host
  return plan;
}

TEST(Backends, PlanSitesMapOntoBackends) {
  EngineOptions o;
  o.model_path = synth_model("sites.gguf");
  o.n_threads = 1;
  auto lm = LoadedModel::load(o);
  ASSERT_TRUE(lm.is_ok()) << lm.status().message();
  const model::Model& m = lm.value()->model();
  const planner::Plan plan = split_plan(m);
  EXPECT_TRUE(plan_uses_gpu(plan));
  kernels::CpuBackend stand_in(lm.value()->backend().pool(), 1);
  const model::Placement p = placement_from_plan(&plan, m, lm.value()->backend(), &stand_in);
  ASSERT_EQ(p.backends.size(), 2u);
  EXPECT_EQ(p.site(m.layers[1].attn_q, true), 1);
  EXPECT_EQ(p.site(m.layers[0].attn_q, true), 0);
  EXPECT_EQ(p.site(m.layers[0].ffn_up, false), 0);
  EXPECT_EQ(p.site(m.output, false), 1);
  EXPECT_EQ(p.kv_site[1], 1);
  EXPECT_EQ(p.kv_site[2], 0);

  // Run it: prompt then decode, against the one-backend placement the same model loads with.
  const std::vector<int32_t> tokens = {1, 20, 30, 40, 50, 60, 70};
  auto run = [&](const model::Placement& pl, uint64_t* handoffs) {
    model::Forward fwd(m, lm.value()->weights(), lm.value()->experts(), pl);
    model::KvCache cache(m.hp, 16, pl);
    const int64_t V = m.hp.n_vocab;
    std::vector<float> all, logits(4 * V);
    EXPECT_TRUE(fwd.eval(std::span(tokens).subspan(0, 4), cache, logits, true).is_ok());
    all = logits;
    for (size_t i = 4; i < tokens.size(); ++i) {
      EXPECT_TRUE(fwd.eval(std::span(tokens).subspan(i, 1), cache, logits, false).is_ok());
      all.insert(all.end(), logits.begin(), logits.begin() + V);
    }
    *handoffs = fwd.handoffs().n_handoffs;
    return all;
  };
  uint64_t h1 = 0, h2 = 0;
  const auto one = run(lm.value()->placement(), &h1);
  const auto two = run(p, &h2);
  EXPECT_EQ(h1, 0u);
  EXPECT_GT(h2, 0u);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace strata::engine
