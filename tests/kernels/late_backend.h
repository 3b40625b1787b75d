// tests/kernels/late_backend.h: a deliberately late asynchronous backend for tests: every op and copy is queued
// and run on a worker thread after a delay (by a CPU backend of its own), so a caller that touches memory an
// op still needs, or frees a weight slot before the op's event completes, is caught. Before running a matmul
// the worker checks that the weight's bytes still hash to what they were when the op was enqueued.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "kernels/cpu/backend_cpu.h"

namespace strata::kernels::testing {

class LateBackend final : public Backend {
 public:
  // routes_on_device: claims moe_decode_on_device (its moe_decode is the interface's host-routed default), so
  // the forward pass's device MoE path can run here.
  LateBackend(int index, std::chrono::microseconds delay, bool routes_on_device = false)
      : cpu_(1, index), delay_(delay), routes_on_device_(routes_on_device), worker_([this] { loop(); }) {}
  ~LateBackend() override {
    synchronize();
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  // Matmuls whose weight bytes changed between enqueue and execution (a slot reused too early).
  int stale_weights() const { return stale_.load(); }
  // Weights allocations made (a real device rounds each one up to its page: many small ones waste memory).
  int weight_allocs() const { return weight_allocs_.load(); }
  int ops_run() const { return ops_.load(); }

  std::string_view name() const override { return "late"; }
  Device device() const override { return cpu_.device(); }
  std::string describe() const override { return "late: ops run on a worker after a delay"; }
  std::unique_ptr<Buffer> alloc(uint64_t size, BufferUse use) override {
    auto inner = cpu_.alloc(size, use);
    if (inner && use == BufferUse::Weights) ++weight_allocs_;
    if (!inner || (use != BufferUse::Weights && use != BufferUse::Staging)) return inner;
    return std::make_unique<OwnedWeights>(std::move(inner), this);
  }
  bool can_read(Device d) const override { return d.is_host(); }
  // With own_weights_only, this stand-in plays a device whose weights must be in memory it allocated (as a GPU
  // cannot read an unpinned host page): a product handed any other weight bytes counts as foreign.
  void set_own_weights_only(bool on) { own_weights_only_ = on; }
  int foreign_weights() const { return foreign_.load(); }

  EventPtr record() override {
    auto e = std::make_shared<Flag>();
    push([e] { e->set(); }, /*delayed=*/false);
    return e;
  }
  // Waits on the host: everything enqueued after this call then runs after e (the caller may drop e on return,
  // so the worker must not hold it).
  void wait(const Event& e) override { const_cast<Event&>(e).synchronize(); }
  void synchronize() override { record()->synchronize(); }
  void copy(const void* src, Device sd, void* dst, Device dd, uint64_t bytes) override {
    push([=, this] { cpu_.copy(src, sd, dst, dd, bytes); });
  }
  using Backend::copy;
  // Pinning is recorded (page-aligned ranges, each unpinned once), not done.
  bool pin_host(void* p, uint64_t bytes) override {
    std::lock_guard lock(mu_);
    const bool aligned = reinterpret_cast<uintptr_t>(p) % 4096 == 0 && bytes % 4096 == 0;
    if (!aligned || pins_.count(p)) ++bad_pins_;
    pins_[p] = bytes;
    return true;
  }
  void unpin_host(void* p) override {
    std::lock_guard lock(mu_);
    if (pins_.erase(p) == 0) ++bad_pins_;
  }
  uint64_t pinned_bytes() {
    std::lock_guard lock(mu_);
    uint64_t n = 0;
    for (const auto& [p, bytes] : pins_) n += bytes;
    return n;
  }
  int bad_pins() {
    std::lock_guard lock(mu_);
    return bad_pins_;
  }

  void get_rows(const TensorView& t, std::span<const int32_t> ids, ActView out) override {
    push([=, this, ids = std::vector<int32_t>(ids.begin(), ids.end())] { cpu_.get_rows(t, ids, out); });
  }
  void rms_norm(ActView x, const TensorView& w, float eps, ActView out) override {
    push([=, this] { cpu_.rms_norm(x, w, eps, out); });
  }
  void matmul(const TensorView& w, ActView x, ActView y, const TensorView& bias = {}) override {
    if (own_weights_only_ && !owns(w.data, w.size_bytes())) ++foreign_;
    const uint64_t h = hash(w);
    push([=, this] {
      if (hash(w) != h) ++stale_;
      cpu_.matmul(w, x, y, bias);
    });
  }
  void rope(ActView x, int64_t n_head, int64_t hd, int64_t pos0, const RopeParams& p) override {
    push([=, this] { cpu_.rope(x, n_head, hd, pos0, p); });
  }
  void attention(const AttentionParams& p, ActView q, ActView k, ActView v, const KvLayer& c, int64_t pos0,
                 ActView out) override {
    push([=, this] { cpu_.attention(p, q, k, v, c, pos0, out); });
  }
  bool supports(const AttentionParams& p) const override { return cpu_.supports(p); }
  bool moe_decode_on_device() const override { return routes_on_device_; }
  int moe_decodes() const { return moe_decodes_.load(); }
  void moe_decode(ActView logits, const RouteParams& p, const MoeWeights& w, ActView x, ActView out) override {
    ++moe_decodes_;
    Backend::moe_decode(logits, p, w, x, out);
  }
  void glu(GluKind kind, ActView g, ActView u, ActView out) override { push([=, this] { cpu_.glu(kind, g, u, out); }); }
  void add(ActView x, ActView y) override { push([=, this] { cpu_.add(x, y); }); }
  void fill(ActView x, float value) override { push([=, this] { cpu_.fill(x, value); }); }
  void moe_route(ActView logits, const RouteParams& p, std::span<int32_t> ids, std::span<float> w) override {
    push([=, this] { cpu_.moe_route(logits, p, ids, w); });
  }
  void gather_rows(ActView src, std::span<const int32_t> rows, ActView dst) override {
    push([=, this, rows = std::vector<int32_t>(rows.begin(), rows.end())] { cpu_.gather_rows(src, rows, dst); });
  }
  void scatter_add(ActView src, std::span<const int32_t> rows, std::span<const float> scale, ActView dst) override {
    push([=, this, rows = std::vector<int32_t>(rows.begin(), rows.end()),
          scale = std::vector<float>(scale.begin(), scale.end())] { cpu_.scatter_add(src, rows, scale, dst); });
  }

 private:
  class Flag final : public Event {
   public:
    void set() {
      std::lock_guard lock(mu_);
      done_ = true;
      cv_.notify_all();
    }
    bool query() const override {
      std::lock_guard lock(mu_);
      return done_;
    }
    void synchronize() override {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return done_; });
    }

