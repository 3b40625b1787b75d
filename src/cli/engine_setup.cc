// cli/engine_setup.cc: from flags and environment to EngineOptions (profile lookup policy lives here).
#include "cli/engine_setup.h"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "cli/cmd_profile.h"
#include "core/log.h"
#include "core/units.h"
#include "hw/measure.h"

namespace strata::cli {

namespace {

const char* env_or_null(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

// A cached profile for the model's folder, or for the host alone; none when nothing is cached.
std::optional<planner::HardwareProfile> cached_profile(const std::string& cache_dir, const std::string& model_dir) {
  if (cache_dir.empty()) return std::nullopt;
  for (const std::string& dir : {model_dir, std::string()}) {
    const std::string path = planner::profile_cache_path(cache_dir, planner::hardware_fingerprint(dir));
    if (!std::filesystem::exists(path)) continue;
    auto p = planner::read_profile_file(path);
    if (!p) continue;
    planner::refresh_memory_state(*p);
    return std::move(p).value();
  }
  return std::nullopt;
}

}  // namespace

Result<std::optional<planner::HardwareProfile>> find_profile(const std::string& model_path, const PlanFlags& f,
                                                            bool required) {
  using Found = std::optional<planner::HardwareProfile>;
  if (!f.profile.empty()) {
    auto p = planner::read_profile_file(f.profile);
    if (!p) return p.status().with_context("--profile");
    return Found(std::move(p).value());
  }
  std::error_code ec;
  const std::string model_dir = std::filesystem::absolute(model_path, ec).parent_path().string();
  const std::string cache_dir = profile_cache_dir_from_env();
  if (auto cached = cached_profile(cache_dir, model_dir)) return Found(std::move(cached));

  // No profile yet. On a machine without a GPU this build can use, a model that plainly fits in the memory
  // available loads resident without one; anything else (a GPU to plan for, a budget, a mode, or a model near
  // or over the memory) is measured first and cached. (Skipping it with a GPU present ran such models on the
  // CPU: measured on the H100, an 8B at 17 tok/s instead of 230.)
  if (!required && planner::listed_usable_gpus() == 0) {
    planner::HardwareProfile host;
    planner::refresh_memory_state(host);
    const uint64_t model_bytes = std::filesystem::file_size(model_path, ec);
    if (!ec && host.memory.available_bytes > 0 && model_bytes * 2 + (512ull << 20) < host.memory.available_bytes)
      return Found();
  }
  log(LogLevel::Warn, "strata: measuring this machine once (cached for later runs; `strata profile` shows it)");
  auto p = resolve_profile({.profile_file = "", .model_dir = model_dir, .cache_dir = cache_dir, .refresh = false});
  if (!p) {
    // The model's folder may be read-only (no scratch file): plan with the host alone; nothing can stream.
    log(LogLevel::Warn, "strata: {}; planning without storage figures", p.status().message());
    p = resolve_profile({.profile_file = "", .model_dir = "", .cache_dir = cache_dir, .refresh = false});
    if (!p) return p.status();
  }
  return Found(std::move(p).value());
}

Result<engine::EngineOptions> make_engine_options(const std::string& model_path, int threads, const PlanFlags& f) {
  engine::EngineOptions o;
  o.model_path = model_path;
  o.n_threads = threads;
  o.record_decode_steps = !f.no_graphs;
  o.gpu_expert_cache = !f.static_experts;
  STRATA_ASSIGN_OR_RETURN(o.budgets, budgets_from_flags(f.gpu_mem, f.ram, f.ctx, f.mode));
  if (const char* s = env_or_null("XDG_STATE_HOME")) o.xdg_state_home = s;
  if (const char* h = env_or_null("HOME")) o.home = h;
  const bool asked = o.budgets.ram_bytes || o.budgets.gpu_bytes || o.budgets.mode;
  STRATA_ASSIGN_OR_RETURN(o.profile, find_profile(model_path, f, asked));
  return o;
}

std::string describe_plan(const planner::Plan& plan) {
  std::string out = fmt::format("plan: {} | predicted decode {:.2f} tok/s, bound by {} ({})", planner::mode_name(plan.mode),
                                plan.decode.tokens_per_s, plan.decode.bound, plan.decode.formula);
  for (const auto& t : plan.decode.terms)
    out += fmt::format("\n  {:<20} {:>10} per token at {:>8.2f} GB/s = {:.2f} ms", t.resource,
                       format_bytes(static_cast<uint64_t>(t.bytes)), t.bytes_per_s / 1e9, t.seconds * 1e3);
  return out;
}

}  // namespace strata::cli
