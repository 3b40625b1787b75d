// hw/measure_internal.h: the separate measurements measure_hardware() composes (private to hw/).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "hw/hardware_profile.h"

namespace strata::planner::detail {

CpuInfo read_cpu_info();
// FMA-peak loop on every allowed thread for about `seconds`.
double measure_fma_gflops(int n_threads, double seconds);

// MemTotal, MemAvailable and the cgroup limit (v2 or v1) of this process; bandwidth left at zero.
MemoryInfo read_memory_info();
// Multi-threaded streaming read of a buffer of about `bytes`; best of several passes, in bytes/s.
double measure_memory_read_bandwidth(uint64_t bytes, int n_threads, double seconds);

// O_DIRECT sequential reads at several block sizes and queue depths, and 4 KiB random-read latency,
// on a scratch file in `dir` that is removed afterwards.
Result<StorageInfo> measure_storage(const std::string& dir, uint64_t scratch_bytes, double seconds_per_sample);

// Every CUDA device the runtime finds; `note` says why there are none (also in builds without CUDA).
std::vector<GpuInfo> measure_cuda_gpus(double seconds_per_sample, std::string& note);
// Device memory in use (total - free) and its total on device `device`; false without CUDA or the device.
bool gpu_memory_read(int device, uint64_t& used, uint64_t& total);
// Whether this build has the CUDA backend (measure_cuda.cc or measure_cuda_none.cc).
bool built_with_cuda();

// Lanes of f32 FMA per SM for a compute capability (for the throughput estimate).
int fp32_lanes_per_sm(int cc_major, int cc_minor);

}  // namespace strata::planner::detail
