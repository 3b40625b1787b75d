// planner/planner.h: the planner's entry points: (model roles, hardware profile, budgets) → Plan, a pure function.
#pragma once

#include <vector>

#include "core/status.h"
#include "planner/cost_model.h"
#include "hw/hardware_profile.h"
#include "planner/plan.h"
#include "planner/tensor_roles.h"

namespace strata::planner {

// Budgets after defaults: measured free memory minus headroom, unless the user set them.
// Errors: a GPU budget for a machine without a GPU, a context of zero or below.
Result<ResolvedBudgets> resolve_budgets(const ModelRoles& roles, const HardwareProfile& profile,
                                        const Budgets& budgets, const PlanOptions& options);

// The placement problem: one item per tensor plus one per layer's KV cache, in execution order, each
// with the options the hardware and a forced mode allow. Errors when a forced mode cannot apply.
Result<Problem> build_problem(const ModelRoles& roles, const HardwareProfile& profile, const Budgets& budgets,
                              const PlanOptions& options);

// Greedy fill by bytes-read-per-byte-held, then local search (single moves, whole-layer moves, and pair
// swaps on small problems) over the decode cost. Returns the best assignment found, feasible or not.
std::vector<Option> search_assignment(const Problem& problem);

// Plans a model: every tensor's tier and compute sites, the mode, pools, caches and predicted speeds,
// with one reason per decision. Fails, naming the short budget and by how much, when nothing fits.
// Pure: reads no files, no clock, no environment.
Result<Plan> make_plan(const ModelRoles& roles, const HardwareProfile& profile, const Budgets& budgets,
                       const PlanOptions& options = {});

// Completes a plan from a solved problem (prefill sites, pinning, prediction, memory, reasons).
// Exposed for tests that compare the search with brute force.
Plan assemble_plan(const ModelRoles& roles, const HardwareProfile& profile, const Problem& problem,
                   const std::vector<Option>& assignment, const PlanOptions& options, bool mode_forced);

// The decode prediction of `plan` carried out with a GPU expert cache (engine::expert_cache_from_plan): the
// cache holds as many experts as the plan's whole GPU-tier expert tensors, so under uniform routing the expert
// bytes read on the GPU and on the CPU a token stay the plan's; but each layer's GPU hits and CPU misses
// compute at once (the GPU's share is hidden wherever a layer has a miss), every MoE layer brings its routing to
// the host, and a layer with a miss hands its input over and the misses' sum back. Under uniform routing that
// can be slower than the plan (more handoffs than overlap); a skewed router raises the hit rate, which this does
// not assume. Returns the plan's own prediction where it splits no experts.
Prediction predict_decode_with_expert_cache(const Plan& plan, int n_expert, int n_expert_used);

}  // namespace strata::planner
