// engine/backends.cc: GPU availability for a plan, the re-plan profile, and the plan → placement mapping.
#include "engine/backends.h"

#include <algorithm>

#include "core/check.h"
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
  // Products: the weights the forward pass multiplies by (streaming::pass_reads has the order).
  std::vector<bool> product(m.tensors.size(), false);
  for (const model::LayerTensors& L : m.layers)
    for (model::TensorId id : {L.attn_q, L.attn_k, L.attn_v, L.attn_output, L.ffn_gate, L.ffn_up, L.ffn_down,
                               L.ffn_gate_inp})
      if (id != model::kNoTensor) product[id] = true;
  if (m.output != model::kNoTensor && m.output != m.token_embd) product[m.output] = true;
  const uint64_t largest_allowed = plan.memory.gpu_staging / 2;
  auto staged = [&](model::TensorId id, bool decode) {
    const planner::TensorPlacement& t = plan.tensors[id];
    const bool in_ram = t.tier == planner::Tier::PinnedRam || t.tier == planner::Tier::Ram;
    return product[id] && in_ram && (decode ? t.decode_site : t.prefill_site) == planner::Site::Gpu &&
           m.tensors[id].size_bytes <= largest_allowed;
  };
  for (const streaming::PassRead& r : streaming::pass_reads(m)) {
    if (staged(r.tensor, false)) s.orders.prefill.push_back(r.tensor);
    if (staged(r.tensor, true)) s.orders.decode.push_back(r.tensor);
  }
  std::vector<bool> listed(m.tensors.size(), false);
  for (const auto* order : {&s.orders.prefill, &s.orders.decode})
    for (model::TensorId id : *order) {
      s.slot_bytes = std::max(s.slot_bytes, m.tensors[id].size_bytes);
      if (plan.tensors[id].tier == planner::Tier::PinnedRam && !listed[id]) s.pin.push_back(id);
      listed[id] = true;
    }
  if (s.slot_bytes == 0) return s;
  s.n_slots = static_cast<int>(std::clamp<uint64_t>(plan.memory.gpu_staging / s.slot_bytes, 2, 8));
  return s;
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
    for (model::TensorId id : staging->orders.prefill) staged_prefill[id] = true;
    for (model::TensorId id : staging->orders.decode) staged_decode[id] = true;
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