   private:
    mutable std::mutex mu_;  // guards done_
    std::condition_variable cv_;
    bool done_ = false;
  };

  // A weights or staging buffer of this backend: its range is known while it lives.
  class OwnedWeights final : public Buffer {
   public:
    OwnedWeights(std::unique_ptr<Buffer> inner, LateBackend* owner) : inner_(std::move(inner)), owner_(owner) {
      std::lock_guard lock(owner_->mu_);
      owner_->owned_[inner_->data()] = inner_->size_bytes();
    }
    ~OwnedWeights() override {
      std::lock_guard lock(owner_->mu_);
      owner_->owned_.erase(inner_->data());
    }
    uint8_t* data() override { return inner_->data(); }
    uint64_t size_bytes() const override { return inner_->size_bytes(); }
    BufferUse use() const override { return inner_->use(); }
    Device device() const override { return inner_->device(); }

   private:
    std::unique_ptr<Buffer> inner_;
    LateBackend* owner_;
  };
  bool owns(const uint8_t* p, uint64_t bytes) {
    std::lock_guard lock(mu_);
    auto it = owned_.upper_bound(const_cast<uint8_t*>(p));
    if (it == owned_.begin()) return false;
    --it;
    return p + bytes <= it->first + it->second;
  }

  static uint64_t hash(const TensorView& w) {
    uint64_t h = 1469598103934665603ull;
    const uint64_t n = w.size_bytes();
    for (uint64_t i = 0; i < n; ++i) h = (h ^ w.data[i]) * 1099511628211ull;
    return h;
  }
  void push(std::function<void()> fn, bool delayed = true) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back({std::move(fn), delayed});
    }
    cv_.notify_all();
  }
  void loop() {
    for (;;) {
      Item item;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      if (item.delayed) std::this_thread::sleep_for(delay_);
      item.fn();
      ++ops_;
    }
  }

  struct Item {
    std::function<void()> fn;
    bool delayed = true;
  };
  CpuBackend cpu_;  // runs each op, on the worker thread only
  const std::chrono::microseconds delay_;
  const bool routes_on_device_;
  std::atomic<int> moe_decodes_{0};
  std::mutex mu_;  // guards queue_, stop_, pins_, bad_pins_ and owned_
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;
  std::map<void*, uint64_t> pins_;
  int bad_pins_ = 0;  // unaligned, repeated or unknown pin/unpin calls
  std::map<uint8_t*, uint64_t> owned_;  // weights and staging buffers alive: start -> bytes
  std::atomic<bool> own_weights_only_{false};
  std::atomic<int> stale_{0}, ops_{0}, foreign_{0}, weight_allocs_{0};
  std::thread worker_;  // last: starts after every other member exists
};

}  // namespace strata::kernels::testing
