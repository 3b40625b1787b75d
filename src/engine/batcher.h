// engine/batcher.h: continuous batching over one loaded model: up to n_parallel sequences, each in its own
// KV slot, decode together in one forward pass per step; requests join and leave at step boundaries, long
// prompts go in chunks beside running decodes, and a finished sequence's slot stays warm so a later prompt
// sharing its prefix (a system prompt, the chat so far) reuses those positions (a prefix cache).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/status.h"
#include "engine/generate_request.h"
#include "engine/generation.h"
#include "engine/runtime.h"
#include "model/forward.h"
#include "model/kv_cache.h"

namespace strata::engine {

// One generation handed to the batcher, with what it needs to report back. Every callback runs on the
// thread that calls Batcher::step.
struct BatchRequest {
  GenerateRequest request;
  std::unique_ptr<constrain::TokenConstraint> constraint;  // owned here; request.constraint points at it
  TextCallback on_text;                                     // false: the client went away
  std::function<bool()> cancelled;                          // polled once per step; may be empty
  std::function<void(Result<GenerateResult>)> on_done;      // exactly once
};

struct BatcherOptions {
  int n_parallel = 1;         // sequences (KV slots)
  int64_t n_ctx = 4096;       // each slot's context
  int64_t prompt_chunk = 256;  // prompt tokens per sequence per step while others run (alone: the whole prompt)
};

// What the prefix cache saved, for tests and the stats page.
struct BatcherCounters {
  uint64_t prompt_tokens = 0;         // prompt tokens of every admitted request
  uint64_t prompt_tokens_reused = 0;  // ... taken from a warm slot or copied from another sequence's cache
  uint64_t kv_prefix_copies = 0;      // prefixes copied from a running sequence's slot
  uint64_t steps = 0;                 // forward passes
  uint64_t batched_steps = 0;         // ... with more than one sequence
};

class Batcher {
 public:
  // Allocates every slot's cache (status() says if one did not fit).
  Batcher(LoadedModel& model, BatcherOptions options);
  const Status& status() const { return status_; }

  int64_t n_ctx() const { return options_.n_ctx; }
  int n_parallel() const { return options_.n_parallel; }
  int n_active() const;
  bool has_free_slot() const { return n_active() < options_.n_parallel; }
  const BatcherCounters& counters() const { return counters_; }

  // Starts a generation in the free slot that shares the longest prefix with its prompt (copying a longer
  // one from a running sequence's cache when there is one). A prompt it refuses (empty, longer than the
  // context) is answered through on_done at once. REQUIRES: has_free_slot().
  void admit(BatchRequest request);
  // One forward pass over every active sequence (a prompt chunk or one sampled token each); sequences that
  // finish (or whose client left) are answered through on_done and free their slot. A failed pass fails
  // every sequence in it. Returns false when nothing was active.
  bool step();
  // Ends every active sequence with `why` (shutdown).
  void fail_all(const Status& why);

  // The last token's final hidden state for `tokens`, evaluated alone in a free slot (reusing its prefix).
  // REQUIRES: has_free_slot().
  Result<std::vector<float>> embed(std::span<const int32_t> tokens);

 private:
  struct Active {
    BatchRequest req;
    std::unique_ptr<Generation> gen;
    size_t prompt_done = 0;  // prompt tokens in the cache
    int32_t next_token = -1;  // sampled, to evaluate this step (once the prompt is in)
    std::vector<float> logits;
    std::chrono::steady_clock::time_point t_admit, t_prompt_done;
    GenerateResult res;  // counts and timings
  };
  struct Slot {
    std::unique_ptr<model::KvCache> cache;
    std::vector<int32_t> history;  // the tokens whose K/V the cache holds, in order
    std::unique_ptr<Active> active;
    uint64_t last_used = 0;        // step counter, for choosing among cold slots
  };

  // The free slot to use for `prompt` and how much of it that slot holds after any copy.
  int64_t take_slot(std::span<const int32_t> prompt, size_t* slot);
  void complete(Slot& s, Result<GenerateResult> r);

  LoadedModel& lm_;
  const BatcherOptions options_;
  Status status_;
  model::Forward forward_;  // one pass for every slot
  std::vector<Slot> slots_;
  BatcherCounters counters_;
  uint64_t clock_ = 0;
};

}  // namespace strata::engine
