// kernels/ops_cpu.cc: the elementwise and normalisation ops on the CPU (small next to the matmuls).
#include <cmath>
#include <vector>

#include "kernels/ops.h"

namespace strata::kernels {

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t rot_dims, int64_t pos, float freq_base,
          RopeLayout layout) {
  const int64_t half = rot_dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    // theta = pos * base^(-2i/rot_dims), computed in double for long contexts.
    const double theta = static_cast<double>(pos) * std::pow(static_cast<double>(freq_base), -2.0 * i / rot_dims);
    const float c = static_cast<float>(std::cos(theta));
    const float s = static_cast<float>(std::sin(theta));
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim;
      const int64_t a = layout == RopeLayout::Interleaved ? 2 * i : i;
      const int64_t b = layout == RopeLayout::Interleaved ? 2 * i + 1 : i + half;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

void softmax(float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void dequantize_row(const TensorView& w, int64_t row, float* out) {
  dtype_traits(w.type).dequantize_row(w.row(row), out, w.ne[0]);
}

}  // namespace strata::kernels
