// kernels/cpu/act_quant.h: how the matmul kernels receive activations: as floats, or quantized to 8 bits
// (per 32 elements for the 32-element weight types, per 256 as Q8_K for the K-quants) for integer dots.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_isa.h"
#include "tensor/blocks.h"

namespace strata::kernels {

enum class ActFormat {
  F32,    // the float row itself (float weights)
  Q8x32,  // ActBlock32 per 32 elements
  Q8K,    // BlockQ8_K per 256 elements
};

// 8-bit activations for the 32-element weight types: x ~ d * qs, with the integer sum of qs kept so
// that weight offsets (Q4_1's m, ...) cost one multiply per block instead of one per element.
struct ActBlock32 {
  float d;
  int32_t sum;
  int8_t qs[kQK32];
};
static_assert(sizeof(ActBlock32) == 40);

// Bytes of one activation row of k elements. REQUIRES: k is a multiple of the format's block.
size_t act_row_bytes(ActFormat format, int64_t k);

// The scalar quantizers: d = amax / 127, codes nearbyint(x * (127 / amax)). The SIMD versions produce the
// identical bytes (same two scalars, same rounding), so every ISA path sees the same activations.
void quantize_act32_portable(const float* x, ActBlock32* out, int64_t k);
void quantize_act_q8k_portable(const float* x, BlockQ8_K* out, int64_t k);

// Quantizes one row into `out` (act_row_bytes(format, k) bytes) with the quantizer of `isa`.
// REQUIRES: format is not F32 (float weights read the caller's rows directly); the CPU supports isa.
void quantize_act_row(ActFormat format, CpuIsa isa, const float* x, void* out, int64_t k);

#if defined(__x86_64__)
void quantize_act32_avx2(const float* x, ActBlock32* out, int64_t k);
void quantize_act_q8k_avx2(const float* x, BlockQ8_K* out, int64_t k);
#endif

}  // namespace strata::kernels
