// cli/gpu_kernel_profile.cc: times the GPU backend's weight products for the profile (gpu_kernel_profile.h).
#include "cli/gpu_kernel_profile.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/backend.h"
#include "tensor/dtype.h"

namespace strata::cli {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// The ops of one Llama-3-8B layer between its weight products, at 1 token (position 512) and at a prompt of
// kLayerOpsPromptTokens (positions 0..511), issued back to back for 32 layers, best of three.
Status measure_layer_ops(kernels::Backend& be, planner::GpuInfo& g) {
  constexpr int64_t kD = 4096, kKv = 1024, kFf = 14336, kCtx = 1024, kLayers = 32;
  constexpr int64_t kN = planner::kLayerOpsPromptTokens;
  const int64_t floats = kN * (2 * kD + kD + 2 * kKv + kD + 2 * kFf) + kD;
  auto acts = be.alloc(static_cast<uint64_t>(floats) * sizeof(float), kernels::BufferUse::Activations);
  auto cache = be.alloc(static_cast<uint64_t>(2 * kCtx * kKv) * sizeof(uint16_t), kernels::BufferUse::KvCache);
  if (!acts || !cache) return error("{}: not enough free memory to time a layer's ops", be.name());
  {  // ones everywhere: finite norms, softmaxes and GLUs (the values do not change the work)
    const std::vector<float> ones(static_cast<size_t>(floats), 1.0f);
    be.copy(ones.data(), kHostDevice, acts->data(), be.device(), ones.size() * sizeof(float));
    const std::vector<uint16_t> zeros(static_cast<size_t>(2 * kCtx * kKv), 0);
    be.copy(zeros.data(), kHostDevice, cache->data(), be.device(), zeros.size() * sizeof(uint16_t));
  }
  float* base = reinterpret_cast<float*>(acts->data());
  float* norm_w = base + floats - kD;
  TensorView w;
  w.type = DType::F32;
  w.ne = {kD, 1, 1, 1};
  w.data = reinterpret_cast<uint8_t*>(norm_w);
  w.device = be.device();
  auto* kc = reinterpret_cast<uint16_t*>(cache->data());
  const kernels::KvLayer kv{be.device(), kc, kc + kCtx * kKv, kCtx, kKv};
  kernels::AttentionParams ap{32, 8, 128, 1.0f / std::sqrt(128.0f), 0, {}};
  kernels::RopeParams rope;
  rope.n_rot = 128;
  rope.freq_base = 500000.0f;
  auto time = [&](int64_t n, int64_t pos0) {
    float* p = base;
    auto take = [&](int64_t cols) {
      const kernels::ActView v{be.device(), p, n, cols};
      p += kN * cols;
      return v;
    };
    const kernels::ActView x = take(kD), xb = take(kD), q = take(kD), k = take(kKv), v = take(kKv), att = take(kD),
                           gate = take(kFf), up = take(kFf);
    const kernels::AttentionSeq seq{&kv, pos0, 0, n};
    double best = 1e30;
    for (int round = 0; round < 4; ++round) {  // the first round is a warm-up (tables, scratch)
      be.synchronize();
      const double t0 = now_s();
      for (int l = 0; l < kLayers; ++l) {
        be.rms_norm(x, w, 1e-5f, xb);
        be.attention_batch(ap, &rope, q, k, v, std::span(&seq, 1), att);
        be.add(x, xb);
        be.rms_norm(x, w, 1e-5f, xb);
        be.glu(kernels::GluKind::SwiGlu, gate, up, gate);
        be.add(x, xb);
      }
      be.synchronize();
      if (round > 0) best = std::min(best, (now_s() - t0) / kLayers);
    }
    return best;
  };
  g.layer_ops_seconds = time(1, 512);
  g.layer_ops_prompt_seconds = time(kN, 0);
  return Status::ok();
}

}  // namespace

