// kernels/reference/ops_reference.cc: the reference twins of the backend ops (double, one thread, plain loops).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/check.h"
#include "core/fp16.h"
#include "kernels/reference/reference.h"
#include "kernels/rope_angles.h"

namespace strata::kernels::reference {

namespace {

std::vector<float> row_as_floats(const TensorView& w, int64_t r) {
  std::vector<float> out(static_cast<size_t>(w.ne[0]));
  dtype_traits(w.type).dequantize_row(w.row(r), out.data(), w.ne[0]);
  return out;
}

void softmax(std::vector<double>& x) {
  const double mx = *std::max_element(x.begin(), x.end());
  double sum = 0;
  for (double& v : x) sum += (v = std::exp(v - mx));
  for (double& v : x) v /= sum;
}

}  // namespace

void get_rows(const TensorView& table, std::span<const int32_t> ids, float* out) {
  for (size_t t = 0; t < ids.size(); ++t) {
    const auto row = row_as_floats(table, ids[t]);
    std::copy(row.begin(), row.end(), out + t * row.size());
  }
}

void rms_norm(const float* x, int64_t rows, int64_t cols, const TensorView& weight, float eps, float* out) {
  const auto w = row_as_floats(weight, 0);
  for (int64_t t = 0; t < rows; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < cols; ++i) ss += static_cast<double>(x[t * cols + i]) * x[t * cols + i];
    const double scale = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
    for (int64_t i = 0; i < cols; ++i) out[t * cols + i] = static_cast<float>(x[t * cols + i] * scale * w[i]);
  }
}

void matmul(const TensorView& w, const float* x, int64_t n_tok, float* y, const TensorView& bias) {
  const int64_t k = w.ne[0], rows = w.n_rows();
  const std::vector<float> b = bias.data ? row_as_floats(bias, 0) : std::vector<float>();
  for (int64_t r = 0; r < rows; ++r) {
    const auto row = row_as_floats(w, r);
    for (int64_t t = 0; t < n_tok; ++t) {
      double acc = 0.0;
      for (int64_t i = 0; i < k; ++i) acc += static_cast<double>(row[i]) * x[t * k + i];
      if (!b.empty()) acc += b[r];
      y[t * rows + r] = static_cast<float>(acc);
    }
  }
}

void rope(float* x, int64_t n_tok, int64_t n_head, int64_t head_dim, int64_t pos0, const RopeParams& p) {
  const int64_t half = p.n_rot / 2;
  const std::vector<float> ff = p.freq_factors.data ? row_as_floats(p.freq_factors, 0) : std::vector<float>();
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t h = 0; h < n_head; ++h) {
      float* v = x + (t * n_head + h) * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const RopeAngle a = rope_angle(p, pos0 + t, i, ff.empty() ? 1.0 : ff[i]);
        const int64_t ia = p.layout == RopeLayout::Interleaved ? 2 * i : i;
        const int64_t ib = p.layout == RopeLayout::Interleaved ? 2 * i + 1 : i + half;
        const double x0 = v[ia], x1 = v[ib], c = std::cos(a.theta) * a.mscale, s = std::sin(a.theta) * a.mscale;
        v[ia] = static_cast<float>(x0 * c - x1 * s);
        v[ib] = static_cast<float>(x0 * s + x1 * c);
      }
    }
}

void attention(const AttentionParams& p, const float* q, const float* k, const float* v, const KvLayer& cache,
               int64_t pos0, int64_t n_tok, float* out) {
  const int64_t hd = p.head_dim, kv_dim = cache.kv_dim, q_dim = p.n_head * hd, group = p.n_head / p.n_head_kv;
  STRATA_CHECK(pos0 + n_tok <= cache.n_ctx && kv_dim == p.n_head_kv * hd && cache.holds_pass(n_tok, p.window));
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t i = 0; i < kv_dim; ++i) {
      cache.k[cache.row_of(pos0 + t) * kv_dim + i] = f32_to_fp16(k[t * kv_dim + i]);
      cache.v[cache.row_of(pos0 + t) * kv_dim + i] = f32_to_fp16(v[t * kv_dim + i]);
    }
  const std::vector<float> sinks = p.sinks.data ? row_as_floats(p.sinks, 0) : std::vector<float>();
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t h = 0; h < p.n_head; ++h) {
      const int64_t end = pos0 + t + 1, first = p.window > 0 ? std::max<int64_t>(0, end - p.window) : 0;
      const int64_t off = (h / group) * hd;
      std::vector<double> w;
      for (int64_t pos = first; pos < end; ++pos) {
        double a = 0;
        for (int64_t i = 0; i < hd; ++i)
          a += static_cast<double>(q[t * q_dim + h * hd + i]) *
               fp16_to_f32_slow(cache.k[cache.row_of(pos) * kv_dim + off + i]);
        w.push_back(a * p.scale);
      }
      if (!sinks.empty()) w.push_back(sinks[h]);  // one more logit in the normalisation, no value row
      softmax(w);
      for (int64_t i = 0; i < hd; ++i) {
        double a = 0;
        for (int64_t pos = first; pos < end; ++pos)
          a += w[pos - first] * fp16_to_f32_slow(cache.v[cache.row_of(pos) * kv_dim + off + i]);
        out[t * q_dim + h * hd + i] = static_cast<float>(a);
      }
    }
}

