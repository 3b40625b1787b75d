// kernels/cpu/dot_kernels.h: the per-type, per-ISA dot kernels the kernel table points at.
// A dot kernel reads one weight row once and dots it with several activation rows (up to 8), so a
// prompt batch decodes each weight block once for several tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>

#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/cpu_isa.h"
#include "tensor/dtype.h"

namespace strata::kernels {

// Tokens one dot call takes: 8 at the AVX-512 level (32 registers hold eight tokens' accumulators, so a
// decoded weight block serves twice as many tokens), 4 at the others (AVX2 has 16 registers).
constexpr int kMaxDotTokens = 8;
constexpr int kDotTokensAvx512 = 8;
constexpr int kDotTokensOther = 4;

// out[t] = sum_i W[i] * act_t[i] for t < n_tok, where act_t = act + t * act_stride bytes is one activation
// row in the kernel's ActFormat. k is the row length in elements (a multiple of the weight block).
// REQUIRES: 1 <= n_tok <= the level's count above (kDotTokensAvx512 or kDotTokensOther).
using DotFn = void (*)(const void* w_row, const void* act, size_t act_stride, int n_tok, int64_t k, float* out);

// One cell of the kernel table: the dot kernel for `type` at one ISA level, taking activations in `act`.
struct DotEntry {
  DType type;
  ActFormat act;
  DotFn fn;
};
// A file's column fragment: every kernel it defines, at its ISA level. Each dot_* file exports one; the table
// (type_kernels.cc) merges them, so a new type adds rows to the files that implement it and nothing else.
struct DotColumn {
  CpuIsa isa;
  const DotEntry* entries;
  size_t n_entries;
};

// Portable C++ (every CPU; the ARM64 path). Float weights take float activations, the rest Q8x32 or Q8K.
extern const DotColumn kDotColumnPortableFloat, kDotColumnPortableLegacy, kDotColumnPortableK;
#if defined(__x86_64__)
// AVX2 + FMA + F16C, and AVX-512 (F, BW, VL, DQ, VNNI) for the types where 512-bit registers pay.
extern const DotColumn kDotColumnAvx2Float, kDotColumnAvx2Legacy, kDotColumnAvx2K;
extern const DotColumn kDotColumnAvx512Float, kDotColumnAvx512Quant;
#endif

}  // namespace strata::kernels
