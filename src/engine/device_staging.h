// engine/device_staging.h: a ring of device slots through which weights held in RAM reach the GPU for the
// products the plan computes there (prompt batches, and decode where a copy over PCIe beats the CPU): each
// upload runs on a copy stream, issued ahead in the pass's order so the next tensors' copies overlap this
// product, and a slot is refilled only after the last op that reads it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/status.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace strata::engine {

struct StagingCounters {
  uint64_t uploads = 0;       // tensors copied into a slot
  uint64_t bytes = 0;         // their bytes
  uint64_t ahead = 0;         // acquisitions whose upload had been issued ahead (prefetched)
  uint64_t on_demand = 0;     // acquisitions that had to start their own upload
};

class DeviceStaging {
 public:
  // The staged tensors of each kind of pass, in the order the pass acquires them (a tensor may be in both).
  struct Orders {
    std::vector<model::TensorId> prefill, decode;
  };
  // Where a staged tensor's host bytes come from (held until its upload completes).
  using HostSource = std::function<Result<model::WeightRef>(model::TensorId)>;

  // n_slots slots of slot_bytes on `device`; uploads are issued on `copier` (a second stream of the same
  // device, or `device` itself: then copies and products take turns). REQUIRES: n_slots >= 2; every staged
  // tensor fits a slot.
  static Result<std::unique_ptr<DeviceStaging>> make(const model::Model& m, kernels::Backend& device,
                                                     kernels::Backend& copier, int n_slots, uint64_t slot_bytes,
                                                     Orders orders, HostSource host);

  bool stages(model::TensorId id, bool decode) const;
  void begin_pass(bool decode) { decode_ = decode; }
  // The tensor in a slot (its upload's event as the ref's ready event), then uploads of the tensors after it.
  // `slot` receives the slot index, for release().
  Result<TensorView> acquire(model::TensorId id, int& slot, kernels::EventPtr& ready);
  // The slot's reader is done after `consumed` (null: now).
  void release(int slot, kernels::EventPtr consumed);

  const StagingCounters& counters() const { return counters_; }
  int n_slots() const { return static_cast<int>(slots_.size()); }
  uint64_t slot_bytes() const { return slot_bytes_; }

 private:
  struct Slot {
    std::unique_ptr<kernels::Buffer> buf;
    model::TensorId id = -1;        // whose bytes it holds or is receiving (-1: none)
    kernels::EventPtr uploaded;     // the upload's completion, on the copy stream
    kernels::EventPtr read_done;    // the last reader's op, on the device stream
    int refs = 0;
  };
  DeviceStaging(const model::Model& m, kernels::Backend& device, kernels::Backend& copier, HostSource host)
      : m_(m), device_(device), copier_(copier), host_(std::move(host)) {}
  int slot_of(model::TensorId id) const;
  // Copies `id` into the next slot of the ring; false when that slot is still held by an op being issued.
  Result<bool> upload(model::TensorId id);
  const std::vector<model::TensorId>& order() const { return decode_ ? orders_.decode : orders_.prefill; }
  const std::vector<int32_t>& position() const { return decode_ ? decode_pos_ : prefill_pos_; }

  const model::Model& m_;
  kernels::Backend& device_;
  kernels::Backend& copier_;
  HostSource host_;
  Orders orders_;
  std::vector<int32_t> prefill_pos_, decode_pos_;  // per tensor id: its index in the order, or -1
  std::vector<Slot> slots_;
  uint64_t slot_bytes_ = 0;
  int next_ = 0;  // the slot the next upload fills
  bool decode_ = false;
  StagingCounters counters_;
};

}  // namespace strata::engine
