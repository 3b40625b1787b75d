// kernels/cuda/matvec.cuh: decode weight products as fused dequantize-and-dot (kernels, then the launcher
// templates that type_table_*.cu instantiate once per type). Memory-bound: each weight byte is read once
// for up to 8 tokens; a warp owns two rows, each lane decoding 32-element chunks (16-byte loads where the
// block layout allows, one chunk per row in flight), x read through L1 and reused across the warp's rows.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/quant_decode.cuh"

namespace strata::cuda {

inline constexpr int kMatvecWarps = 4;
inline constexpr int kMatvecRowsPerWarp = 2;
inline constexpr int kMatvecRowsPerBlock = kMatvecWarps * kMatvecRowsPerWarp;

// ---- kernels -------------------------------------------------------------------------------------------

// grid: (ceil(rows / kMatvecRowsPerBlock), n_slots). Each warp owns kMatvecRowsPerWarp rows, so every x
// chunk a lane loads serves that many weight chunks (x traffic through L1 was the limit at one row a warp).
// Slot s (MoE) reads expert expert_ids[s] of a stacked weight and input s; plain products have one slot.
template <typename D, int kTok>
__global__ void __launch_bounds__(kMatvecWarps * 32)
    matvec_kernel(const uint8_t* __restrict__ w, int64_t row_bytes, int64_t n_chunks, const float* __restrict__ x,
                  int64_t k, int64_t rows, const float* __restrict__ bias, float* __restrict__ y,
                  const int32_t* __restrict__ expert_ids, int64_t n_expert, int64_t x_slot_stride) {
  constexpr int R = kMatvecRowsPerWarp;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t r0 = (static_cast<int64_t>(blockIdx.x) * kMatvecWarps + warp) * R;
  if (r0 >= rows) return;
  if (expert_ids != nullptr) {
    const int32_t e = expert_ids[blockIdx.y];
    if (e < 0 || e >= n_expert) {  // a bad id poisons its output instead of reading outside the weights
      if (lane < R && r0 + lane < rows) y[blockIdx.y * rows + r0 + lane] = __int_as_float(0x7fc00000);
      return;
    }
    w += static_cast<int64_t>(e) * rows * row_bytes;
    x += blockIdx.y * x_slot_stride;
    y += blockIdx.y * rows;
  }
  const uint8_t* wr[R];
#pragma unroll
  for (int i = 0; i < R; ++i) wr[i] = w + min(r0 + i, rows - 1) * row_bytes;  // a ragged last warp repeats a row
  float acc[R][kTok] = {};
  for (int64_t j = lane; j < n_chunks; j += 32) {
    float wv[R][32];
#pragma unroll
    for (int i = 0; i < R; ++i) D::chunk(wr[i], j, wv[i]);  // R independent loads in flight
#pragma unroll
    for (int t = 0; t < kTok; ++t) {
      const float4* xp = reinterpret_cast<const float4*>(x + t * k + j * 32);
#pragma unroll
      for (int q = 0; q < 8; ++q) {
        const float4 v = __ldg(xp + q);
        // Rounded as written (no contraction left to the compiler): a token's sum has the same bits at
        // every kTok, so a batched sequence decodes what it decodes alone.
#pragma unroll
        for (int i = 0; i < R; ++i) {
          float r = __fmaf_rn(wv[i][4 * q], v.x, acc[i][t]);
          r = __fmaf_rn(wv[i][4 * q + 1], v.y, r);
          r = __fmaf_rn(wv[i][4 * q + 2], v.z, r);
          acc[i][t] = __fmaf_rn(wv[i][4 * q + 3], v.w, r);
        }
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

// grid: n_ids; each block writes one dequantized row.
template <typename D>
__global__ void get_rows_kernel(const uint8_t* __restrict__ table, int64_t row_bytes, int64_t n_chunks,
                                int64_t n_rows, const int32_t* __restrict__ ids, float* __restrict__ out) {
  const int32_t id = ids[blockIdx.x];
  float* o = out + static_cast<int64_t>(blockIdx.x) * n_chunks * 32;
  for (int64_t j = threadIdx.x; j < n_chunks; j += blockDim.x) {
    float v[32];
    if (id >= 0 && id < n_rows) {
      D::chunk(table + id * row_bytes, j, v);
    } else {
#pragma unroll
      for (int i = 0; i < 32; ++i) v[i] = __int_as_float(0x7fc00000);
    }
    float4* op = reinterpret_cast<float4*>(o + j * 32);
#pragma unroll
    for (int i = 0; i < 8; ++i) op[i] = make_float4(v[4 * i], v[4 * i + 1], v[4 * i + 2], v[4 * i + 3]);
  }
}

// ---- launchers -----------------------------------------------------------------------------------------

template <typename D>
int64_t row_bytes_of(int64_t k) {
  return k / D::kBlockElems * D::kBlockBytes;
}

template <typename D, int kTok>
void launch_matvec_n(const void* w, int64_t k, int64_t rows, const float* x, const float* bias, float* y,
                     const int32_t* ids, int64_t n_expert, int64_t n_slots, int64_t x_slot_stride, cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>((rows + kMatvecRowsPerBlock - 1) / kMatvecRowsPerBlock),
                  static_cast<unsigned>(n_slots));
  matvec_kernel<D, kTok><<<grid, kMatvecWarps * 32, 0, s>>>(static_cast<const uint8_t*>(w), row_bytes_of<D>(k),
                                                            k / 32, x, k, rows, bias, y, ids, n_expert, x_slot_stride);
  STRATA_CUDA_CHECK_LAUNCH();
}

template <typename D>
void launch_matvec(const void* w, int64_t k, int64_t rows, const float* x, int64_t n_tok, const float* bias, float* y,
                   cudaStream_t s) {
  switch (n_tok) {  // the token count is a compile-time constant of the kernel (accumulators in registers)
    case 1: return launch_matvec_n<D, 1>(w, k, rows, x, bias, y, nullptr, 1, 1, 0, s);
    case 2: return launch_matvec_n<D, 2>(w, k, rows, x, bias, y, nullptr, 1, 1, 0, s);
    case 3: return launch_matvec_n<D, 3>(w, k, rows, x, bias, y, nullptr, 1, 1, 0, s);
    case 4: return launch_matvec_n<D, 4>(w, k, rows, x, bias, y, nullptr, 1, 1, 0, s);
    case 5: return launch_matvec_n<D, 5>(w, k, rows, x, bias, y, nullptr, 1, 1, 0, s);
    case 6: return launch_matvec_n<D, 6>(w, k, rows, x, bias, y, nullptr, 1, 1, 0, s);
    case 7: return launch_matvec_n<D, 7>(w, k, rows, x, bias, y, nullptr, 1, 1, 0, s);
    case 8: return launch_matvec_n<D, 8>(w, k, rows, x, bias, y, nullptr, 1, 1, 0, s);
    default: STRATA_CHECK_MSG(false, "matvec takes 1..8 tokens");
  }
}

template <typename D>
void launch_matvec_experts(const void* w, int64_t k, int64_t rows, int64_t n_expert, const int32_t* ids,
                           int64_t n_slots, const float* x, int64_t x_stride, float* y, cudaStream_t s) {
  launch_matvec_n<D, 1>(w, k, rows, x, nullptr, y, ids, n_expert, n_slots, x_stride, s);
}

template <typename D>
void launch_get_rows(const void* table, int64_t k, int64_t n_rows, const int32_t* ids, int64_t n_ids, float* out,
                     cudaStream_t s) {
  get_rows_kernel<D><<<static_cast<unsigned>(n_ids), 128, 0, s>>>(static_cast<const uint8_t*>(table),
                                                                  row_bytes_of<D>(k), k / 32, n_rows, ids, out);
  STRATA_CUDA_CHECK_LAUNCH();
}

}  // namespace strata::cuda
