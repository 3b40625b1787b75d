// cli/cmd_bench_sweep.cc: `strata bench MODEL --sweep gpu-mem=LO..HI[:STEP]` (or ram=): one bench per budget,
// each re-planned from scratch, gathered into one JSON record and an SVG plot of decode tok/s against the
// budget beside the plan's bound.
#include <cstdio>
#include <ctime>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cmd_bench.h"
#include "core/units.h"
#include "planner/sweep_chart.h"

namespace strata::cli {

namespace {

constexpr int kDefaultPoints = 5;
constexpr int kMaxPoints = 64;

struct Sweep {
  std::string key;  // "gpu-mem" or "ram"
  std::vector<uint64_t> budgets;
};

Result<Sweep> parse_sweep(std::string_view text) {
  const size_t eq = text.find('=');
  Sweep s;
  s.key = std::string(text.substr(0, eq));
  if (eq == std::string_view::npos || (s.key != "gpu-mem" && s.key != "ram"))
    return error("--sweep '{}': expected gpu-mem=LO..HI[:STEP] or ram=LO..HI[:STEP]", text);
  std::string_view range = text.substr(eq + 1), step_text;
  if (const size_t colon = range.find(':'); colon != std::string_view::npos) {
    step_text = range.substr(colon + 1);
    range = range.substr(0, colon);
  }
  const size_t dots = range.find("..");
  if (dots == std::string_view::npos) return error("--sweep '{}': the range must read LO..HI, e.g. 4G..24G", text);
  STRATA_ASSIGN_OR_RETURN(uint64_t lo, parse_size(range.substr(0, dots)));
  STRATA_ASSIGN_OR_RETURN(uint64_t hi, parse_size(range.substr(dots + 2)));
  if (lo == 0 || hi < lo) return error("--sweep '{}': needs 0 < LO <= HI", text);
  uint64_t step = (hi - lo) / (kDefaultPoints - 1);
  if (!step_text.empty()) {
    STRATA_ASSIGN_OR_RETURN(step, parse_size(step_text));
    if (step == 0) return error("--sweep '{}': the step must be positive", text);
  }
  if (step == 0) step = 1;  // LO == HI: one budget
  if ((hi - lo) / step + 1 > kMaxPoints)
    return error("--sweep '{}': {} budgets; at most {} (take a larger step)", text, (hi - lo) / step + 1, kMaxPoints);
  for (uint64_t b = lo; b <= hi && s.budgets.size() < kMaxPoints; b += step) s.budgets.push_back(b);
  return s;
}

// The SVG's path: --svg, else --out with its extension replaced, else none.
std::string svg_path(const BenchOptions& o) {
  if (!o.svg.empty()) return o.svg;
  if (o.out.empty()) return "";
  const std::string stem = o.out.ends_with(".json") ? o.out.substr(0, o.out.size() - 5) : o.out;
  return stem + ".svg";
}

}  // namespace

int run_bench_sweep(const BenchOptions& o) {
  auto sweep = parse_sweep(o.sweep);
  if (!sweep) return fail(sweep.status().message());
  if ((sweep->key == "gpu-mem" && !o.plan.gpu_mem.empty()) || (sweep->key == "ram" && !o.plan.ram.empty()))
    return fail(fmt::format("--sweep {} and --{} both set that budget; give one", sweep->key, sweep->key));
  const std::string budget_name = sweep->key == "gpu-mem" ? "GPU memory" : "RAM";
  nlohmann::json points = nlohmann::json::array();
  std::vector<planner::SweepPoint> plotted;
  for (uint64_t budget : sweep->budgets) {
    BenchOptions one = o;
    one.sweep.clear();
    (sweep->key == "gpu-mem" ? one.plan.gpu_mem : one.plan.ram) = std::to_string(budget);
    if (!o.json) std::fprintf(stderr, "strata: bench at %s %s\n", budget_name.c_str(), format_bytes(budget).c_str());
    nlohmann::json p{{"budget_bytes", budget}, {"budget", format_bytes(budget)}};
    auto r = measure_bench(one);
    if (!r) {  // a budget the model cannot run in is a point of the sweep, not the end of it
      p["error"] = r.status().message();
      if (!o.json) std::fprintf(stderr, "strata: %s\n", r.status().message().c_str());
      points.push_back(p);
      continue;
    }
    planner::SweepPoint sp;
    sp.budget_bytes = budget;
    sp.achieved_tokens_per_s = r->record["decode_tokens_per_s"]["median"].get<double>();
    p["achieved_decode_tokens_per_s"] = sp.achieved_tokens_per_s;
    p["achieved_prompt_tokens_per_s"] = r->record["prompt_tokens_per_s"]["median"];
    if (r->plan) {
      sp.mode = std::string(planner::mode_name(r->plan->mode));
      sp.predicted_tokens_per_s = r->plan->decode.tokens_per_s;
      p["mode"] = sp.mode;
      p["predicted_decode_tokens_per_s"] = sp.predicted_tokens_per_s;
      p["predicted_prefill_tokens_per_s"] = r->plan->prefill.tokens_per_s;
      p["bound_term"] = r->plan->decode.bound;
      p["achieved_vs_predicted"] =
          sp.predicted_tokens_per_s > 0 ? sp.achieved_tokens_per_s / sp.predicted_tokens_per_s : 0;
    }
    if (r->record.contains("decode_expert_hit_rate")) p["decode_expert_hit_rate"] = r->record["decode_expert_hit_rate"];
    p["peak_rss_bytes"] = r->record["peak_rss_bytes"];
    points.push_back(p);
    plotted.push_back(sp);
  }

  nlohmann::json rec;
  char when[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  rec["date"] = when;
  rec["model"] = o.model;
  rec["sweep"] = sweep->key;
  rec["n_prompt"] = o.n_prompt;
  rec["n_gen"] = o.n_gen;
  rec["repetitions"] = o.repetitions;
  rec["points"] = points;
  const std::string text = rec.dump(1);
  if (!o.out.empty()) {
    std::ofstream out(o.out);
    out << text << "\n";
    if (!out) return fail("cannot write " + o.out);
  }
  const std::string svg = svg_path(o);
  if (!svg.empty()) {
    std::ofstream out(svg, std::ios::binary | std::ios::trunc);
    out << planner::sweep_svg(plotted, fmt::format("strata bench {} · {} sweep", o.model, budget_name), budget_name);
    if (!out) return fail("cannot write the SVG to " + svg);
  }
  if (o.json) {
    std::printf("%s\n", text.c_str());
  } else {
    std::printf("%-12s %-18s %12s %12s %9s  %s\n", budget_name.c_str(), "mode", "predicted", "achieved", "ratio",
                "bound by");
    for (const auto& p : points) {
      if (p.contains("error")) {
        std::printf("%-12s error: %s\n", p["budget"].get<std::string>().c_str(), p["error"].get<std::string>().c_str());
        continue;
      }
      std::printf("%-12s %-18s %8.2f t/s %8.2f t/s %9.2f  %s\n", p["budget"].get<std::string>().c_str(),
                  p.value("mode", std::string("-")).c_str(), p.value("predicted_decode_tokens_per_s", 0.0),
                  p["achieved_decode_tokens_per_s"].get<double>(), p.value("achieved_vs_predicted", 0.0),
                  p.value("bound_term", std::string("-")).c_str());
    }
    if (!svg.empty()) std::printf("plot: %s\n", svg.c_str());
  }
  return plotted.empty() ? fail("no budget of the sweep ran") : 0;
}

}  // namespace strata::cli
