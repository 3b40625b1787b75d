// streaming/expert_cache.h: the MoE expert cache: a fixed number of entries, each one (layer, expert)'s
// streamed gate/up/down slices read with one contiguous read per tensor. An entry counts as cached only once
// all its reads have arrived; one in use (a view held, or released behind an event not yet complete), loading,
// or routed and not yet consumed is never evicted. Eviction
// weighs recency and frequency together (LRFU).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <span>
#include <utility>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/status.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "streaming/expert_stats.h"
#include "streaming/io_queue.h"

namespace strata::streaming {

struct ExpertCounters {
  uint64_t hits = 0;      // routed experts already cached or arriving
  uint64_t misses = 0;    // routed (or acquired) experts that needed a read
  uint64_t speculative_reads = 0;  // experts read ahead on a co-activation prediction
  uint64_t speculative_used = 0;   // ... that were then routed
  uint64_t warmed = 0;             // experts read at start from saved statistics
};

// Hits and misses of one forward pass (one token when decoding).
struct PassExpertCounts {
  uint32_t hits = 0;
  uint32_t misses = 0;
};

class ExpertCache {
 public:
  // streamed: per tensor id. REQUIRES: n_entries >= 1; entry_bytes covers the largest expert footprint;
  // `io` routes Experts completions to complete(); no read into the cache is in flight at destruction
  // (the owner drains or destroys the queue first).
  ExpertCache(const model::Model& m, const std::vector<bool>& streamed, IoQueue& io, int n_entries,
              uint64_t entry_bytes, double decay_per_pass);
  ~ExpertCache();  // waits for the consumers still reading entries

  // Whether expert tensor `which` of `layer` streams (otherwise the resident set serves it).
  bool streams(int layer, model::ExpertTensor which) const { return (parts_[layer] >> static_cast<int>(which)) & 1; }

  // A new forward pass begins: closes the previous pass's hit counts and advances the clock.
  void begin_pass();
  // The router picked `experts` at `layer`: counts hits and misses and starts reads for the misses.
  void on_route(int layer, std::span<const int32_t> experts);
  // Reads ahead experts of `layer` predicted with probability p, evicting only an entry whose score s
  // weighs less (s / (1 + s) < p); never one routed and not yet consumed.
  void speculate(int layer, std::span<const std::pair<int32_t, double>> candidates);
  // Reads the given experts (most valuable first) into free entries and waits for them.
  Status warm(std::span<const ExpertKey> keys);

  struct Acquired {
    TensorView view;
    int entry = -1;
  };
  Result<Acquired> acquire(int layer, model::ExpertTensor which, int32_t expert);
  void release(int entry, kernels::EventPtr consumed = nullptr);  // consumed: null = the bytes are free now
  void complete(uint64_t token, const Status& status);

  int n_entries() const { return static_cast<int>(entries_.size()); }
  uint64_t bytes() const { return arena_.size(); }
  // Present (arriving or arrived), and arrived: all of its reads completed successfully.
  bool contains(int layer, int32_t expert) const;
  bool ready(int layer, int32_t expert) const;
  const ExpertCounters& counters() const { return counters_; }
  const std::deque<PassExpertCounts>& per_pass() const { return per_pass_; }

 private:
  enum class State { Empty, Loading, Ready, Failed };
  struct Entry {
    int layer = -1;
    int32_t expert = -1;
    State state = State::Empty;
    int pending = 0;  // reads in flight
    Status error;
    int refs = 0;
    uint64_t pin_epoch = 0;  // the route that pinned it ...
    uint8_t unused = 0;      // ... and the parts it has not acquired yet
    uint64_t spec_epoch = 0;
    bool speculative = false;  // read on a prediction, not yet routed
    double crf = 0;            // combined recency-frequency at time `last`
    double last = 0;
    std::array<uint64_t, 3> data_offset{};  // per part: the slice's offset in the arena
    // Released views' consumer events, not yet complete (mutable: pruning completed ones is not a change).
    mutable std::vector<kernels::EventPtr> readers;
  };
  // Drops completed reader events; true while some are still pending.
  static bool busy(const Entry& e);

  size_t key(int layer, int32_t expert) const { return static_cast<size_t>(layer) * n_expert_ + expert; }
  double score(const Entry& e) const;
  void touch(Entry& e);
  bool pinned(const Entry& e) const { return e.pin_epoch == epoch_ && e.unused != 0; }
  // The entry to reuse: an empty or failed one, else the lowest score under `below` among evictable ones.
  int victim(bool allow_pinned, double below) const;
  void load(int slot, int layer, int32_t expert);
  void forget(int slot);
  bool routed_now(int layer, int32_t expert) const;

  const model::Model& m_;
  IoQueue& io_;
  const int n_layer_;
  const int n_expert_;
  const uint64_t entry_bytes_;
  const double decay_;
  std::vector<uint8_t> parts_;  // per layer: bitmask of streamed expert tensors
  AlignedBuffer arena_;
  std::vector<Entry> entries_;
  std::vector<int32_t> slot_of_;  // per (layer, expert): entry index, or -1
  uint64_t epoch_ = 1;            // one per on_route call (0 marks entries never pinned)
  int route_layer_ = 0;
  std::vector<int32_t> route_;    // the experts of the current route
  uint64_t pass_ = 0;
  double now_ = 0;                // passes, with the layer as the fraction
  ExpertCounters counters_;
  PassExpertCounts this_pass_;
  std::deque<PassExpertCounts> per_pass_;  // the most recent passes (bounded)
};

}  // namespace strata::streaming
