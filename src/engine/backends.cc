// engine/backends.cc: GPU availability for a plan, the re-plan profile, and the plan → placement mapping.
#include "engine/backends.h"

#include "core/check.h"

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

model::Placement placement_from_plan(const planner::Plan* plan, const model::Model& m, kernels::Backend& host,
                                     kernels::Backend* gpu) {
  model::Placement p = model::Placement::single(host, m);
  if (plan == nullptr || !plan_uses_gpu(*plan)) return p;
  STRATA_CHECK(gpu != nullptr && plan->tensors.size() == m.tensors.size());
  p.backends.push_back(gpu);
  // A GPU site computes on the GPU only where the tensor's bytes are there: reading RAM-tier weights from the
  // GPU needs staging uploads per use, which arrive with the GPU tiers; until then such ops stay on the host.
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const auto& t = plan->tensors[i];
    const bool resident = t.tier == planner::Tier::Gpu;
    p.decode_site[i] = resident && t.decode_site == planner::Site::Gpu ? 1 : 0;
    p.prefill_site[i] = resident && t.prefill_site == planner::Site::Gpu ? 1 : 0;
  }
  for (size_t l = 0; l < m.layers.size() && l < plan->kv_tiers.size(); ++l)
    p.kv_site[l] = plan->kv_tiers[l] == planner::Tier::Gpu ? 1 : 0;
  return p;
}

}  // namespace strata::engine
