// hw/measure.cc: composes the measurements into a HardwareProfile; the fingerprint and the profile cache.
#include "hw/measure.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>

#include "core/log.h"
#include "hw/measure_internal.h"

namespace strata::planner {

namespace detail {

int fp32_lanes_per_sm(int major, int minor) {
  if (major == 6) return minor == 0 ? 64 : 128;
  if (major == 7) return 64;
  if (major == 8) return minor == 0 ? 64 : 128;
  if (major >= 9) return 128;
  return 64;
}

}  // namespace detail

namespace {

std::string utc_now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// The kernel's list of NVIDIA devices (no CUDA initialisation, so this stays cheap), sorted.
std::vector<std::string> listed_nvidia_devices() {
  std::error_code ec;
  std::vector<std::string> gpus;
  for (const auto& e : std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", ec))
    gpus.push_back(e.path().filename().string());
  std::sort(gpus.begin(), gpus.end());
  return gpus;
}

}  // namespace

int listed_usable_gpus() {
  if (!detail::built_with_cuda()) return 0;
  // Some containers show the device nodes (/dev/nvidia0, ...) but not the driver's /proc listing.
  int nodes = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev", ec)) {
    const std::string name = e.path().filename().string();
    nodes += name.size() > 6 && name.starts_with("nvidia") &&
             std::all_of(name.begin() + 6, name.end(), [](char c) { return c >= '0' && c <= '9'; });
  }
  return std::max(static_cast<int>(listed_nvidia_devices().size()), nodes);
}

std::string hardware_fingerprint(const std::string& storage_dir) {
  const CpuInfo cpu = detail::read_cpu_info();
  const MemoryInfo mem = detail::read_memory_info();
  std::string key = fmt::format("cpu={}|threads={}|ram_gib={}", cpu.model, cpu.n_logical,
                                (mem.total_bytes + kGiB / 2) / kGiB);
  for (const auto& g : listed_nvidia_devices()) key += "|gpu=" + g;
  struct stat st;
  if (!storage_dir.empty() && ::stat(storage_dir.c_str(), &st) == 0)
    key += fmt::format("|dev={}:{}", major(st.st_dev), minor(st.st_dev));
  return fmt::format("{:016x}", fnv1a(key));
}

std::string default_cache_dir(const char* xdg_cache_home, const char* home) {
  // XDG: a relative XDG_CACHE_HOME is invalid and must be ignored.
  if (xdg_cache_home && xdg_cache_home[0] == '/') return std::string(xdg_cache_home) + "/strata";
  if (home && home[0] != '\0') return std::string(home) + "/.cache/strata";
  return "";
}

std::string profile_cache_path(const std::string& cache_dir, const std::string& fingerprint) {
  return cache_dir + "/profile-" + fingerprint + ".json";
}

void refresh_memory_state(HardwareProfile& profile) {
  const MemoryInfo now = detail::read_memory_info();
  profile.memory.total_bytes = now.total_bytes;
  profile.memory.available_bytes = now.available_bytes;
  profile.memory.cgroup_limit_bytes = now.cgroup_limit_bytes;
}

Result<HardwareProfile> measure_hardware(const ProfileRequest& req) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!req.storage_dir.empty()) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(req.storage_dir, ec);
    if (!exists) return error("cannot measure storage of '{}': no such directory", req.storage_dir);
    if (!std::filesystem::is_directory(req.storage_dir, ec))
      return error("cannot measure storage of '{}': not a directory", req.storage_dir);
  }
  HardwareProfile p;
  p.measured_at = utc_now_iso();
  p.fingerprint = hardware_fingerprint(req.storage_dir);
  p.cpu = detail::read_cpu_info();
  p.memory = detail::read_memory_info();
  const int threads = std::max(1, p.cpu.n_logical);
  auto step = [&](uint64_t done, std::string_view what) {
    report(req.progress, items_progress("profile", what, done, 4, done == 4));
  };
  step(0, "cpu");
  log(LogLevel::Info, "profile: cpu {} ({} threads); measuring f32 FMA rate", p.cpu.model, threads);
  p.cpu.fma_gflops = detail::measure_fma_gflops(threads, req.seconds_per_sample);
  const uint64_t mem_bytes =
      std::max<uint64_t>(32 * kMiB, std::min<uint64_t>(req.memory_test_bytes, p.memory.available_bytes / 4));
  step(1, "memory");
  log(LogLevel::Info, "profile: measuring memory read bandwidth over {}", format_bytes(mem_bytes));
  p.memory.read_threads = threads;
  p.memory.read_bytes_per_s = detail::measure_memory_read_bandwidth(mem_bytes, threads, 4 * req.seconds_per_sample);
  step(2, "gpu");
  if (req.measure_gpu) {
    log(LogLevel::Info, "profile: looking for CUDA GPUs");
    p.gpus = detail::measure_cuda_gpus(req.seconds_per_sample, p.gpu_note);
    if (req.measure_gpu_kernels)
      for (GpuInfo& g : p.gpus)
        if (Status st = req.measure_gpu_kernels(g); !st)
          log(LogLevel::Warn, "profile: GPU {} kernels not timed: {}", g.index, st.message());
  } else {
    p.gpu_note = "GPU not measured (disabled by request)";
  }
  p.unified_memory = !p.gpus.empty() && p.gpus[0].integrated;
  if (req.unified_memory) p.unified_memory = *req.unified_memory;
  step(3, "storage");
  if (!req.storage_dir.empty()) {
    log(LogLevel::Info, "profile: measuring storage under {}", req.storage_dir);
    auto storage = detail::measure_storage(req.storage_dir, req.scratch_file_bytes, req.seconds_per_sample);
    if (!storage) return storage.status().with_context("strata profile");
    p.storage = std::move(storage).value();
  }
  p.measure_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  step(4, "done");
  return p;
}

Result<LoadedProfile> load_or_measure_profile(const ProfileRequest& req, const std::string& cache_dir, bool refresh) {
  LoadedProfile out;
  const std::string fingerprint = hardware_fingerprint(req.storage_dir);
  if (!cache_dir.empty()) out.cache_path = profile_cache_path(cache_dir, fingerprint);
  if (!refresh && !out.cache_path.empty() && std::filesystem::exists(out.cache_path)) {
    auto cached = read_profile_file(out.cache_path);
    if (cached && cached->fingerprint == fingerprint && cached->format_version == kProfileFormatVersion) {
      out.profile = std::move(cached).value();
      if (req.unified_memory) out.profile.unified_memory = *req.unified_memory;
      refresh_memory_state(out.profile);
      return out;
    }
    // A stale or damaged cache is not an error: measure again and overwrite it.
    log(LogLevel::Warn, "profile cache '{}' unusable ({}); measuring again", out.cache_path,
        cached ? "fingerprint or format changed" : cached.status().message());
  }
  STRATA_ASSIGN_OR_RETURN(out.profile, measure_hardware(req));
  out.measured = true;
  if (!out.cache_path.empty()) {
    Status s = write_profile_file(out.cache_path, out.profile);
    if (!s) log(LogLevel::Warn, "could not cache the profile: {}", s.message());
  }
  return out;
}

}  // namespace strata::planner
