// kernels/cpu/backend_cpu.cc: the CPU backend: weight products through the CPU kernel table.
#include "kernels/backend.h"
#include "kernels/ops.h"

namespace strata::kernels {

void CpuBackend::matmul(const TensorView& w, const float* x, int64_t n_tok, float* y) {
  kernels::matmul(w, x, n_tok, y, pool_);
}

}  // namespace strata::kernels
