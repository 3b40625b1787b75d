// hw/measure_cuda.cc: CUDA devices: memory, device bandwidth, pinned/pageable PCIe copies (CUDA builds only).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "core/units.h"
#include "hw/measure_internal.h"

namespace strata::planner::detail {

namespace {

// Every runtime call is checked; the first failure becomes the GPU's note and the device is skipped.
#define STRATA_CUDA_TRY(call)                                                                  \
  do {                                                                                         \
    cudaError_t e_ = (call);                                                                   \
    if (e_ != cudaSuccess) return error("{} failed: {}", #call, cudaGetErrorString(e_));       \
  } while (0)

// Device allocations and events released on every path.
struct DeviceBuffer {
  void* p = nullptr;
  ~DeviceBuffer() {
    if (p) cudaFree(p);
  }
};
struct PinnedBuffer {
  void* p = nullptr;
  ~PinnedBuffer() {
    if (p) cudaFreeHost(p);
  }
};
struct EventPair {
  cudaEvent_t start = nullptr, stop = nullptr;
  ~EventPair() {
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
  }
};

// Times cudaMemcpy(dst, src, bytes) repeatedly for about `seconds`; best rate in bytes/s.
Result<double> time_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, double seconds,
                         double bytes_factor) {
  EventPair ev;
  STRATA_CUDA_TRY(cudaEventCreate(&ev.start));
  STRATA_CUDA_TRY(cudaEventCreate(&ev.stop));
  STRATA_CUDA_TRY(cudaMemcpy(dst, src, bytes, kind));  // warm-up: page-ins, lazy mappings
  double best = 0, spent = 0;
  for (int rep = 0; rep < 100 && (rep < 3 || spent < seconds); ++rep) {
    STRATA_CUDA_TRY(cudaEventRecord(ev.start));
    STRATA_CUDA_TRY(cudaMemcpy(dst, src, bytes, kind));
    STRATA_CUDA_TRY(cudaEventRecord(ev.stop));
    STRATA_CUDA_TRY(cudaEventSynchronize(ev.stop));
    float ms = 0;
    STRATA_CUDA_TRY(cudaEventElapsedTime(&ms, ev.start, ev.stop));
    if (ms > 0) best = std::max(best, bytes_factor * static_cast<double>(bytes) / (ms * 1e-3));
    spent += ms * 1e-3;
  }
  return best;
}

Status measure_device(int dev, double seconds, GpuInfo& g) {
  STRATA_CUDA_TRY(cudaSetDevice(dev));
  cudaDeviceProp prop;
  STRATA_CUDA_TRY(cudaGetDeviceProperties(&prop, dev));
  g.index = dev;
  g.name = prop.name;
  g.cc_major = prop.major;
  g.cc_minor = prop.minor;
  g.n_sm = prop.multiProcessorCount;
  g.integrated = prop.integrated != 0;
  int clock_khz = 0;
  STRATA_CUDA_TRY(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, dev));
  g.fp32_tflops_estimate = 2.0 * g.n_sm * fp32_lanes_per_sm(g.cc_major, g.cc_minor) * clock_khz * 1e3 / 1e12;
  size_t free_b = 0, total_b = 0;
  STRATA_CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
  g.total_bytes = total_b;
  g.free_bytes = free_b;

  // Device bandwidth: a device-to-device copy reads and writes each byte (factor 2), as bandwidth tests count it.
  const size_t dev_bytes = std::min<size_t>(256 * kMiB, free_b / 8) / kMiB * kMiB;
  if (dev_bytes >= 16 * kMiB) {
    DeviceBuffer a, b;
    STRATA_CUDA_TRY(cudaMalloc(&a.p, dev_bytes));
    STRATA_CUDA_TRY(cudaMalloc(&b.p, dev_bytes));
    STRATA_CUDA_TRY(cudaMemset(a.p, 1, dev_bytes));
    STRATA_ASSIGN_OR_RETURN(g.device_read_bytes_per_s,
                            time_copy(b.p, a.p, dev_bytes, cudaMemcpyDeviceToDevice, seconds, 2.0));
  }

  // Host links: the same size both ways, from page-locked and from ordinary (pageable) memory.
  // Large transfers, like the tensors the planner copies: pageable copies of small buffers run faster.
  const size_t host_bytes = std::min<size_t>(256 * kMiB, free_b / 8) / kMiB * kMiB;
  if (host_bytes >= 4 * kMiB) {
    DeviceBuffer d;
    PinnedBuffer pinned;
    STRATA_CUDA_TRY(cudaMalloc(&d.p, host_bytes));
    STRATA_CUDA_TRY(cudaMallocHost(&pinned.p, host_bytes));
    std::vector<uint8_t> pageable(host_bytes, 1);
    std::memset(pinned.p, 1, host_bytes);
    const double t = seconds / 2;
    STRATA_ASSIGN_OR_RETURN(g.h2d_pinned_bytes_per_s, time_copy(d.p, pinned.p, host_bytes, cudaMemcpyHostToDevice, t, 1));
    STRATA_ASSIGN_OR_RETURN(g.h2d_pageable_bytes_per_s,
                            time_copy(d.p, pageable.data(), host_bytes, cudaMemcpyHostToDevice, t, 1));
    STRATA_ASSIGN_OR_RETURN(g.d2h_pinned_bytes_per_s, time_copy(pinned.p, d.p, host_bytes, cudaMemcpyDeviceToHost, t, 1));
    STRATA_ASSIGN_OR_RETURN(g.d2h_pageable_bytes_per_s,
                            time_copy(pageable.data(), d.p, host_bytes, cudaMemcpyDeviceToHost, t, 1));
  }
  return Status::ok();
}

}  // namespace

std::vector<GpuInfo> measure_cuda_gpus(double seconds_per_sample, std::string& note) {
  std::vector<GpuInfo> gpus;
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    note = fmt::format("no CUDA GPU: {}", cudaGetErrorString(e));
    return gpus;
  }
  if (n == 0) {
    note = "no CUDA GPU: the runtime found no device";
    return gpus;
  }
  std::vector<std::string> problems;
  for (int dev = 0; dev < n; ++dev) {
    GpuInfo g;
    Status s = measure_device(dev, seconds_per_sample, g);
    if (!s) {
      problems.push_back(fmt::format("GPU {} skipped: {}", dev, s.message()));
      continue;
    }
    gpus.push_back(std::move(g));
  }
  if (!problems.empty()) note = fmt::format("{}", fmt::join(problems, "; "));
  return gpus;
}

bool built_with_cuda() { return true; }

// cudaSetDevice makes the device current on the calling thread (the monitor's own thread included).
bool gpu_memory_read(int device, uint64_t& used, uint64_t& total) {
  used = total = 0;
  size_t free_b = 0, total_b = 0;
  if (cudaSetDevice(device) != cudaSuccess || cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
    cudaGetLastError();  // clears the sticky-free error state so later calls see their own results
    return false;
  }
  used = total_b - free_b;
  total = total_b;
  return true;
}

}  // namespace strata::planner::detail
