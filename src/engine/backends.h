// engine/backends.h: which compute backends a loaded model runs on, and the placement that carries the plan's
// sites out on them (a plan needing a backend this build lacks is made again without it).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/device_weights.h"
#include "kernels/backend.h"
#include "kernels/cpu/backend_cpu.h"
#include "model/model.h"
#include "model/placement.h"
#include "hw/hardware_profile.h"
#include "planner/plan.h"

namespace strata::engine {

// Whether the plan keeps weights or a KV cache on a GPU, or computes anything there.
bool plan_uses_gpu(const planner::Plan& plan);

// Why this build cannot carry out a GPU plan on `profile` ("" when it can: a GPU backend is compiled in and
// sees as many devices as the profile lists).
std::string missing_gpu_backend(const planner::HardwareProfile& profile);

// The profile with its GPUs removed, `note` saying why.
planner::HardwareProfile without_gpus(planner::HardwareProfile profile, std::string note);

// The RAM-tier products the plan computes on the GPU, uploaded per use through device staging: for each kind
// of pass, the products whose site for it is the GPU, held in RAM (pinned or not; disk-tier tensors are read
// by the streamer and stay on their host site), in pass order; slots as large as the largest of them, as
// many as the plan's GPU staging holds (at least 2). A product larger than half the staging stays on the host.
// Those the plan holds in pinned RAM are listed to be page-locked.
// Empty orders: nothing to stage.
StagingSetup staging_from_plan(const planner::Plan& plan, const model::Model& m);

// What the plan computes on the GPU but the placement runs on the host (disk-tier weights, products too large for
// a staging slot): tensors and bytes per kind of pass, so a prediction that assumed the GPU can be read against
// what ran.
struct HostedGpuSites {
  int decode_tensors = 0, prefill_tensors = 0;
  uint64_t decode_bytes = 0, prefill_bytes = 0;
};
// Per tensor: whether only the GPU reads it (its tier, computed there in both passes), so the host source need
// not hold it: it is read from the file straight to the device. Expert biases and attention sinks are read
// where their experts' products or the attention run, which may be the host: they keep a host copy.
std::vector<bool> gpu_only_tensors(const planner::Plan& executed, const model::Model& m);

HostedGpuSites gpu_sites_on_host(const planner::Plan& plan, const model::Placement& placement);

// A MoE plan that splits experts between GPU memory and RAM, executed with a GPU expert cache: the GPU bytes the
// plan gives whole expert tensors become slots of single (layer, expert)s spread over every MoE layer (warmed
// expert by expert across the layers), and every expert tensor is computed from RAM in decode where the cache
// misses, on the host at the same time as the GPU computes the hits. `plan` is rewritten so: those expert
// tensors become RAM-tier with a CPU decode site (their prefill sites are kept). No cache (n_slots 0, plan
// unchanged) where the experts are not split, where some are on disk, where experts carry biases, or where no
// slot fits.
ExpertCacheSetup expert_cache_from_plan(planner::Plan& plan, const model::Model& m);

// Small tensors the plan holds in RAM but computes on the GPU that staging does not upload (norms, biases: not
// products) would run on the host, each a round trip: they are held in GPU memory instead, from the bytes the
// plan gives staging beyond the ring, when they fit (their tier becomes Gpu in `plan`). Returns how many.
int hold_small_gpu_sites(planner::Plan& plan, const model::Model& m, const StagingSetup& staging);

// backends[0] = host; Site::Gpu → gpu (REQUIRES: gpu when the plan uses one). A GPU site whose tensor is not
// in GPU memory computes on the GPU only where `staging` uploads it for that kind of pass (else on the host).
// Without a plan: all on host.
model::Placement placement_from_plan(const planner::Plan* plan, const model::Model& m, kernels::Backend& host,
                                     kernels::Backend* gpu, const StagingSetup* staging = nullptr);

}  // namespace strata::engine
