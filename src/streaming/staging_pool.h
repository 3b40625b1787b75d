// streaming/staging_pool.h: fixed staging slots for streamed dense tensors and the prefetcher that fills them
// `depth` layers ahead of the forward pass, wrapping across passes. A slot is reused only once its tensor
// has been consumed, every view of it released and every event its views were released behind has
// completed (the ops reading it finished, on an asynchronous backend too), and never while a read into it is
// in flight.
#pragma once

#include <cstdint>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/status.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "streaming/io_queue.h"
#include "streaming/schedule.h"

namespace strata::streaming {

struct StagingCounters {
  uint64_t n_hits = 0;          // acquires whose read had already been issued by the prefetcher
  uint64_t n_unscheduled = 0;   // acquires out of the expected order, loaded on demand
};

class StagingPool {
 public:
  // REQUIRES: slot_bytes covers the aligned superset of every scheduled tensor; n_slots >= 1 when the
  // schedule is not empty; `io` routes Staging completions to complete(); no read into a slot is in
  // flight at destruction (the owner drains or destroys the queue first).
  StagingPool(const model::Model& m, Schedule schedule, IoQueue& io, int n_slots, uint64_t slot_bytes, int depth);
  ~StagingPool();  // waits for the consumers still reading slots

  // The forward pass entered absolute group `abs_group` (see Schedule). Resynchronises the expected
  // order (after an aborted pass), frees slots left behind, and issues reads up to depth groups ahead.
  void begin_group(int64_t abs_group);

  // Waits for tensor `id` and pins its slot. The view stays valid until release(slot, e) and e's completion.
  struct Acquired {
    TensorView view;
    int slot = -1;
  };
  Result<Acquired> acquire(model::TensorId id);
  void release(int slot, kernels::EventPtr consumed = nullptr);  // consumed: null = the bytes are free now

  // A read into `slot` finished.
  void complete(uint64_t slot, const Status& status);

  uint64_t bytes() const { return arena_.size(); }
  const StagingCounters& counters() const { return counters_; }

 private:
  enum class State { Free, Loading, Ready, Failed };
  struct Slot {
    State state = State::Free;
    int64_t seq = -1;  // schedule sequence number; -1 for an unscheduled load
    model::TensorId tensor = model::kNoTensor;
    uint64_t lead = 0;  // where the tensor starts in the slot
    int refs = 0;       // views handed out and not released
    bool consumed = false;
    Status error;
    std::vector<kernels::EventPtr> readers;  // released views' consumer events, not yet complete
  };
  // Drops completed reader events; true while some are still pending.
  static bool busy(Slot& s);

  uint8_t* slot_data(int s) { return arena_.data() + static_cast<uint64_t>(s) * slot_bytes_; }
  void issue(int s, int64_t seq, model::TensorId id);
  int free_slot() const;
  void reclaim();
  void pump();
  // Finds a slot for an on-demand load, waiting for reads or evicting unconsumed prefetches if needed.
  Result<int> slot_for_demand();
  Status wait_loaded(int s);

  const model::Model& m_;
  Schedule schedule_;
  IoQueue& io_;
  const uint64_t slot_bytes_;
  const int depth_;
  AlignedBuffer arena_;  // n_slots * slot_bytes_
  std::vector<Slot> slots_;
  int64_t cur_group_ = -1;   // absolute group the pass is in; -1 before the first begin_group
  int64_t consume_seq_ = 0;  // the next scheduled read the pass should acquire
  int64_t issue_seq_ = 0;    // the next scheduled read to issue
  StagingCounters counters_;
};

}  // namespace strata::streaming
