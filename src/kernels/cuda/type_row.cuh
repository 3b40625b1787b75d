// kernels/cuda/type_row.cuh: builds one TypeKernels row from a decoder (included by type_table_*.cu only).
#pragma once

#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/matvec.cuh"
#include "kernels/cuda/type_table.h"

namespace strata::cuda {

template <typename D>
void decode_chunk_on_host(const uint8_t* row, int64_t j, float out[32]) {
  D::chunk(row, j, out);
}

template <typename D>
constexpr TypeKernels type_row(DType type) {
  return TypeKernels{type, D::kBlockElems, D::kBlockBytes, &launch_matvec<D>, &launch_gemm<D>,
                     &launch_matvec_experts<D>, &launch_get_rows<D>, &decode_chunk_on_host<D>};
}

}  // namespace strata::cuda
