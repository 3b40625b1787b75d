// kernels/cuda/matvec_q8.cuh: decode weight products through 8-bit activations (kernel, then the launcher
// template that type_row.cuh instantiates for each type with an integer form, chunk_int). x is quantized
// once per product (quantize_q8 in quantize_q8.cu: per 32 elements int8 values and {scale, each 16-half's
// sum}); each weight chunk's integers are dotted with x's by dp4a, four products an instruction, and x
// costs 48 bytes a chunk instead of 128. The float mat-vec (matvec.cuh) stays the reference twin.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

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

// acc[i][t] += chunk j of row i (its integer form: q, and per 16-half the scale a and offset m) dotted with
// token t's 8-bit chunk j, by dp4a: the inner step both mat-vec kernels below share.
template <int R, int kTok>
__device__ __forceinline__ void dot_chunk_q8(const uint32_t (&q)[R][8], const float (&a)[R][2], const float (&m)[R][2],
                                             const int8_t* __restrict__ xq, const float4* __restrict__ xm, int64_t k,
                                             int64_t n_chunks, int64_t j, float (&acc)[R][kTok]) {
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
      // Rounded as written (no contraction left to the compiler), so that a token's sum has the same bits in
      // every instantiation (R, U, kTok, staged or not): a batched sequence decodes what it decodes alone.
      const float p = __fmaf_rn(a[i][1], static_cast<float>(s1), __fmul_rn(a[i][0], static_cast<float>(s0)));
      float r = __fmaf_rn(xs.x, p, acc[i][t]);
      r = __fmaf_rn(m[i][0], xs.y, r);
      acc[i][t] = __fmaf_rn(m[i][1], xs.z, r);
    }
  }
}

// Each lane's partial sums reduced across the warp; lane 0 writes the R rows of every token (+ bias).
template <int R, int kTok>
__device__ __forceinline__ void store_rows_q8(const float (&acc)[R][kTok], int lane, int64_t r0, int64_t rows,
                                              const float* __restrict__ bias, float* __restrict__ y) {
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

// grid: ceil(rows / (kMatvecWarps * R)) blocks; a warp owns R rows, and each lane has U chunks of each row in
// flight per step (R * U independent weight loads: memory-level parallelism is what a mat-vec at batch 1
// lives on). The x chunk a lane loads serves all R rows.
template <typename D, int kTok, int R = kMatvecRowsPerWarp, int U = 1>
__global__ void __launch_bounds__(kMatvecWarps * 32)
    matvec_q8_kernel(const uint8_t* __restrict__ w, int64_t row_bytes, int64_t n_chunks, const int8_t* __restrict__ xq,
                     const float4* __restrict__ xm, int64_t k, int64_t rows, const float* __restrict__ bias,
                     float* __restrict__ y) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t r0 = (static_cast<int64_t>(blockIdx.x) * kMatvecWarps + warp) * R;
  if (r0 >= rows) return;
  const uint8_t* wr[R];
#pragma unroll
  for (int i = 0; i < R; ++i) wr[i] = w + min(r0 + i, rows - 1) * row_bytes;  // a ragged last warp repeats a row
  float acc[R][kTok] = {};
  for (int64_t j0 = lane; j0 < n_chunks; j0 += 32 * U) {
    uint32_t q[U][R][8];
    float a[U][R][2], m[U][R][2];
#pragma unroll
    for (int u = 0; u < U; ++u)
      if (j0 + 32 * u < n_chunks)
#pragma unroll
        for (int i = 0; i < R; ++i) D::chunk_int(wr[i], j0 + 32 * u, q[u][i], a[u][i], m[u][i]);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t j = j0 + 32 * u;
      if (j >= n_chunks) break;
      dot_chunk_q8<R, kTok>(q[u], a[u], m[u], xq, xm, k, n_chunks, j, acc);
    }
  }
  store_rows_q8<R, kTok>(acc, lane, r0, rows, bias, y);
}

// One launch of the kernel above with R rows a warp and U chunks a lane in flight.
template <typename D, int kTok, int R, int U>
void launch_matvec_q8_shape(const void* w, int64_t k, int64_t rows, const void* xq8, const float* bias, float* y,
                            cudaStream_t s) {
  const Q8Acts x = q8_view(xq8, k, kTok);
  const dim3 grid(static_cast<unsigned>((rows + kMatvecWarps * R - 1) / (kMatvecWarps * R)));
  matvec_q8_kernel<D, kTok, R, U><<<grid, kMatvecWarps * 32, 0, s>>>(static_cast<const uint8_t*>(w),
                                                                    row_bytes_of<D>(k), k / 32, x.q, x.meta, k, rows,
                                                                    bias, y);
  STRATA_CUDA_CHECK_LAUNCH();
}

