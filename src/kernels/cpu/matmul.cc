// kernels/cpu/matmul.cc: the CPU matmul entry (per-type fast kernels from the kernel table, else a generic path).
#include <algorithm>
#include <vector>

#include "kernels/cpu/type_kernels.h"
#include "kernels/cpu/ops_cpu.h"

namespace strata::kernels {

namespace {

// Generic path for any type: dequantize a row once, dot it with every token. Correct for all types;
// the fast kernels in the table replace it type by type.
void matmul_generic(const TensorView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool) {
  const int64_t k = w.ne[0];
  const int64_t rows = w.n_rows();
  const auto& traits = dtype_traits(w.type);
  pool.parallel_for(static_cast<size_t>(rows), 16, [&](size_t r0, size_t r1) {
    std::vector<float> buf(static_cast<size_t>(k));
    for (size_t r = r0; r < r1; ++r) {
      const float* row;
      if (w.type == DType::F32) {
        row = reinterpret_cast<const float*>(w.row(static_cast<int64_t>(r)));
      } else {
        traits.dequantize_row(w.row(static_cast<int64_t>(r)), buf.data(), k);
        row = buf.data();
      }
      for (int64_t t = 0; t < n_tok; ++t) {
        const float* xt = x + t * k;
        float acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        int64_t i = 0;
        for (; i + 4 <= k; i += 4) {
          acc0 += row[i] * xt[i];
          acc1 += row[i + 1] * xt[i + 1];
          acc2 += row[i + 2] * xt[i + 2];
          acc3 += row[i + 3] * xt[i + 3];
        }
        for (; i < k; ++i) acc0 += row[i] * xt[i];
        y[t * rows + static_cast<int64_t>(r)] = (acc0 + acc1) + (acc2 + acc3);
      }
    }
  });
}

// The table's kernels need whole blocks; a row length no kernel can take goes the generic way.
const CpuTypeKernels* table_kernels(const TensorView& w) {
  const CpuTypeKernels* k = find_cpu_kernels(w.type);
  return k != nullptr && w.ne[0] % dtype_traits(w.type).block_elems == 0 ? k : nullptr;
}

}  // namespace

void matmul(const TensorView& w, const float* x, int64_t n_tok, float* y, ThreadPool& pool) {
  if (const CpuTypeKernels* k = table_kernels(w)) {
    matmul_with(*k, best_cpu_isa(), w, x, n_tok, y, pool);
    return;
  }
  matmul_generic(w, x, n_tok, y, pool);
}

void matmul_many(std::span<const MatmulJob> jobs, ThreadPool& pool) {
  std::vector<CpuMatmul> fast;
  fast.reserve(jobs.size());
  for (const MatmulJob& j : jobs) {
    if (const CpuTypeKernels* k = table_kernels(j.w)) fast.push_back({k, j.w, j.x, j.n_tok, j.y});
    else matmul_generic(j.w, j.x, j.n_tok, j.y, pool);
  }
  if (!fast.empty()) matmul_many_with(fast, best_cpu_isa(), pool);
}

}  // namespace strata::kernels
