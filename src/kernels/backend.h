// kernels/backend.h: the compute backend interface the forward pass calls for weight products.
// The CPU backend implements it here; the CUDA backend implements it over weights resident in GPU memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/thread_pool.h"
#include "tensor/tensor.h"

namespace strata::kernels {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // y[t, r] = sum_i W[r, i] x[t, i]; x and y are host float arrays ([n_tok, k] and [n_tok, rows]).
  virtual void matmul(const TensorView& w, const float* x, int64_t n_tok, float* y) = 0;
  // Threads available for the forward pass's own elementwise and attention loops.
  virtual ThreadPool& pool() = 0;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(ThreadPool& pool) : pool_(pool) {}
  std::string_view name() const override { return "cpu"; }
  void matmul(const TensorView& w, const float* x, int64_t n_tok, float* y) override;
  ThreadPool& pool() override { return pool_; }

 private:
  ThreadPool& pool_;
};

}  // namespace strata::kernels
