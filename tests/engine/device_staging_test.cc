// tests/engine/device_staging_test.cc: RAM-tier products the plan computes on the GPU are uploaded per use
// through the staging ring, on a copy stream of their own, ahead in pass order: run across a late stand-in
// device (ops and copies queued on worker threads, so a slot refilled before its reader ran is caught), the
// model's logits equal the one-backend run bit for bit, for prompts and decode, and most uploads were issued
// ahead of their product.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "engine/backends.h"
#include "engine/device_weights.h"
#include "engine/synth_run.h"
#include "kernels/late_backend.h"
#include "streaming/schedule.h"

namespace strata::engine {
namespace {

using namespace std::chrono_literals;

using testing::load_synth;
using testing::run_prompt_then_decode;
using testing::small_spec;

// The staged run's logits equal the one-backend run's bit for bit, and no slot was refilled before its reader ran.
void expect_same_logits_no_early_refill(const std::vector<float>& one, const std::vector<float>& staged,
                                        kernels::testing::LateBackend& late) {
  ASSERT_EQ(one.size(), staged.size());
  EXPECT_EQ(std::memcmp(one.data(), staged.data(), one.size() * sizeof(float)), 0);
  late.synchronize();
  EXPECT_EQ(late.stale_weights(), 0) << "a staging slot was refilled before its product read it";
}

// Layer 1 and the output in GPU memory; the FFN products of layers 0, 2 and 3 held in RAM (pinned) and computed
// on the GPU for prompts; layer 3's up also in decode (a per-token copy over PCIe); the rest on the host.
planner::Plan staged_plan(const model::Model& m) {
  planner::Plan plan;
  plan.tensors.resize(m.tensors.size());
  for (size_t i = 0; i < m.tensors.size(); ++i) plan.tensors[i].size_bytes = m.tensors[i].size_bytes;
  plan.kv_tiers.assign(m.layers.size(), planner::Tier::Ram);
  auto gpu = [&](model::TensorId id) {
    plan.tensors[id].tier = planner::Tier::Gpu;
    plan.tensors[id].decode_site = plan.tensors[id].prefill_site = planner::Site::Gpu;
  };
  const model::LayerTensors& L1 = m.layers[1];
  for (model::TensorId id : {L1.attn_norm, L1.attn_q, L1.attn_k, L1.attn_v, L1.attn_output, L1.ffn_norm, L1.ffn_gate,
                             L1.ffn_up, L1.ffn_down})
    gpu(id);
  plan.kv_tiers[1] = planner::Tier::Gpu;
  gpu(m.output);
  gpu(m.output_norm);
  uint64_t largest = 0;
  for (int l : {0, 2, 3}) {
    const model::LayerTensors& L = m.layers[l];
    for (model::TensorId id : {L.ffn_gate, L.ffn_up, L.ffn_down}) {
      plan.tensors[id].tier = planner::Tier::PinnedRam;
      plan.tensors[id].prefill_site = planner::Site::Gpu;
      largest = std::max(largest, m.tensors[id].size_bytes);
    }
  }
  plan.tensors[m.layers[3].ffn_up].decode_site = planner::Site::Gpu;
  plan.memory.gpu_staging = 3 * largest;
  return plan;
}

TEST(DeviceStaging, PlanListsTheRamTierProductsOfEachPassInOrder) {
  auto lm = load_synth("staging-plan.gguf", small_spec(4, "F32"));
  const model::Model& m = lm->model();
  planner::Plan plan = staged_plan(m);
  const StagingSetup s = staging_from_plan(plan, m);
  ASSERT_EQ(s.orders.prefill.size(), 9u);
  ASSERT_EQ(s.orders.decode.size(), 1u);
  EXPECT_EQ(s.orders.decode[0], (StageKey{m.layers[3].ffn_up, -1}));
  EXPECT_EQ(s.orders.prefill.front(), (StageKey{m.layers[0].ffn_gate, -1}));
  EXPECT_EQ(s.orders.prefill.back(), (StageKey{m.layers[3].ffn_down, -1}));
  EXPECT_EQ(s.n_slots, 3);
  EXPECT_EQ(s.pin.size(), 9u);  // every staged product is in pinned RAM here
  // Pass order: each one comes later in the pass than the one before.
  std::vector<int> at(m.tensors.size(), -1);
  const auto reads = streaming::pass_reads(m);
  for (size_t i = 0; i < reads.size(); ++i) at[reads[i].tensor] = static_cast<int>(i);
  for (size_t i = 1; i < s.orders.prefill.size(); ++i)
    EXPECT_LT(at[s.orders.prefill[i - 1].id], at[s.orders.prefill[i].id]);
  // Disk-tier products are the streamer's; a staging too small for a product keeps it on the host.
  plan.tensors[m.layers[0].ffn_gate].tier = planner::Tier::Disk;
  plan.memory.gpu_staging = m.tensors[m.layers[0].ffn_up].size_bytes;  // half of it holds none of them
  const StagingSetup none = staging_from_plan(plan, m);
  EXPECT_TRUE(none.orders.prefill.empty());
  // Those GPU sites run on the host, and the count says so (what a prediction assumed against what ran).
  kernels::CpuBackend stand_in(lm->backend().pool(), 1);
  const HostedGpuSites hosted = gpu_sites_on_host(plan, placement_from_plan(&plan, m, lm->backend(), &stand_in, &none));
  EXPECT_EQ(hosted.prefill_tensors, 9);
  EXPECT_EQ(hosted.decode_tensors, 1);
  EXPECT_GT(hosted.prefill_bytes, hosted.decode_bytes);
  // With the staging the plan asked for, every GPU site runs on the GPU.
  const planner::Plan asked = staged_plan(m);
  const HostedGpuSites all_run = gpu_sites_on_host(asked, placement_from_plan(&asked, m, lm->backend(), &stand_in, &s));
  EXPECT_EQ(all_run.prefill_tensors + all_run.decode_tensors, 0);
  plan.memory.gpu_staging = 0;
  EXPECT_EQ(staging_from_plan(plan, m).n_slots, 0);
}

TEST(DeviceStaging, StagedProductsMatchOneBackendBitForBit) {
  for (const char* type : {"F32", "Q8_0"})
  for (bool own_stream : {true, false}) {  // uploads on a copy stream, or on the device's own stream
    SCOPED_TRACE(std::string(type) + (own_stream ? " copy stream" : " device stream"));
    auto lm = load_synth(std::string("staging-") + type + ".gguf", small_spec(4, type));
    const model::Model& m = lm->model();
    const planner::Plan plan = staged_plan(m);
    kernels::testing::LateBackend late(1, 200us), copier(1, 300us);
    StagingSetup staging = staging_from_plan(plan, m);
    staging.copier = own_stream ? &copier : nullptr;
    const std::vector<bool> on_device = testing::gpu_tier_mask(plan);
    auto dw = DeviceWeights::make(m, lm->weights(), lm->experts(), on_device, late, &staging);
    ASSERT_TRUE(dw.is_ok()) << dw.status().message();
    ASSERT_NE(dw.value()->staging(), nullptr);
    const model::Placement p = placement_from_plan(&plan, m, lm->backend(), &late, &staging);
    EXPECT_EQ(p.site(m.layers[0].ffn_up, false), 1);  // staged for prompts
    EXPECT_EQ(p.site(m.layers[0].ffn_up, true), 0);   // computed on the host in decode
    EXPECT_EQ(p.site(m.layers[3].ffn_up, true), 1);   // staged in decode too
    EXPECT_EQ(p.site(m.layers[0].attn_q, false), 0);

    // Two prompt batches (the second continues the first), then decode steps.
    const std::vector<int32_t> tokens = {1, 20, 30, 40, 50, 60, 70, 80, 90};
    auto run = [&](model::WeightSource& w, model::ExpertSource* e, const model::Placement& pl) {
      return run_prompt_then_decode(m, w, e, pl, tokens, {3, 2});
    };
    expect_same_logits_no_early_refill(run(lm->weights(), lm->experts(), lm->placement()),
                                       run(*dw.value(), dw.value().get(), p), late);
    const StagingCounters& c = dw.value()->staging()->counters();
    // 2 prompt passes x 9 staged products + 4 decode steps x 1.
    EXPECT_EQ(c.ahead + c.on_demand, 2u * 9u + 4u);
    EXPECT_GE(c.uploads, 9u);
    EXPECT_GT(c.bytes, 0u);
    EXPECT_GT(c.ahead, c.on_demand) << "uploads are issued ahead of their products";
    // The pinned-RAM products were page-locked (whole pages covering each) and are unlocked with the weights.
    uint64_t staged_bytes = 0;
    for (model::TensorId id : staging.pin) staged_bytes += m.tensors[id].size_bytes;
    EXPECT_GE(late.pinned_bytes(), staged_bytes);
    EXPECT_EQ(dw.value()->pinned_bytes(), late.pinned_bytes());
    dw.value().reset();
    EXPECT_EQ(late.pinned_bytes(), 0u);
    EXPECT_EQ(late.bad_pins(), 0);
  }
}

// Units are packed by size: a ring two of its largest unit long holds many small units at once, so uploads
// ahead are not limited to one unit whatever its size.
TEST(DeviceStaging, SmallUnitsPackTheRing) {
  auto lm = load_synth("staging-pack.gguf", small_spec(4, "Q8_0"));
  const model::Model& m = lm->model();
  DeviceStaging::Orders orders;
  uint64_t largest = 0;
  for (const model::LayerTensors& L : m.layers)
    for (model::TensorId id : {L.attn_q, L.attn_k, L.attn_v, L.attn_output, L.ffn_up}) {
      orders.prefill.push_back({id, -1});
      largest = std::max(largest, m.tensors[id].size_bytes);
    }
  kernels::testing::LateBackend late(1, 50us);
  model::WeightSource& w = lm->weights();
  auto s = DeviceStaging::make(m, late, late, 2, largest, orders, [&w](StageKey k) { return w.acquire(k.id); });
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  DeviceStaging& st = *s.value();
  st.begin_pass(false);
  uint64_t handle = 0;
  kernels::EventPtr ready;
  ASSERT_TRUE(st.acquire(orders.prefill[0], handle, ready).is_ok());
  // The first unit and every unit after it that fits beside room for one more of the largest.
  uint64_t want = 0, bytes = 0;
  for (const StageKey& k : orders.prefill) {
    bytes += (DeviceStaging::unit_bytes(m, k) + 255) / 256 * 256;
    if (bytes + largest > 2 * largest) break;
    ++want;
  }
  EXPECT_GT(want, 2u);
  EXPECT_EQ(st.counters().uploads, want);
  st.release(handle, late.record());
  // The whole pass, each unit released after an op reads it: every acquisition served, the ring reused.
  for (size_t i = 1; i < orders.prefill.size(); ++i) {
    ASSERT_TRUE(st.acquire(orders.prefill[i], handle, ready).is_ok()) << i;
    if (ready) late.wait(*ready);
    st.release(handle, late.record());
  }
  st.synchronize();
  EXPECT_EQ(st.counters().ahead + st.counters().on_demand, orders.prefill.size());
  EXPECT_GT(st.counters().ahead, st.counters().on_demand);
}

// Norms the plan keeps in RAM with a GPU site are not staged products: they are held in GPU memory from the
// staging bytes beyond the ring (else each would run on the host, a round trip a layer), and only while they fit.
TEST(DeviceStaging, SmallGpuSitesAreHeldFromTheSpareStagingBytes) {
  model::SynthSpec spec = small_spec(4, "Q8_0");
  spec.dim = 96;  // norms of 384 bytes: not a whole number of 256-byte units
  auto lm = load_synth("staging-small.gguf", spec);
  const model::Model& m = lm->model();
  planner::Plan plan = staged_plan(m);
  for (const model::LayerTensors& L : m.layers) {
    plan.tensors[L.attn_norm].tier = planner::Tier::PinnedRam;
    plan.tensors[L.attn_norm].decode_site = plan.tensors[L.attn_norm].prefill_site = planner::Site::Gpu;
  }
  StagingSetup staging = staging_from_plan(plan, m);
  ASSERT_GT(staging.n_slots, 0);
  const uint64_t ring = static_cast<uint64_t>(staging.n_slots) * staging.slot_bytes;
  planner::Plan tight = plan;
  tight.memory.gpu_staging = ring;  // no spare bytes: the norms stay where they are
  EXPECT_EQ(hold_small_gpu_sites(tight, m, staging), 0);
  EXPECT_EQ(tight.tensors[m.layers[0].attn_norm].tier, planner::Tier::PinnedRam);
  // Each held tensor counts in 256-byte units: one byte short of a norm's rounded size holds none, its rounded
  // size exactly holds one.
  const uint64_t norm = (m.tensors[m.layers[0].attn_norm].size_bytes + 255) / 256 * 256;
  planner::Plan short_one = plan;
  short_one.memory.gpu_staging = ring + norm - 1;
  EXPECT_EQ(hold_small_gpu_sites(short_one, m, staging), 0);
  planner::Plan exactly_one = plan;
  exactly_one.memory.gpu_staging = ring + norm;
  EXPECT_EQ(hold_small_gpu_sites(exactly_one, m, staging), 1);
  plan.memory.gpu_staging = ring + 4 * 4096;
  EXPECT_EQ(hold_small_gpu_sites(plan, m, staging), 4);
  for (const model::LayerTensors& L : m.layers) EXPECT_EQ(plan.tensors[L.attn_norm].tier, planner::Tier::Gpu);
  EXPECT_NE(plan.tensors[m.layers[0].ffn_up].tier, planner::Tier::Gpu) << "staged products stay staged";
  const model::Placement p = placement_from_plan(&plan, m, lm->backend(), &lm->backend(), &staging);
  EXPECT_EQ(p.site(m.layers[2].attn_norm, true), 1);
}

// A ring that cannot work is refused with an error naming why: fewer than two slots, a unit larger than a slot,
// an expert the tensor does not have.
TEST(DeviceStaging, ImpossibleRingsAreRefused) {
  auto lm = load_synth("staging-errors.gguf", small_spec(2, "F32", 4));
  const model::Model& m = lm->model();
  kernels::testing::LateBackend late(1, 0us);
  auto host = [&](StageKey) -> Result<model::WeightRef> { return error("not reached"); };
  const model::TensorId gate = m.layers[0].ffn_exps[0];
  const uint64_t slice = DeviceStaging::unit_bytes(m, {gate, 0});
  EXPECT_EQ(slice * 4, m.tensors[gate].size_bytes);
  auto one_slot = DeviceStaging::make(m, late, late, 1, slice, {{{gate, 0}}, {}}, host);
  ASSERT_FALSE(one_slot.is_ok());
  EXPECT_NE(one_slot.status().message().find("at least 2 slots"), std::string::npos);
  auto small = DeviceStaging::make(m, late, late, 2, slice - 1, {{{gate, 0}}, {}}, host);
  ASSERT_FALSE(small.is_ok());
  EXPECT_NE(small.status().message().find("does not fit"), std::string::npos);
  auto no_such = DeviceStaging::make(m, late, late, 2, slice, {{{gate, 4}}, {}}, host);
  EXPECT_FALSE(no_such.is_ok());
  auto fine = DeviceStaging::make(m, late, late, 2, slice, {{{gate, 3}}, {}}, host);
  EXPECT_TRUE(fine.is_ok()) << fine.status().message();
}

// A MoE model whose routers and experts of layers 0 and 2 are in pinned RAM and computed on the GPU for prompts:
// each routed expert's gate, up and down slices are uploaded per batch, a group of experts at a time (what the
// ring holds), and only the experts the router picked are uploaded ahead.
TEST(DeviceStaging, ExpertSlicesOfPromptsMatchOneBackendBitForBit) {
  model::SynthSpec spec = small_spec(3, "Q8_0", 8);
  spec.seed = 17;
  auto loaded = load_synth("staging-moe.gguf", spec);
  ASSERT_NE(loaded, nullptr);
  LoadedModel& lm = *loaded;
  const model::Model& m = lm.model();

  planner::Plan plan;
  plan.tensors.resize(m.tensors.size());
  plan.kv_tiers.assign(m.layers.size(), planner::Tier::Ram);
  uint64_t slice = 0;
  for (int l : {0, 2}) {
    const model::LayerTensors& L = m.layers[l];
    for (model::TensorId id : {L.ffn_gate_inp, L.ffn_exps[0], L.ffn_exps[1], L.ffn_exps[2]}) {
      plan.tensors[id].tier = planner::Tier::PinnedRam;
      plan.tensors[id].prefill_site = planner::Site::Gpu;
    }
    for (model::TensorId id : L.ffn_exps) slice = std::max(slice, DeviceStaging::unit_bytes(m, {id, 0}));
  }
  plan.memory.gpu_staging = 8 * slice;
  const StagingSetup staging0 = staging_from_plan(plan, m);
  // Layer 0's router, then its 8 experts x 3 slices; the same for layer 2.
  ASSERT_EQ(staging0.orders.prefill.size(), 2u * (1 + 8 * 3));
  EXPECT_EQ(staging0.orders.prefill[0], (StageKey{m.layers[0].ffn_gate_inp, -1}));
  EXPECT_EQ(staging0.orders.prefill[1], (StageKey{m.layers[0].ffn_exps[0], 0}));
  EXPECT_EQ(staging0.orders.prefill[3], (StageKey{m.layers[0].ffn_exps[2], 0}));
  EXPECT_EQ(staging0.orders.prefill[4], (StageKey{m.layers[0].ffn_exps[0], 1}));
  EXPECT_TRUE(staging0.orders.decode.empty());
  EXPECT_EQ(staging0.n_slots, 8);

  kernels::testing::LateBackend late(1, 100us), copier(1, 150us);
  StagingSetup staging = staging0;
  staging.copier = &copier;
  const std::vector<bool> on_device(m.tensors.size(), false);
  auto dw = DeviceWeights::make(m, lm.weights(), lm.experts(), on_device, late, &staging);
  ASSERT_TRUE(dw.is_ok()) << dw.status().message();
  dw.value()->begin_pass(false);
  EXPECT_EQ(dw.value()->max_held_experts(), 2);  // (8 slots - 1 lost where the ring wraps) / 3 slices
  dw.value()->begin_pass(true);
  EXPECT_GT(dw.value()->max_held_experts(), 2);  // decode stages no experts
  const model::Placement p = placement_from_plan(&plan, m, lm.backend(), &late, &staging);
  EXPECT_EQ(p.site(m.layers[0].ffn_exps[1], false), 1);
  EXPECT_EQ(p.site(m.layers[0].ffn_exps[1], true), 0);
  EXPECT_EQ(p.site(m.layers[1].ffn_exps[1], false), 0);

  const std::vector<int32_t> tokens = {1, 300, 17, 299, 42, 301, 7, 99, 120, 3};
  auto run = [&](model::WeightSource& w, model::ExpertSource* e, const model::Placement& pl) {
    return run_prompt_then_decode(m, w, e, pl, tokens, {8});
  };
  expect_same_logits_no_early_refill(run(lm.weights(), lm.experts(), lm.placement()),
                                     run(*dw.value(), dw.value().get(), p), late);
  const StagingCounters& c = dw.value()->staging()->counters();
  EXPECT_GT(c.ahead, c.on_demand);
  // Uploads: the 2 routers and the routed experts' slices (at most 8 of 8 experts a layer), never an unrouted
  // layer's whole set twice.
  EXPECT_LE(c.uploads, 2u * (1 + 8 * 3) + 8u);
  EXPECT_GE(c.uploads, 2u + 2u * 2 * 3);  // at least the routers and two experts' slices a layer
}

// The ring's promise at its own interface: any max_held_units() units of a pass held at once, in the pass's
// order, each acquisition is served. Decode steps with staged experts: the second step routes to experts 0 and 1
// again and to three the first did not pick. Their slices of the last step lie before the others of that step in
// the ring; reusing them would hold those in place too, so they are uploaded again. Before the router picks,
// nothing of its layer is uploaded ahead (an unrouted slice would lie among the held ones).
TEST(DeviceStaging, HeldUnitsOfAPassAreAlwaysServed) {
  model::SynthSpec spec = small_spec(2, "Q8_0", 8);
  spec.ff_expert = 96;  // a slice of 6528 bytes, 6656 in the ring
  auto lm = load_synth("staging-promise.gguf", spec);
  const model::Model& m = lm->model();
  const model::TensorId gate = m.layers[0].ffn_exps[0];
  const uint64_t slice = DeviceStaging::unit_bytes(m, {gate, 0});
  ASSERT_NE(slice % 256, 0u) << "the case wants slices that do not fill their 256-byte units";
  DeviceStaging::Orders orders;
  for (int32_t e = 0; e < 8; ++e) orders.decode.push_back({gate, e});
  kernels::testing::LateBackend late(1, 50us);
  auto host = [&lm](StageKey k) { return lm->experts()->acquire_expert(0, model::ExpertTensor::Gate, k.expert); };
  auto made = DeviceStaging::make(m, late, late, 7, slice, orders, host);
  ASSERT_TRUE(made.is_ok()) << made.status().message();
  DeviceStaging& st = *made.value();
  ASSERT_EQ(st.max_held_units(), 5);  // 7 slices' bytes hold 6 aligned units: 5 held, 1 lost at the wrap
  auto step = [&](std::vector<int32_t> experts) {
    st.begin_pass(true);
    st.on_route(0, experts);
    std::vector<uint64_t> handles;
    for (int32_t e : experts) {
      uint64_t handle = 0;
      kernels::EventPtr ready;
      auto v = st.acquire({gate, e}, handle, ready);
      ASSERT_TRUE(v.is_ok()) << "expert " << e << ": " << v.status().message();
      handles.push_back(handle);
    }
    const kernels::EventPtr done = late.record();
    for (uint64_t h : handles) st.release(h, done);
  };
  step({0, 1, 2, 3, 4});
  EXPECT_EQ(st.counters().uploads, 5u);
  step({0, 1, 5, 6, 7});
  EXPECT_EQ(st.counters().uploads, 10u) << "experts 0 and 1 again, then 5, 6 and 7";
  // Before the layer's router has picked in a pass, an acquisition uploads none of the layer's slices ahead.
  st.begin_pass(true);
  const uint64_t before = st.counters().uploads;
  uint64_t handle = 0;
  kernels::EventPtr ready;
  ASSERT_TRUE(st.acquire({gate, 2}, handle, ready).is_ok());
  st.release(handle, nullptr);
  EXPECT_EQ(st.counters().uploads, before + 1);
  st.synchronize();
}

// The plan `strata bench` made for qwen3-30b-a3b at --gpu-mem 8G, shrunk: attention, routers and most gate slices
// in GPU memory; every layer's up and down experts (and one layer's gate experts) in pinned RAM, computed on the
// GPU for prompts (and, with `decode_on_gpu`, for decode steps too); a ring of `n_slots` of the largest slice.
// 128 experts, top 8: a 20-token prompt routes to most experts of a layer but not all of them.
planner::Plan moe_hybrid_plan(const model::Model& m, int n_slots, bool decode_on_gpu) {
  planner::Plan plan;
  plan.tensors.resize(m.tensors.size());
  plan.kv_tiers.assign(m.layers.size(), planner::Tier::Gpu);
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    plan.tensors[i].size_bytes = m.tensors[i].size_bytes;
    plan.tensors[i].tier = planner::Tier::Gpu;
    plan.tensors[i].decode_site = plan.tensors[i].prefill_site = planner::Site::Gpu;
  }
  plan.tensors[m.token_embd].tier = planner::Tier::Ram;
  plan.tensors[m.token_embd].decode_site = plan.tensors[m.token_embd].prefill_site = planner::Site::Cpu;
  uint64_t slice = 0;
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const model::LayerTensors& L = m.layers[l];
    for (int p = l == 1 ? 0 : 1; p < 3; ++p) {
      planner::TensorPlacement& t = plan.tensors[L.ffn_exps[p]];
      t.tier = planner::Tier::PinnedRam;
      t.prefill_site = planner::Site::Gpu;
      t.decode_site = decode_on_gpu ? planner::Site::Gpu : planner::Site::Cpu;
      slice = std::max(slice, DeviceStaging::unit_bytes(m, {L.ffn_exps[p], 0}));
    }
  }
  plan.memory.gpu_staging = static_cast<uint64_t>(n_slots) * slice;
  return plan;
}

