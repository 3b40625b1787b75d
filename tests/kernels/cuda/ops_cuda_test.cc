// tests/kernels/cuda/ops_cuda_test.cc: the CUDA norms, activations, RoPE, attention over the F16 cache and
// MoE routing/gather/scatter against double-precision loops written here, on fresh random data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/cuda/launchers.h"
#include "tests/kernels/cuda/cuda_test_util.h"

namespace strata::cuda {
namespace {

using testing::fresh_seed;
using testing::gaussian;
using testing::poisoned_floats;
using testing::rel_error;
using testing::to_device;
using testing::to_host;

TEST(CudaOps, RmsNormAddGlu) {
  STRATA_REQUIRE_GPU();
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  const int64_t rows = 5, n = 4096 + 96;
  const auto x = gaussian(rows * n, rng), w = gaussian(n, rng), y = gaussian(rows * n, rng);
  auto dx = to_device(x), dw = to_device(w), dy = to_device(y);
  auto dout = poisoned_floats(rows * n);
  rms_norm(dx.as<float>(), dw.as<float>(), rows, n, 1e-5f, dout.as<float>(), nullptr);
  std::vector<double> want(rows * n);
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[r * n + i]) * x[r * n + i];
    const double sc = 1.0 / std::sqrt(ss / n + 1e-5);
    for (int64_t i = 0; i < n; ++i) want[r * n + i] = x[r * n + i] * sc * w[i];
  }
  EXPECT_LE(rel_error(to_host<float>(dout, rows * n), want), 1e-6) << "rms_norm seed=" << seed;

  add_inplace(dx.as<float>(), dy.as<float>(), rows * n, nullptr);
  for (int64_t i = 0; i < rows * n; ++i) want[i] = static_cast<double>(x[i]) + y[i];
  EXPECT_LE(rel_error(to_host<float>(dx, rows * n), want), 1e-7) << "add seed=" << seed;

  for (Glu kind : {Glu::Silu, Glu::Gelu, Glu::SiluClamped}) {
    // Scaled so the clamped variant's limits (7) are crossed on both sides.
    const float s = kind == Glu::SiluClamped ? 6.0f : 1.0f;
    std::vector<float> ys(y.begin(), y.begin() + n), ws(w.begin(), w.end());
    for (auto& v : ys) v *= s;
    for (auto& v : ws) v *= s;
    auto dys = to_device(ys), dws = to_device(ws);
    glu(dys.as<float>(), dws.as<float>(), n, kind, 1.702f, 7.0f, dout.as<float>(), nullptr);
    for (int64_t i = 0; i < n; ++i) {
      double g = ys[i], u = ws[i], act = 0;
      if (kind == Glu::Gelu) {
        act = 0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g)));
      } else if (kind == Glu::SiluClamped) {
        g = std::min(g, 7.0);
        u = std::clamp(u, -7.0, 7.0) + 1.0;
        act = g / (1.0 + std::exp(-1.702 * g));
      } else {
        act = g / (1.0 + std::exp(-g));
      }
      want[i] = act * u;
    }
    std::vector<double> head(want.begin(), want.begin() + n);
    EXPECT_LE(rel_error(to_host<float>(dout, n), head), 1e-6) << "glu kind " << static_cast<int>(kind) << " seed=" << seed;
  }
}

TEST(CudaOps, RopeBothLayouts) {
  STRATA_REQUIRE_GPU();
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  const int64_t n_tok = 3, n_head = 4, head_dim = 128, n_rot = 64, pos0 = 70000;
  std::vector<double> inv_freq(n_rot / 2);
  for (int64_t i = 0; i < n_rot / 2; ++i) inv_freq[i] = std::pow(500000.0, -2.0 * i / n_rot) / (1.0 + 0.1 * i);
  auto dfreq = to_device(inv_freq);
  for (bool halves : {false, true}) {
    const auto x = gaussian(n_tok * n_head * head_dim, rng);
    auto dx = to_device(x);
    rope(dx.as<float>(), n_tok, n_head, head_dim, n_rot, pos0, dfreq.as<double>(), 0.9f, halves, nullptr);
    std::vector<double> want(x.begin(), x.end());
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t h = 0; h < n_head; ++h)
        for (int64_t i = 0; i < n_rot / 2; ++i) {
          const double th = static_cast<double>(pos0 + t) * inv_freq[i];
          const int64_t base = (t * n_head + h) * head_dim;
          const int64_t a = base + (halves ? i : 2 * i), b = base + (halves ? i + n_rot / 2 : 2 * i + 1);
          want[a] = 0.9 * (x[a] * std::cos(th) - x[b] * std::sin(th));
          want[b] = 0.9 * (x[a] * std::sin(th) + x[b] * std::cos(th));
        }
    EXPECT_LE(rel_error(to_host<float>(dx, x.size()), want), 1e-6) << "halves=" << halves << " seed=" << seed;
  }
}