// The same product with the weights staged through shared memory: per step a warp copies the bytes of 32 * U
// chunks of each of its R rows with aligned 16-byte loads (all R * U of them in flight), then each lane decodes
// its chunks from shared memory. Blocks of 18, 34, 110 or 210 bytes are only 2-byte aligned, and their decoders
// would otherwise read global memory two bytes at a time. Bytes outside [w_lo, w_hi) are never read.
template <typename D>
STRATA_HD constexpr int staged_slot_bytes(int U) {
  const int seg = 32 * U / (D::kBlockElems / 32) * D::kBlockBytes;
  return (seg + 15) / 16 * 16 + 16;  // the segment plus its misalignment, whole 16-byte words
}

template <typename D, int kTok, int R, int U>
__global__ void __launch_bounds__(kMatvecWarps * 32)
    matvec_q8_staged_kernel(const uint8_t* __restrict__ w, int64_t row_bytes, int64_t n_chunks,
                            const int8_t* __restrict__ xq, const float4* __restrict__ xm, int64_t k, int64_t rows,
                            const float* __restrict__ bias, float* __restrict__ y) {
  constexpr int kChunksPerBlock = D::kBlockElems / 32;
  constexpr int kStep = 32 * U;  // chunks of a row per step
  static_assert(kStep % kChunksPerBlock == 0);
  constexpr int kSlot = staged_slot_bytes<D>(U);
  extern __shared__ uint4 staged_smem[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t r0 = (static_cast<int64_t>(blockIdx.x) * kMatvecWarps + warp) * R;
  if (r0 >= rows) return;
  const uint8_t* const w_lo = w;
  const uint8_t* const w_hi = w + rows * row_bytes;
  uint8_t* const mine = reinterpret_cast<uint8_t*>(staged_smem) + warp * R * kSlot;
  const uint8_t* wr[R];
#pragma unroll
  for (int i = 0; i < R; ++i) wr[i] = w + min(r0 + i, rows - 1) * row_bytes;  // a ragged last warp repeats a row
  float acc[R][kTok] = {};
  for (int64_t c0 = 0; c0 < n_chunks; c0 += kStep) {
    const int64_t seg = min(static_cast<int64_t>(kStep), n_chunks - c0) / kChunksPerBlock * D::kBlockBytes;
    int skew[R];
    constexpr int kWords = kSlot / 16;
    uint4 v[R][(kWords + 31) / 32];
#pragma unroll
    for (int i = 0; i < R; ++i) {
      const uint8_t* start = wr[i] + c0 / kChunksPerBlock * D::kBlockBytes;
      const uint8_t* a = reinterpret_cast<const uint8_t*>(reinterpret_cast<uintptr_t>(start) & ~uintptr_t{15});
      skew[i] = static_cast<int>(start - a);
      const int words = static_cast<int>((skew[i] + seg + 15) / 16);
#pragma unroll
      for (int n = 0; n < (kWords + 31) / 32; ++n) {
        const int word = lane + 32 * n;
        const uint8_t* p = a + 16 * word;
        if (word >= words) continue;
        if (p >= w_lo && p + 16 <= w_hi) {
          v[i][n] = __ldg(reinterpret_cast<const uint4*>(p));
        } else {  // the tensor's first or last bytes: byte by byte, inside it only
          uint8_t b[16];
#pragma unroll
          for (int e = 0; e < 16; ++e) b[e] = p + e >= w_lo && p + e < w_hi ? p[e] : 0;
          v[i][n] = make_uint4(b[0] | b[1] << 8 | b[2] << 16 | uint32_t(b[3]) << 24,
                               b[4] | b[5] << 8 | b[6] << 16 | uint32_t(b[7]) << 24,
                               b[8] | b[9] << 8 | b[10] << 16 | uint32_t(b[11]) << 24,
                               b[12] | b[13] << 8 | b[14] << 16 | uint32_t(b[15]) << 24);
        }
      }
    }
    __syncwarp();  // the previous step's reads of the slots are done
#pragma unroll
    for (int i = 0; i < R; ++i) {
      const int words = static_cast<int>((skew[i] + seg + 15) / 16);
#pragma unroll
      for (int n = 0; n < (kWords + 31) / 32; ++n)
        if (lane + 32 * n < words) reinterpret_cast<uint4*>(mine + i * kSlot)[lane + 32 * n] = v[i][n];
    }
    __syncwarp();
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t jl = lane + 32 * u, j = c0 + jl;
      if (j >= n_chunks) break;
      uint32_t q[R][8];
      float a[R][2], m[R][2];
#pragma unroll
      for (int i = 0; i < R; ++i) D::chunk_int(mine + i * kSlot + skew[i], jl, q[i], a[i], m[i]);
      dot_chunk_q8<R, kTok>(q, a, m, xq, xm, k, n_chunks, j, acc);
    }
  }
  store_rows_q8<R, kTok>(acc, lane, r0, rows, bias, y);
}

