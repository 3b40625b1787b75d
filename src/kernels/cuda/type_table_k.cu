// kernels/cuda/type_table_k.cu: the CUDA rows for the 256-element super-block types.
#include "kernels/cuda/type_row.cuh"

namespace strata::cuda {

namespace {
const TypeKernels kRows[] = {
    type_row<DecodeQ2_K>(DType::Q2_K),
    type_row<DecodeQ3_K>(DType::Q3_K),
    type_row<DecodeQ4_K>(DType::Q4_K),
    type_row<DecodeQ5_K>(DType::Q5_K),
    type_row<DecodeQ6_K>(DType::Q6_K),
    type_row<DecodeIQ4_XS>(DType::IQ4_XS),
};
}  // namespace

std::span<const TypeKernels> type_kernels_k() { return kRows; }

}  // namespace strata::cuda
