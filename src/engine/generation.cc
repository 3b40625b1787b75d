// engine/generation.cc: sampling one token per pass, the end of generation, stop strings held back until
// decided, and streamed UTF-8 text.
#include "engine/generation.h"

#include <algorithm>

namespace strata::engine {

namespace {

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

tokenizer::DetokenizeOptions detok_options(const GenerateRequest& req) {
  tokenizer::DetokenizeOptions o;
  o.render_special = req.render_special;
  return o;
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

Generation::Generation(const GenerateRequest& request, const tokenizer::Tokenizer& tok, TextCallback on_text)
    : req_(request), tok_(tok), on_text_(std::move(on_text)), sampler_(request.sampling),
      detok_(tok, detok_options(request)) {
  res_.reason = StopReason::Length;
}

void Generation::emit(std::string_view text) {
  res_.text.append(text);
  if (!text.empty() && on_text_ && !on_text_(text)) {
    res_.reason = StopReason::Cancelled;
    stopped_ = true;
  }
}

// Moves decided text from pending_ to the caller, cutting at a stop string if one appears.
void Generation::flush_pending(bool final) {
  for (const auto& s : req_.stop) {
    if (s.empty()) continue;
    size_t at = pending_.find(s);
    if (at != std::string::npos) {
      emit(std::string_view(pending_).substr(0, at));
      pending_.clear();
      if (!stopped_) res_.reason = StopReason::StopString;
      stopped_ = true;
      return;
    }
  }
  size_t keep = final ? 0 : held_back(pending_, req_.stop);
  emit(std::string_view(pending_).substr(0, pending_.size() - keep));
  pending_.erase(0, pending_.size() - keep);
}

void Generation::finish() {
  if (done_) return;
  done_ = true;
  if (res_.reason != StopReason::StopString && res_.reason != StopReason::Cancelled) {
    pending_ += detok_.flush();
    const bool was_stopped = stopped_;
    stopped_ = false;
    flush_pending(true);
    stopped_ = stopped_ || was_stopped;
  }
}

void Generation::cancel() {
  if (done_) return;
  res_.reason = StopReason::Cancelled;
  stopped_ = true;
  finish();
}

Result<std::optional<int32_t>> Generation::next(std::span<float> logits, const std::vector<int32_t>& history,
                                                int64_t n_ctx) {
  if (done_) return std::optional<int32_t>();
  if (req_.max_tokens >= 0 && n_sampled_ >= req_.max_tokens) {
    finish();
    return std::optional<int32_t>();
  }
  if (req_.constraint) STRATA_RETURN_IF_ERROR(req_.constraint->restrict(logits));
  const int32_t tok = sampler_.sample(logits, history);
  if (req_.constraint) req_.constraint->accept(tok);
  ++n_sampled_;
  res_.tokens.push_back(tok);
  if (constrain::is_end_of_generation(tok_, tok)) {
    res_.reason = StopReason::Eos;
    stopped_ = true;
  } else {
    pending_ += detok_.push(tok);
    flush_pending(false);
    if (!stopped_ && static_cast<int64_t>(history.size()) >= n_ctx) {
      res_.reason = StopReason::ContextFull;
      stopped_ = true;
    }
  }
  // No need to evaluate a token nothing will be sampled from.
  if (stopped_ || (req_.max_tokens >= 0 && n_sampled_ >= req_.max_tokens)) {
    finish();
    return std::optional<int32_t>();
  }
  return std::optional<int32_t>(tok);
}

}  // namespace strata::engine
