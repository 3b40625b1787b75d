// engine/session.cc: one sequence alone: prefix reuse, the prompt as one batch, then a pass per sampled token.
#include "engine/session.h"

#include <algorithm>

#include "engine/generation.h"

namespace strata::engine {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Session::Session(LoadedModel& model, int64_t n_ctx)
    : lm_(model),
      cache_(model.hparams(), n_ctx, model.placement()),
      forward_(model.model(), model.weights(), model.experts(), model.placement()) {
  if (!model.record_decode_steps()) forward_.disable_step_recording();
}

Status Session::eval(std::span<const int32_t> tokens, std::vector<float>& logits, bool all_logits) {
  const int64_t n_vocab = lm_.hparams().n_vocab;
  logits.resize((all_logits ? tokens.size() : 1) * n_vocab);
  STRATA_RETURN_IF_ERROR(forward_.eval(tokens, cache_, logits, all_logits));
  history_.insert(history_.end(), tokens.begin(), tokens.end());
  return Status::ok();
}

int64_t Session::truncate(int64_t n) {
  n = cache_.truncate(std::clamp<int64_t>(n, 0, static_cast<int64_t>(history_.size())));
  history_.resize(static_cast<size_t>(n));
  return n;
}

Result<GenerateResult> Session::generate(const GenerateRequest& req, const TextCallback& on_text) {
  GenerateResult res;
  const int64_t n_prompt = static_cast<int64_t>(req.prompt.size());
  res.n_prompt = n_prompt;
  if (n_prompt == 0) return error("the prompt is empty (no tokens to condition on)");
  if (n_prompt >= cache_.n_ctx())
    return error(ErrorKind::OutOfRange, "the prompt has {} tokens but the context holds {}", n_prompt, cache_.n_ctx());

  // Reuse the cached prefix; always evaluate at least the last prompt token to get its logits.
  int64_t common = 0;
  while (common < static_cast<int64_t>(history_.size()) && common < n_prompt && history_[common] == req.prompt[common])
    ++common;
  common = truncate(std::min(common, n_prompt - 1));
  auto t0 = std::chrono::steady_clock::now();
  STRATA_RETURN_IF_ERROR(eval(std::span(req.prompt).subspan(common), logits_, false));
  res.n_prompt_evaluated = n_prompt - common;
  res.prompt_seconds = seconds_since(t0);

  auto t1 = std::chrono::steady_clock::now();
  Generation gen(req, lm_.tokenizer(), on_text);
  for (;;) {
    STRATA_ASSIGN_OR_RETURN(std::optional<int32_t> next, gen.next(logits_, history_, cache_.n_ctx()));
    if (!next) break;
    STRATA_RETURN_IF_ERROR(eval(std::span(&*next, 1), logits_, false));
  }
  // The last sampled token was never evaluated; history stays consistent with the cache.
  GenerateResult& out = gen.result();
  out.n_prompt = res.n_prompt;
  out.n_prompt_evaluated = res.n_prompt_evaluated;
  out.prompt_seconds = res.prompt_seconds;
  out.generate_seconds = seconds_since(t1);
  return std::move(out);
}

}  // namespace strata::engine