template <typename D, int kTok, int R, int U>
void launch_matvec_q8_staged(const void* w, int64_t k, int64_t rows, const void* xq8, const float* bias, float* y,
                             cudaStream_t s) {
  const Q8Acts x = q8_view(xq8, k, kTok);
  const dim3 grid(static_cast<unsigned>((rows + kMatvecWarps * R - 1) / (kMatvecWarps * R)));
  constexpr int kSmem = kMatvecWarps * R * staged_slot_bytes<D>(U);
  static_assert(kSmem <= 48 * 1024, "more than the default shared memory of a block");
  matvec_q8_staged_kernel<D, kTok, R, U><<<grid, kMatvecWarps * 32, kSmem, s>>>(
      static_cast<const uint8_t*>(w), row_bytes_of<D>(k), k / 32, x.q, x.meta, k, rows, bias, y);
  STRATA_CUDA_CHECK_LAUNCH();
}

// Whether a type's decoder asks for staged loads on large products too (heavy decoders of 2-byte-aligned blocks).
template <typename D>
constexpr bool stage_large() {
  if constexpr (requires { D::kStageLarge; }) return D::kStageLarge;
  return false;
}

// One token's product in the shape measured fastest for its size on an H100 (bench/cuda_matvec_variants.cu;
// docs/performance.md has the table). Small products (k and v) are latency-bound: staged, a warp per row, 4
// chunks a lane in flight. Long rows (k >= 8192) of 16-byte-aligned blocks likewise. Mid-sized ones: a warp
// per row; the widest: two.
template <typename D>
void launch_matvec_q8_one(const void* w, int64_t k, int64_t rows, const void* xq8, const float* bias, float* y,
                          cudaStream_t s) {
  if (rows <= 2048) return launch_matvec_q8_staged<D, 1, 1, 4>(w, k, rows, xq8, bias, y, s);
  if constexpr (stage_large<D>()) {
    if (k >= 8192) return launch_matvec_q8_staged<D, 1, 2, 4>(w, k, rows, xq8, bias, y, s);
    return launch_matvec_q8_staged<D, 1, 2, 2>(w, k, rows, xq8, bias, y, s);
  }
  if (D::kBlockBytes % 16 == 0 && k >= 8192) return launch_matvec_q8_staged<D, 1, 1, 4>(w, k, rows, xq8, bias, y, s);
  if (rows <= 8192) return launch_matvec_q8_shape<D, 1, 1, 1>(w, k, rows, xq8, bias, y, s);
  launch_matvec_q8_shape<D, 1, 2, 1>(w, k, rows, xq8, bias, y, s);
}

// ---- On the integer tensor cores (Q8Kernel::TensorCores, 1-8 tokens) --------------------------------------
// Written for batched decode: with dp4a every token multiplies every weight again and reloads its x chunk through L1
// (the batch-8 Q4_K products took 1.9-2.3x a one-token one on the H100). It passes its parity cases on the H100 but is
// slower than dp4a (the per-lane decode into the tile dominates), so batches stay on dp4a (kBatchOnTensorCores,
// launchers.h). Here a warp owns 16 rows: each lane decodes whole chunks (chunk_int, as the one-token kernels) into a
// shared-memory tile, and mma.sync m16n8k16 (s8) multiplies 16 rows by 8 tokens for each 16-element half, whose scale
// it then applies in float. A token's x bytes are read once per 16 rows.
// The W warps of a block split the chunks of the same 16 rows and add their partial sums at the end.

// d[0..3] = A (16 x 16, rows g and g + 8 of lane 4g + t hold bytes t*4.. in a0, a1) times B (16 x 8, lane's b:
// k bytes t*4.. of token g); d[0], d[1]: row g, tokens 2t, 2t + 1; d[2], d[3]: row g + 8.
__device__ __forceinline__ void mma_s8_16x8x16(uint32_t a0, uint32_t a1, uint32_t b, int (&d)[4]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%7,%7,%7};"
               : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
               : "r"(a0), "r"(a1), "r"(b), "r"(0));
#else
  __trap();  // STRATA_CUDA_ARCHS builds sm_80 and newer only: never reached
