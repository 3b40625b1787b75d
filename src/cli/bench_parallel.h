// cli/bench_parallel.h: `strata bench --parallel N`: N sequences decoding together, one forward pass a step,
// beside the one-sequence figure.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "engine/runtime.h"
#include "kernels/timed_backend.h"

namespace strata::cli {

struct ParallelBench {
  int n_parallel = 2;
  int32_t n_gen = 32;
  int repetitions = 3;
  int64_t n_ctx = 0;  // each sequence's cache
  // The last repetition's batched decode steps op by op (the model loaded with timed ops: `--op-times`).
  bool op_times = false;
};

// Timed ops as JSON rows {op, count, seconds}, as the record keeps them.
nlohmann::json op_times_json(const std::vector<kernels::OpTime>& rows);

// Each repetition: every sequence's prompt (distinct: the prompt rotated per sequence, so no prefix is
// shared) in one pass, then n_gen greedy steps of all sequences in one pass each. The record holds the
// median per-sequence and aggregate decode tok/s and disk bytes a step. Then each sequence runs alone,
// greedy, and the record counts the sequences whose tokens equal the batch's (and each one's leading run).
// With op_times, "op_times_decode" holds the last repetition's batched steps per op.
Result<nlohmann::json> bench_parallel(engine::LoadedModel& lm, std::span<const int32_t> prompt, const ParallelBench& b);

}  // namespace strata::cli
