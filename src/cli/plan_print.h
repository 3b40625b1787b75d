// cli/plan_print.h: a Plan as text (one reasoning line per decision) or as JSON, for `inspect --plan` and `run -v`.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "planner/plan.h"

namespace strata::cli {

// Summary, memory, pools, predictions with their terms, a per-layer placement table (runs of identical
// layers folded into ranges), then the reasons.
std::string format_plan_text(const planner::Plan& plan);

// Everything in the plan, including every tensor's tier and sites.
nlohmann::json plan_to_json(const planner::Plan& plan);

}  // namespace strata::cli
