// engine/generate_request.h: what a generation is asked (prompt tokens, limits, sampling, stop strings, a
// constraint) and what it reports (tokens, text, why it stopped, counts and timings).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "constrain/json_constraint.h"
#include "engine/sampler.h"

namespace strata::engine {

struct GenerateRequest {
  std::vector<int32_t> prompt;        // already tokenized, BOS included if wanted
  int32_t max_tokens = 128;           // < 0: until EOS or the context is full
  SamplingOptions sampling;
  std::vector<std::string> stop;      // stop strings; never emitted
  constrain::TokenConstraint* constraint = nullptr;  // e.g. JSON mode; not owned; nullptr: unconstrained
  bool render_special = false;  // control tokens other than end-of-generation come out as their text
};

enum class StopReason { Eos, Length, StopString, Cancelled, ContextFull };
std::string_view stop_reason_name(StopReason r);

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids (including a final EOS if hit)
  std::string text;             // generated text, stop string excluded
  StopReason reason = StopReason::Length;
  int64_t n_prompt = 0;         // prompt tokens in the request
  int64_t n_prompt_evaluated = 0;  // how many were computed (the rest came from the cache)
  double prompt_seconds = 0;
  double generate_seconds = 0;
};

// Called with each piece of complete UTF-8 text as it is decided; return false to stop (client went away).
using TextCallback = std::function<bool(std::string_view text)>;

}  // namespace strata::engine
