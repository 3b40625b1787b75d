// engine/generation.h: one generation's decisions after each forward pass: the constraint, sampling, the end
// of generation, streamed UTF-8 text and stop strings. The caller owns the forward pass (a Session alone,
// or the Batcher running many sequences in one pass).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/sampler.h"
#include "engine/generate_request.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace strata::engine {

class Generation {
 public:
  // `request` (its stop strings, constraint and sampling) must outlive this.
  Generation(const GenerateRequest& request, const tokenizer::Tokenizer& tok, TextCallback on_text);

  // Decides the token after the last evaluated one from its logits (restricted in place by the constraint).
  // Returns the token to evaluate next, or nullopt when the generation is over (result().reason says why).
  // `history`: the tokens in the cache (the repeat penalty's window); `n_ctx`: the cache's capacity.
  Result<std::optional<int32_t>> next(std::span<float> logits, const std::vector<int32_t>& history, int64_t n_ctx);
  // The client went away between passes: the generation ends as cancelled.
  void cancel();

  bool done() const { return done_; }
  // Tokens, text and reason (the caller adds counts and timings).
  GenerateResult& result() { return res_; }

 private:
  void emit(std::string_view text);
  void flush_pending(bool final);
  void finish();  // the final flush, once

  const GenerateRequest& req_;
  const tokenizer::Tokenizer& tok_;
  TextCallback on_text_;
  Sampler sampler_;
  tokenizer::StreamingDetokenizer detok_;
  std::string pending_;  // decided text not yet emitted (may be the start of a stop string)
  GenerateResult res_;
  int64_t n_sampled_ = 0;
  bool stopped_ = false;  // a reason is decided; finish() still to run
  bool done_ = false;
};

}  // namespace strata::engine
