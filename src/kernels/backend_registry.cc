// kernels/backend_registry.cc: the backends compiled into this build, one row each. A backend joins by
// adding its row here (its file exports the row; the CUDA one is built only where nvcc is).
#include <memory>

#include "kernels/backend.h"
#include "kernels/cpu/backend_cpu.h"

namespace strata::kernels {

#if defined(STRATA_HAVE_CUDA)
extern const BackendKind kCudaBackendKind;  // kernels/cuda/backend_cuda.cc
#endif

namespace {

const BackendKind kCpuBackendKind{
    "cpu", DeviceKind::Cpu, [] { return 1; },
    [](int index, const BackendOptions& o) -> std::unique_ptr<Backend> {
      return std::make_unique<CpuBackend>(o.n_threads, index);
    }};

// Pointers, not copies: the CUDA row is another file's constant, whose initialisation order is unknown here.
const BackendKind* const kBackends[] = {
    &kCpuBackendKind,
#if defined(STRATA_HAVE_CUDA)
    &kCudaBackendKind,
#endif
};

}  // namespace

std::span<const BackendKind* const> registered_backends() { return kBackends; }

const BackendKind* find_backend(DeviceKind kind) {
  for (const BackendKind* b : kBackends)
    if (b->kind == kind) return b;
  return nullptr;
}

}  // namespace strata::kernels
