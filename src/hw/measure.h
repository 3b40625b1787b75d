// hw/measure.h: measuring the machine (`strata profile`) and caching the result per hardware fingerprint.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/progress.h"
#include "core/status.h"
#include "core/units.h"
#include "hw/hardware_profile.h"

namespace strata::planner {

struct ProfileRequest {
  // The folder whose storage is measured (the model's folder). Empty: storage is not measured.
  std::string storage_dir;
  // Scratch file written in storage_dir and removed afterwards; lowered when the disk is nearly full.
  uint64_t scratch_file_bytes = 1024 * kMiB;
  // Buffer for the memory-bandwidth loop; lowered to a quarter of available RAM.
  uint64_t memory_test_bytes = 1024 * kMiB;
  // Time spent on each bandwidth sample (every storage configuration, each transfer direction); the
  // storage warm-up takes 2.5 samples and the sustained-rate run 5.
  double seconds_per_sample = 0.4;
  bool measure_gpu = true;
  // Forces the unified-memory flag (machines whose GPU shares RAM but the runtime does not say so).
  std::optional<bool> unified_memory;
  ProgressFn progress;  // "profile": steps done of 4 (CPU, memory, GPU, storage)
  // Times the engine's own kernels on a GPU the measurement found (a layer above hw provides it); may be empty.
  std::function<Status(GpuInfo&)> measure_gpu_kernels;
};

// Measures everything the planner needs. Never needs root; about 5-15 s with the defaults.
Result<HardwareProfile> measure_hardware(const ProfileRequest& request);

// A short stable key for this machine and the storage device under storage_dir: CPU model and cores,
// RAM size, the NVIDIA devices the kernel lists, and the device id of the folder. Cheap (no measuring).
std::string hardware_fingerprint(const std::string& storage_dir);

// NVIDIA devices the kernel lists that this build could compute on (0 in a build without CUDA). Cheap: no
// CUDA initialisation. Whether a run without a profile must measure first (a GPU is worth planning for).
int listed_usable_gpus();

// "$XDG_CACHE_HOME/strata", else "$HOME/.cache/strata", else "" (no cache). The caller reads the
// environment and passes the values (nullptr when unset), so nothing below the CLI reads env vars.
std::string default_cache_dir(const char* xdg_cache_home, const char* home);
std::string profile_cache_path(const std::string& cache_dir, const std::string& fingerprint);

struct LoadedProfile {
  HardwareProfile profile;
  bool measured = false;   // false: read from the cache
  std::string cache_path;  // where it was read from or written to ("" when there is no cache dir)
};

// Reads cache_dir/profile-<fingerprint>.json when present (and refresh is false), else measures and writes
// it. RAM availability is volatile, so it is re-read on every load; bandwidths come from the cache.
Result<LoadedProfile> load_or_measure_profile(const ProfileRequest& request, const std::string& cache_dir,
                                              bool refresh);

// Re-reads the volatile memory figures (MemAvailable, the cgroup's room) into an existing profile.
void refresh_memory_state(HardwareProfile& profile);

}  // namespace strata::planner
