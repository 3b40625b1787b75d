// cli/gpu_kernel_profile.cc: times the GPU backend's weight products for the profile (gpu_kernel_profile.h).
#include "cli/gpu_kernel_profile.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "kernels/backend.h"
#include "tensor/dtype.h"

namespace strata::cli {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

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
  return Status::ok();
}

}  // namespace strata::cli
