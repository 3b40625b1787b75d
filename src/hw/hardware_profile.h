// hw/hardware_profile.h: what the machine offers (CPU, RAM, GPUs, storage) as a plain, serialisable struct.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"

namespace strata::planner {

inline constexpr int kProfileFormatVersion = 2;

struct CpuInfo {
  std::string model;
  int n_logical = 0;           // hardware threads this process may run on (affinity mask)
  int n_physical = 0;          // distinct cores
  std::vector<std::string> isa;  // the features that matter to kernels: avx2, fma, avx512f, asimd, ... (hw/cpu_features.h)
  double fma_gflops = 0;       // measured peak f32 multiply-add rate, all threads
};

struct MemoryInfo {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;                 // MemAvailable, lowered to the cgroup's room if smaller
  std::optional<uint64_t> cgroup_limit_bytes;   // absent when no memory limit applies
  double read_bytes_per_s = 0;                  // multi-threaded streaming read
  int read_threads = 0;
};

struct GpuInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int n_sm = 0;
  bool integrated = false;       // shares host memory (unified)
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  double device_read_bytes_per_s = 0;  // device memory, measured (copy bytes read + written / time)
  double h2d_pinned_bytes_per_s = 0;
  double h2d_pageable_bytes_per_s = 0;
  double d2h_pinned_bytes_per_s = 0;
  double d2h_pageable_bytes_per_s = 0;
  double fp32_tflops_estimate = 0;     // from SM count, lanes per SM and clock; not measured
  // strata's own kernels, timed (0: not measured, e.g. a build without the GPU backend): the decode mat-vec's
  // weight bytes per second and the prompt GEMM's FLOP per second (cli/gpu_kernel_profile.h).
  double matvec_bytes_per_s = 0;
  double gemm_flops_per_s = 0;
  // What a product costs beyond its bytes (a small one is latency-bound), and a layer's other ops (norms,
  // RoPE and KV store, attention at 512 positions, residual adds, GLU) for one token and for a 512-token
  // prompt, seconds (0: not measured).
  double product_fixed_seconds = 0;
  double layer_ops_seconds = 0;
  double layer_ops_prompt_seconds = 0;  // for kLayerOpsPromptTokens tokens
};
inline constexpr int kLayerOpsPromptTokens = 512;

// One sequential O_DIRECT read configuration and what it achieved.
struct ReadSample {
  uint64_t block_bytes = 0;
  int queue_depth = 0;
  double bytes_per_s = 0;
};

struct StorageInfo {
  std::string path;            // the folder measured (the model's folder)
  std::string device;          // block device or filesystem source from mountinfo
  std::string filesystem;
  bool direct_io = true;       // false when the filesystem refused O_DIRECT (tmpfs): figures are buffered
  std::string reader;          // the reader that measured it ("io_uring" or "pread"), as the streamer will read
  std::vector<ReadSample> sequential;  // measured after a warm-up that drains any burst allowance
  // The fastest configuration held for several seconds: what streaming gigabytes per token will see
  // (cloud disks serve a short burst far above their sustained rate).
  double sustained_bytes_per_s = 0;
  double random_read_latency_us = 0;  // 4 KiB O_DIRECT reads at random offsets, queue depth 1, mean
  // The sustained rate when measured, else the best sample.
  double best_bytes_per_s() const;
  // The configuration with the best bandwidth (block size and queue depth the streamer should use).
  ReadSample best_sample() const;
};

struct HardwareProfile {
  int format_version = kProfileFormatVersion;
  std::string fingerprint;
  std::string measured_at;     // ISO-8601 UTC
  double measure_seconds = 0;
  CpuInfo cpu;
  MemoryInfo memory;
  std::vector<GpuInfo> gpus;
  std::string gpu_note;        // why there is no GPU ("no CUDA GPU: ..."), empty when one was found
  std::optional<StorageInfo> storage;
  // GPU and CPU draw on one memory pool (Apple silicon, Jetson, Grace Hopper): no PCIe copies, one budget.
  bool unified_memory = false;
  // On unified machines the GPU may address at most this much of the pool (0: all of it).
  uint64_t unified_gpu_limit_bytes = 0;

  bool has_gpu() const { return !gpus.empty(); }
};

void to_json(nlohmann::json& j, const HardwareProfile& p);
// Reads a profile written by to_json (or by hand, for `--profile FILE`); unknown keys are ignored and
// missing ones keep their defaults, but a wrongly typed value is an error naming the key.
Result<HardwareProfile> profile_from_json(const nlohmann::json& j);
Result<HardwareProfile> read_profile_file(const std::string& path);
Status write_profile_file(const std::string& path, const HardwareProfile& p);

}  // namespace strata::planner