#endif
}

inline constexpr int kMmaRows = 16;

// A row of the tile: kCh chunks of 32 integers plus 16 bytes, so the 8 rows g of a fragment read start 4 words
// apart modulo 32 banks (20 or 36 words a row) and the four lanes t of a row the next words: no bank conflicts.
template <int kCh>
inline constexpr int kMmaTileRowBytes = kCh * 32 + 16;

// grid: ceil(rows / 16) blocks of W warps. Per step a warp decodes kCh = 2U chunks of its 16 rows (lane l: row
// l % 16, chunks l / 16 + 2u, all U in flight), then runs 2 kCh mma over them.
template <typename D, int kTok, int W, int U>
__global__ void __launch_bounds__(W * 32)
    matvec_q8_mma_kernel(const uint8_t* __restrict__ w, int64_t row_bytes, int64_t n_chunks,
                         const int8_t* __restrict__ xq, const float4* __restrict__ xm, int64_t k, int64_t rows,
                         const float* __restrict__ bias, float* __restrict__ y) {
  static_assert(kTok >= 1 && kTok <= 8);
  constexpr int kCh = 2 * U, kRow = kMmaTileRowBytes<kCh>;
  __shared__ __align__(16) uint8_t tile_q[W][kMmaRows * kRow];
  __shared__ float4 tile_s[W][kMmaRows][kCh];  // {a0, a1, m0, m1} of each row's chunk
  __shared__ float partial[W][kMmaRows][8];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;  // the fragment's row group and column pair
  const int my_row = lane % kMmaRows, my_c = lane / kMmaRows;
  const int64_t r0 = static_cast<int64_t>(blockIdx.x) * kMmaRows;
  const uint8_t* wr = w + min(r0 + my_row, rows - 1) * row_bytes;  // a ragged last block repeats a row
  uint8_t* const tq = tile_q[warp];
  const int tok0 = 2 * t, tok1 = 2 * t + 1;
  float acc[4] = {};  // (row g, tok0), (g, tok1), (g + 8, tok0), (g + 8, tok1)
  for (int64_t j0 = static_cast<int64_t>(warp) * kCh; j0 < n_chunks; j0 += static_cast<int64_t>(W) * kCh) {
    uint32_t q[U][8];
    float a[U][2], m[U][2];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t j = j0 + my_c + 2 * u;
      if (j < n_chunks) {
        D::chunk_int(wr, j, q[u], a[u], m[u]);
      } else {
#pragma unroll
        for (int i = 0; i < 8; ++i) q[u][i] = 0;
        a[u][0] = a[u][1] = m[u][0] = m[u][1] = 0.0f;
      }
    }
    __syncwarp();  // the previous step's fragment reads of the tile are done
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int cc = my_c + 2 * u;
      uint4* dst = reinterpret_cast<uint4*>(tq + my_row * kRow + cc * 32);
      dst[0] = make_uint4(q[u][0], q[u][1], q[u][2], q[u][3]);
      dst[1] = make_uint4(q[u][4], q[u][5], q[u][6], q[u][7]);
      tile_s[warp][my_row][cc] = make_float4(a[u][0], a[u][1], m[u][0], m[u][1]);
    }
    __syncwarp();
#pragma unroll
    for (int cc = 0; cc < kCh; ++cc) {
      const int64_t j = j0 + cc;
      if (j >= n_chunks) break;  // the same for every lane
      const float4 x0 = tok0 < kTok ? __ldg(xm + tok0 * n_chunks + j) : make_float4(0, 0, 0, 0);
      const float4 x1 = tok1 < kTok ? __ldg(xm + tok1 * n_chunks + j) : make_float4(0, 0, 0, 0);
      const float4 s_lo = tile_s[warp][g][cc], s_hi = tile_s[warp][g + 8][cc];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int col = cc * 32 + h * 16 + t * 4;
        const uint32_t a0 = *reinterpret_cast<const uint32_t*>(tq + g * kRow + col);
        const uint32_t a1 = *reinterpret_cast<const uint32_t*>(tq + (g + 8) * kRow + col);
        const uint32_t b =
            g < kTok ? __ldg(reinterpret_cast<const uint32_t*>(xq + g * k + j * 32 + h * 16 + t * 4)) : 0u;
        int d[4];
        mma_s8_16x8x16(a0, a1, b, d);
        const float lo = h == 0 ? s_lo.x : s_lo.y, hi = h == 0 ? s_hi.x : s_hi.y;
        acc[0] += x0.x * lo * static_cast<float>(d[0]);
        acc[1] += x1.x * lo * static_cast<float>(d[1]);
        acc[2] += x0.x * hi * static_cast<float>(d[2]);
        acc[3] += x1.x * hi * static_cast<float>(d[3]);
      }
      acc[0] += s_lo.z * x0.y + s_lo.w * x0.z;  // the halves' offsets times x's half sums
      acc[1] += s_lo.z * x1.y + s_lo.w * x1.z;
      acc[2] += s_hi.z * x0.y + s_hi.w * x0.z;
      acc[3] += s_hi.z * x1.y + s_hi.w * x1.z;
    }
  }
  partial[warp][g][tok0] = acc[0];
  partial[warp][g][tok1] = acc[1];
  partial[warp][g + 8][tok0] = acc[2];
  partial[warp][g + 8][tok1] = acc[3];
  __syncthreads();
  for (int i = threadIdx.x; i < kMmaRows * kTok; i += W * 32) {
    const int row = i % kMmaRows, tok = i / kMmaRows;
    if (r0 + row >= rows) continue;
    float v = 0.0f;
#pragma unroll
    for (int p = 0; p < W; ++p) v += partial[p][row][tok];
    y[tok * rows + r0 + row] = v + (bias ? bias[r0 + row] : 0.0f);
  }
}

