// cli/bench_parallel.h: `strata bench --parallel N`: N sequences decoding together, one forward pass a step,
// beside the one-sequence figure.
#pragma once

#include <cstdint>
#include <span>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "engine/runtime.h"

namespace strata::cli {

struct ParallelBench {
  int n_parallel = 2;
  int32_t n_gen = 32;
  int repetitions = 3;
  int64_t n_ctx = 0;  // each sequence's cache
};

// Each repetition: every sequence's prompt (distinct: the prompt rotated per sequence, so no prefix is
// shared) in one pass, then n_gen greedy steps of all sequences in one pass each. The record holds the
// median per-sequence and aggregate decode tok/s and disk bytes a step. Then each sequence runs alone,
// greedy, and the record counts the sequences whose tokens equal the batch's (and each one's leading run).
Result<nlohmann::json> bench_parallel(engine::LoadedModel& lm, std::span<const int32_t> prompt, const ParallelBench& b);

}  // namespace strata::cli
