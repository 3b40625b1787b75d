// streaming/staging_pool.cc: slot states, the prefetch window, and on-demand loads.
#include "streaming/staging_pool.h"

#include <algorithm>

#include "core/check.h"

namespace strata::streaming {

StagingPool::StagingPool(const model::Model& m, Schedule schedule, IoQueue& io, int n_slots, uint64_t slot_bytes,
                         int depth)
    : m_(m),
      schedule_(std::move(schedule)),
      io_(io),
      slot_bytes_(slot_bytes),
      depth_(depth),
      arena_(static_cast<size_t>(n_slots) * slot_bytes),
      slots_(n_slots) {
  STRATA_CHECK(schedule_.empty() || (n_slots >= 1 && slot_bytes % io.alignment() == 0));
}

StagingPool::~StagingPool() {
  for (Slot& s : slots_)
    for (auto& e : s.readers) e->synchronize();
}

bool StagingPool::busy(Slot& s) {
  std::erase_if(s.readers, [](const kernels::EventPtr& e) { return e->query(); });
  return !s.readers.empty();
}

int StagingPool::free_slot() const {
  for (int s = 0; s < static_cast<int>(slots_.size()); ++s)
    if (slots_[s].state == State::Free) return s;
  return -1;
}

// Frees every settled, unreferenced slot the pass no longer needs: consumed, or scheduled before the
// pass's position (left behind by an aborted pass).
void StagingPool::reclaim() {
  for (Slot& s : slots_) {
    if (s.state != State::Ready && s.state != State::Failed) continue;
    if (s.refs > 0 || busy(s)) continue;
    if (s.consumed || s.seq < consume_seq_) s = Slot{};
  }
}

void StagingPool::issue(int s, int64_t seq, model::TensorId id) {
  const gguf::TensorInfo& t = m_.tensors[id];
  const io::AlignedSpan span = io::align_span(t.file_offset, t.size_bytes, io_.alignment());
  STRATA_CHECK(span.length <= slot_bytes_);
  Slot& slot = slots_[s];
  STRATA_CHECK(slot.state == State::Free);
  slot = Slot{State::Loading, seq, id, span.lead, 0, false, Status::ok(), {}};
  Status st = io_.submit(IoQueue::Client::Staging, static_cast<uint64_t>(s), span, slot_data(s));
  if (!st.is_ok()) {
    slot.state = State::Failed;
    slot.error = std::move(st);
  }
}

void StagingPool::complete(uint64_t s, const Status& status) {
  Slot& slot = slots_[s];
  STRATA_CHECK(slot.state == State::Loading);
  slot.state = status.is_ok() ? State::Ready : State::Failed;
  slot.error = status;
}

void StagingPool::pump() {
  reclaim();
  if (schedule_.empty() || cur_group_ < 0) return;
  issue_seq_ = std::max(issue_seq_, consume_seq_);
  // Never more than one pass ahead (the same read twice), never past the depth window.
  while (issue_seq_ < consume_seq_ + schedule_.size() && schedule_.group_of(issue_seq_) <= cur_group_ + depth_) {
    const int s = free_slot();
    if (s < 0) return;
    issue(s, issue_seq_, schedule_.tensor(issue_seq_));
    ++issue_seq_;
  }
}

void StagingPool::begin_group(int64_t abs_group) {
  cur_group_ = abs_group;
  if (schedule_.empty()) return;
  // On schedule this is a no-op; after a pass that stopped early it skips what that pass never read.
  consume_seq_ = schedule_.first_seq(abs_group);
  (void)io_.poll();  // a fatal error resurfaces on the next acquire
  pump();
}

Status StagingPool::wait_loaded(int s) {
  while (slots_[s].state == State::Loading) STRATA_RETURN_IF_ERROR(io_.wait_one());
  return slots_[s].state == State::Failed ? slots_[s].error : Status::ok();
}

Result<int> StagingPool::slot_for_demand() {
  for (;;) {
    reclaim();
    if (const int s = free_slot(); s >= 0) return s;
    // Give up the prefetched read furthest ahead; the prefetcher issues it again later.
    int far = -1;
    for (int s = 0; s < static_cast<int>(slots_.size()); ++s) {
      const Slot& x = slots_[s];
      if (x.refs == 0 && !x.consumed && x.seq >= 0 && (far < 0 || x.seq > slots_[far].seq)) far = s;
    }
    if (far >= 0 && slots_[far].state != State::Loading) {
      issue_seq_ = std::min(issue_seq_, slots_[far].seq);
      slots_[far] = Slot{};
      return far;
    }
    if (io_.in_flight() == 0) {
      // A consumed slot whose readers are still running on a device frees once they finish: wait for one.
      auto held = std::find_if(slots_.begin(), slots_.end(), [](Slot& x) { return x.refs == 0 && busy(x); });
      if (held != slots_.end()) {
        held->readers.front()->synchronize();
        continue;
      }
      return error("all {} staging slots hold weights still in use; more slots are needed", slots_.size());
    }
    STRATA_RETURN_IF_ERROR(io_.wait_one());  // a slot settles; look again
  }
}

Result<StagingPool::Acquired> StagingPool::acquire(model::TensorId id) {
  STRATA_RETURN_IF_ERROR(io_.poll());
  int s = -1;
  if (!schedule_.empty() && cur_group_ >= 0 && schedule_.tensor(consume_seq_) == id) {
    for (int i = 0; i < static_cast<int>(slots_.size()); ++i)
      if (slots_[i].state != State::Free && slots_[i].seq == consume_seq_) s = i;
    if (s >= 0) {
      ++counters_.n_hits;
    } else {
      STRATA_ASSIGN_OR_RETURN(s, slot_for_demand());
      issue(s, consume_seq_, id);
    }
    ++consume_seq_;
  } else {
    // Not the read the schedule expects (forward.cc and pass_reads() disagree): load it on demand.
    ++counters_.n_unscheduled;
    STRATA_ASSIGN_OR_RETURN(s, slot_for_demand());
    issue(s, -1, id);
  }
  Slot& slot = slots_[s];
  slot.consumed = true;  // from here the slot is freed once every view of it is released
  const Status loaded = wait_loaded(s);
  if (!loaded.is_ok()) {
    pump();
    return loaded;
  }
  ++slot.refs;
  pump();
  return Acquired{model::make_view(m_, id, slot_data(s) + slot.lead), s};
}

void StagingPool::release(int s, kernels::EventPtr consumed) {
  STRATA_CHECK(s >= 0 && s < static_cast<int>(slots_.size()) && slots_[s].refs > 0);
  if (consumed && !consumed->query()) slots_[s].readers.push_back(std::move(consumed));
  if (--slots_[s].refs == 0) pump();
}

}  // namespace strata::streaming
