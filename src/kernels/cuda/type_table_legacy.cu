// kernels/cuda/type_table_legacy.cu: the CUDA rows for the 32-element block types.
#include "kernels/cuda/type_row.cuh"

namespace strata::cuda {

namespace {
const TypeKernels kRows[] = {
    type_row<DecodeQ4_0>(DType::Q4_0),
    type_row<DecodeQ4_1>(DType::Q4_1),
    type_row<DecodeQ5_0>(DType::Q5_0),
    type_row<DecodeQ5_1>(DType::Q5_1),
    type_row<DecodeQ8_0>(DType::Q8_0),
    type_row<DecodeIQ4_NL>(DType::IQ4_NL),
    type_row<DecodeMXFP4>(DType::MXFP4),
};
}  // namespace

std::span<const TypeKernels> type_kernels_legacy() { return kRows; }

}  // namespace strata::cuda
