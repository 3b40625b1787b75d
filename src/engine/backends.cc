// engine/backends.cc: GPU availability for a plan, the re-plan profile, and the plan → placement mapping.
#include "engine/backends.h"

#include <algorithm>

#include "core/check.h"
#include "engine/gpu_expert_cache.h"
#include "streaming/schedule.h"

namespace strata::engine {

bool plan_uses_gpu(const planner::Plan& plan) {
  for (const auto& t : plan.tensors)
    if (t.tier == planner::Tier::Gpu || t.decode_site == planner::Site::Gpu || t.prefill_site == planner::Site::Gpu)
      return true;
  for (planner::Tier t : plan.kv_tiers)
    if (t == planner::Tier::Gpu) return true;
  return false;
}

std::string missing_gpu_backend(const planner::HardwareProfile& profile) {
  const kernels::BackendKind* cuda = kernels::find_backend(DeviceKind::Cuda);
  if (cuda == nullptr) return "this build has no CUDA backend";
  if (cuda->device_count() < static_cast<int>(profile.gpus.size()))
    return "the CUDA backend sees " + std::to_string(cuda->device_count()) + " GPU(s), the profile lists " +
           std::to_string(profile.gpus.size());
  return "";
}

planner::HardwareProfile without_gpus(planner::HardwareProfile p, std::string note) {
  p.gpu_note = std::move(note);
  p.gpus.clear();
  p.unified_memory = false;
  return p;
}

StagingSetup staging_from_plan(const planner::Plan& plan, const model::Model& m) {
  StagingSetup s;
  if (plan.tensors.size() != m.tensors.size() || plan.memory.gpu_staging == 0) return s;
  // Products: the weights the forward pass multiplies by (streaming::pass_reads has the order), and the
  // stacked expert tensors, staged a slice at a time.
  std::vector<bool> product(m.tensors.size(), false);
  for (const model::LayerTensors& L : m.layers)
    for (model::TensorId id : {L.attn_q, L.attn_k, L.attn_v, L.attn_output, L.ffn_gate, L.ffn_up, L.ffn_down,
                               L.ffn_gate_inp})
      if (id != model::kNoTensor) product[id] = true;
  if (m.output != model::kNoTensor && m.output != m.token_embd) product[m.output] = true;
  const uint64_t largest_allowed = plan.memory.gpu_staging / 2;
  auto staged = [&](StageKey k, bool decode) {
    const planner::TensorPlacement& t = plan.tensors[k.id];
    const bool in_ram = t.tier == planner::Tier::PinnedRam || t.tier == planner::Tier::Ram;
    return (k.expert >= 0 || product[k.id]) && in_ram &&
           (decode ? t.decode_site : t.prefill_site) == planner::Site::Gpu &&
           DeviceStaging::unit_bytes(m, k) <= largest_allowed;
  };
  // Pass order; a layer's experts follow its router, expert by expert (gate, up, down), as the groups take them.
  std::vector<int> router_layer(m.tensors.size(), -1);
  for (size_t l = 0; l < m.layers.size(); ++l)
    if (m.layers[l].ffn_gate_inp != model::kNoTensor) router_layer[m.layers[l].ffn_gate_inp] = static_cast<int>(l);
  auto build = [&](bool with_experts) {
    s.orders = {};
    for (const streaming::PassRead& r : streaming::pass_reads(m)) {
      std::vector<StageKey> keys = {{r.tensor, -1}};
      if (const int l = router_layer[r.tensor]; l >= 0 && with_experts)
        for (int32_t e = 0; e < m.hp.n_expert; ++e)
          for (model::TensorId id : m.layers[l].ffn_exps)
            if (id != model::kNoTensor) keys.push_back({id, e});
      for (const StageKey& k : keys) {
        if (staged(k, false)) s.orders.prefill.push_back(k);
        if (staged(k, true)) s.orders.decode.push_back(k);
      }
    }
    s.slot_bytes = 0;
    s.pin.clear();
    std::vector<bool> listed(m.tensors.size(), false);
    bool experts = false;
    for (const auto* order : {&s.orders.prefill, &s.orders.decode})
      for (const StageKey& k : *order) {
        s.slot_bytes = std::max(s.slot_bytes, DeviceStaging::unit_bytes(m, k));
        experts |= k.expert >= 0;
        if (plan.tensors[k.id].tier == planner::Tier::PinnedRam && !listed[k.id]) s.pin.push_back(k.id);
        listed[k.id] = true;
      }
    s.n_slots = s.slot_bytes == 0 ? 0 : static_cast<int>(std::max<uint64_t>(plan.memory.gpu_staging / s.slot_bytes, 2));
    return experts;
  };
  // An expert group holds three slices an expert: where the ring cannot hold one expert's (beside the tail it
  // loses where it wraps), the experts stay on their host site.
  if (build(true) && DeviceStaging::max_held_units(s.n_slots, s.slot_bytes) < 3) build(false);
  if (s.slot_bytes == 0) s = StagingSetup{};
  return s;
}

ExpertCacheSetup expert_cache_from_plan(planner::Plan& plan, const model::Model& m) {
  ExpertCacheSetup c;
  if (!m.hp.is_moe() || plan.tensors.size() != m.tensors.size()) return c;
  uint64_t freed = 0, slot = 0;
  bool in_ram = false;
  std::vector<model::TensorId> on_gpu;
  c.serves.assign(m.layers.size(), false);
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const model::LayerTensors& L = m.layers[l];
    if (L.ffn_exps[0] == model::kNoTensor) continue;
    for (model::TensorId b : L.ffn_exps_bias)
      if (b != model::kNoTensor) return c;
    c.serves[l] = true;
    slot = std::max(slot, GpuExpertCache::slot_bytes_for(m, static_cast<int>(l)));
    for (model::TensorId id : L.ffn_exps) {
      if (id == model::kNoTensor) continue;
      const planner::TensorPlacement& t = plan.tensors[id];
      if (t.tier == planner::Tier::Disk) return c;
      if (t.tier == planner::Tier::Gpu) {
        freed += t.size_bytes;
        on_gpu.push_back(id);
      } else {
        in_ram |= t.decode_site == planner::Site::Cpu;
      }
    }
  }
  if (on_gpu.empty() || !in_ram || slot == 0 || freed < slot) return c;
  c.n_slots = static_cast<int>(freed / slot);
  c.slot_bytes = slot;
  for (int32_t e = 0; e < m.hp.n_expert && c.warm.size() < static_cast<size_t>(c.n_slots); ++e)
    for (size_t l = 0; l < m.layers.size() && c.warm.size() < static_cast<size_t>(c.n_slots); ++l)
      if (c.serves[l]) c.warm.emplace_back(static_cast<int>(l), e);
  // Admissions copy from RAM while the pass goes on: from page-locked memory a copy is asynchronous (from
  // pageable memory the host would wait for it), so the converted tensors are pinned as far as the budget allows.
  uint64_t pinned = plan.memory.pinned;
  for (model::TensorId id : on_gpu) {
    planner::TensorPlacement& t = plan.tensors[id];
    const bool pin = pinned + t.size_bytes <= plan.budgets.pinned_bytes;
    if (pin) pinned += t.size_bytes;
    t.tier = pin ? planner::Tier::PinnedRam : planner::Tier::Ram;
    t.decode_site = planner::Site::Cpu;
    if (pin) c.pin.push_back(id);
  }
  // An admission from pageable memory would stall the pass for its copy: where some experts cannot be pinned,
  // the warm set stays.
  for (size_t l = 0; l < m.layers.size(); ++l)
    for (model::TensorId id : m.layers[l].ffn_exps)
      if (id != model::kNoTensor && plan.tensors[id].tier != planner::Tier::PinnedRam) c.adapt = false;
  return c;
}