void glu(GluKind kind, const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    double g = gate[i], u = up[i];
    double act = 0;
    switch (kind) {
      case GluKind::SwiGlu: act = g / (1.0 + std::exp(-g)); break;
      case GluKind::GeGlu:
        act = 0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / 3.141592653589793) * (g + 0.044715 * g * g * g)));
        break;
      case GluKind::SwiGluClamped:
        g = std::min<double>(g, kSwiGluClampedLimit);
        u = std::clamp<double>(u, -kSwiGluClampedLimit, kSwiGluClampedLimit) + 1.0;
        act = g / (1.0 + std::exp(-kSwiGluClampedAlpha * g));
        break;
    }
    out[i] = static_cast<float>(act * u);
  }
}

void add(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void moe_route(const float* logits, int64_t n_tok, int64_t n_expert, const RouteParams& p, int32_t* ids,
               float* weights) {
  const int64_t k = p.n_expert_used;
  for (int64_t t = 0; t < n_tok; ++t) {
    const float* r = logits + t * n_expert;
    std::vector<int32_t> order(static_cast<size_t>(n_expert));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return r[a] > r[b]; });
    std::vector<double> w;
    if (p.gating == RouterGating::SoftmaxSelected) {
      for (int64_t j = 0; j < k; ++j) w.push_back(r[order[j]]);
      softmax(w);
    } else {
      std::vector<double> all(r, r + n_expert);
      softmax(all);
      double sum = 0;
      for (int64_t j = 0; j < k; ++j) sum += all[order[j]];
      for (int64_t j = 0; j < k; ++j) w.push_back(p.norm_topk ? all[order[j]] / sum : all[order[j]]);
    }
    for (int64_t j = 0; j < k; ++j) {
      ids[t * k + j] = order[j];
      weights[t * k + j] = static_cast<float>(w[j]);
    }
  }
}

void gather_rows(const float* src, int64_t cols, std::span<const int32_t> rows, float* dst) {
  for (size_t i = 0; i < rows.size(); ++i)
    for (int64_t c = 0; c < cols; ++c) dst[i * cols + c] = src[rows[i] * cols + c];
}

void scatter_add(const float* src, int64_t cols, std::span<const int32_t> rows, std::span<const float> scale,
                 float* dst) {
  for (size_t i = 0; i < rows.size(); ++i)
    for (int64_t c = 0; c < cols; ++c) dst[rows[i] * cols + c] += scale[i] * src[i * cols + c];
}

void attention_scores_f16(const float* q, const uint16_t* k, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float scale, float* scores) {
  for (int64_t p = 0; p < n_pos; ++p) {
    double a = 0.0;
    for (int64_t i = 0; i < head_dim; ++i) a += static_cast<double>(q[i]) * fp16_to_f32_slow(k[p * stride + i]);
    scores[p] = static_cast<float>(a * scale);
  }
}

void attention_values_f16(const float* w, const uint16_t* v, int64_t stride, int64_t n_pos, int64_t head_dim,
                          float* out, bool accumulate) {
  for (int64_t i = 0; i < head_dim; ++i) {
    double a = accumulate ? out[i] : 0.0;
    for (int64_t p = 0; p < n_pos; ++p) a += static_cast<double>(w[p]) * fp16_to_f32_slow(v[p * stride + i]);
    out[i] = static_cast<float>(a);
  }
}

}  // namespace strata::kernels::reference
