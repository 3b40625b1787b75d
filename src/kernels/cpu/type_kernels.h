// kernels/cpu/type_kernels.h: the CPU kernel table: one row per DType with its activation format and its
// dot kernel for each ISA level, plus the matmul driver that runs a row (decode and prompt batches).
#pragma once

#include <cstdint>
#include <span>

#include "core/thread_pool.h"
#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/dot_kernels.h"
#include "tensor/tensor.h"

namespace strata::kernels {

struct CpuTypeKernels {
  DType type;
  ActFormat act;
  DotFn dot[kNumCpuIsas];  // indexed by CpuIsa; nullptr where a level has no kernel of its own

  // The kernel for `isa`, or the nearest lower level's when `isa` has none for this type.
  DotFn dot_for(CpuIsa isa) const;
  // The level whose kernel dot_for(isa) returns (reported by tests and the benchmark).
  CpuIsa kernel_isa(CpuIsa isa) const;
};

// The row for `type`, or nullptr when only the generic dequantize-then-dot path exists.
const CpuTypeKernels* find_cpu_kernels(DType type);

// kernels::matmul with one table row at one ISA level (tests and the benchmark force each level here).
// Activations are prepared once per call (quantized when the row's format is not F32), rows are split
// across the pool, and every weight row is decoded once per group of 4 tokens (8 at the AVX-512 level).
// REQUIRES: cpu_supports(isa); w.type == kernels.type; w.ne[0] is a multiple of the type's block.
void matmul_with(const CpuTypeKernels& kernels, CpuIsa isa, const TensorView& w, const float* x, int64_t n_tok,
                 float* y, ThreadPool& pool);

// One product of matmul_many_with: y [n_tok, w rows] = x [n_tok, w.ne[0]] times w's rows, with `kernels` its
// type's row (products of one call may differ in type and shape).
struct CpuMatmul {
  const CpuTypeKernels* kernels;
  TensorView w;
  const float* x;
  int64_t n_tok;
  float* y;
};

// Several independent products as one pool dispatch (a MoE layer's routed experts): each product's
// activations are quantized once (products that read the same x share them), and every thread takes row
// chunks of any product from one counter. matmul_with is this with one product.
// REQUIRES: as matmul_with, for each product; no y overlaps another product's x or y.
void matmul_many_with(std::span<const CpuMatmul> items, CpuIsa isa, ThreadPool& pool);

}  // namespace strata::kernels
