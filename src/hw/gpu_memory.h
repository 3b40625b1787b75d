// hw/gpu_memory.h: measures a CUDA device's memory in use while a run goes on (the `--gpu-mem` promise is
// checked by measurement, not by adding up what the planner meant to allocate).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

namespace strata::hw {

// Samples (total - free) of one device every `interval_ms` on its own thread from construction to stop().
// The first sample, taken in the constructor, is the baseline: the CUDA context and anything other processes
// hold. peak_above_baseline() is then what this process allocated at most, the figure a budget bounds.
class GpuMemoryMonitor {
 public:
  // available() is false without a CUDA build or device; every figure is then 0.
  explicit GpuMemoryMonitor(int device = 0, int interval_ms = 5);
  ~GpuMemoryMonitor();
  GpuMemoryMonitor(const GpuMemoryMonitor&) = delete;
  GpuMemoryMonitor& operator=(const GpuMemoryMonitor&) = delete;

  bool available() const { return available_; }
  // Stops sampling (after one last sample); idempotent.
  void stop();
  uint64_t baseline_used() const { return baseline_; }
  uint64_t peak_used() const { return peak_.load(std::memory_order_relaxed); }
  uint64_t peak_above_baseline() const { return peak_used() > baseline_ ? peak_used() - baseline_ : 0; }
  uint64_t total() const { return total_; }
  int64_t samples() const { return samples_.load(std::memory_order_relaxed); }

 private:
  bool sample();  // one reading into peak_; false when the device cannot be read

  int device_ = 0;
  int interval_ms_ = 5;
  bool available_ = false;
  uint64_t baseline_ = 0, total_ = 0;
  std::atomic<uint64_t> peak_{0};
  std::atomic<int64_t> samples_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;  // the sampler; joined by stop()
};

}  // namespace strata::hw
