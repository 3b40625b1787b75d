// tests/kernels/cuda/cuda_test_util.h: helpers for the CUDA kernel tests: the skip when no GPU is present,
// device copies of host vectors, random data and the normwise error.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device.h"

namespace strata::cuda::testing {

// Every GPU test starts with this: without a GPU (this machine, CI) the test is skipped with a reason.
#define STRATA_REQUIRE_GPU()                                                                      \
  do {                                                                                            \
    if (::strata::cuda::device_count() == 0)                                                      \
      GTEST_SKIP() << "no CUDA GPU visible: GPU kernel test skipped (tools/gpu_test.sh runs it)"; \
  } while (0)

inline uint32_t fresh_seed() { return std::random_device{}(); }

inline std::vector<float> gaussian(size_t n, std::mt19937& rng, float sigma = 1.0f) {
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

template <typename T>
DeviceBuffer to_device(const std::vector<T>& v) {
  DeviceBuffer b(v.size() * sizeof(T));
  if (!v.empty()) STRATA_CUDA_CHECK(cudaMemcpy(b.data(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return b;
}

template <typename T>
std::vector<T> to_host(const DeviceBuffer& b, size_t n) {
  STRATA_CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<T> v(n);
  if (n > 0) STRATA_CUDA_CHECK(cudaMemcpy(v.data(), b.data(), n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

// A device buffer of n floats filled with NaN, so an element the kernel fails to write shows.
inline DeviceBuffer poisoned_floats(size_t n) {
  DeviceBuffer b(n * sizeof(float));
  STRATA_CUDA_CHECK(cudaMemset(b.data(), 0xff, n * sizeof(float)));
  return b;
}

// ||got - want|| / ||want||; NaN anywhere gives infinity.
inline double rel_error(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace strata::cuda::testing
