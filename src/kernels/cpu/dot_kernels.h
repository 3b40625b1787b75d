// kernels/cpu/dot_kernels.h: the per-type, per-ISA dot kernels the kernel table points at.
// A dot kernel reads one weight row once and dots it with several activation rows (up to 8), so a
// prompt batch decodes each weight block once for several tokens.
#pragma once

#include <cstddef>
#include <cstdint>

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

#define STRATA_DECLARE_DOT(name) \
  void name(const void* w_row, const void* act, size_t act_stride, int n_tok, int64_t k, float* out)

// Portable C++ (every CPU; the ARM64 path). Float weights take float activations, the rest take Q8x32 or Q8K.
STRATA_DECLARE_DOT(dot_f32_portable);
STRATA_DECLARE_DOT(dot_f16_portable);
STRATA_DECLARE_DOT(dot_bf16_portable);
STRATA_DECLARE_DOT(dot_q4_0_portable);
STRATA_DECLARE_DOT(dot_q4_1_portable);
STRATA_DECLARE_DOT(dot_q5_0_portable);
STRATA_DECLARE_DOT(dot_q5_1_portable);
STRATA_DECLARE_DOT(dot_q8_0_portable);
STRATA_DECLARE_DOT(dot_iq4_nl_portable);
STRATA_DECLARE_DOT(dot_q2_k_portable);
STRATA_DECLARE_DOT(dot_q3_k_portable);
STRATA_DECLARE_DOT(dot_q4_k_portable);
STRATA_DECLARE_DOT(dot_q5_k_portable);
STRATA_DECLARE_DOT(dot_q6_k_portable);
STRATA_DECLARE_DOT(dot_iq4_xs_portable);

#if defined(__x86_64__)
// AVX2 + FMA + F16C (files under cpu/x86/ built with those flags only).
STRATA_DECLARE_DOT(dot_f32_avx2);
STRATA_DECLARE_DOT(dot_f16_avx2);
STRATA_DECLARE_DOT(dot_bf16_avx2);
STRATA_DECLARE_DOT(dot_q4_0_avx2);
STRATA_DECLARE_DOT(dot_q4_1_avx2);
STRATA_DECLARE_DOT(dot_q5_0_avx2);
STRATA_DECLARE_DOT(dot_q5_1_avx2);
STRATA_DECLARE_DOT(dot_q8_0_avx2);
STRATA_DECLARE_DOT(dot_iq4_nl_avx2);
STRATA_DECLARE_DOT(dot_q2_k_avx2);
STRATA_DECLARE_DOT(dot_q3_k_avx2);
STRATA_DECLARE_DOT(dot_q4_k_avx2);
STRATA_DECLARE_DOT(dot_q5_k_avx2);
STRATA_DECLARE_DOT(dot_q6_k_avx2);
STRATA_DECLARE_DOT(dot_iq4_xs_avx2);

// AVX-512 (F, BW, VL, DQ, VNNI): the types where 512-bit registers pay; the others use their AVX2 kernel.
STRATA_DECLARE_DOT(dot_f32_avx512);
STRATA_DECLARE_DOT(dot_f16_avx512);
STRATA_DECLARE_DOT(dot_bf16_avx512);
STRATA_DECLARE_DOT(dot_q8_0_avx512);
STRATA_DECLARE_DOT(dot_q4_k_avx512);
STRATA_DECLARE_DOT(dot_q5_k_avx512);
STRATA_DECLARE_DOT(dot_q6_k_avx512);
#endif

}  // namespace strata::kernels