model::SynthSpec many_experts_spec() {
  model::SynthSpec spec = small_spec(4, "Q8_0", 128);
  spec.arch = "qwen3moe";
  spec.experts_used = 8;
  spec.ff_expert = 96;  // a slice of 6528 bytes: 6656 in the ring (256-byte aligned), so its laps leave tails
  spec.norm_topk = 1;
  spec.seed = 23;
  return spec;
}

// A prompt routes to many experts of each layer; the groups hold what max_held_experts allows: every on-demand
// upload finds room (the ring was once "held whole by the ops being issued"), the logits equal the one-backend
// run bit for bit, and no slot is refilled before its reader ran. Rings from the smallest that stages experts up.
TEST(DeviceStaging, ManyRoutedExpertsNeverHoldTheRingWhole) {
  auto loaded = load_synth("staging-many-experts.gguf", many_experts_spec());
  ASSERT_NE(loaded, nullptr);
  LoadedModel& lm = *loaded;
  const model::Model& m = lm.model();
  std::vector<int32_t> tokens;
  for (int i = 0; i < 24; ++i) tokens.push_back(1 + (i * 37) % 390);
  auto run = [&](model::WeightSource& w, model::ExpertSource* e, const model::Placement& pl) {
    return run_prompt_then_decode(m, w, e, pl, tokens, {20});
  };
  const std::vector<float> one = run(lm.weights(), lm.experts(), lm.placement());
  for (bool decode_on_gpu : {false, true})
    for (int n_slots : {5, 6, 7, 16, 40, 41, 42, 100}) {
      SCOPED_TRACE(std::to_string(n_slots) + " slots" + (decode_on_gpu ? ", decode staged" : ""));
      const planner::Plan plan = moe_hybrid_plan(m, n_slots, decode_on_gpu);
      StagingSetup staging = staging_from_plan(plan, m);
      ASSERT_FALSE(staging.orders.prefill.empty());
      EXPECT_EQ(staging.orders.decode.empty(), !decode_on_gpu);
      kernels::testing::LateBackend late(1, 20us), copier(1, 30us);
      staging.copier = &copier;
      auto dw = DeviceWeights::make(m, lm.weights(), lm.experts(), testing::gpu_tier_mask(plan), late, &staging);
      ASSERT_TRUE(dw.is_ok()) << dw.status().message();
      const model::Placement p = placement_from_plan(&plan, m, lm.backend(), &late, &staging);
      ASSERT_EQ(p.site(m.layers[0].ffn_exps[1], false), 1);
      expect_same_logits_no_early_refill(one, run(*dw.value(), dw.value().get(), p), late);
      const StagingCounters& c = dw.value()->staging()->counters();
      EXPECT_GT(c.uploads, 0u);
      EXPECT_GT(c.ahead, 0u);
    }
}