int hold_small_gpu_sites(planner::Plan& plan, const model::Model& m, const StagingSetup& staging) {
  if (plan.tensors.size() != m.tensors.size()) return 0;
  constexpr uint64_t kSmall = uint64_t{1} << 20;
  std::vector<bool> staged(m.tensors.size(), false);
  for (const auto* order : {&staging.orders.prefill, &staging.orders.decode})
    for (const StageKey& k : *order) staged[k.id] = true;
  const uint64_t ring = static_cast<uint64_t>(staging.n_slots) * staging.slot_bytes;
  uint64_t spare = plan.memory.gpu_staging > ring ? plan.memory.gpu_staging - ring : 0;
  int held = 0;
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    planner::TensorPlacement& t = plan.tensors[i];
    const bool on_gpu_site = t.decode_site == planner::Site::Gpu || t.prefill_site == planner::Site::Gpu;
    const bool in_ram = t.tier == planner::Tier::Ram || t.tier == planner::Tier::PinnedRam;
    const uint64_t bytes = m.tensors[i].size_bytes;
    const uint64_t held_bytes = (bytes + 255) / 256 * 256;  // a device allocation is at least 256-byte aligned
    if (!on_gpu_site || !in_ram || staged[i] || bytes > kSmall || held_bytes > spare) continue;
    spare -= held_bytes;
    t.tier = planner::Tier::Gpu;
    t.decode_site = planner::Site::Gpu;
    t.prefill_site = planner::Site::Gpu;
    ++held;
  }
  return held;
}

