// kernels/cpu/dot_portable_float.cc: portable dot kernels for float weights (F32, F16, BF16) on float activations.
#include <cstring>

#include "core/fp16.h"
#include "kernels/cpu/dot_kernels.h"

namespace strata::kernels {

namespace {

constexpr int kChunk = 256;  // weights widened to float a chunk at a time, then reused by every token

// Eight partial sums let the compiler vectorise without reassociating a single float sum.
float dot_floats(const float* a, const float* b, int n) {
  float s[8] = {};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) s[l] += a[i + l] * b[i + l];
  for (; i < n; ++i) s[0] += a[i] * b[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

template <typename Widen>
void dot_widened(const void* w_row, const void* act, size_t act_stride, int n_tok, int64_t k, float* out, Widen widen) {
  float acc[kMaxDotTokens] = {};
  float w[kChunk];
  for (int64_t i0 = 0; i0 < k; i0 += kChunk) {
    const int n = static_cast<int>(k - i0 < kChunk ? k - i0 : kChunk);
    widen(w_row, i0, n, w);
    for (int t = 0; t < n_tok; ++t) {
      const auto* x = reinterpret_cast<const float*>(static_cast<const uint8_t*>(act) + t * act_stride);
      acc[t] += dot_floats(w, x + i0, n);
    }
  }
  for (int t = 0; t < n_tok; ++t) out[t] = acc[t];
}

}  // namespace

void dot_f32_portable(const void* w_row, const void* act, size_t act_stride, int n_tok, int64_t k, float* out) {
  dot_widened(w_row, act, act_stride, n_tok, k, out, [](const void* src, int64_t i0, int n, float* w) {
    std::memcpy(w, static_cast<const float*>(src) + i0, n * sizeof(float));
  });
}

void dot_f16_portable(const void* w_row, const void* act, size_t act_stride, int n_tok, int64_t k, float* out) {
  dot_widened(w_row, act, act_stride, n_tok, k, out, [](const void* src, int64_t i0, int n, float* w) {
    const auto* h = static_cast<const uint16_t*>(src) + i0;
    for (int i = 0; i < n; ++i) w[i] = fp16_to_f32(h[i]);
  });
}

void dot_bf16_portable(const void* w_row, const void* act, size_t act_stride, int n_tok, int64_t k, float* out) {
  dot_widened(w_row, act, act_stride, n_tok, k, out, [](const void* src, int64_t i0, int n, float* w) {
    const auto* h = static_cast<const uint16_t*>(src) + i0;
    for (int i = 0; i < n; ++i) w[i] = bf16_to_f32(h[i]);
  });
}

// This file's column of the CPU kernel table (type_kernels.cc merges the columns).
namespace {
constexpr DotEntry kEntries[] = {
    {DType::F32, ActFormat::F32, dot_f32_portable},
    {DType::F16, ActFormat::F32, dot_f16_portable},
    {DType::BF16, ActFormat::F32, dot_bf16_portable},
};
}  // namespace
extern const DotColumn kDotColumnPortableFloat{CpuIsa::Portable, kEntries, std::size(kEntries)};

}  // namespace strata::kernels
