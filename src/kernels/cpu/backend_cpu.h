// kernels/cpu/backend_cpu.h: the CPU backend: host memory, ops run to completion on the calling thread and
// the thread pool (so its stream is the caller's program order and its events are complete when recorded).
#pragma once

#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/backend.h"
#include "kernels/cpu/ops_cpu.h"

namespace strata::kernels {

class CpuBackend final : public Backend {
 public:
  // Borrows `pool` (which must outlive the backend). `index` > 0 makes a second host backend with its own
  // buffers and device tag (Cpu:index): a stand-in device for split-execution tests.
  explicit CpuBackend(ThreadPool& pool, int index = 0);
  // Owns a pool of n_threads (0: every hardware thread).
  explicit CpuBackend(int n_threads, int index = 0);

  std::string_view name() const override { return name_; }
  Device device() const override { return device_; }
  std::string describe() const override;
  ThreadPool& pool() { return pool_; }

  std::unique_ptr<Buffer> alloc(uint64_t size_bytes, BufferUse use) override;
  // Host memory: the process's own (index 0) and this backend's. Another host-side backend's buffers stand in for
  // a device's memory in tests, so reading them here would hide a read the real device's memory would refuse.
  bool can_read(Device d) const override { return d.is_host() && (d.index == 0 || d.index == device_.index); }

  EventPtr record() override { return completed_event(); }
  void wait(const Event& e) override;
  void synchronize() override {}
  void copy(const void* src, Device src_device, void* dst, Device dst_device, uint64_t bytes) override;
  using Backend::copy;

  void get_rows(const TensorView& table, std::span<const int32_t> ids, ActView out) override;
  void rms_norm(ActView x, const TensorView& weight, float eps, ActView out) override;
  void matmul(const TensorView& w, ActView x, ActView y, const TensorView& bias = {}) override;
  void matmul_many(std::span<const MatmulItem> items) override;
  void rope(ActView x, int64_t n_head, int64_t head_dim, int64_t pos0, const RopeParams& p) override;
  void attention(const AttentionParams& p, ActView q, ActView k, ActView v, const KvLayer& cache, int64_t pos0,
                 ActView out) override;
  void attention_batch(const AttentionParams& p, const RopeParams* rope, ActView q, ActView k, ActView v,
                       std::span<const AttentionSeq> seqs, ActView out) override;
  bool supports(const AttentionParams&) const override { return true; }
  void glu(GluKind kind, ActView gate, ActView up, ActView out) override;
  void add(ActView x, ActView y) override;
  void fill(ActView x, float value) override;
  void moe_route(ActView logits, const RouteParams& p, std::span<int32_t> ids, std::span<float> weights) override;
  void gather_rows(ActView src, std::span<const int32_t> rows, ActView dst) override;
  void scatter_add(ActView src, std::span<const int32_t> rows, std::span<const float> scale, ActView dst) override;

 private:
  void check_mine(const ActView& a) const;
  void check_matmul(const TensorView& w, ActView x, ActView y) const;
  void add_bias(const TensorView& bias, ActView y);  // y[t, :] += bias (none when bias.data is null)
  // A small float vector per call site, grown once and reused: no allocation per op in the steady state.
  // Guarded by the single-caller rule: one thread issues a backend's ops at a time.
  float* scratch(std::vector<float>& v, int64_t n);
  // Rotates rows of a (n_head_a heads) and, when b is given, the same rows of b (n_head_b heads) at positions
  // pos0, pos0 + 1, ...: each position's angles are found once for both.
  void rope_rows(const RopeParams& p, int64_t head_dim, int64_t pos0, ActView a, int64_t n_head_a, const ActView* b,
                 int64_t n_head_b);

  std::unique_ptr<ThreadPool> owned_pool_;
  ThreadPool& pool_;
  Device device_;
  std::string name_;
  std::vector<float> norm_w_, factors_, sinks_, route_, bias_, rope_cos_sin_;
  std::vector<int32_t> order_;
  std::vector<MatmulJob> jobs_;  // matmul_many's products, reused (the single-caller rule guards it)
};

}  // namespace strata::kernels
