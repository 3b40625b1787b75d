// engine/session.h: one conversation's state (KV cache, token history) and the generation loop.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "constrain/json_constraint.h"
#include "engine/runtime.h"
#include "engine/generate_request.h"
#include "engine/sampler.h"
#include "model/forward.h"
#include "model/kv_cache.h"

namespace strata::engine {

class Session {
 public:
  Session(LoadedModel& model, int64_t n_ctx);

  int64_t n_ctx() const { return cache_.n_ctx(); }
  const std::vector<int32_t>& history() const { return history_; }

  // Evaluates tokens after the current history; logits of the last (or every) token land in `logits`.
  Status eval(std::span<const int32_t> tokens, std::vector<float>& logits, bool all_logits);
  // Forgets everything after the first n tokens of history and returns how many it kept: n, or fewer
  // where the cache no longer holds what their continuation needs (a sliding-window ring that moved on).
  int64_t truncate(int64_t n);

  // Prompt (reusing the longest cached prefix), then sampling until EOS, max_tokens, a stop string,
  // a full context, or on_text returning false.
  Result<GenerateResult> generate(const GenerateRequest& request, const TextCallback& on_text);

  const model::Forward& forward() const { return forward_; }

 private:
  LoadedModel& lm_;
  model::KvCache cache_;
  model::Forward forward_;
  std::vector<int32_t> history_;
  std::vector<float> logits_;
};

}  // namespace strata::engine
