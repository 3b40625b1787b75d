// cli/engine_setup.h: the planning flags every model-loading command shares, turned into EngineOptions once.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "engine/runtime.h"

namespace strata::cli {

struct PlanFlags {
  std::string gpu_mem;  // --gpu-mem 8G
  std::string ram;      // --ram 4G
  int64_t ctx = 0;      // --ctx N
  std::string mode;     // --mode NAME
  std::string profile;  // --profile FILE
  bool no_graphs = false;  // --no-graphs
  bool static_experts = false;  // --static-experts
};

// Budgets from the flags; the hardware profile from --profile, the cache, or a measurement when the plan
// needs one (a budget or mode was given, or the model may not fit in the memory available); the XDG state
// dir for expert statistics. The one place (with the profile cache dir) where the environment is read.
Result<engine::EngineOptions> make_engine_options(const std::string& model_path, int threads, const PlanFlags& flags);

// The hardware profile for planning `model_path`: --profile FILE, else the cache, else measured now (and
// cached). `required` false: returns nothing instead of measuring when the model plainly fits in memory.
Result<std::optional<planner::HardwareProfile>> find_profile(const std::string& model_path, const PlanFlags& flags,
                                                            bool required);

// One line each for the plan's decision, its prediction and bound (for `run` and `bench` reports).
std::string describe_plan(const planner::Plan& plan);

}  // namespace strata::cli
