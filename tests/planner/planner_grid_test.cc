// tests/planner/planner_grid_test.cc: the acceptance grid: five machines x four model shapes, modes and budgets.
#include <gtest/gtest.h>

#include <map>

#include "planner/model_shapes.h"
#include "planner/planner.h"

namespace strata::planner {
namespace {

using namespace strata::planner::testing;

ModelRoles roles_for(const ShapeSpec& s) {
  auto r = classify_tensors(make_gguf(s));
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return std::move(r).value();
}

// Checks what must hold for every plan: each tensor placed once, budgets respected, the memory report
// equal to the sum of the placements, and the prediction consistent with its own terms.
void check_invariants(const ModelRoles& roles, const Plan& plan, const std::string& where) {
  SCOPED_TRACE(where);
  ASSERT_EQ(plan.tensors.size(), roles.tensors.size());
  uint64_t gpu_w = 0, ram_w = 0;
  for (size_t i = 0; i < roles.tensors.size(); ++i) {
    const TensorPlacement& t = plan.tensors[i];
    EXPECT_EQ(t.name, roles.tensors[i].name);
    if (t.tier == Tier::Gpu) {
      gpu_w += t.size_bytes;
      EXPECT_EQ(t.decode_site, Site::Gpu) << t.name;
    }
    if (t.tier == Tier::Ram || t.tier == Tier::PinnedRam) ram_w += t.size_bytes;
    if (is_resident_only_role(t.role)) {
      EXPECT_NE(t.tier, Tier::Disk) << t.name;
    }
  }
  EXPECT_EQ(plan.kv_tiers.size(), static_cast<size_t>(roles.hp.n_layer));
  for (Tier t : plan.kv_tiers) EXPECT_TRUE(t == Tier::Gpu || t == Tier::Ram);
  const MemoryUse& m = plan.memory;
  EXPECT_EQ(m.gpu_weights, gpu_w);
  EXPECT_EQ(m.ram_weights, ram_w);
  EXPECT_EQ(m.gpu_kv + m.ram_kv, plan.kv_bytes);
  const ResolvedBudgets& b = plan.budgets;
  EXPECT_LE(m.gpu_total(), b.gpu_bytes);
  if (b.unified) {
    EXPECT_LE(m.gpu_total() + m.ram_total(), b.ram_bytes);
  } else {
    EXPECT_LE(m.ram_total(), b.ram_bytes);
    EXPECT_LE(m.pinned, b.pinned_bytes);
  }
  EXPECT_GT(plan.decode.tokens_per_s, 0);
  EXPECT_GT(plan.prefill.tokens_per_s, 0);
  // Each term is a lower bound on the time: nothing runs faster than its slowest resource.
  for (const auto& t : plan.decode.terms) EXPECT_LE(t.seconds, plan.decode.seconds * (1 + 1e-9)) << t.resource;
  EXPECT_FALSE(plan.decode.bound.empty());
  EXPECT_GE(plan.reasons.size(), 6u);
  if (plan.mode == Mode::DenseStreaming || plan.mode == Mode::ExpertStreaming || plan.mode == Mode::CpuStreaming) {
    EXPECT_GT(plan.staging.n_slots, 1);
    EXPECT_GT(plan.staging.slot_bytes, 0u);
    EXPECT_GE(plan.prefetch_depth, 1);
  } else {
    EXPECT_EQ(plan.memory.staging_pool, 0u);
  }
}

struct Machine {
  const char* name;
  HardwareProfile profile;
};
struct Shape {
  const char* name;
  ShapeSpec spec;
};

TEST(PlannerGrid, ExpectedModesAndInvariants) {
  const std::vector<Machine> machines = {{"cpu16", cpu_16g()},      {"gpu8+ram32", gpu_8g()},
                                         {"gpu24+ram64", gpu_24g()}, {"gpu80", gpu_80g()},
                                         {"unified32", unified_32g()}};
  const std::vector<Shape> shapes = {{"8B", llama3_8b()}, {"8x7B", mixtral_8x7b()}, {"70B", llama3_70b()},
                                     {"128x8", moe_128x8()}};
  // Expected: what fits where, by the sizes (8B 4.6 GiB, 8x7B 30 GiB at Q5_K, 70B 40 GiB, 128x8 16 GiB at Q4_K).
  const std::map<std::pair<std::string, std::string>, Mode> expected = {
      {{"cpu16", "8B"}, Mode::CpuOnly},
      {{"cpu16", "8x7B"}, Mode::CpuStreaming},
      {{"cpu16", "70B"}, Mode::CpuStreaming},
      {{"cpu16", "128x8"}, Mode::CpuStreaming},
      {{"gpu8+ram32", "8B"}, Mode::FullGpu},
      {{"gpu8+ram32", "8x7B"}, Mode::Hybrid},
      {{"gpu8+ram32", "70B"}, Mode::DenseStreaming},
      {{"gpu8+ram32", "128x8"}, Mode::Hybrid},
      {{"gpu24+ram64", "8B"}, Mode::FullGpu},
      {{"gpu24+ram64", "8x7B"}, Mode::Hybrid},
      {{"gpu24+ram64", "70B"}, Mode::Hybrid},
      {{"gpu24+ram64", "128x8"}, Mode::FullGpu},
      {{"gpu80", "8B"}, Mode::FullGpu},
      {{"gpu80", "8x7B"}, Mode::FullGpu},
      {{"gpu80", "70B"}, Mode::FullGpu},
      {{"gpu80", "128x8"}, Mode::FullGpu},
      {{"unified32", "8B"}, Mode::FullGpu},
      {{"unified32", "8x7B"}, Mode::ExpertStreaming},
      {{"unified32", "70B"}, Mode::DenseStreaming},
      {{"unified32", "128x8"}, Mode::FullGpu},
  };
  for (const auto& shape : shapes) {
    const ModelRoles roles = roles_for(shape.spec);
    for (const auto& machine : machines) {
      const std::string where = std::string(machine.name) + " x " + shape.name;
      auto plan = make_plan(roles, machine.profile, Budgets{});
      ASSERT_TRUE(plan.is_ok()) << where << ": " << plan.status().message();
      EXPECT_EQ(mode_name(plan->mode), mode_name(expected.at({machine.name, shape.name}))) << where;
      check_invariants(roles, *plan, where);
    }
  }
}

TEST(PlannerGrid, StreamingPlansKeepTheRightTensorsResident) {
  // Expert streaming on the unified machine: experts are most of what streams, and what every token
  // reads in full (norms, routers, most of attention) stays in memory.
  const ModelRoles mixtral = roles_for(mixtral_8x7b());
  auto plan = make_plan(mixtral, unified_32g(), Budgets{});
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  ASSERT_EQ(plan->mode, Mode::ExpertStreaming);
  uint64_t disk_expert = 0, disk_other = 0, attention_resident = 0, attention_total = 0;
  for (const auto& t : plan->tensors) {
    if (t.tier == Tier::Disk) (is_expert_role(t.role) ? disk_expert : disk_other) += t.size_bytes;
    if (is_attention_role(t.role)) {
      attention_total += t.size_bytes;
      if (t.tier != Tier::Disk) attention_resident += t.size_bytes;
    }
  }
  EXPECT_GT(disk_expert, 4 * disk_other);
  EXPECT_GT(attention_resident, attention_total / 2);
  EXPECT_GT(plan->expert_cache.slice_bytes, 0u);
  // Expert misses wait on the router, so they are serial: the bound says so.
  EXPECT_EQ(plan->decode.bound, "disk (expert misses)");
}

TEST(PlannerGrid, ForcedModesAreObeyed) {
  const ModelRoles mixtral = roles_for(mixtral_8x7b());
  Budgets b;
  b.mode = Mode::ExpertStreaming;
  auto plan = make_plan(mixtral, gpu_24g(), b);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  EXPECT_EQ(plan->mode, Mode::ExpertStreaming);
  EXPECT_TRUE(plan->mode_forced);
  for (const auto& t : plan->tensors) EXPECT_EQ(t.tier == Tier::Disk, is_expert_role(t.role)) << t.name;
  check_invariants(mixtral, *plan, "forced expert-streaming");

  const ModelRoles llama8 = roles_for(llama3_8b());
  b.mode = Mode::CpuOnly;
  plan = make_plan(llama8, gpu_24g(), b);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  for (const auto& t : plan->tensors) {
    EXPECT_EQ(t.tier, Tier::Ram) << t.name;
    EXPECT_EQ(t.decode_site, Site::Cpu) << t.name;
    EXPECT_EQ(t.prefill_site, Site::Cpu) << t.name;
  }
  EXPECT_EQ(plan->memory.gpu_total(), 0u);

  b.mode = Mode::DenseStreaming;
  plan = make_plan(llama8, gpu_24g(), b);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  for (const auto& t : plan->tensors) EXPECT_EQ(t.tier == Tier::Disk, is_dense_ffn_role(t.role)) << t.name;
  // Streaming the FFN of a model that fits must be predicted slower than the planner's own choice.
  auto free_plan = make_plan(llama8, gpu_24g(), Budgets{});
  ASSERT_TRUE(free_plan.is_ok());
  EXPECT_LT(plan->decode.tokens_per_s, free_plan->decode.tokens_per_s);
}

TEST(PlannerGrid, ClearErrorsWhenNothingFits) {
  const ModelRoles llama70 = roles_for(llama3_70b());
  // No storage profiled: 70B cannot stream, and 16 GiB of RAM cannot hold it.
  HardwareProfile no_disk = cpu_16g();
  no_disk.storage.reset();
  auto plan = make_plan(llama70, no_disk, Budgets{});
  ASSERT_FALSE(plan.is_ok());
  EXPECT_NE(plan.status().message().find("RAM budget"), std::string::npos) << plan.status().message();
  EXPECT_NE(plan.status().message().find("short by"), std::string::npos) << plan.status().message();
  EXPECT_NE(plan.status().message().find("strata profile --dir"), std::string::npos) << plan.status().message();

  // Even with a disk, the resident minimum (KV at a long context, norms, compute) exceeds 1 GiB.
  Budgets tiny;
  tiny.ram_bytes = 1 * kGiB;
  tiny.ctx = 32768;
  plan = make_plan(llama70, cpu_16g(), tiny);
  ASSERT_FALSE(plan.is_ok());
  EXPECT_NE(plan.status().message().find("RAM budget 1.00 GiB is short by"), std::string::npos)
      << plan.status().message();

  // A forced full-GPU plan names the GPU budget.
  Budgets full;
  full.mode = Mode::FullGpu;
  plan = make_plan(llama70, gpu_24g(), full);
  ASSERT_FALSE(plan.is_ok());
  EXPECT_NE(plan.status().message().find("GPU budget"), std::string::npos) << plan.status().message();

  // Modes that need hardware the profile lacks are refused up front.
  plan = make_plan(llama70, cpu_16g(), full);
  ASSERT_FALSE(plan.is_ok());
  EXPECT_NE(plan.status().message().find("needs a GPU"), std::string::npos);
  Budgets experts;
  experts.mode = Mode::ExpertStreaming;
  plan = make_plan(llama70, gpu_24g(), experts);
  ASSERT_FALSE(plan.is_ok());
  EXPECT_NE(plan.status().message().find("mixture-of-experts"), std::string::npos);
  Budgets gpu_on_cpu;
  gpu_on_cpu.gpu_bytes = 8 * kGiB;
  plan = make_plan(llama70, cpu_16g(), gpu_on_cpu);
  ASSERT_FALSE(plan.is_ok());
  EXPECT_NE(plan.status().message().find("--gpu-mem"), std::string::npos);
}

TEST(PlannerGrid, UserBudgetsReplaceMeasuredOnes) {
  const ModelRoles llama8 = roles_for(llama3_8b());
  Budgets b;
  b.gpu_bytes = 2 * kGiB;
  b.ram_bytes = 12 * kGiB;
  b.ctx = 2048;
  auto plan = make_plan(llama8, gpu_24g(), b);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  // --gpu-mem counts the CUDA context too: the plan's share is what is left of it.
  EXPECT_EQ(plan->budgets.gpu_bytes, 2 * kGiB - PlanOptions{}.cuda_context_bytes);
  EXPECT_NE(plan->budgets.gpu_source.find("CUDA context"), std::string::npos) << plan->budgets.gpu_source;
  EXPECT_EQ(plan->budgets.ram_bytes, 12 * kGiB);
  EXPECT_EQ(plan->budgets.ctx, 2048);
  EXPECT_EQ(plan->mode, Mode::Hybrid);
  check_invariants(llama8, *plan, "2 GiB GPU");
  // KV for 32 layers x 8 heads x 128 x 2048 x 2 (k, v) x 2 bytes.
  EXPECT_EQ(plan->kv_bytes, 32ull * 8 * 128 * 2048 * 2 * 2);
}

TEST(PlannerGrid, MoreMemoryNeverPredictsSlower) {
  // A search property: growing a budget can only keep or improve the best decode time found.
  const ModelRoles llama70 = roles_for(llama3_70b());
  double last = 0;
  for (int ram_gib : {8, 16, 24, 32, 40, 48, 64}) {
    Budgets b;
    b.ram_bytes = static_cast<uint64_t>(ram_gib) * kGiB;
    auto plan = make_plan(llama70, cpu_16g(), b);
    ASSERT_TRUE(plan.is_ok()) << ram_gib << " GiB: " << plan.status().message();
    EXPECT_GE(plan->decode.tokens_per_s, last * 0.999) << ram_gib << " GiB";
    last = plan->decode.tokens_per_s;
  }
  double last_gpu = 0;
  for (int gpu_gib : {0, 4, 8, 16, 24, 32, 48}) {
    Budgets b;
    b.gpu_bytes = static_cast<uint64_t>(gpu_gib) * kGiB;
    auto plan = make_plan(llama70, gpu_80g(), b);
    ASSERT_TRUE(plan.is_ok()) << gpu_gib << " GiB: " << plan.status().message();
    EXPECT_GE(plan->decode.tokens_per_s, last_gpu * 0.999) << gpu_gib << " GiB GPU";
    last_gpu = plan->decode.tokens_per_s;
  }
}

TEST(PlannerGrid, FullGpuDecodeMatchesBandwidthOverBytes) {
  // Full residency on the 80 GB GPU: decode is bounded by reading every weight (and the KV) once per token.
  const ModelRoles llama8 = roles_for(llama3_8b());
  auto plan = make_plan(llama8, gpu_80g(), Budgets{});
  ASSERT_TRUE(plan.is_ok());
  ASSERT_EQ(plan->mode, Mode::FullGpu);
  double bytes = 0;
  for (const auto& t : llama8.tensors) bytes += t.decode_bytes;
  bytes += plan->kv_bytes * 0.5;  // the default decode context fill
  const double bound = 2800e9 / bytes;
  EXPECT_LT(plan->decode.tokens_per_s, bound * 1.0001);
  EXPECT_GT(plan->decode.tokens_per_s, bound * 0.9);
  EXPECT_EQ(plan->decode.bound, "GPU memory");
}

TEST(PlannerGrid, TimedKernelsReplaceTheCopyBandwidthAndTheFlopEstimate) {
  // A profile that timed strata's own mat-vec (half the copy rate) and GEMM: the prediction follows them.
  const ModelRoles llama8 = roles_for(llama3_8b());
  HardwareProfile hw = gpu_80g();
  auto base = make_plan(llama8, hw, Budgets{});
  hw.gpus[0].matvec_bytes_per_s = hw.gpus[0].device_read_bytes_per_s / 2;
  hw.gpus[0].gemm_flops_per_s = 90e12;
  auto timed = make_plan(llama8, hw, Budgets{});
  ASSERT_TRUE(base.is_ok() && timed.is_ok());
  ASSERT_EQ(timed->mode, Mode::FullGpu);
  EXPECT_NEAR(timed->decode.tokens_per_s / base->decode.tokens_per_s, 0.5, 0.01);
  // Prefill is arithmetic-bound: 90 TFLOP/s timed against the estimate (60) at the default efficiency (0.5).
  ASSERT_EQ(timed->prefill.bound, "GPU arithmetic");
  EXPECT_NEAR(timed->prefill.tokens_per_s / base->prefill.tokens_per_s, 90.0 / (60.0 * 0.5), 0.05);
}

TEST(PlannerGrid, MeasuredFixedCostsAddToTheGpuTerms) {
  // Per product and per layer: a full-GPU 8B decode step gains (products) x fixed + layers x layer ops; a
  // prompt batch of 512 gains layers x the prompt's layer ops.
  const ModelRoles llama8 = roles_for(llama3_8b());
  HardwareProfile hw = gpu_80g();
  auto base = make_plan(llama8, hw, Budgets{});
  hw.gpus[0].product_fixed_seconds = 4e-6;
  hw.gpus[0].layer_ops_seconds = 30e-6;
  hw.gpus[0].layer_ops_prompt_seconds = 1e-3;
  auto fixed = make_plan(llama8, hw, Budgets{});
  ASSERT_TRUE(base.is_ok() && fixed.is_ok());
  ASSERT_EQ(fixed->mode, Mode::FullGpu);
  // Llama's products: q, k, v, o, gate, up, down per layer, the embedding gather and the output.
  const double products = 7.0 * 32 + 2;
  const double added = 1.0 / fixed->decode.tokens_per_s - 1.0 / base->decode.tokens_per_s;
  EXPECT_NEAR(added, products * 4e-6 + 32 * 30e-6, 1e-6);
  const double batch = fixed->prefill_batch;
  const double added_prefill = batch / fixed->prefill.tokens_per_s - batch / base->prefill.tokens_per_s;
  EXPECT_NEAR(added_prefill, products * 4e-6 + 32 * 1e-3 * batch / kLayerOpsPromptTokens, 2e-4);
}

// The H100 test machine (125.8 GiB of RAM, 80 GiB card) with what one day's `strata profile` measured there.
struct H100Figures {
  double ram_gbs, fma_gflops, copy_gbs, h2d_gbs, matvec_bytes_per_s, gemm_flops_per_s, product_fixed_s, layer_ops_s;
};
HardwareProfile h100_profile(const H100Figures& f) {
  HardwareProfile hw = host(125.8, 121.7, f.ram_gbs, f.fma_gflops, 1.4, 80);
  hw.gpus.push_back(gpu("H100", 79.2, 78.7, f.copy_gbs, f.h2d_gbs, 60));
  hw.gpu_note.clear();
  GpuInfo& g = hw.gpus[0];
  g.matvec_bytes_per_s = f.matvec_bytes_per_s;
  g.gemm_flops_per_s = f.gemm_flops_per_s;
  g.product_fixed_seconds = f.product_fixed_s;
  g.layer_ops_seconds = f.layer_ops_s;
  g.layer_ops_prompt_seconds = 0.892e-3;
  return hw;
}

TEST(PlannerGrid, FixedCostsMeasuredOnAnH100KeepTheWhole8BOnIt) {
  // The H100's profile of 2026-12-06 (tools/bench: strata profile): with the layer ops spread over every item
  // of a layer, moving a norm or the embedding to the CPU looked like it saved a share of them, and the 8B
  // plan went hybrid (a host op in the step: no CUDA graph, 233 -> 197 tok/s measured).
  const ModelRoles llama8 = roles_for(llama3_8b());
  const HardwareProfile hw = h100_profile({117.2, 2626, 2972, 55.4, 1.829e12, 310.4e12, 3.49e-6, 36.7e-6});
  auto plan = make_plan(llama8, hw, Budgets{});
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  EXPECT_EQ(plan->mode, Mode::FullGpu);
  for (const TensorPlacement& t : plan->tensors) EXPECT_EQ(t.tier, Tier::Gpu) << t.name;
}

// A --gpu-mem that the CUDA context alone would fill is refused with the reason, not planned at zero.
TEST(PlannerGrid, AGpuBudgetBelowTheCudaContextIsRefused) {
  const ModelRoles llama8 = roles_for(llama3_8b());
  Budgets b;
  b.gpu_bytes = 500 * kMiB;
  auto plan = make_plan(llama8, gpu_24g(), b);
  ASSERT_FALSE(plan.is_ok());
  EXPECT_NE(plan.status().message().find("CUDA context"), std::string::npos) << plan.status().message();
  b.gpu_bytes = 0;  // no GPU at all is still a budget
  plan = make_plan(llama8, gpu_24g(), b);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  EXPECT_EQ(plan->budgets.gpu_bytes, 0u);
}

// The H100 machine's profile of 2026-12-07 (`strata profile`; RAM read 112 GB/s, 16 cores).
HardwareProfile h100_2026_12_07() {
  return h100_profile({112.0, 2556, 2989, 55.3, 1.827e12, 310.0e12, 3.16e-6, 36.9e-6});
}

// At --gpu-mem 2.5G the 8B's decode-only search kept the KV cache (512 MiB at 4096 positions) in RAM: attention
// on the CPU costs a decode step a few ms, but a prompt of 512 spent 643 of its 789 ms there on the H100 (bench
// --op-times). Judged on a request (a prompt and 128 tokens), every KV goes to the GPU and the reason says so;
// decode gives up a little, the prompt gains more.
TEST(PlannerGrid, AttentionGoesWithTheKvCacheToTheGpuWhenARequestIsFaster) {
  const ModelRoles llama8 = roles_for(llama3_8b());
  const HardwareProfile hw = h100_2026_12_07();
  Budgets b;
  b.gpu_bytes = (uint64_t{5} << 29) + PlanOptions{}.cuda_context_bytes;  // a 2.5 GiB share beside the context
  auto plan = make_plan(llama8, hw, b);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  for (Tier t : plan->kv_tiers) EXPECT_EQ(t, Tier::Gpu);
  const auto reason = std::find_if(plan->reasons.begin(), plan->reasons.end(),
                                   [](const std::string& r) { return r.starts_with("KV cache on the GPU: a request"); });
  ASSERT_NE(reason, plan->reasons.end());
  EXPECT_GT(plan->prefill.tokens_per_s, 5000.0);
  EXPECT_LE(plan->memory.gpu_total(), plan->budgets.gpu_bytes);
  // Decode alone would have chosen otherwise (it is why the request decides): the plan decodes a little slower
  // than the decode-only search's 35.8 tok/s, and its prompt is faster than that plan's 2,500.
  EXPECT_LT(plan->decode.tokens_per_s, 35.8);
  EXPECT_GT(plan->decode.tokens_per_s, 28.0);

  // With room for everything, nothing changes: the KV was on the GPU already, and no reason is added.
  auto full = make_plan(llama8, hw, Budgets{});
  ASSERT_TRUE(full.is_ok());
  for (Tier t : full->kv_tiers) EXPECT_EQ(t, Tier::Gpu);
  for (const std::string& r : full->reasons) EXPECT_FALSE(r.starts_with("KV cache on the GPU: a request")) << r;

  // Where the GPU cannot hold the KV cache beside its buffers, attention stays on the CPU.
  Budgets tiny;
  tiny.gpu_bytes = uint64_t{900} << 20;
  tiny.ctx = 4096;
  auto small = make_plan(llama8, hw, tiny);
  ASSERT_TRUE(small.is_ok()) << small.status().message();
  EXPECT_TRUE(std::any_of(small->kv_tiers.begin(), small->kv_tiers.end(), [](Tier t) { return t != Tier::Gpu; }));
}

// Mixtral on the H100's profile at a GPU budget below the model: the plan splits the experts between GPU memory
// and the CPU; carried out with a GPU expert cache the same expert bytes are read, each layer's GPU hits hide
// behind its CPU misses where it has one, and every MoE layer syncs its routing (two more handoffs where it
// misses). A plan that keeps every expert on one side predicts as it did.
TEST(PlannerGrid, AnExpertCachePredictsTheOverlapOfGpuHitsAndCpuMisses) {
  const ModelRoles mix = roles_for(mixtral_8x7b());
  HardwareProfile hw = host(125.8, 121.7, 117.2, 2626, 1.4, 80);
  hw.gpus.push_back(gpu("H100", 79.2, 78.7, 2972, 55.4, 60));
  hw.gpu_note.clear();
  Budgets b;
  b.gpu_bytes = uint64_t{22} << 30;
  auto plan = make_plan(mix, hw, b);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  ASSERT_EQ(plan->mode, Mode::Hybrid);
  const Prediction cached = predict_decode_with_expert_cache(*plan, 8, 2);
  double held = 0, all = 0, g_e = 0, c_e = 0;
  const BoundTerm *gpu = nullptr, *cpu = nullptr;
  for (const BoundTerm& t : plan->decode.terms) {
    if (t.resource.starts_with("GPU ")) gpu = &t;
    if (t.resource.starts_with("CPU ")) cpu = &t;
  }
  ASSERT_TRUE(gpu && cpu);
  for (const TensorPlacement& t : plan->tensors) {
    if (t.role != Role::ExpertGate && t.role != Role::ExpertUp && t.role != Role::ExpertDown) continue;
    all += t.size_bytes;
    if (t.tier == Tier::Gpu) held += t.size_bytes, g_e += t.size_bytes / 4.0 / gpu->bytes_per_s;
    else c_e += t.size_bytes / 4.0 / cpu->bytes_per_s;
  }
  const double h = held / all;
  ASSERT_GT(h, 0.5);
  ASSERT_LT(h, 1.0);
  std::map<std::string, BoundTerm> by;
  for (const BoundTerm& t : cached.terms) by[t.resource] = t;
  ASSERT_TRUE(by.count("experts: CPU misses beside GPU hits"));
  EXPECT_NEAR(by["experts: CPU misses beside GPU hits"].seconds, std::max(c_e, g_e) + std::min(c_e, g_e) * h * h, 1e-9);
  EXPECT_NEAR(by["GPU memory (no experts)"].seconds + g_e, gpu->seconds, 1e-9);
  EXPECT_NEAR(by["CPU memory (no experts)"].seconds + c_e, cpu->seconds, 1e-9);
  EXPECT_NEAR(by["handoffs"].bytes, 32 * (1 + 2 * (1 - h * h)), 1e-9);
  for (const BoundTerm& t : cached.terms) EXPECT_LE(t.seconds, cached.seconds * (1 + 1e-9)) << t.resource;
  // Everything on the GPU: nothing to overlap.
  auto full = make_plan(mix, hw, Budgets{});
  ASSERT_TRUE(full.is_ok());
  EXPECT_EQ(predict_decode_with_expert_cache(*full, 8, 2).tokens_per_s, full->decode.tokens_per_s);
}

}  // namespace
}  // namespace strata::planner
