// tests/engine/device_moe_test.cc: a MoE model whose router and experts all live on a device that routes on the
// device runs each decode step's MoE FFN as one moe_decode (no host round trip in the pass), one sequence or
// several decoding together, and its logits match the host-routed path; a layer whose experts are not all in
// device memory takes the host-routed path; a layer whose gate slices are in device memory and whose up and down
// slices are in RAM computes each projection where its bytes are.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "engine/backends.h"
#include "engine/device_weights.h"
#include "engine/synth_run.h"
#include "kernels/late_backend.h"

namespace strata::engine {
namespace {

using namespace std::chrono_literals;

TEST(DeviceMoe, DecodeStepsRouteOnTheDeviceAndMatchTheHostPath) {
  auto loaded = testing::load_small_moe("device-moe.gguf", 5);
  ASSERT_NE(loaded, nullptr);
  LoadedModel& lm = *loaded;
  const model::Model& m = lm.model();

  // Every tensor but the token embedding in device memory, every op there except the embedding's gather;
  // with `keep_layer_on_host`, one layer's experts stay in RAM (computed on the host).
  auto run = [&](bool device_routes, int keep_layer_on_host, int* moe_decodes) {
    kernels::testing::LateBackend late(1, 50us, device_routes);
    planner::Plan plan;
    plan.tensors.resize(m.tensors.size());
    plan.kv_tiers.assign(m.layers.size(), planner::Tier::Gpu);
    std::vector<bool> on_device(m.tensors.size(), true);
    on_device[m.token_embd] = false;
    for (size_t i = 0; i < m.tensors.size(); ++i) {
      const bool host = static_cast<model::TensorId>(i) == m.token_embd ||
                        (keep_layer_on_host >= 0 &&
                         std::find(m.layers[keep_layer_on_host].ffn_exps.begin(), m.layers[keep_layer_on_host].ffn_exps.end(),
                                   static_cast<model::TensorId>(i)) != m.layers[keep_layer_on_host].ffn_exps.end());
      on_device[i] = !host;
      plan.tensors[i].tier = host ? planner::Tier::Ram : planner::Tier::Gpu;
      plan.tensors[i].decode_site = plan.tensors[i].prefill_site = host ? planner::Site::Cpu : planner::Site::Gpu;
    }
    auto dw = DeviceWeights::make(m, lm.weights(), lm.experts(), on_device, late);
    EXPECT_TRUE(dw.is_ok()) << dw.status().message();
    const model::Placement p = placement_from_plan(&plan, m, lm.backend(), &late);
    auto all = testing::run_prompt_then_decode(m, *dw.value(), dw.value().get(), p, {1, 300, 17, 299, 42, 301, 7}, {3});
    // Two sequences decoding together (one pass a step, one token each): their logits follow the single run's.
    model::Forward fwd(m, *dw.value(), dw.value().get(), p);
    model::KvCache ca(m.hp, 32, p), cb(m.hp, 32, p);
    const int64_t V = m.hp.n_vocab;
    std::vector<float> la(static_cast<size_t>(V)), lb(static_cast<size_t>(V));
    const std::vector<int32_t> pa = {1, 300, 17}, pb = {5, 77};
    EXPECT_TRUE(fwd.eval(pa, ca, la, false).is_ok());
    EXPECT_TRUE(fwd.eval(pb, cb, lb, false).is_ok());
    for (int32_t step = 0; step < 3; ++step) {
      const int32_t ta = 40 + step, tb = 90 + step;
      std::vector<model::SeqInput> batch = {{std::span(&ta, 1), &ca, la, false}, {std::span(&tb, 1), &cb, lb, false}};
      EXPECT_TRUE(fwd.eval_batch(batch).is_ok());
      all.insert(all.end(), la.begin(), la.end());
      all.insert(all.end(), lb.begin(), lb.end());
    }
    late.synchronize();
    EXPECT_EQ(late.stale_weights(), 0);
    *moe_decodes = late.moe_decodes();
    return all;
  };
  int host_routed = -1, device_routed = -1, mixed = -1;
  const auto want = run(false, -1, &host_routed);
  const auto got = run(true, -1, &device_routed);
  const auto part = run(true, 1, &mixed);
  EXPECT_EQ(host_routed, 0);
  // Every decode step's every MoE layer (4 single steps, 3 batched steps of two sequences), none of the prompts'.
  EXPECT_EQ(device_routed, (4 + 3) * 3);
  EXPECT_EQ(mixed, (4 + 3) * 2) << "the layer whose experts are in RAM takes the host-routed path";
  // The experts' outputs add up in another order (routing order, not expert order): equal within rounding.
  EXPECT_LT(testing::rel_rms_diff(got, want), 1e-5);
  EXPECT_LT(testing::rel_rms_diff(part, want), 1e-5);
}

// The shape of a plan that keeps a layer's gate experts in GPU memory and its up and down experts in RAM with CPU
// sites (as Mixtral at --gpu-mem 14G): each projection runs where its bytes are, never on a device that would be
// handed host bytes, and the logits match a run entirely on the host.
TEST(DeviceMoe, ExpertProjectionsSplitAcrossSitesComputeWhereTheirBytesAre) {
  auto loaded = testing::load_small_moe("device-moe-split.gguf", 9);
  ASSERT_NE(loaded, nullptr);
  LoadedModel& lm = *loaded;
  const model::Model& m = lm.model();
  const std::vector<int32_t> tokens = {1, 300, 17, 299, 42, 301, 7, 8};
  const std::vector<size_t> prompt = {5};
  const auto want = testing::run_prompt_then_decode(m, lm.weights(), lm.experts(), model::Placement::single(lm.backend(), m),
                                                    tokens, prompt);
  for (const bool device_routes : {false, true}) {
    kernels::testing::LateBackend late(1, 20us, device_routes);
    late.set_own_weights_only(true);
    planner::Plan plan;
    plan.tensors.resize(m.tensors.size());
    plan.kv_tiers.assign(m.layers.size(), planner::Tier::Gpu);
    std::vector<bool> on_device(m.tensors.size(), true);
    for (size_t i = 0; i < m.tensors.size(); ++i) {
      const auto id = static_cast<model::TensorId>(i);
      const auto& L = m.layers[1];
      const bool host = id == m.token_embd || id == L.ffn_exps[1] || id == L.ffn_exps[2];
      on_device[i] = !host;
      plan.tensors[i].tier = host ? planner::Tier::Ram : planner::Tier::Gpu;
      plan.tensors[i].decode_site = plan.tensors[i].prefill_site = host ? planner::Site::Cpu : planner::Site::Gpu;
    }
    auto dw = DeviceWeights::make(m, lm.weights(), lm.experts(), on_device, late);
    ASSERT_TRUE(dw.is_ok()) << dw.status().message();
    const model::Placement p = placement_from_plan(&plan, m, lm.backend(), &late);
    ASSERT_EQ(p.decode_site[m.layers[1].ffn_exps[0]], 1);
    ASSERT_EQ(p.decode_site[m.layers[1].ffn_exps[1]], 0);
    const auto got = testing::run_prompt_then_decode(m, *dw.value(), dw.value().get(), p, tokens, prompt);
    late.synchronize();
    EXPECT_EQ(late.foreign_weights(), 0) << "a product on the device was handed RAM-tier expert bytes";
    EXPECT_EQ(late.stale_weights(), 0);
    EXPECT_GT(late.moe_decodes() + late.ops_run(), 0);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_LT(testing::rel_rms_diff(got, want), 1e-5) << "device_routes " << device_routes;
  }
}

}  // namespace
}  // namespace strata::engine
