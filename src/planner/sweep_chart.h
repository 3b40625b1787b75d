// planner/sweep_chart.h: a budget sweep drawn as SVG: decode tok/s achieved at each budget against the plan's
// predicted bound, with the mode each budget planned (`bench --sweep`; docs/performance.md embeds these).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace strata::planner {

struct SweepPoint {
  uint64_t budget_bytes = 0;
  std::string mode;                   // the plan's mode at this budget ("full-gpu", "hybrid", ...)
  double predicted_tokens_per_s = 0;  // the plan's decode bound
  double achieved_tokens_per_s = 0;   // the bench's median
};

// A self-contained SVG document: `title` on top, the budget (named by budget_name, e.g. "GPU memory") across,
// tok/s up; achieved as a solid line with dots, predicted as a dashed line. Each dot carries data-budget-bytes,
// data-achieved, data-predicted and data-mode for checking.
std::string sweep_svg(std::span<const SweepPoint> points, std::string_view title, std::string_view budget_name);

}  // namespace strata::planner
