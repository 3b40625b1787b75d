// tests/engine/gpu_expert_cache_test.cc: the GPU expert cache on late stand-in devices (ops and copies on worker
// threads): a MoE plan split between GPU memory and RAM becomes slots spread over every layer; decode steps compute
// the held experts on the device and the others on the host, and match a run on the host alone; experts a router
// keeps choosing displace those it does not, uniform routing does not churn, and no slot is overwritten while an
// op still reads it.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

#include "engine/backends.h"
#include "engine/device_weights.h"
#include "engine/gpu_expert_cache.h"
#include "engine/synth_run.h"
#include "kernels/late_backend.h"

namespace strata::engine {
namespace {

using namespace std::chrono_literals;

// Layer 0's experts whole in GPU memory, the other layers' in RAM with CPU decode sites (the shape of Mixtral's
// plan at --gpu-mem 22G); everything else on the GPU but the token embedding.
planner::Plan split_plan(const model::Model& m) {
  planner::Plan plan;
  plan.tensors.resize(m.tensors.size());
  plan.kv_tiers.assign(m.layers.size(), planner::Tier::Gpu);
  plan.budgets.pinned_bytes = uint64_t{1} << 40;
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const auto id = static_cast<model::TensorId>(i);
    bool host = id == m.token_embd;
    for (size_t l = 1; l < m.layers.size(); ++l)
      for (model::TensorId e : m.layers[l].ffn_exps) host |= e == id;
    plan.tensors[i].tier = host ? planner::Tier::Ram : planner::Tier::Gpu;
    plan.tensors[i].size_bytes = m.tensors[i].size_bytes;
    plan.tensors[i].decode_site = host ? planner::Site::Cpu : planner::Site::Gpu;
    plan.tensors[i].prefill_site = host ? planner::Site::Cpu : planner::Site::Gpu;
  }
  return plan;
}

TEST(GpuExpertCache, ASplitPlanBecomesSlotsSpreadOverEveryLayer) {
  auto loaded = testing::load_synth("cache-plan.gguf", testing::small_spec(3, "Q8_0", 8));
  ASSERT_NE(loaded, nullptr);
  const model::Model& m = loaded->model();
  planner::Plan plan = split_plan(m);
  const ExpertCacheSetup c = expert_cache_from_plan(plan, m);
  // Layer 0's three expert tensors (8 experts) freed: as many slots as they hold (alignment may cost one).
  const uint64_t slot = GpuExpertCache::slot_bytes_for(m, 0);
  uint64_t freed = 0;
  for (model::TensorId id : m.layers[0].ffn_exps) freed += m.tensors[id].size_bytes;
  EXPECT_EQ(c.slot_bytes, slot);
  EXPECT_EQ(c.n_slots, static_cast<int>(freed / slot));
  EXPECT_GE(c.n_slots, 7);
  EXPECT_EQ(c.serves, std::vector<bool>({true, true, true}));
  ASSERT_GE(c.warm.size(), 4u);
  EXPECT_EQ(c.warm[0], std::make_pair(0, 0));
  EXPECT_EQ(c.warm[1], std::make_pair(1, 0));
  EXPECT_EQ(c.warm[2], std::make_pair(2, 0));
  EXPECT_EQ(c.warm[3], std::make_pair(0, 1));
  for (model::TensorId id : m.layers[0].ffn_exps) {
    EXPECT_EQ(plan.tensors[id].tier, planner::Tier::PinnedRam);
    EXPECT_EQ(plan.tensors[id].decode_site, planner::Site::Cpu);
    EXPECT_EQ(plan.tensors[id].prefill_site, planner::Site::Gpu);
  }
  EXPECT_EQ(c.pin.size(), 3u);
  EXPECT_FALSE(c.adapt) << "layers 1 and 2's experts are in pageable RAM: admissions would stall the pass";
  planner::Plan pinned = split_plan(m);
  for (auto& t : pinned.tensors)
    if (t.tier == planner::Tier::Ram) t.tier = planner::Tier::PinnedRam;
  EXPECT_TRUE(expert_cache_from_plan(pinned, m).adapt);

  // No cache where the experts are not split, or some are on disk.
  planner::Plan all_gpu = split_plan(m);
  for (auto& t : all_gpu.tensors) t.tier = planner::Tier::Gpu, t.decode_site = planner::Site::Gpu;
  EXPECT_EQ(expert_cache_from_plan(all_gpu, m).n_slots, 0);
  planner::Plan disk = split_plan(m);
  disk.tensors[m.layers[2].ffn_exps[1]].tier = planner::Tier::Disk;
  EXPECT_EQ(expert_cache_from_plan(disk, m).n_slots, 0);
  EXPECT_EQ(disk.tensors[m.layers[0].ffn_exps[0]].tier, planner::Tier::Gpu) << "a refused plan is left as it was";
}

TEST(GpuExpertCache, HitsOnTheDeviceAndMissesOnTheHostMatchTheHostRun) {
  auto loaded = testing::load_small_moe("cache-run.gguf", 11);
  ASSERT_NE(loaded, nullptr);
  LoadedModel& lm = *loaded;
  const model::Model& m = lm.model();
  const std::vector<int32_t> tokens = {1, 300, 17, 299, 42, 301, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
  const std::vector<size_t> prompt = {4};
  const auto want = testing::run_prompt_then_decode(m, lm.weights(), lm.experts(),
                                                    model::Placement::single(lm.backend(), m), tokens, prompt);
  kernels::testing::LateBackend late(1, 20us), copier(2, 200us);
  late.set_own_weights_only(true);
  planner::Plan plan = split_plan(m);
  ExpertCacheSetup setup = expert_cache_from_plan(plan, m);
  ASSERT_GT(setup.n_slots, 0);
  setup.copier = &copier;
  const std::vector<bool> on_device = testing::gpu_tier_mask(plan);
  auto dw = DeviceWeights::make(m, lm.weights(), lm.experts(), on_device, late, nullptr, &setup);
  ASSERT_TRUE(dw.is_ok()) << dw.status().message();
  // One allocation for the GPU tier and one for every cache slot: a device rounds each allocation up to its page,
  // which slots allocated one by one paid per slot (2.5 GB at qwen3-30b-a3b's 2,240 slots on the H100).
  EXPECT_EQ(late.weight_allocs(), 2);
  EXPECT_GT(setup.n_slots, 1);
  const model::Placement p = placement_from_plan(&plan, m, lm.backend(), &late);
  const auto got = testing::run_prompt_then_decode(m, *dw.value(), dw.value().get(), p, tokens, prompt);
  late.synchronize();
  const GpuExpertCache& cache = *dw.value()->expert_cache();
  EXPECT_EQ(late.foreign_weights(), 0) << "a device product was handed expert bytes outside its memory";
  EXPECT_EQ(late.stale_weights(), 0);
  EXPECT_TRUE(dw.value()->expert_cache_error().empty()) << dw.value()->expert_cache_error();
  // 14 decode steps x 3 layers x 2 routed experts, every one counted, some held and some not.
  EXPECT_EQ(cache.counters().hits + cache.counters().misses, 14u * 3 * 2);
  EXPECT_GT(cache.counters().hits, 0u);
  EXPECT_GT(cache.counters().misses, 0u);
  EXPECT_EQ(cache.counters().slices_read, 3 * cache.counters().hits) << "every hit computed from its slot";
  ASSERT_EQ(got.size(), want.size());
  EXPECT_LT(testing::rel_rms_diff(got, want), 1e-5);
}

// Prompts stage the experts of RAM-tier tensors through the ring; those the cache holds are read from their slots
// and never uploaded again.
TEST(GpuExpertCache, PromptsReadHeldExpertsFromTheirSlotsAndStageOnlyTheOthers) {
  auto loaded = testing::load_small_moe("cache-prompt.gguf", 12);
  ASSERT_NE(loaded, nullptr);
  LoadedModel& lm = *loaded;
  const model::Model& m = lm.model();
  const std::vector<int32_t> tokens = {1, 300, 17, 299, 42, 301, 7, 99, 120, 3};
  const auto want = testing::run_prompt_then_decode(m, lm.weights(), lm.experts(),
                                                    model::Placement::single(lm.backend(), m), tokens, {8});
  planner::Plan plan = split_plan(m);
  uint64_t slice = 0;
  for (const model::LayerTensors& L : m.layers)
    for (model::TensorId id : L.ffn_exps) {
      plan.tensors[id].prefill_site = planner::Site::Gpu;
      if (plan.tensors[id].tier == planner::Tier::Ram) plan.tensors[id].tier = planner::Tier::PinnedRam;
      slice = std::max(slice, DeviceStaging::unit_bytes(m, {id, 0}));
    }
  plan.memory.gpu_staging = 8 * slice;
  ExpertCacheSetup cache = expert_cache_from_plan(plan, m);
  ASSERT_GT(cache.n_slots, 0);
  StagingSetup staging = staging_from_plan(plan, m);
  ASSERT_EQ(staging.orders.prefill.size(), 3u * 8 * 3) << "every layer's expert slices staged for prompts";
  kernels::testing::LateBackend late(1, 20us), copier(2, 50us);
  late.set_own_weights_only(true);
  staging.copier = cache.copier = &copier;
  const std::vector<bool> on_device = testing::gpu_tier_mask(plan);
  auto dw = DeviceWeights::make(m, lm.weights(), lm.experts(), on_device, late, &staging, &cache);
  ASSERT_TRUE(dw.is_ok()) << dw.status().message();
  const model::Placement p = placement_from_plan(&plan, m, lm.backend(), &late, &staging);
  const auto got = testing::run_prompt_then_decode(m, *dw.value(), dw.value().get(), p, tokens, {8});
  late.synchronize();
  EXPECT_EQ(late.foreign_weights(), 0);
  EXPECT_EQ(late.stale_weights(), 0);
  EXPECT_LT(testing::rel_rms_diff(got, want), 1e-5);
  const GpuExpertCache& c = *dw.value()->expert_cache();
  EXPECT_GT(c.counters().slices_read, 3 * c.counters().hits) << "the prompt read held experts from their slots too";
  // The prompt staged at most the experts the cache does not hold, each once.
  EXPECT_LE(dw.value()->staging()->counters().uploads, 3u * static_cast<uint64_t>(3 * 8 - c.n_slots()));
}

// The cache driven directly: routing decisions as a decode step's forward pass reports them.
struct Driven {
  std::unique_ptr<LoadedModel> lm;
  std::unique_ptr<kernels::testing::LateBackend> device, copier;
  std::unique_ptr<GpuExpertCache> cache;
};

Driven driven_cache(int n_slots, std::chrono::microseconds copy_delay) {
  Driven d;
  d.lm = testing::load_synth("cache-driven.gguf", testing::small_spec(2, "Q8_0", 16));
  if (!d.lm) return d;
  const model::Model& m = d.lm->model();
  d.device = std::make_unique<kernels::testing::LateBackend>(1, 20us);
  d.copier = std::make_unique<kernels::testing::LateBackend>(2, copy_delay);
  ExpertCacheSetup s;
  s.n_slots = n_slots;
  s.slot_bytes = GpuExpertCache::slot_bytes_for(m, 0);
  s.serves = {true, true};
  for (int32_t e = 0; e < n_slots / 2; ++e) s.warm.insert(s.warm.end(), {{0, e}, {1, e}});
  model::ExpertSource* host = d.lm->experts();
  auto made = GpuExpertCache::make(m, *d.device, *d.copier, s, [host](int l, model::ExpertTensor w, int32_t e) {
    return host->acquire_expert(l, w, e);
  });
  EXPECT_TRUE(made.is_ok()) << made.status().message();
  if (made.is_ok()) d.cache = std::move(made).value();
  return d;
}

TEST(GpuExpertCache, ExpertsARouterKeepsChoosingDisplaceTheOthers) {
  Driven d = driven_cache(8, 50us);
  ASSERT_NE(d.cache, nullptr);
  GpuExpertCache& c = *d.cache;
  EXPECT_TRUE(c.holds(0, 0) && c.holds(1, 3) && !c.holds(0, 4));
  // Layer 0's router keeps choosing experts 9 and 12 (never held at first).
  for (int step = 0; step < 300; ++step) {
    const std::vector<int32_t> routed = {9, 12};
    c.on_route(0, routed);
    ASSERT_TRUE(c.admit(0).is_ok());
    c.synchronize();
  }
  EXPECT_TRUE(c.holds(0, 9));
  EXPECT_TRUE(c.holds(0, 12));
  EXPECT_EQ(c.counters().admissions, 2u);
  // The slots admitted hold the experts' bytes.
  int slot = -1;
  kernels::EventPtr ready;
  const TensorView v = c.acquire(0, model::ExpertTensor::Down, 12, slot, ready);
  if (ready) ready->synchronize();
  auto want = d.lm->experts()->acquire_expert(0, model::ExpertTensor::Down, 12);
  ASSERT_TRUE(want.is_ok());
  ASSERT_EQ(v.size_bytes(), want.value().view().size_bytes());
  EXPECT_EQ(std::memcmp(v.data, want.value()->data, v.size_bytes()), 0);
  c.release(slot, nullptr);
}

TEST(GpuExpertCache, UniformRoutingDoesNotChurn) {
  Driven d = driven_cache(16, 20us);
  ASSERT_NE(d.cache, nullptr);
  GpuExpertCache& c = *d.cache;
  std::mt19937 rng(3);
  for (int step = 0; step < 2000; ++step)
    for (int l = 0; l < 2; ++l) {
      std::vector<int32_t> all(16);
      for (int32_t e = 0; e < 16; ++e) all[e] = e;
      std::shuffle(all.begin(), all.end(), rng);
      std::vector<int32_t> routed(all.begin(), all.begin() + 2);
      std::sort(routed.begin(), routed.end());
      c.on_route(l, routed);
      ASSERT_TRUE(c.admit(l).is_ok());
    }
  c.synchronize();
  // Half the experts held: half the routed ones hit, and (almost) nothing is copied for nothing.
  const double hit = static_cast<double>(c.counters().hits) / static_cast<double>(c.counters().hits + c.counters().misses);
  EXPECT_NEAR(hit, 0.5, 0.05);
  EXPECT_LE(c.counters().admissions, 20u) << "uniform routing should not move experts around";
}

// Admissions overwrite a slot only after the ops reading it are done: a late device still reading an expert
// while the copy stream would overwrite it is caught by the device's weight hash.
TEST(GpuExpertCache, NoSlotIsOverwrittenWhileAnOpReadsIt) {
  Driven d = driven_cache(2, 10us);
  ASSERT_NE(d.cache, nullptr);
  GpuExpertCache& c = *d.cache;
  const model::Model& m = d.lm->model();
  kernels::testing::LateBackend& dev = *d.device;
  const gguf::TensorInfo& gate = m.tensors[m.layers[0].ffn_exps[0]];
  const int64_t k = gate.dims[0], rows = gate.dims[1];
  auto x = dev.alloc(static_cast<uint64_t>(k) * 4, kernels::BufferUse::Activations);
  auto y = dev.alloc(static_cast<uint64_t>(rows) * 4, kernels::BufferUse::Activations);
  std::fill_n(reinterpret_cast<float*>(x->data()), k, 0.5f);
  for (int step = 0; step < 80; ++step) {
    // Every held expert of layer 0 read by a slow op; then a routing that wants one of their slots.
    for (int32_t e = 0; e < m.hp.n_expert; ++e) {
      if (!c.holds(0, e)) continue;
      int slot = -1;
      kernels::EventPtr ready;
      const TensorView w = c.acquire(0, model::ExpertTensor::Gate, e, slot, ready);
      if (ready) dev.wait(*ready);
      dev.matmul(w, {dev.device(), reinterpret_cast<float*>(x->data()), 1, k},
                 {dev.device(), reinterpret_cast<float*>(y->data()), 1, rows});
      c.release(slot, dev.record());
    }
    const std::vector<int32_t> routed = {static_cast<int32_t>(5 + step % 3), static_cast<int32_t>(8 + step % 2)};
    c.on_route(0, routed);
    ASSERT_TRUE(c.admit(0).is_ok());
  }
  c.synchronize();
  EXPECT_GT(c.counters().admissions, 0u);
  EXPECT_EQ(dev.stale_weights(), 0);
}

}  // namespace
}  // namespace strata::engine
