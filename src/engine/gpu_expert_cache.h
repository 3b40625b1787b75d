// engine/gpu_expert_cache.h: MoE experts held in GPU memory one (layer, expert) at a time, for models whose
// experts do not all fit there. A decode step computes the routed experts the cache holds on the GPU while the
// CPU computes the others from RAM (the forward pass issues the GPU's first). Experts routed often displace
// those routed rarely: each (layer, expert) keeps a routing count that decays per step, and after a layer's
// step one missed expert whose count beats the lowest slot's by a margin is copied in on the copy stream. A slot
// is overwritten only after the last op that read it has completed.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "core/status.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace strata::engine {

struct ExpertCacheCounters {
  uint64_t hits = 0;        // routed experts computed from a slot (one per expert a layer's step)
  uint64_t misses = 0;      // routed experts of served layers not held
  uint64_t slices_read = 0; // slices handed to ops (three a hit computed from its slot)
  uint64_t admissions = 0;  // experts copied into a slot after load
  uint64_t admitted_bytes = 0;
};

// What the cache is asked to be: its slots, the layers whose experts it serves, and the experts it holds first.
struct ExpertCacheSetup {
  kernels::Backend* copier = nullptr;   // the copy stream for admissions (null: the device backend itself)
  int n_slots = 0;
  uint64_t slot_bytes = 0;              // one (layer, expert)'s gate, up and down slices, each 256-aligned
  std::vector<bool> serves;             // per layer
  std::vector<std::pair<int, int32_t>> warm;  // (layer, expert) in the order to fill the slots at load
  bool adapt = true;                    // admit often-routed experts after load (false: the warm set stays)
  std::vector<model::TensorId> pin;     // expert tensors to page-lock, so admissions copy asynchronously
};

class GpuExpertCache {
 public:
  // The host bytes of one expert slice (held until its upload completes).
  using HostSource = std::function<Result<model::WeightRef>(int layer, model::ExpertTensor which, int32_t expert)>;

  // Allocates the slots on `device` and fills them with setup.warm (as many as fit), waiting for the copies.
  // Later admissions are copied on `copier` (a second stream of the device, or the device itself).
  static Result<std::unique_ptr<GpuExpertCache>> make(const model::Model& m, kernels::Backend& device,
                                                      kernels::Backend& copier, const ExpertCacheSetup& setup,
                                                      HostSource host);
  // Bytes of one expert's three slices as a slot lays them out.
  static uint64_t slot_bytes_for(const model::Model& m, int layer);

  bool serves(int layer) const { return layer >= 0 && static_cast<size_t>(layer) < serves_.size() && serves_[layer]; }
  bool holds(int layer, int32_t expert) const { return slot_of(layer, expert) >= 0; }
  // A decode step routed `experts` in `layer`: counts them (hits and misses, and the decaying routing counts).
  void on_route(int layer, std::span<const int32_t> experts);
  // After the layer's ops are issued: copies in at most one missed expert of the step that now outscores the
  // lowest slot no op is reading.
  Status admit(int layer);
  // Expert `expert`'s slice `which` in its slot (`ready`: its copy's event, null once known complete); `slot`
  // receives the slot index for release(). REQUIRES: holds(layer, expert).
  TensorView acquire(int layer, model::ExpertTensor which, int32_t expert, int& slot, kernels::EventPtr& ready);
  // The slot's reader is done after `consumed` (null: now).
  void release(int slot, kernels::EventPtr consumed);
  void synchronize() {
    copier_.synchronize();
    device_.synchronize();
  }

  const ExpertCacheCounters& counters() const { return counters_; }
  int n_slots() const { return static_cast<int>(slots_.size()); }
  uint64_t slot_bytes() const { return slot_bytes_; }
  uint64_t device_bytes() const { return arena_ ? arena_->size_bytes() : 0; }

 private:
  struct Slot {
    uint8_t* data = nullptr;  // its bytes in arena_
    int layer = -1;
    int32_t expert = -1;
    kernels::EventPtr uploaded;   // the copy's completion (null: none pending)
    kernels::EventPtr read_done;  // the last op that read it
    int refs = 0;                 // acquisitions not yet released
  };
  GpuExpertCache(const model::Model& m, kernels::Backend& device, kernels::Backend& copier, HostSource host)
      : m_(m), device_(device), copier_(copier), host_(std::move(host)) {}
  int slot_of(int layer, int32_t expert) const;
  size_t key(int layer, int32_t expert) const { return static_cast<size_t>(layer) * n_expert_ + static_cast<size_t>(expert); }
  // The routing count of (layer, expert) decayed to the layer's current step.
  double score(int layer, int32_t expert) const;
  Status upload(Slot& slot, int layer, int32_t expert);
  std::array<uint64_t, 3> offsets(int layer) const;
  // Every slot in one allocation: the device rounds each allocation up to its page (2 MiB), so 2,240 slots of
  // 2.9 MiB allocated one by one took 4 MiB each, 2.5 GB beyond the plan (qwen3-30b-a3b at --gpu-mem 8G).
  std::unique_ptr<kernels::Buffer> arena_;

  const model::Model& m_;
  kernels::Backend& device_;
  kernels::Backend& copier_;
  HostSource host_;
  uint64_t slot_bytes_ = 0;
  size_t n_expert_ = 0;
  bool adapt_ = true;
  std::vector<bool> serves_;
  std::vector<Slot> slots_;
  std::vector<int> slot_index_;     // per (layer, expert): its slot or -1
  std::vector<double> count_;       // per (layer, expert): routing count at step last_step_
  std::vector<uint64_t> last_step_;
  std::vector<uint64_t> step_;      // per layer: decode steps routed so far
  std::vector<int32_t> missed_;     // the current step's missed experts of the layer last routed
  std::vector<std::pair<double, size_t>> victims_;  // admit()'s slots by score
  int missed_layer_ = -1;
  ExpertCacheCounters counters_;
};

}  // namespace strata::engine
