// kernels/cpu/ops_cpu.cc: the elementwise and normalisation kernels on the CPU (small next to the matmuls).
#include "kernels/cpu/ops_cpu.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/elementwise.h"
#include "kernels/rope_angles.h"

namespace strata::kernels {

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  elementwise().rms_norm(x, weight, n, eps, out);
}

void rope_angles(int64_t pos, const RopeParams& p, const float* freq_factors, float* cos_sin) {
  for (int64_t i = 0; i < p.n_rot / 2; ++i) {
    const RopeAngle a = rope_angle(p, pos, i, freq_factors ? freq_factors[i] : 1.0);
    float c = static_cast<float>(std::cos(a.theta));
    float s = static_cast<float>(std::sin(a.theta));
    if (a.mscale != 1.0) {
      c = static_cast<float>(std::cos(a.theta) * a.mscale);
      s = static_cast<float>(std::sin(a.theta) * a.mscale);
    }
    cos_sin[2 * i] = c;
    cos_sin[2 * i + 1] = s;
  }
}

void rope_apply(float* x, int64_t n_heads, int64_t head_dim, const RopeParams& p, const float* cos_sin) {
  const int64_t half = p.n_rot / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      const int64_t ia = p.layout == RopeLayout::Interleaved ? 2 * i : i;
      const int64_t ib = p.layout == RopeLayout::Interleaved ? 2 * i + 1 : i + half;
      const float x0 = v[ia], x1 = v[ib];
      v[ia] = x0 * c - x1 * s;
      v[ib] = x0 * s + x1 * c;
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

void softmax_with_sink(float* x, int64_t n, float sink) {
  float mx = sink;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = std::exp(sink - mx);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(float* gate, const float* up, int64_t n) { elementwise().swiglu(gate, up, n, gate); }

void swiglu_clamped(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = std::min(gate[i], kSwiGluClampedLimit);
    const float u = std::clamp(up[i], -kSwiGluClampedLimit, kSwiGluClampedLimit);
    gate[i] = g / (1.0f + std::exp(-kSwiGluClampedAlpha * g)) * (u + 1.0f);
  }
}

void geglu(float* gate, const float* up, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608f;
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = 0.5f * g * (1.0f + std::tanh(kSqrt2OverPi * (g + 0.044715f * g * g * g))) * up[i];
  }
}

void dequantize_row(const TensorView& w, int64_t row, float* out) {
  dtype_traits(w.type).dequantize_row(w.row(row), out, w.ne[0]);
}

}  // namespace strata::kernels
