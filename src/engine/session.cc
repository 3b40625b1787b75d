// engine/session.cc: prefix reuse, the sampling loop, stop strings and streamed UTF-8 text.
#include "engine/session.h"

#include <algorithm>

#include "tokenizer/detokenizer.h"

namespace strata::engine {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Length of the longest suffix of `text` that is a proper prefix of some stop string: that much must be
// held back, because the next token may complete the stop string.
size_t held_back(std::string_view text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const auto& s : stops) {
    for (size_t n = std::min(text.size(), s.size() - 1); n > hold; --n) {
      if (text.substr(text.size() - n) == std::string_view(s).substr(0, n)) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}

}  // namespace

std::string_view stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::Eos: return "stop";
    case StopReason::Length: return "length";
    case StopReason::StopString: return "stop";
    case StopReason::Cancelled: return "cancelled";
    case StopReason::ContextFull: return "length";
  }
  return "stop";
}

Session::Session(LoadedModel& model, int64_t n_ctx)
    : lm_(model),
      cache_(model.hparams(), n_ctx, model.placement()),
      forward_(model.model(), model.weights(), model.experts(), model.placement()) {}

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

  Sampler sampler(req.sampling);
  tokenizer::DetokenizeOptions detok_options;
  detok_options.render_special = req.render_special;
  tokenizer::StreamingDetokenizer detok(lm_.tokenizer(), detok_options);
  std::string pending;  // decided text not yet emitted (may be the start of a stop string)
  auto t1 = std::chrono::steady_clock::now();
  bool stopped = false;
  auto emit = [&](std::string_view text) {
    res.text.append(text);
    if (!text.empty() && on_text && !on_text(text)) {
      res.reason = StopReason::Cancelled;
      stopped = true;
    }
  };
  // Moves decided text from `pending` to the caller, cutting at a stop string if one appears.
  auto flush_pending = [&](bool final) {
    for (const auto& s : req.stop) {
      if (s.empty()) continue;
      size_t at = pending.find(s);
      if (at != std::string::npos) {
        emit(std::string_view(pending).substr(0, at));
        pending.clear();
        if (!stopped) res.reason = StopReason::StopString;
        stopped = true;
        return;
      }
    }
    size_t keep = final ? 0 : held_back(pending, req.stop);
    emit(std::string_view(pending).substr(0, pending.size() - keep));
    pending.erase(0, pending.size() - keep);
  };

  res.reason = StopReason::Length;
  for (int64_t i = 0; !stopped && (req.max_tokens < 0 || i < req.max_tokens); ++i) {
    if (req.constraint) STRATA_RETURN_IF_ERROR(req.constraint->restrict(logits_));
    const int32_t tok = sampler.sample(logits_, history_);
    if (req.constraint) req.constraint->accept(tok);
    if (constrain::is_end_of_generation(lm_.tokenizer(), tok)) {
      res.tokens.push_back(tok);
      res.reason = StopReason::Eos;
      stopped = true;
      break;
    }
    res.tokens.push_back(tok);
    pending += detok.push(tok);
    flush_pending(false);
    if (stopped) break;
    if (static_cast<int64_t>(history_.size()) >= cache_.n_ctx()) {
      res.reason = StopReason::ContextFull;
      stopped = true;
      break;
    }
    if (req.max_tokens >= 0 && i + 1 >= req.max_tokens) break;  // no need to evaluate a token we won't sample from
    STRATA_RETURN_IF_ERROR(eval(std::span(&tok, 1), logits_, false));
  }
  if (res.reason != StopReason::StopString && res.reason != StopReason::Cancelled) {
    pending += detok.flush();
    bool was_stopped = stopped;
    stopped = false;
    flush_pending(true);
    stopped = stopped || was_stopped;
  }
  // The last sampled token was never evaluated; keep history consistent with the cache.
  res.generate_seconds = seconds_since(t1);
  return res;
}

}  // namespace strata::engine
