// engine/device_staging.h: a ring of device memory through which weights held in RAM reach the GPU for the
// products the plan computes there (prompt batches, and decode where a copy over PCIe beats the CPU): each
// upload runs on a copy stream, issued ahead in the pass's order so the next weights' copies overlap this
// product, and bytes are overwritten only after the last op that read them. A staged unit is a whole tensor or
// one expert's slice of a stacked expert tensor; units are packed by size (a 16 KiB norm takes 16 KiB, not a
// slot the size of the largest unit), so small units do not starve the lookahead.
//
// The ring retires regions oldest first, so a region older than a held one is reused only after it: every unit
// between the oldest held region and the newest must be one the holder reads, or an on-demand upload finds the
// ring held whole. Hence uploads ahead stop at a layer's expert slices until its router has picked (an unrouted
// slice uploaded ahead would lie among the held ones), and an expert slice is reused only in the pass that
// uploaded it (the last pass's slices lie among other units; the slices of a pass come in its order).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace strata::engine {

struct StagingCounters {
  uint64_t uploads = 0;       // units copied into a slot
  uint64_t bytes = 0;         // their bytes
  uint64_t ahead = 0;         // acquisitions whose upload had been issued ahead (prefetched)
  uint64_t on_demand = 0;     // acquisitions that had to start their own upload
};

// A whole tensor (expert < 0) or expert `expert`'s [k, rows] slice of a stacked expert tensor.
struct StageKey {
  model::TensorId id = model::kNoTensor;
  int32_t expert = -1;
  bool operator==(const StageKey&) const = default;
};

class DeviceStaging {
 public:
  // The staged units of each kind of pass, in the order the pass acquires them (a unit may be in both). A
  // layer's expert slices go expert by expert, gate, up and down each, as the forward pass's groups take them.
  struct Orders {
    std::vector<StageKey> prefill, decode;
  };
  // Where a staged unit's host bytes come from (held until its upload completes).
  using HostSource = std::function<Result<model::WeightRef>(StageKey)>;

  // A ring of n_slots * slot_bytes on `device` (slot_bytes: the largest unit); uploads are issued on `copier` (a
  // second stream of the same device, or `device` itself: then copies and products take turns). REQUIRES:
  // n_slots >= 2; every staged unit fits slot_bytes.
  static Result<std::unique_ptr<DeviceStaging>> make(const model::Model& m, kernels::Backend& device,
                                                     kernels::Backend& copier, int n_slots, uint64_t slot_bytes,
                                                     Orders orders, HostSource host);
  // A unit's bytes (a slice: the stacked tensor's over its expert count).
  static uint64_t unit_bytes(const model::Model& m, StageKey key);
  // How many units of up to slot_bytes a ring of n_slots * slot_bytes lets a pass hold at once, the last of them
  // uploaded on demand, however they lie: each takes slot_bytes rounded up to the 256-byte alignment, and one
  // more unit's room is lost at most where the held units wrap (the tail too short for the next one).
  static int max_held_units(int n_slots, uint64_t slot_bytes);

  bool stages(StageKey key, bool decode) const;
  // Whether any expert slice is staged for this kind of pass (then a group of experts holds 3 units each).
  bool stages_experts(bool decode) const { return decode ? decode_experts_ : prefill_experts_; }
  // A pass begins: no layer has routed in it yet.
  void begin_pass(bool decode);
  // The experts the router picked for `layer` in this pass: uploads ahead reach that layer's slices from now on,
  // and skip the slices of experts it did not pick.
  void on_route(int layer, std::span<const int32_t> experts);
  // Expert slices found in the device's memory elsewhere (a GPU expert cache): uploads ahead skip them.
  void skip_held(std::function<bool(int layer, int32_t expert)> held) { held_ = std::move(held); }
  // The unit in the ring (its upload's event as the ref's ready event), then uploads of the units after it.
  // `handle` receives its region's handle, for release().
  Result<TensorView> acquire(StageKey key, uint64_t& handle, kernels::EventPtr& ready);
  // The region's reader is done after `consumed` (null: now).
  void release(uint64_t handle, kernels::EventPtr consumed);
  // Waits until every upload and every product issued so far has finished.
  void synchronize() {
    copier_.synchronize();
    device_.synchronize();
  }

  const StagingCounters& counters() const { return counters_; }
  // How many units of the largest size the ring holds (its bytes over slot_bytes).
  int n_slots() const { return static_cast<int>(ring_bytes_ / slot_bytes_); }
  int max_held_units() const { return max_held_units(n_slots(), slot_bytes_); }
  uint64_t slot_bytes() const { return slot_bytes_; }

 private:
  // One unit's bytes in the ring. Regions are allocated in order and retired oldest first.
  struct Region {
    StageKey key;
    uint64_t offset = 0, bytes = 0;
    kernels::EventPtr uploaded;   // the upload's completion, on the copy stream
    kernels::EventPtr read_done;  // the last reader's op, on the device stream
    int refs = 0;
    uint64_t pass = 0;            // the pass that uploaded it (an expert slice is reused only in that pass)
  };
  DeviceStaging(const model::Model& m, kernels::Backend& device, kernels::Backend& copier, HostSource host)
      : m_(m), device_(device), copier_(copier), host_(std::move(host)) {}
  static uint64_t hash(StageKey k) { return static_cast<uint64_t>(k.id) << 32 | static_cast<uint32_t>(k.expert + 1); }
  // The region holding `key` for this pass, or null.
  Region* find(StageKey key);
  // Copies `key` into the ring after the newest region, retiring the oldest ones in the way; false when one of
  // them is still held by an op being issued.
  Result<bool> upload(StageKey key);
  static uint64_t aligned(uint64_t bytes) { return (bytes + 255) / 256 * 256; }
  // Whether an upload ahead of `key` is wasted: an expert slice of the routed layer the router did not pick.
  bool skipped(StageKey key) const;
  // Whether uploads ahead stop at `key`: an expert slice of a layer whose router has not picked in this pass
  // (`wrapped`: the key is the next pass's).
  bool unrouted(StageKey key, bool wrapped) const {
    return key.expert >= 0 && (wrapped || layer_of_[key.id] != routed_layer_);
  }
  const std::vector<StageKey>& order() const { return decode_ ? orders_.decode : orders_.prefill; }
  const std::unordered_map<uint64_t, size_t>& position() const { return decode_ ? decode_pos_ : prefill_pos_; }

  const model::Model& m_;
  kernels::Backend& device_;
  kernels::Backend& copier_;
  HostSource host_;
  Orders orders_;
  std::unordered_map<uint64_t, size_t> prefill_pos_, decode_pos_;  // a unit's index in each order
  bool prefill_experts_ = false, decode_experts_ = false;
  std::vector<int> layer_of_;  // per tensor id: the layer of a stacked expert tensor, else -1
  std::function<bool(int, int32_t)> held_;
  int routed_layer_ = -1;
  std::vector<bool> routed_;   // per expert of routed_layer_
  std::unique_ptr<kernels::Buffer> ring_;
  uint64_t ring_bytes_ = 0, slot_bytes_ = 0;
  std::deque<Region> regions_;                 // live regions, oldest first
  uint64_t front_handle_ = 0;                  // the handle of regions_.front(); handles count up
  uint64_t head_ = 0;                          // where the next region starts (wrapping to 0)
  std::unordered_map<uint64_t, uint64_t> where_;  // a unit's hash -> its region's handle
  bool decode_ = false;
  uint64_t pass_ = 0;  // counts begin_pass()
  StagingCounters counters_;
};

}  // namespace strata::engine