struct AttnCase {
  int64_t n_head, n_kv_head, head_dim, pos0, n_tok, window;
  bool sinks;
};

TEST(CudaOps, AttentionDecodeAndPromptGqaCausal) {
  STRATA_REQUIRE_GPU();
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  const AttnCase cases[] = {
      {8, 2, 128, 0, 1, 0, false},     {8, 2, 128, 700, 1, 0, false}, {4, 4, 64, 300, 37, 0, false},
      {6, 2, 256, 5, 20, 0, true},     {8, 1, 128, 1000, 3, 128, false}, {2, 2, 96, 40, 9, 16, true}, {3, 1, 80, 12, 5, 0, false}, {4, 4, 8, 3, 2, 0, true},
  };
  for (const AttnCase& c : cases) {
    const int64_t kv_dim = c.n_kv_head * c.head_dim, n_ctx = c.pos0 + c.n_tok + 3;
    const int64_t q_dim = c.n_head * c.head_dim;
    const auto q = gaussian(c.n_tok * q_dim, rng), kn = gaussian(c.n_tok * kv_dim, rng),
               vn = gaussian(c.n_tok * kv_dim, rng), old_k = gaussian(n_ctx * kv_dim, rng),
               old_v = gaussian(n_ctx * kv_dim, rng), sinks = gaussian(c.n_head, rng);
    // The cache: earlier positions from random floats stored as F16 by the kernel itself, then the new rows.
    DeviceBuffer kc(n_ctx * kv_dim * 2), vc(n_ctx * kv_dim * 2);
    auto dok = to_device(old_k), dov = to_device(old_v);
    kv_store_f16(dok.as<float>(), dov.as<float>(), n_ctx, kv_dim, n_ctx, 0, kc.as<uint16_t>(), vc.as<uint16_t>(),
                 nullptr);
    auto dq = to_device(q), dk = to_device(kn), dv = to_device(vn), ds = to_device(sinks);
    kv_store_f16(dk.as<float>(), dv.as<float>(), c.n_tok, kv_dim, n_ctx, c.pos0, kc.as<uint16_t>(), vc.as<uint16_t>(),
                 nullptr);
    DeviceBuffer ws(attention_workspace_floats(c.n_tok, c.n_head, c.head_dim, c.pos0 + c.n_tok) * sizeof(float));
    auto dout = poisoned_floats(c.n_tok * q_dim);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    attention_f16(dq.as<float>(), kc.as<uint16_t>(), vc.as<uint16_t>(), kv_dim, n_ctx, c.n_tok, c.n_head,
                  c.n_kv_head, c.head_dim, c.pos0, c.window, scale, c.sinks ? ds.as<float>() : nullptr, ws.as<float>(),
                  dout.as<float>(), nullptr);
    const auto out = to_host<float>(dout, c.n_tok * q_dim);
    // The oracle reads the F16 cache back (exactly what the kernel read) and works in double.
    const auto k16 = to_host<uint16_t>(kc, n_ctx * kv_dim), v16 = to_host<uint16_t>(vc, n_ctx * kv_dim);
    auto h2d = [](uint16_t b) {
      const int s = b >> 15, e = (b >> 10) & 31, m = b & 1023;
      const double v = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
      return s ? -v : v;
    };
    std::vector<double> want(c.n_tok * q_dim);
    const int64_t group = c.n_head / c.n_kv_head;
    for (int64_t t = 0; t < c.n_tok; ++t)
      for (int64_t h = 0; h < c.n_head; ++h) {
        const int64_t end = c.pos0 + t + 1, first = c.window > 0 ? std::max<int64_t>(0, end - c.window) : 0;
        std::vector<double> s;
        for (int64_t p = first; p < end; ++p) {
          double a = 0;
          for (int64_t d = 0; d < c.head_dim; ++d)
            a += q[t * q_dim + h * c.head_dim + d] * h2d(k16[p * kv_dim + (h / group) * c.head_dim + d]);
          s.push_back(a * scale);
        }
        double mx = *std::max_element(s.begin(), s.end());
        if (c.sinks) mx = std::max(mx, static_cast<double>(sinks[h]));
        double sum = c.sinks ? std::exp(sinks[h] - mx) : 0.0;
        for (double& v : s) sum += (v = std::exp(v - mx));
        for (int64_t d = 0; d < c.head_dim; ++d) {
          double o = 0;
          for (int64_t p = first; p < end; ++p) o += s[p - first] * h2d(v16[p * kv_dim + (h / group) * c.head_dim + d]);
          want[t * q_dim + h * c.head_dim + d] = o / sum;
        }
      }
    EXPECT_LE(rel_error(out, want), 1e-5) << "heads " << c.n_head << "/" << c.n_kv_head << " hd " << c.head_dim
                                          << " pos0 " << c.pos0 << " n_tok " << c.n_tok << " window " << c.window
                                          << " seed=" << seed;
  }
}

