// kernels/timed_backend.h: a Backend that forwards to another and times each op to its completion, for finding
// where a pass's time goes (`strata bench --op-times`).
//
// Every op, copy and cross-stream wait is followed by a synchronize of the wrapped backend, and its host time
// from the call to that synchronize is added to a row keyed by backend, op and (for products) the weight's
// shape and type. A wait's row is the time this stream sat waiting for another's event (an upload, a
// hand-off). The figures are of a serialized pass: nothing overlaps, recorded decode steps are refused
// (begin_capture and replay answer false), so the total exceeds an untimed pass's time; what they show is the
// share of each kind of op, which the untimed totals cannot.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/backend.h"

namespace strata::kernels {

struct OpTime {
  std::string key;  // "cuda0 matmul Q4_K 4096x14336", "cpu attention", "cuda0 wait", ...
  uint64_t count = 0;
  double seconds = 0;
};

class TimedBackend final : public Backend {
 public:
  explicit TimedBackend(Backend& inner) : inner_(inner) {}

  // The rows so far, longest first; reset() starts again from zero.
  std::vector<OpTime> times() const;
  void reset();

  std::string_view name() const override { return inner_.name(); }
  Device device() const override { return inner_.device(); }
  std::string describe() const override { return inner_.describe(); }
  std::unique_ptr<Buffer> alloc(uint64_t size_bytes, BufferUse use) override { return inner_.alloc(size_bytes, use); }
  bool can_read(Device d) const override { return inner_.can_read(d); }
  EventPtr record() override { return inner_.record(); }
  void wait(const Event& e) override;
  void synchronize() override { inner_.synchronize(); }
  void copy(const void* src, Device src_device, void* dst, Device dst_device, uint64_t bytes) override;
  bool pin_host(void* p, uint64_t bytes) override { return inner_.pin_host(p, bytes); }
  void unpin_host(void* p) override { inner_.unpin_host(p); }

  void get_rows(const TensorView& table, std::span<const int32_t> ids, ActView out) override;
  void rms_norm(ActView x, const TensorView& weight, float eps, ActView out) override;
  void matmul(const TensorView& w, ActView x, ActView y, const TensorView& bias = {}) override;
  void matmul_many(std::span<const MatmulItem> items) override;
  void rope(ActView x, int64_t n_head, int64_t head_dim, int64_t pos0, const RopeParams& p) override;
  void attention(const AttentionParams& p, ActView q, ActView k, ActView v, const KvLayer& cache, int64_t pos0,
                 ActView out) override;
  bool supports(const AttentionParams& p) const override { return inner_.supports(p); }
  void attention_batch(const AttentionParams& p, const RopeParams* rope, ActView q, ActView k, ActView v,
                       std::span<const AttentionSeq> seqs, ActView out) override;
  void glu(GluKind kind, ActView gate, ActView up, ActView out) override;
  void add(ActView x, ActView y) override;
  void add_rms_norm(ActView x, ActView y, const TensorView& weight, float eps, ActView out) override;
  void fill(ActView x, float value) override;
  void moe_decode(ActView logits, const RouteParams& p, const MoeWeights& w, ActView x, ActView out) override;
  bool moe_decode_on_device() const override { return inner_.moe_decode_on_device(); }
  void moe_route(ActView logits, const RouteParams& p, std::span<int32_t> ids, std::span<float> weights) override;
  void gather_rows(ActView src, std::span<const int32_t> rows, ActView dst) override;
  void scatter_add(ActView src, std::span<const int32_t> rows, std::span<const float> scale, ActView dst) override;
  // begin_capture, end_capture and replay keep the base's false: a recorded step cannot be timed op by op.

 private:
  // Runs `call` (one op on the wrapped backend), waits for it, and adds its time to the row of `op`.
  template <typename Call>
  void timed(std::string_view op, Call&& call) {
    const auto start = std::chrono::steady_clock::now();
    call();
    inner_.synchronize();
    add_time(op, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  void add_time(std::string_view op, double seconds);

  Backend& inner_;
  mutable std::mutex mu_;                   // guards rows_
  std::map<std::string, OpTime> rows_;
};

}  // namespace strata::kernels
