// kernels/cuda/cuda_check.h: CUDA calls and launches checked with file and line; a failure is fatal.
// A CUDA error here is a broken device or a programming error (the launchers check their shapes first),
// never bad user input, so it aborts like STRATA_CHECK rather than returning a Status.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

namespace strata::cuda::detail {
[[noreturn]] inline void cuda_failed(cudaError_t err, const char* file, int line, const char* expr) {
  std::fprintf(stderr, "strata: CUDA error at %s:%d: %s: %s (%s)\n", file, line, expr, cudaGetErrorString(err),
               cudaGetErrorName(err));
  std::fflush(stderr);
  std::abort();
}
}  // namespace strata::cuda::detail

#define STRATA_CUDA_CHECK(expr)                                                                   \
  do {                                                                                            \
    const cudaError_t strata_cuda_err_ = (expr);                                                  \
    if (strata_cuda_err_ != cudaSuccess)                                                          \
      ::strata::cuda::detail::cuda_failed(strata_cuda_err_, __FILE__, __LINE__, #expr);           \
  } while (0)

// After every <<<>>> launch: catches bad configurations at once (asynchronous faults surface at the next
// synchronizing call, which is checked too).
#define STRATA_CUDA_CHECK_LAUNCH() STRATA_CUDA_CHECK(cudaGetLastError())
