// kernels/cuda/to_f16.cuh: weight rows dequantized to F16 through the type's decoder (kernel, then the
// launcher template type_row.cuh instantiates per type): the operand of the prompt products' tensor-core GEMM.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/matvec.cuh"

namespace strata::cuda {

// One thread per 32-element chunk: decodes it and writes its 64 bytes as four 16-byte stores.
template <typename D>
__global__ void to_f16_kernel(const uint8_t* __restrict__ w, int64_t row_bytes, int64_t n_chunks, int64_t n,
                              uint4* __restrict__ out) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= n * n_chunks) return;
  const int64_t r = idx / n_chunks, j = idx % n_chunks;
  float v[32];
  D::chunk(w + r * row_bytes, j, v);
  uint4* o = out + idx * 4;
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    uint32_t h[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const __half2 p = __floats2half2_rn(v[8 * q + 2 * i], v[8 * q + 2 * i + 1]);
      h[i] = *reinterpret_cast<const uint32_t*>(&p);
    }
    o[q] = make_uint4(h[0], h[1], h[2], h[3]);
  }
}

// Rows [r0, r0 + n) of w [rows, k] into out [n, k] F16 (16-byte aligned).
template <typename D>
void launch_to_f16(const void* w, int64_t k, int64_t r0, int64_t n, uint16_t* out, cudaStream_t s) {
  const int64_t row_bytes = row_bytes_of<D>(k), total = n * (k / 32);
  if (total == 0) return;
  to_f16_kernel<D><<<static_cast<unsigned>((total + 255) / 256), 256, 0, s>>>(
      static_cast<const uint8_t*>(w) + r0 * row_bytes, row_bytes, k / 32, n, reinterpret_cast<uint4*>(out));
  STRATA_CUDA_CHECK_LAUNCH();
}

}  // namespace strata::cuda
