// engine/backends.h: which compute backends a loaded model runs on, and the placement that carries the plan's
// sites out on them (a plan needing a backend this build lacks is made again without it).
#pragma once

#include <memory>
#include <string>
#include <vector>

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

// backends[0] = host; Site::Gpu → gpu (REQUIRES: gpu when the plan uses one). Without a plan: all on host.
model::Placement placement_from_plan(const planner::Plan* plan, const model::Model& m, kernels::Backend& host,
                                     kernels::Backend* gpu);

}  // namespace strata::engine