std::vector<bool> gpu_only_tensors(const planner::Plan& executed, const model::Model& m) {
  std::vector<bool> only(m.tensors.size(), false);
  for (size_t i = 0; i < executed.tensors.size() && i < only.size(); ++i) {
    const planner::TensorPlacement& t = executed.tensors[i];
    only[i] = t.tier == planner::Tier::Gpu && t.decode_site == planner::Site::Gpu && t.prefill_site == planner::Site::Gpu;
  }
  for (const model::LayerTensors& L : m.layers) {
    for (model::TensorId id : L.ffn_exps_bias)
      if (id != model::kNoTensor) only[static_cast<size_t>(id)] = false;
    if (L.attn_sinks != model::kNoTensor) only[static_cast<size_t>(L.attn_sinks)] = false;
  }
  return only;
}

HostedGpuSites gpu_sites_on_host(const planner::Plan& plan, const model::Placement& placement) {
  HostedGpuSites h;
  if (placement.backends.size() < 2) return h;  // no GPU in use: the plan was made for the host
  for (size_t i = 0; i < plan.tensors.size() && i < placement.decode_site.size(); ++i) {
    const planner::TensorPlacement& t = plan.tensors[i];
    if (t.decode_site == planner::Site::Gpu && placement.decode_site[i] == 0) {
      ++h.decode_tensors;
      h.decode_bytes += t.size_bytes;
    }
    if (t.prefill_site == planner::Site::Gpu && placement.prefill_site[i] == 0) {
      ++h.prefill_tensors;
      h.prefill_bytes += t.size_bytes;
    }
  }
  return h;
}

model::Placement placement_from_plan(const planner::Plan* plan, const model::Model& m, kernels::Backend& host,
                                     kernels::Backend* gpu, const StagingSetup* staging) {
  model::Placement p = model::Placement::single(host, m);
  if (plan == nullptr || !plan_uses_gpu(*plan)) return p;
  STRATA_CHECK(gpu != nullptr && plan->tensors.size() == m.tensors.size());
  p.backends.push_back(gpu);
  // A GPU site computes on the GPU where the tensor's bytes are there, or where staging uploads them for that
  // kind of pass; other RAM-tier (and disk-tier) tensors stay on the host.
  std::vector<bool> staged_prefill(m.tensors.size(), false), staged_decode(m.tensors.size(), false);
  if (staging != nullptr) {
    for (const StageKey& k : staging->orders.prefill) staged_prefill[k.id] = true;
    for (const StageKey& k : staging->orders.decode) staged_decode[k.id] = true;
  }
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const auto& t = plan->tensors[i];
    const bool resident = t.tier == planner::Tier::Gpu;
    p.decode_site[i] = (resident || staged_decode[i]) && t.decode_site == planner::Site::Gpu ? 1 : 0;
    p.prefill_site[i] = (resident || staged_prefill[i]) && t.prefill_site == planner::Site::Gpu ? 1 : 0;
  }
  for (size_t l = 0; l < m.layers.size() && l < plan->kv_tiers.size(); ++l)
    p.kv_site[l] = plan->kv_tiers[l] == planner::Tier::Gpu ? 1 : 0;
  return p;
}

}  // namespace strata::engine