TEST(CudaOps, MoeRouteGatherScatter) {
  STRATA_REQUIRE_GPU();
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  const int64_t n_tok = 6, n_expert = 64, k = 6;
  auto logits = gaussian(n_tok * n_expert, rng);
  logits[3] = logits[5] = 9.0f;  // a tie: the lower id comes first
  auto dl = to_device(logits);
  for (int mode = 0; mode < 3; ++mode) {
    const bool all = mode > 0, norm = mode == 2;
    DeviceBuffer dids(n_tok * k * 4), dw(n_tok * k * 4);
    moe_route(dl.as<float>(), n_tok, n_expert, k, all, norm, dids.as<int32_t>(), dw.as<float>(), nullptr);
    const auto ids = to_host<int32_t>(dids, n_tok * k);
    const auto w = to_host<float>(dw, n_tok * k);
    for (int64_t t = 0; t < n_tok; ++t) {
      const float* r = logits.data() + t * n_expert;
      std::vector<int32_t> order(n_expert);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return r[a] > r[b]; });
      double mx = r[order[0]], total = 0, chosen = 0;
      for (int64_t e = 0; e < n_expert; ++e) total += std::exp(r[e] - mx);
      for (int64_t j = 0; j < k; ++j) chosen += std::exp(r[order[j]] - mx);
      for (int64_t j = 0; j < k; ++j) {
        ASSERT_EQ(ids[t * k + j], order[j]) << "token " << t << " rank " << j << " mode " << mode;
        const double e = std::exp(r[order[j]] - mx);
        const double want = !all ? e / chosen : norm ? e / chosen : e / total;
        EXPECT_NEAR(w[t * k + j], want, 1e-6) << "token " << t << " rank " << j << " mode " << mode;
      }
    }
  }
  const int64_t cols = 300;
  const auto src = gaussian(4 * cols, rng), dst0 = gaussian(5 * cols, rng);
  const std::vector<int32_t> rows = {2, 0, 2, 4};
  const std::vector<float> scale = {0.5f, 2.0f, -1.0f, 0.25f};
  auto dsrc = to_device(src), ddst = to_device(dst0), drows = to_device(rows), dscale = to_device(scale);
  auto dg = poisoned_floats(4 * cols);
  gather_rows(ddst.as<float>(), cols, drows.as<int32_t>(), 4, dg.as<float>(), nullptr);
  const auto g = to_host<float>(dg, 4 * cols);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(g[i * cols + c], dst0[rows[i] * cols + c]);
  scatter_add(dsrc.as<float>(), cols, drows.as<int32_t>(), dscale.as<float>(), 4, ddst.as<float>(), nullptr);
  std::vector<double> want(dst0.begin(), dst0.end());
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t c = 0; c < cols; ++c) want[rows[i] * cols + c] += scale[i] * src[i * cols + c];
  EXPECT_LE(rel_error(to_host<float>(ddst, 5 * cols), want), 1e-7) << "seed=" << seed;
}

}  // namespace
}  // namespace strata::cuda
