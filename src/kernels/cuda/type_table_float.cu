// kernels/cuda/type_table_float.cu: the CUDA rows for the float weight types.
#include "kernels/cuda/type_row.cuh"

namespace strata::cuda {

namespace {
const TypeKernels kRows[] = {
    type_row<DecodeF32>(DType::F32),
    type_row<DecodeF16>(DType::F16),
    type_row<DecodeBF16>(DType::BF16),
};
}  // namespace

std::span<const TypeKernels> type_kernels_float() { return kRows; }

}  // namespace strata::cuda