Status measure_gpu_kernels(planner::GpuInfo& g) {
  const kernels::BackendKind* kind = kernels::find_backend(DeviceKind::Cuda);
  if (kind == nullptr || kind->device_count() <= g.index || g.integrated) return Status::ok();
  std::unique_ptr<kernels::Backend> be = kind->make(g.index, {});
  // A Llama-3-8B FFN shape in Q4_K (the common decode weight): real blocks from the codec, so the kernel
  // does its real work; enough copies that the rotation never finds a weight in the L2 cache.
  constexpr int64_t kK = 4096, kRows = 14336, kPrompt = 512;
  const DTypeTraits& t = dtype_traits(DType::Q4_K);
  const uint64_t weight_bytes = t.row_bytes(kK) * kRows;
  const int copies = static_cast<int>(std::clamp<uint64_t>((512ull << 20) / weight_bytes + 1, 2, 32));
  std::vector<uint8_t> host(weight_bytes);
  {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> row(kK);
    for (int64_t r = 0; r < kRows; ++r) {
      for (auto& v : row) v = normal(rng);
      t.quantize_row(row.data(), host.data() + r * t.row_bytes(kK), kK);
    }
  }
  auto weights = be->alloc(weight_bytes * copies, kernels::BufferUse::Weights);
  auto acts = be->alloc(static_cast<uint64_t>(kPrompt) * (kK + kRows) * sizeof(float), kernels::BufferUse::Activations);
  if (!weights || !acts) return error("{}: not enough free memory to time the kernels", be->name());
  for (int c = 0; c < copies; ++c)
    be->copy(host.data(), kHostDevice, weights->data() + c * weight_bytes, be->device(), weight_bytes);
  std::vector<float> xh(static_cast<size_t>(kPrompt * kK));
  {
    std::mt19937 rng(8);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto& v : xh) v = normal(rng);
  }
  auto* x = reinterpret_cast<float*>(acts->data());
  float* y = x + kPrompt * kK;
  be->copy(xh.data(), kHostDevice, x, be->device(), xh.size() * sizeof(float));
  be->synchronize();

  auto view = [&](int c) {
    TensorView w;
    w.type = DType::Q4_K;
    w.ne = {kK, kRows, 1, 1};
    w.data = weights->data() + c * weight_bytes;
    w.device = be->device();
    return w;
  };
  // Seconds per call, best of three rounds of `calls` calls.
  auto time = [&](int64_t n_tok, int calls) {
    const kernels::ActView xv{be->device(), x, n_tok, kK}, yv{be->device(), y, n_tok, kRows};
    double best = 1e30;
    for (int round = 0; round < 3; ++round) {
      be->synchronize();
      const double t0 = now_s();
      for (int i = 0; i < calls; ++i) be->matmul(view(i % copies), xv, yv);
      be->synchronize();
      best = std::min(best, (now_s() - t0) / calls);
    }
    return best;
  };
  time(1, copies);  // warm-up: first launches, the 8-bit input's buffer
  g.matvec_bytes_per_s = static_cast<double>(weight_bytes) / time(1, 8 * copies);
  g.gemm_flops_per_s = 2.0 * kPrompt * kK * kRows / time(kPrompt, 2 * copies);

  // A small product (Llama-3-8B's k and v: 1,024 rows): latency-bound; what it takes beyond its bytes.
  {
    constexpr int64_t kSmall = 1024;
    const kernels::ActView xv{be->device(), x, 1, kK}, yv{be->device(), y, 1, kSmall};
    double best = 1e30;
    for (int round = 0; round < 3; ++round) {
      be->synchronize();
      const double t0 = now_s();
      for (int i = 0; i < 8 * copies; ++i) {
        TensorView w = view(i % copies);
        w.ne = {kK, kSmall, 1, 1};
        be->matmul(w, xv, yv);
      }
      be->synchronize();
      best = std::min(best, (now_s() - t0) / (8 * copies));
    }
    g.product_fixed_seconds = std::max(0.0, best - static_cast<double>(t.row_bytes(kK) * kSmall) / g.matvec_bytes_per_s);
  }
  weights.reset();
  return measure_layer_ops(*be, g);
}

}  // namespace strata::cli
