// tests/kernels/cuda/gpu_memory_test.cc: hw::GpuMemoryMonitor sees device allocations (GPU machine), and
// reports itself unavailable, with zero figures, where no GPU is visible.
#include <chrono>
#include <thread>

#include "hw/gpu_memory.h"
#include "tests/kernels/cuda/cuda_test_util.h"

namespace strata::cuda {
namespace {

TEST(GpuMemoryMonitor, WithoutGpuEveryFigureIsZero) {
  if (device_count() > 0) GTEST_SKIP() << "a GPU is visible: the no-GPU case is checked in CI";
  hw::GpuMemoryMonitor m;
  EXPECT_FALSE(m.available());
  m.stop();
  m.stop();
  EXPECT_EQ(m.peak_above_baseline(), 0u);
  EXPECT_EQ(m.samples(), 0);
}

TEST(GpuMemoryMonitor, SeesAnAllocationWhileItLives) {
  STRATA_REQUIRE_GPU();
  hw::GpuMemoryMonitor m(0, 1);
  ASSERT_TRUE(m.available());
  EXPECT_GT(m.total(), 0u);
  constexpr size_t kBytes = size_t{512} << 20;
  {
    DeviceBuffer b(kBytes);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  m.stop();
  EXPECT_GE(m.samples(), 10);
  EXPECT_GE(m.peak_above_baseline(), kBytes);
  EXPECT_LT(m.peak_above_baseline(), kBytes + (size_t{256} << 20));  // the allocation, not the whole device
}

}  // namespace
}  // namespace strata::cuda
