// hw/gpu_memory.cc: the sampler thread of GpuMemoryMonitor; the device reading itself is gpu_memory_read
// (CUDA runtime, or a stub without CUDA).
#include "hw/gpu_memory.h"

#include <chrono>

#include "hw/measure_internal.h"

namespace strata::hw {

GpuMemoryMonitor::GpuMemoryMonitor(int device, int interval_ms) : device_(device), interval_ms_(interval_ms) {
  uint64_t used = 0;
  if (!planner::detail::gpu_memory_read(device_, used, total_)) return;
  available_ = true;
  baseline_ = used;
  peak_.store(used);
  samples_.store(1);
  thread_ = std::thread([this] {
    while (!stop_.load(std::memory_order_relaxed)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms_));
      if (!sample()) break;
    }
  });
}

GpuMemoryMonitor::~GpuMemoryMonitor() { stop(); }

void GpuMemoryMonitor::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  thread_.join();
  sample();
}

bool GpuMemoryMonitor::sample() {
  uint64_t used = 0, total = 0;
  if (!planner::detail::gpu_memory_read(device_, used, total)) return false;
  uint64_t seen = peak_.load(std::memory_order_relaxed);
  while (used > seen && !peak_.compare_exchange_weak(seen, used, std::memory_order_relaxed)) {
  }
  samples_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace strata::hw
