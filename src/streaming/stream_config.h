// streaming/stream_config.h: the plain input of the streaming source (which tensors stay resident, which
// stream, and how), the memory such a configuration holds, and configurations made from a RAM budget alone.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/status.h"
#include "model/model.h"
#include "streaming/io_queue.h"
#include "io/reader.h"

namespace strata::streaming {

struct StreamConfig {
  // Every tensor the forward pass reads is in exactly one of the three lists. Resident tensors are read once at
  // start and never evicted; streamed dense tensors go through the staging slots; streamed expert
  // tensors (ffn_{gate,up,down}_exps) through the expert cache, one expert's slice at a time; a streamed
  // untied token embedding a row per token (is_row_gather), into buffers sized by the pass, not a slot.
  std::vector<model::TensorId> resident;
  std::vector<model::TensorId> streamed;
  // Tensors another device holds (a plan's GPU tier, uploaded from the file at load): never read through
  // this source, so neither RAM nor a slot holds them.
  std::vector<model::TensorId> elsewhere;
  int n_slots = 2;                  // staging slots for streamed dense tensors
  uint64_t slot_bytes = 0;          // 0: the largest streamed dense tensor's aligned superset (gathers aside)
  int prefetch_depth = 1;           // reads are issued at most this many layers ahead of the pass
  uint64_t expert_cache_bytes = 0;  // 0: room for n_expert_used experts (the least that avoids re-reads in a layer)
  // Expert eviction weighs frequency against recency (LRFU): each use adds 1 to a score that halves every
  // 1 / expert_decay passes. 0 is pure frequency (LFU); large values approach LRU.
  double expert_decay = 0.5;
  // Experts of the next layer whose co-activation probability reaches this are read speculatively (> 1: never).
  double speculate_min_probability = 0.5;
  io::ReaderOptions io;        // reader kind (Memory reads the whole file into RAM: tests only), O_DIRECT, blocks, depth
  std::string stats_path;  // co-activation statistics, loaded at start and saved at exit; empty: none
  ProgressFn progress;     // hears "loading" in bytes while the resident set is read
};

// Where a resident set lives in one buffer: tensors adjacent in the file share one aligned read (a run).
struct ResidentLayout {
  struct Run {
    io::AlignedSpan span;
    uint64_t buffer_offset = 0;  // aligned
  };
  std::vector<Run> runs;
  std::vector<uint64_t> tensor_offset;  // per tensor id: its bytes' offset in the buffer, or kNotResident
  uint64_t total_bytes = 0;
  static constexpr uint64_t kNotResident = std::numeric_limits<uint64_t>::max();
};
ResidentLayout layout_resident(const model::Model& m, std::span<const model::TensorId> resident, uint64_t alignment);

// The memory a configuration holds, all of it allocated up front.
struct MemoryPlan {
  uint64_t resident_bytes = 0;
  int n_slots = 0;
  uint64_t slot_bytes = 0;
  int n_expert_entries = 0;
  uint64_t expert_entry_bytes = 0;  // one expert's streamed gate/up/down slices, aligned
  uint64_t staging_bytes() const { return static_cast<uint64_t>(n_slots) * slot_bytes; }
  uint64_t expert_cache_bytes() const { return static_cast<uint64_t>(n_expert_entries) * expert_entry_bytes; }
  uint64_t total() const { return resident_bytes + staging_bytes() + expert_cache_bytes(); }
};

// Validates `c` against the model (every read tensor placed once, sizes and limits sane) and sizes it.
Result<MemoryPlan> plan_memory(const model::Model& m, const StreamConfig& c, uint64_t alignment = 4096);

// Tensor ids the forward pass reads, each once, in first-use order.
std::vector<model::TensorId> used_tensors(const model::Model& m);

// Everything resident (no reads after load), or everything streamed (the least memory), over `base`'s knobs.
StreamConfig resident_config(const model::Model& m, StreamConfig base = {});
StreamConfig streamed_config(const model::Model& m, StreamConfig base = {});

// A configuration whose memory plan fits `weight_budget_bytes`: tensors are made resident in order of value
// per byte (norms, routers, embedding, output, attention, dense FFN, experts) while they fit; the rest stream;
// budget left over goes to the expert cache. Used by tests and as a planner-free fallback. The budget
// covers weights only: the caller subtracts the KV cache and activations from a process budget.
Result<StreamConfig> config_for_budget(const model::Model& m, uint64_t weight_budget_bytes, StreamConfig base = {});

}  // namespace strata::streaming
