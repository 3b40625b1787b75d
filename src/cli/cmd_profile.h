// cli/cmd_profile.h: `strata profile` options, and the profile lookup every planning command shares.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"
#include "hw/hardware_profile.h"
#include "planner/plan.h"

namespace strata::cli {

struct ProfileOptions {
  bool json = false;
  bool refresh = false;     // --refresh: measure again even when a cached profile exists
  std::string dir = ".";    // --dir PATH: the model's folder, whose storage is measured
  std::string cache_dir;    // where profiles are cached; profile_cache_dir_from_env() by default
  std::optional<bool> unified_memory;  // --unified / --discrete: override what the runtime reports
  bool quiet = false;                  // --quiet: no progress on stderr
};

// Measures (or reads the cached profile), prints it as text or JSON; returns the process exit code.
int run_profile_command(const ProfileOptions& options);

// "$XDG_CACHE_HOME/strata" or "$HOME/.cache/strata": the one place the environment is read.
std::string profile_cache_dir_from_env();

// Where commands that plan a model (run, logits, bench, serve, inspect --plan) get their profile:
// `--profile FILE` when given, else the cache for the model's folder, measuring on first use.
struct ProfileSource {
  std::string profile_file;  // --profile FILE
  std::string model_dir;     // the folder holding the model (storage measured there)
  std::string cache_dir;
  bool refresh = false;
};
Result<planner::HardwareProfile> resolve_profile(const ProfileSource& source);

std::string format_profile_text(const planner::HardwareProfile& profile);

// The planning flags every command that loads a model takes (--gpu-mem, --ram, --ctx, --mode), parsed
// once: sizes like "512M", "8G"; an empty string or 0 leaves the planner's default.
Result<planner::Budgets> budgets_from_flags(const std::string& gpu_mem, const std::string& ram, int64_t ctx,
                                            const std::string& mode);

}  // namespace strata::cli