template <typename D, int kTok, int W = 8, int U = 2>
  requires(W * kMmaRows * (kMmaTileRowBytes<2 * U> + 2 * U * 16 + 8 * 4) <= 48 * 1024)  // static shared memory
void launch_matvec_q8_mma(const void* w, int64_t k, int64_t rows, const void* xq8, const float* bias, float* y,
                          cudaStream_t s) {
  const Q8Acts x = q8_view(xq8, k, kTok);
  const dim3 grid(static_cast<unsigned>((rows + kMmaRows - 1) / kMmaRows));
  matvec_q8_mma_kernel<D, kTok, W, U><<<grid, W * 32, 0, s>>>(static_cast<const uint8_t*>(w), row_bytes_of<D>(k),
                                                             k / 32, x.q, x.meta, k, rows, bias, y);
  STRATA_CUDA_CHECK_LAUNCH();
}

// 2-8 tokens (a batched decode step): weights staged through shared memory, 4 rows a warp where rows are
// many, 2 where few. Wider row groups load each token's x chunk once for more rows; measured on the H100
// (bench/cuda_matvec_variants.cu, 8 tokens, Q4_K; docs/performance.md): ffn_down 4096x14336 38.3 us against
// 63.5 for the former 2 rows unstaged, attn_k 1024x4096 8.8 against 13.8; the 8B's 8 sequences 602.7 tok/s
// against 564.2.
template <typename D, int kTok>
void launch_matvec_q8_n(const void* w, int64_t k, int64_t rows, const void* xq8, const float* bias, float* y,
                        cudaStream_t s) {
  if (rows > 2048) return launch_matvec_q8_staged<D, kTok, 4, 2>(w, k, rows, xq8, bias, y, s);
  launch_matvec_q8_staged<D, kTok, 2, 2>(w, k, rows, xq8, bias, y, s);
}

// fn(std::integral_constant<int, n_tok>{}) for n_tok in 1..8 (kMatvecMaxTokens): the kernels take the token
// count as a template argument, so each count is its own instantiation.
template <int kTok = 1, typename Fn>
void with_token_count(int64_t n_tok, Fn&& fn) {
  if constexpr (kTok > 8) {
    STRATA_CHECK_MSG(false, "matvec takes 1..8 tokens");
  } else if (n_tok == kTok) {
    fn(std::integral_constant<int, kTok>{});
  } else {
    with_token_count<kTok + 1>(n_tok, fn);
  }
}

template <typename D>
void launch_matvec_q8_tc(const void* w, int64_t k, int64_t rows, const void* xq8, int64_t n_tok, const float* bias,
                         float* y, cudaStream_t s) {
  with_token_count(n_tok, [&](auto tok) { launch_matvec_q8_mma<D, decltype(tok)::value>(w, k, rows, xq8, bias, y, s); });
}

template <typename D>
void launch_matvec_q8(const void* w, int64_t k, int64_t rows, const void* xq8, int64_t n_tok, const float* bias,
                      float* y, cudaStream_t s) {
  with_token_count(n_tok, [&](auto tok) {
    if constexpr (decltype(tok)::value == 1) launch_matvec_q8_one<D>(w, k, rows, xq8, bias, y, s);
    else launch_matvec_q8_n<D, decltype(tok)::value>(w, k, rows, xq8, bias, y, s);
  });
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
