// kernels/cuda/cublas_gemm.h: the prompt products' GEMM on the tensor cores through cuBLAS: F16 operands
// (weights dequantized by kernels/cuda/to_f16.cuh, activations rounded to F16), F32 accumulation and output.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace strata::cuda {

// Whether cuBLAS could be opened (this build saw its headers, and the library of their version loads).
bool have_cublas();

// Owns one cuBLAS handle bound to one stream, created on first use.
class CublasGemm {
 public:
  explicit CublasGemm(cudaStream_t stream);
  ~CublasGemm();
  CublasGemm(const CublasGemm&) = delete;
  CublasGemm& operator=(const CublasGemm&) = delete;
  // Whether the handle exists (created by the first call; false when cuBLAS is absent or cannot start).
  bool ok();

  // y[t, r] = sum_i x16[t, i] * w16[r, i] for t < n_tok, r < rows; y row t starts at y + t * ld_y.
  // w16: [rows, k] F16, x16: [n_tok, k] F16, y: F32. REQUIRES: ok().
  void run(const uint16_t* w16, int64_t rows, int64_t k, const uint16_t* x16, int64_t n_tok, float* y, int64_t ld_y);

 private:
  void* stream_ = nullptr;  // cudaStream_t
  bool tried_ = false;
  void* handle_ = nullptr;  // cublasHandle_t
};

}  // namespace strata::cuda
