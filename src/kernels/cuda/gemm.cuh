// kernels/cuda/gemm.cuh: prompt weight products on the tensor cores (kernels, then the launcher template
// that type_table_*.cu instantiates per type). A 64-row x 64-token block tile; each 64-wide k step decodes
// its weight tile through the type's decoder into F16 in shared memory, converts the activations to F16
// beside it, and four warps multiply with wmma 16x16x16 (F16 in, F32 accumulate). Portable to sm_80+;
// no Hopper-only instructions (wgmma would be the next step).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/quant_decode.cuh"

namespace strata::cuda {

inline constexpr int kGemmTileRows = 64, kGemmTileTok = 64, kGemmTileK = 64, kGemmPad = 8;

// ---- kernels -------------------------------------------------------------------------------------------

template <typename D>
__global__ void __launch_bounds__(128)
    gemm_kernel(const uint8_t* __restrict__ w, int64_t row_bytes, int64_t k, int64_t rows, const float* __restrict__ x,
                int64_t n_tok, const float* __restrict__ bias, float* __restrict__ y) {
  namespace wmma = nvcuda::wmma;
  constexpr int kLd = kGemmTileK + kGemmPad;  // halves; rows stay 32-byte aligned for wmma loads
  constexpr int kLdC = kGemmTileRows + 4;
  __shared__ __align__(32) half ws[kGemmTileRows][kLd];
  __shared__ __align__(32) half xs[kGemmTileTok][kLd];
  __shared__ __align__(32) float cs[kGemmTileTok][kLdC];

  const int tid = threadIdx.x, warp = tid / 32;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kGemmTileRows;
  const int64_t tok0 = static_cast<int64_t>(blockIdx.y) * kGemmTileTok;
  const int wr = (warp / 2) * 32, wc = (warp % 2) * 32;  // this warp's 32x32 piece of the tile

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  // Thread tid fills row tid / 2 of both tiles, 32 elements (one decoder chunk) at column 32 * (tid % 2).
  const int fill_row = tid / 2, fill_col = 32 * (tid % 2);
  const int64_t w_row = row0 + fill_row, x_tok = tok0 + fill_row;
  for (int64_t kt = 0; kt < k; kt += kGemmTileK) {
    float v[32];
    const bool in_k = kt + fill_col < k;  // k need only be a multiple of 32
    if (w_row < rows && in_k) {
      D::chunk(w + w_row * row_bytes, (kt + fill_col) / 32, v);
    } else {
#pragma unroll
      for (int i = 0; i < 32; ++i) v[i] = 0.0f;
    }
#pragma unroll
    for (int i = 0; i < 32; i += 2) *reinterpret_cast<half2*>(&ws[fill_row][fill_col + i]) = __floats2half2_rn(v[i], v[i + 1]);
    if (x_tok < n_tok && in_k) {
      const float4* xp = reinterpret_cast<const float4*>(x + x_tok * k + kt + fill_col);
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const float4 f = __ldg(xp + i);
        *reinterpret_cast<half2*>(&xs[fill_row][fill_col + 4 * i]) = __floats2half2_rn(f.x, f.y);
        *reinterpret_cast<half2*>(&xs[fill_row][fill_col + 4 * i + 2]) = __floats2half2_rn(f.z, f.w);
      }
    } else {
#pragma unroll
      for (int i = 0; i < 32; i += 2) *reinterpret_cast<half2*>(&xs[fill_row][fill_col + i]) = __floats2half2_rn(0.f, 0.f);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kGemmTileK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::col_major> b[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], &ws[wr + 16 * i][kk], kLd);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], &xs[wc + 16 * j][kk], kLd);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
  // C is [row, tok]; y is [tok, row]: store C column-major into cs[tok][row], then write rows coalesced.
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(&cs[wc + 16 * j][wr + 16 * i], acc[i][j], kLdC, wmma::mem_col_major);
  __syncthreads();
  for (int idx = tid; idx < kGemmTileRows * kGemmTileTok; idx += blockDim.x) {
    const int t = idx / kGemmTileRows, r = idx % kGemmTileRows;
    if (tok0 + t < n_tok && row0 + r < rows)
      y[(tok0 + t) * rows + row0 + r] = cs[t][r] + (bias ? bias[row0 + r] : 0.0f);
  }
}

// ---- launcher ------------------------------------------------------------------------------------------

template <typename D>
void launch_gemm(const void* w, int64_t k, int64_t rows, const float* x, int64_t n_tok, const float* bias, float* y,
                 cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>((rows + kGemmTileRows - 1) / kGemmTileRows),
                  static_cast<unsigned>((n_tok + kGemmTileTok - 1) / kGemmTileTok));
  gemm_kernel<D><<<grid, 128, 0, s>>>(static_cast<const uint8_t*>(w), k / D::kBlockElems * D::kBlockBytes, k, rows, x,
                                     n_tok, bias, y);
  STRATA_CUDA_CHECK_LAUNCH();
}

}  // namespace strata::cuda
