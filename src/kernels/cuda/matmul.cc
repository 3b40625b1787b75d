// kernels/cuda/matmul.cc: the weight-product entry points of launchers.h: shape checks, then the type's row.
#include <array>

#include "core/check.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/type_table.h"

namespace strata::cuda {

const TypeKernels* find_type_kernels(DType type) {
  for (auto fragment : {type_kernels_float(), type_kernels_legacy(), type_kernels_k()})
    for (const TypeKernels& row : fragment)
      if (row.type == type) return &row;
  return nullptr;
}

bool supports_weight_type(DType type) { return find_type_kernels(type) != nullptr; }

namespace {

const TypeKernels& row_for(DType type, int64_t k) {
  const TypeKernels* row = find_type_kernels(type);
  STRATA_CHECK_MSG(row != nullptr, "no CUDA kernel for this weight type (check supports_weight_type first)");
  STRATA_CHECK_MSG(k > 0 && k % 32 == 0 && k % row->block_elems == 0, "row length must be a multiple of 32 and the block");
  return *row;
}

void check_product(const void* w, int64_t rows, const float* x, int64_t n_tok, float* y) {
  STRATA_CHECK(w != nullptr && x != nullptr && y != nullptr);
  STRATA_CHECK(rows > 0 && n_tok > 0);
}

}  // namespace

void matvec(DType type, const void* w, int64_t k, int64_t rows, const float* x, int64_t n_tok, const float* bias,
            float* y, cudaStream_t stream) {
  const TypeKernels& row = row_for(type, k);
  check_product(w, rows, x, n_tok, y);
  STRATA_CHECK_MSG(n_tok <= kMatvecMaxTokens, "matvec takes at most kMatvecMaxTokens tokens");
  row.matvec(w, k, rows, x, n_tok, bias, y, stream);
}

bool has_matvec_q8(DType type) {
  const TypeKernels* row = find_type_kernels(type);
  return row != nullptr && row->matvec_q8 != nullptr;
}

void matvec_q8(DType type, const void* w, int64_t k, int64_t rows, const void* xq8, int64_t n_tok, const float* bias,
               float* y, cudaStream_t stream, Q8Kernel kernel) {
  const TypeKernels& row = row_for(type, k);
  STRATA_CHECK_MSG(row.matvec_q8 != nullptr, "no 8-bit-activation mat-vec for this type (check has_matvec_q8)");
  STRATA_CHECK(w != nullptr && xq8 != nullptr && y != nullptr && rows > 0 && n_tok > 0);
  STRATA_CHECK_MSG(n_tok <= kMatvecMaxTokens, "matvec takes at most kMatvecMaxTokens tokens");
  const bool tc = kernel == Q8Kernel::TensorCores || (kernel == Q8Kernel::Auto && kBatchOnTensorCores && n_tok > 1);
  (tc ? row.matvec_q8_tc : row.matvec_q8)(w, k, rows, xq8, n_tok, bias, y, stream);
}

void gemm(DType type, const void* w, int64_t k, int64_t rows, const float* x, int64_t n_tok, const float* bias,
          float* y, cudaStream_t stream) {
  const TypeKernels& row = row_for(type, k);
  check_product(w, rows, x, n_tok, y);
  STRATA_CHECK_MSG(n_tok <= 65535LL * 64 && rows <= 65535LL * 64 * 1024, "GEMM grid too large");
  row.gemm(w, k, rows, x, n_tok, bias, y, stream);
}

void matmul(DType type, const void* w, int64_t k, int64_t rows, const float* x, int64_t n_tok, const float* bias,
            float* y, cudaStream_t stream) {
  if (n_tok <= kMatvecMaxTokens)
    matvec(type, w, k, rows, x, n_tok, bias, y, stream);
  else
    gemm(type, w, k, rows, x, n_tok, bias, y, stream);
}

void matvec_experts(DType type, const void* w, int64_t k, int64_t rows, int64_t n_expert, const int32_t* expert_ids,
                    int64_t n_slots, const float* x, int64_t x_stride, float* y, cudaStream_t stream) {
  const TypeKernels& row = row_for(type, k);
  check_product(w, rows, x, n_slots, y);
  STRATA_CHECK(expert_ids != nullptr && n_expert > 0 && n_slots <= 65535 && x_stride >= 0 && x_stride % 4 == 0);
  row.matvec_experts(w, k, rows, n_expert, expert_ids, n_slots, x, x_stride, y, stream);
}

void get_rows(DType type, const void* table, int64_t k, int64_t n_rows, const int32_t* ids, int64_t n_ids, float* out,
              cudaStream_t stream) {
  const TypeKernels& row = row_for(type, k);
  STRATA_CHECK(table != nullptr && ids != nullptr && out != nullptr && n_rows > 0);
  if (n_ids == 0) return;
  STRATA_CHECK(n_ids > 0 && n_ids <= 0x7fffffff);
  row.get_rows(table, k, n_rows, ids, n_ids, out, stream);
}

void weight_to_f16(DType type, const void* w, int64_t k, int64_t r0, int64_t n, uint16_t* out, cudaStream_t stream) {
  const TypeKernels& row = row_for(type, k);
  STRATA_CHECK(w != nullptr && out != nullptr && r0 >= 0 && n >= 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0);
  STRATA_CHECK_MSG(n * (k / 32) <= 0x7fffffffLL * 256, "dequantization grid too large");
  row.to_f16(w, k, r0, n, out, stream);
}

}  // namespace strata::cuda
