// tests/kernels/backend_harness.h: moving test data onto any backend and back (weights, activations, KV
// slices), and the backends a parity run covers: every registered kind's every device.
#pragma once

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "kernels/backend.h"
#include "tensor/dtype.h"

namespace strata::kernels::testing {

class OnBackend {
 public:
  explicit OnBackend(Backend& be) : be_(be) {}
  Backend& backend() { return be_; }

  ActView act(const std::vector<float>& host, int64_t rows, int64_t cols) {
    ActView v = empty(rows, cols);
    be_.copy(host.data(), kHostDevice, v.data, v.device, host.size() * sizeof(float));
    return v;
  }
  ActView empty(int64_t rows, int64_t cols) {
    auto& b = keep(static_cast<uint64_t>(std::max<int64_t>(rows * cols, 1)) * sizeof(float), BufferUse::Activations);
    return {be_.device(), reinterpret_cast<float*>(b.data()), rows, cols};
  }
  std::vector<float> read(ActView v) {
    std::vector<float> out(static_cast<size_t>(v.n_elements()));
    be_.copy(v.data, v.device, out.data(), kHostDevice, out.size() * sizeof(float));
    be_.synchronize();
    return out;
  }
  // Weight bytes copied into a Weights buffer of the backend.
  TensorView weight(const std::vector<uint8_t>& bytes, DType type, int64_t k, int64_t rows) {
    auto& b = keep(bytes.size(), BufferUse::Weights);
    be_.copy(bytes.data(), kHostDevice, b.data(), be_.device(), bytes.size());
    TensorView v;
    v.type = type;
    v.ne = {k, rows, 1, 1};
    v.data = b.data();
    v.device = be_.device();
    v.name = "test.weight";
    return v;
  }
  KvLayer kv(const std::vector<uint16_t>& k, const std::vector<uint16_t>& v, int64_t n_ctx, int64_t kv_dim) {
    auto& b = keep(2 * k.size() * sizeof(uint16_t), BufferUse::KvCache);
    auto* base = reinterpret_cast<uint16_t*>(b.data());
    be_.copy(k.data(), kHostDevice, base, be_.device(), k.size() * sizeof(uint16_t));
    be_.copy(v.data(), kHostDevice, base + k.size(), be_.device(), v.size() * sizeof(uint16_t));
    return {be_.device(), base, base + k.size(), n_ctx, kv_dim};
  }
  std::vector<uint16_t> read(const uint16_t* p, size_t n) {
    std::vector<uint16_t> out(n);
    be_.copy(p, be_.device(), out.data(), kHostDevice, n * sizeof(uint16_t));
    be_.synchronize();
    return out;
  }

 private:
  Buffer& keep(uint64_t bytes, BufferUse use) {
    auto b = be_.alloc(bytes, use);
    if (!b) throw std::runtime_error("out of device memory");
    buffers_.push_back(std::move(b));
    return *buffers_.back();
  }
  Backend& be_;
  std::vector<std::unique_ptr<Buffer>> buffers_;
};

inline std::vector<float> gaussian(size_t n, std::mt19937& rng, float sd = 1.0f) {
  std::normal_distribution<float> normal(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

// Rows of Gaussian floats quantized by the type's own quantizer.
inline std::vector<uint8_t> quantized(DType type, int64_t k, int64_t rows, std::mt19937& rng, float sd = 1.0f) {
  const auto& t = dtype_traits(type);
  const auto f = gaussian(static_cast<size_t>(k * rows), rng, sd);
  std::vector<uint8_t> w(t.row_bytes(k) * rows);
  for (int64_t r = 0; r < rows; ++r) t.quantize_row(f.data() + r * k, w.data() + r * t.row_bytes(k), k);
  return w;
}

inline TensorView host_view(const std::vector<uint8_t>& bytes, DType type, int64_t k, int64_t rows) {
  TensorView v;
  v.type = type;
  v.ne = {k, rows, 1, 1};
  v.data = bytes.data();
  return v;
}

// sqrt(sum (got - want)^2 / sum want^2): relative RMS error.
inline double rel_error(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    num += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    den += static_cast<double>(want[i]) * want[i];
  }
  if (got.size() != want.size()) return INFINITY;
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace strata::kernels::testing