// On a real GPU (tools/gpu_test.sh; skipped elsewhere): the same products staged through the ring on a copy
// stream, from page-locked RAM, give the logits of the run with them resident in GPU memory, bit for bit (the
// same kernels read the same bytes from other addresses).
TEST(DeviceStaging, OnTheGpuStagedEqualsResident) {
  const kernels::BackendKind* cuda = kernels::find_backend(DeviceKind::Cuda);
  if (cuda == nullptr || cuda->device_count() == 0)
    GTEST_SKIP() << "no CUDA GPU visible: GPU test skipped (tools/gpu_test.sh runs it)";
  model::SynthSpec spec = small_spec(4, "Q4_K_M", 8);
  spec.dim = 256;
  spec.ff = 512;
  auto lm = load_synth("staging-gpu.gguf", spec);
  ASSERT_NE(lm, nullptr);
  const model::Model& m = lm->model();
  auto gpu = cuda->make(0, {}), copier = cuda->make(0, {});
  ASSERT_TRUE(gpu && copier);
  // Everything on the GPU; in the staged plan the FFN products and experts of layers 0 and 2 in pinned RAM,
  // computed on the GPU in both kinds of pass.
  planner::Plan resident;
  resident.tensors.resize(m.tensors.size());
  resident.kv_tiers.assign(m.layers.size(), planner::Tier::Gpu);
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    resident.tensors[i].tier = planner::Tier::Gpu;
    resident.tensors[i].decode_site = resident.tensors[i].prefill_site = planner::Site::Gpu;
  }
  resident.tensors[m.token_embd].tier = planner::Tier::Ram;
  resident.tensors[m.token_embd].decode_site = resident.tensors[m.token_embd].prefill_site = planner::Site::Cpu;
  planner::Plan staged = resident;
  uint64_t largest = 0;
  for (int l : {0, 2})
    for (model::TensorId id : {m.layers[l].ffn_gate_inp, m.layers[l].ffn_exps[0], m.layers[l].ffn_exps[1],
                               m.layers[l].ffn_exps[2]}) {
      staged.tensors[id].tier = planner::Tier::PinnedRam;
      largest = std::max(largest, m.tensors[id].size_bytes);
    }
  staged.memory.gpu_staging = 2 * largest;
  auto run = [&](const planner::Plan& plan) {
    StagingSetup staging = staging_from_plan(plan, m);
    staging.copier = copier.get();
    const std::vector<bool> on_device = testing::gpu_tier_mask(plan);
    auto dw = DeviceWeights::make(m, lm->weights(), lm->experts(), on_device, *gpu, &staging);
    EXPECT_TRUE(dw.is_ok()) << dw.status().message();
    const model::Placement p = placement_from_plan(&plan, m, lm->backend(), gpu.get(), &staging);
    auto logits = run_prompt_then_decode(m, *dw.value(), dw.value().get(), p, {1, 300, 17, 299, 42, 301, 7, 99}, {5});
    if (dw.value()->staging() != nullptr) {
      EXPECT_GT(dw.value()->staging()->counters().uploads, 0u);
      std::printf("[ staging  ] %llu uploads, %llu bytes, %llu of %llu issued ahead, %llu bytes pinned\n",
                  static_cast<unsigned long long>(dw.value()->staging()->counters().uploads),
                  static_cast<unsigned long long>(dw.value()->staging()->counters().bytes),
                  static_cast<unsigned long long>(dw.value()->staging()->counters().ahead),
                  static_cast<unsigned long long>(dw.value()->staging()->counters().ahead +
                                                  dw.value()->staging()->counters().on_demand),
                  static_cast<unsigned long long>(dw.value()->pinned_bytes()));
    }
    return logits;
  };
  const auto want = run(resident), got = run(staged);
  ASSERT_EQ(want.size(), got.size());
  // The prompt's positions: the same products in the same order, bit for bit.
  const size_t prompt = 5 * static_cast<size_t>(m.hp.n_vocab);
  EXPECT_EQ(std::memcmp(want.data(), got.data(), prompt * sizeof(float)), 0);
  // Decode: resident experts route on the device (moe_decode, float inputs), staged slices go through the
  // host-routed groups (8-bit inputs): each position's normalised MSE, sum((a - b)^2) / sum(b^2), within the
  // bound issue 15 sets for GPU logits of quantized types (3e-3). On the H100 (2026-12-06) the relative RMS
  // over all decode positions was 1.16e-2, an NMSE of 1.3e-4.
  const size_t V = static_cast<size_t>(m.hp.n_vocab);
  for (size_t at = prompt; at < want.size(); at += V) {
    double num = 0, den = 0;
    for (size_t i = at; i < at + V; ++i) {
      num += (got[i] - want[i]) * (got[i] - want[i]);
      den += want[i] * want[i];
    }
    EXPECT_LT(num / den, 3e-3) << "decode position " << (at - prompt) / V;
  }
}

}  // namespace
}  // namespace strata::engine
