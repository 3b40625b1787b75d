// kernels/cuda/type_row.cuh: builds one TypeKernels row from a decoder (included by type_table_*.cu only).
#pragma once

#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/matvec.cuh"
#include "kernels/cuda/matvec_q8.cuh"
#include "kernels/cuda/to_f16.cuh"
#include "kernels/cuda/type_table.h"

namespace strata::cuda {

template <typename D>
void decode_chunk_on_host(const uint8_t* row, int64_t j, float out[32]) {
  D::chunk(row, j, out);
}

template <typename D>
constexpr TypeKernels type_row(DType type) {
  TypeKernels row{type, D::kBlockElems, D::kBlockBytes, &launch_matvec<D>, &launch_gemm<D>,
                  &launch_matvec_experts<D>, &launch_get_rows<D>, &decode_chunk_on_host<D>};
  row.to_f16 = &launch_to_f16<D>;
  if constexpr (requires(const uint8_t* r, uint32_t* q, float* f) { D::chunk_int(r, int64_t{0}, q, f, f); }) {
    row.matvec_q8 = &launch_matvec_q8<D>;
    row.matvec_q8_tc = &launch_matvec_q8_tc<D>;
    row.decode_chunk_int_on_host = &decode_chunk_int_on_host<D>;
  }
  return row;
}

}  // namespace strata::cuda
