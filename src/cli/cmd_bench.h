// cli/cmd_bench.h: one `bench` measurement as data, shared by `bench` and `bench --sweep`.
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/status.h"
#include "planner/plan.h"

namespace strata::cli {

struct BenchRecord {
  nlohmann::json record;              // what `bench --json` prints
  std::optional<planner::Plan> plan;  // the plan the run used, when there was one
};

// Loads the model under o.plan's budgets and runs o's warm-up and repetitions.
Result<BenchRecord> measure_bench(const BenchOptions& o);

// `bench --sweep KEY=LO..HI[:STEP]`: measure_bench at each budget (cli/cmd_bench_sweep.cc).
int run_bench_sweep(const BenchOptions& o);

}  // namespace strata::cli
