// kernels/cuda/matvec_q8.cuh: decode weight products through 8-bit activations (kernel, then the launcher
// template that type_row.cuh instantiates for each type with an integer form, chunk_int). x is quantized
// once per product (quantize_q8 in quantize_q8.cu: per 32 elements int8 values and {scale, each 16-half's
// sum}); each weight chunk's integers are dotted with x's by dp4a, four products an instruction, and x
// costs 48 bytes a chunk instead of 128. The float mat-vec (matvec.cuh) stays the reference twin.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/matvec.cuh"
#include "kernels/cuda/quant_decode.cuh"

namespace strata::cuda {

// The quantized activations of n_tok rows of k: int8 values [n_tok * k], then float4 {d, d * sum of the
// first 16 values, d * sum of the last 16, 0} per 32-element block. Both parts 16-byte aligned (k % 32 == 0).
struct Q8Acts {
  const int8_t* q;
  const float4* meta;
};
inline int64_t q8_bytes(int64_t k, int64_t n_tok) { return n_tok * k + n_tok * (k / 32) * 16; }
inline Q8Acts q8_view(const void* ws, int64_t k, int64_t n_tok) {
  const auto* base = static_cast<const int8_t*>(ws);
  return {base, reinterpret_cast<const float4*>(base + n_tok * k)};
}

STRATA_HD int dot4_i8(uint32_t a, uint32_t b, int c) {
#ifdef __CUDA_ARCH__
  return __dp4a(static_cast<int>(a), static_cast<int>(b), c);
#else
  for (int i = 0; i < 4; ++i) c += static_cast<int8_t>(a >> (8 * i)) * static_cast<int8_t>(b >> (8 * i));
  return c;
#endif
}

// grid and rows as matvec_kernel: a warp owns kMatvecRowsPerWarp rows, a lane one 32-element chunk of each.
template <typename D, int kTok>
__global__ void __launch_bounds__(kMatvecWarps * 32)
    matvec_q8_kernel(const uint8_t* __restrict__ w, int64_t row_bytes, int64_t n_chunks, const int8_t* __restrict__ xq,
                     const float4* __restrict__ xm, int64_t k, int64_t rows, const float* __restrict__ bias,
                     float* __restrict__ y) {
  constexpr int R = kMatvecRowsPerWarp;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t r0 = (static_cast<int64_t>(blockIdx.x) * kMatvecWarps + warp) * R;
  if (r0 >= rows) return;
  const uint8_t* wr[R];
#pragma unroll
  for (int i = 0; i < R; ++i) wr[i] = w + min(r0 + i, rows - 1) * row_bytes;  // a ragged last warp repeats a row
  float acc[R][kTok] = {};
  for (int64_t j = lane; j < n_chunks; j += 32) {
    uint32_t q[R][8];
    float a[R][2], m[R][2];
#pragma unroll
    for (int i = 0; i < R; ++i) D::chunk_int(wr[i], j, q[i], a[i], m[i]);  // R independent loads in flight
#pragma unroll
    for (int t = 0; t < kTok; ++t) {
      const int4* xp = reinterpret_cast<const int4*>(xq + t * k + j * 32);
      const int4 x0 = __ldg(xp), x1 = __ldg(xp + 1);
      const float4 xs = __ldg(xm + t * n_chunks + j);
#pragma unroll
      for (int i = 0; i < R; ++i) {
        int s0 = dot4_i8(q[i][0], x0.x, 0);
        s0 = dot4_i8(q[i][1], x0.y, s0);
        s0 = dot4_i8(q[i][2], x0.z, s0);
        s0 = dot4_i8(q[i][3], x0.w, s0);
        int s1 = dot4_i8(q[i][4], x1.x, 0);
        s1 = dot4_i8(q[i][5], x1.y, s1);
        s1 = dot4_i8(q[i][6], x1.z, s1);
        s1 = dot4_i8(q[i][7], x1.w, s1);
        acc[i][t] += xs.x * (a[i][0] * static_cast<float>(s0) + a[i][1] * static_cast<float>(s1)) +
                     m[i][0] * xs.y + m[i][1] * xs.z;
      }
    }
  }
#pragma unroll
  for (int i = 0; i < R; ++i)
#pragma unroll
    for (int t = 0; t < kTok; ++t) {
      float v = acc[i][t];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      if (lane == 0 && r0 + i < rows) y[t * rows + r0 + i] = v + (bias ? bias[r0 + i] : 0.0f);
    }
}

template <typename D, int kTok>
void launch_matvec_q8_n(const void* w, int64_t k, int64_t rows, const void* xq8, const float* bias, float* y,
                        cudaStream_t s) {
  const Q8Acts x = q8_view(xq8, k, kTok);
  const dim3 grid(static_cast<unsigned>((rows + kMatvecRowsPerBlock - 1) / kMatvecRowsPerBlock));
  matvec_q8_kernel<D, kTok><<<grid, kMatvecWarps * 32, 0, s>>>(static_cast<const uint8_t*>(w), row_bytes_of<D>(k),
                                                               k / 32, x.q, x.meta, k, rows, bias, y);
  STRATA_CUDA_CHECK_LAUNCH();
}

template <typename D>
void launch_matvec_q8(const void* w, int64_t k, int64_t rows, const void* xq8, int64_t n_tok, const float* bias,
                      float* y, cudaStream_t s) {
  switch (n_tok) {
    case 1: return launch_matvec_q8_n<D, 1>(w, k, rows, xq8, bias, y, s);
    case 2: return launch_matvec_q8_n<D, 2>(w, k, rows, xq8, bias, y, s);
    case 3: return launch_matvec_q8_n<D, 3>(w, k, rows, xq8, bias, y, s);
    case 4: return launch_matvec_q8_n<D, 4>(w, k, rows, xq8, bias, y, s);
    case 5: return launch_matvec_q8_n<D, 5>(w, k, rows, xq8, bias, y, s);
    case 6: return launch_matvec_q8_n<D, 6>(w, k, rows, xq8, bias, y, s);
    case 7: return launch_matvec_q8_n<D, 7>(w, k, rows, xq8, bias, y, s);
    case 8: return launch_matvec_q8_n<D, 8>(w, k, rows, xq8, bias, y, s);
    default: STRATA_CHECK_MSG(false, "matvec takes 1..8 tokens");
  }
}

// The chunk's integer form expanded back to floats on the host (the decode test checks it against chunk).
template <typename D>
void decode_chunk_int_on_host(const uint8_t* row, int64_t j, float out[32]) {
  uint32_t q[8];
  float a[2], m[2];
  D::chunk_int(row, j, q, a, m);
  for (int l = 0; l < 32; ++l)
    out[l] = a[l / 16] * static_cast<float>(static_cast<int8_t>(q[l / 4] >> (8 * (l % 4)))) + m[l / 16];
}

}  // namespace strata::cuda
