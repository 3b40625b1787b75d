// kernels/cuda/type_table.h: the CUDA column of the type table: one row of launchers per weight type.
// Each type_table_*.cu file instantiates the kernel templates for its types and exports its fragment.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <span>

#include "tensor/dtype_id.h"

namespace strata::cuda {

struct TypeKernels {
  DType type;
  int block_elems;
  int block_bytes;
  void (*matvec)(const void* w, int64_t k, int64_t rows, const float* x, int64_t n_tok, const float* bias, float* y,
                 cudaStream_t s);
  void (*gemm)(const void* w, int64_t k, int64_t rows, const float* x, int64_t n_tok, const float* bias, float* y,
               cudaStream_t s);
  void (*matvec_experts)(const void* w, int64_t k, int64_t rows, int64_t n_expert, const int32_t* ids,
                         int64_t n_slots, const float* x, int64_t x_stride, float* y, cudaStream_t s);
  void (*get_rows)(const void* table, int64_t k, int64_t n_rows, const int32_t* ids, int64_t n_ids, float* out,
                   cudaStream_t s);
  // The device decoder compiled for the host: chunk j (32 elements) of a host row. Tests check it against
  // the codecs without a GPU.
  void (*decode_chunk_on_host)(const uint8_t* row, int64_t j, float out[32]);
  // The 8-bit-activation mat-vec (matvec_q8.cuh) and the chunk's integer form expanded on the host; null for
  // a type without an integer form (chunk_int), which keeps the float mat-vec.
  void (*matvec_q8)(const void* w, int64_t k, int64_t rows, const void* xq8, int64_t n_tok, const float* bias,
                    float* y, cudaStream_t s) = nullptr;
  // The same product on the integer tensor cores (1-8 tokens); set wherever matvec_q8 is.
  void (*matvec_q8_tc)(const void* w, int64_t k, int64_t rows, const void* xq8, int64_t n_tok, const float* bias,
                       float* y, cudaStream_t s) = nullptr;
  void (*decode_chunk_int_on_host)(const uint8_t* row, int64_t j, float out[32]) = nullptr;
  // Rows [r0, r0 + n) of w dequantized to F16 [n, k] (the operand of the prompt products' cuBLAS GEMM).
  void (*to_f16)(const void* w, int64_t k, int64_t r0, int64_t n, uint16_t* out, cudaStream_t s) = nullptr;
};

std::span<const TypeKernels> type_kernels_float();   // type_table_float.cu: F32, F16, BF16
std::span<const TypeKernels> type_kernels_legacy();  // type_table_legacy.cu: Q4_0..Q8_0, IQ4_NL, MXFP4
std::span<const TypeKernels> type_kernels_k();       // type_table_k.cu: Q2_K..Q6_K, IQ4_XS

// The row for `type`, or nullptr when no CUDA kernel decodes it.
const TypeKernels* find_type_kernels(DType type);

}  // namespace strata::cuda
