// hw/measure_cuda_none.cc: the GPU measurement in builds without CUDA: reports why there is none.
#include "hw/measure_internal.h"

namespace strata::planner::detail {

std::vector<GpuInfo> measure_cuda_gpus(double /*seconds_per_sample*/, std::string& note) {
  note = "no CUDA GPU: this build has no CUDA support (configure with the CUDA toolkit installed)";
  return {};
}

bool built_with_cuda() { return false; }

bool gpu_memory_read(int /*device*/, uint64_t& used, uint64_t& total) {
  used = total = 0;
  return false;
}

}  // namespace strata::planner::detail
