// cli/gpu_kernel_profile.h: strata's own GPU kernels timed for the hardware profile (the decode mat-vec's
// bandwidth and the prompt GEMM's throughput), so the planner predicts from what strata achieves, not from
// the device's copy bandwidth and a peak-FLOP estimate.
#pragma once

#include "core/status.h"
#include "hw/hardware_profile.h"

namespace strata::cli {

// Fills g.matvec_bytes_per_s and g.gemm_flops_per_s by timing the GPU backend on GPU g.index: a Q4_K
// 14336 x 4096 product at 1 token (8-bit activations; weight copies rotated past the L2 cache) and at 512
// tokens (tensor-core GEMM); g.product_fixed_seconds from a 1024 x 4096 product (what it takes beyond its
// bytes at that bandwidth); g.layer_ops_seconds and g.layer_ops_prompt_seconds from a Llama-3-8B layer's ops
// between its products (two RMSNorms, RoPE + KV store + attention over 512 positions, two residual adds, the
// GLU) at 1 and 512 tokens. Leaves them 0, with no error, where this build or machine has no such GPU.
Status measure_gpu_kernels(planner::GpuInfo& g);

}  // namespace strata::cli
