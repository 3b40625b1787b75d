// engine/batcher.cc: slot choice (the prefix cache), admission, and the step: one forward pass over every
// active sequence, then each one's sampling.
#include "engine/batcher.h"

#include <algorithm>

#include "core/check.h"
#include "kernels/backend.h"

namespace strata::engine {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// How many leading tokens `history` shares with `prompt`, at most `limit`.
int64_t common_prefix(const std::vector<int32_t>& history, std::span<const int32_t> prompt, int64_t limit) {
  int64_t n = 0;
  const int64_t end = std::min<int64_t>({static_cast<int64_t>(history.size()), static_cast<int64_t>(prompt.size()), limit});
  while (n < end && history[static_cast<size_t>(n)] == prompt[static_cast<size_t>(n)]) ++n;
  return n;
}

}  // namespace

Batcher::Batcher(LoadedModel& model, BatcherOptions options)
    : lm_(model), options_(options), forward_(model.model(), model.weights(), model.experts(), model.placement()) {
  if (!model.record_decode_steps()) forward_.disable_step_recording();
  slots_.resize(static_cast<size_t>(std::max(options_.n_parallel, 1)));
  for (Slot& s : slots_) {
    s.cache = std::make_unique<model::KvCache>(model.hparams(), options_.n_ctx, model.placement());
    if (status_.is_ok() && !s.cache->status().is_ok()) status_ = s.cache->status();
  }
}

int Batcher::n_active() const {
  int n = 0;
  for (const Slot& s : slots_) n += s.active != nullptr;
  return n;
}

int64_t Batcher::take_slot(std::span<const int32_t> prompt, size_t* slot) {
  // At least the last prompt token is evaluated, for its logits (or its hidden state).
  const int64_t limit = static_cast<int64_t>(prompt.size()) - 1;
  // The free slot holding the longest prefix; among equals the least recently used, so that the warm
  // prefixes of recent requests survive longest.
  int64_t best = -1;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    if (s.active) continue;
    const int64_t n = common_prefix(s.history, prompt, limit);
    if (n > best || (n == best && s.last_used < slots_[*slot].last_used)) best = n, *slot = i;
  }
  STRATA_CHECK(best >= 0);
  Slot& dst = slots_[*slot];
  // A running sequence (the same system prompt, asked again while the first answer streams) may hold more.
  int64_t donor_n = best;
  const Slot* donor = nullptr;
  for (const Slot& s : slots_) {
    if (!s.active) continue;
    const int64_t n = common_prefix(s.history, prompt, limit);
    if (n > donor_n) donor_n = n, donor = &s;
  }
  if (donor != nullptr) {
    const int64_t copied = model::copy_kv_prefix(lm_.placement(), *donor->cache, *dst.cache, donor_n);
    if (copied > best) {
      dst.history.assign(donor->history.begin(), donor->history.begin() + copied);
      ++counters_.kv_prefix_copies;
      return copied;
    }
  }
  // A ring keeps a prefix only while it still holds the window the next position needs.
  const int64_t kept = dst.cache->truncate(best);
  dst.history.resize(static_cast<size_t>(kept));
  return kept;
}

void Batcher::admit(BatchRequest request) {
  const int64_t n_prompt = static_cast<int64_t>(request.request.prompt.size());
  if (n_prompt == 0) return request.on_done(error("the prompt is empty (no tokens to condition on)"));
  if (n_prompt >= options_.n_ctx)
    return request.on_done(
        error(ErrorKind::OutOfRange, "the prompt has {} tokens but the context holds {}", n_prompt, options_.n_ctx));
  STRATA_CHECK(has_free_slot());
  size_t i = 0;
  const int64_t common = take_slot(request.request.prompt, &i);
  Slot& s = slots_[i];
  s.active = std::make_unique<Active>();
  Active& a = *s.active;
  a.req = std::move(request);
  if (a.req.constraint) a.req.request.constraint = a.req.constraint.get();
  a.gen = std::make_unique<Generation>(a.req.request, lm_.tokenizer(), a.req.on_text);
  a.prompt_done = static_cast<size_t>(common);
  a.logits.resize(static_cast<size_t>(lm_.hparams().n_vocab));
  a.t_admit = Clock::now();
  a.res.n_prompt = n_prompt;
  a.res.n_prompt_evaluated = n_prompt - common;
  s.last_used = ++clock_;
  counters_.prompt_tokens += static_cast<uint64_t>(n_prompt);
  counters_.prompt_tokens_reused += static_cast<uint64_t>(common);
}

void Batcher::complete(Slot& s, Result<GenerateResult> r) {
  std::unique_ptr<Active> a = std::move(s.active);
  s.last_used = ++clock_;
  a->req.on_done(std::move(r));
}

void Batcher::fail_all(const Status& why) {
  for (Slot& s : slots_)
    if (s.active) complete(s, why);
}

bool Batcher::step() {
  for (Slot& s : slots_)
    if (s.active && s.active->req.cancelled && s.active->req.cancelled()) {
      Active& a = *s.active;
      a.gen->cancel();
      GenerateResult r = std::move(a.gen->result());
      r.n_prompt = a.res.n_prompt;
      r.n_prompt_evaluated = a.res.n_prompt_evaluated;
      complete(s, std::move(r));
    }
  const int n_active = this->n_active();
  std::vector<model::SeqInput> batch;
  std::vector<size_t> who;
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (!s.active) continue;
    Active& a = *s.active;
    const std::vector<int32_t>& prompt = a.req.request.prompt;
    std::span<const int32_t> input(&a.next_token, 1);
    if (a.prompt_done < prompt.size()) {
      // Alone, the whole prompt in one pass (as the one-request path always did); beside others, a chunk,
      // so their decodes go on. Never more than the cache's largest pass (a sliding-window ring's bound).
      // A chunk never leaves a tail of decode size (kernels::kDecodeProductRows), which would go through
      // the decode kernels where the whole prompt alone goes through the prompt's.
      const size_t left = prompt.size() - a.prompt_done;
      const size_t chunk = static_cast<size_t>(std::max<int64_t>(options_.prompt_chunk, 1));
      size_t take = n_active == 1 || left <= chunk + kernels::kDecodeProductRows ? left : chunk;
      take = std::min(take, static_cast<size_t>(std::max<int64_t>(s.cache->max_pass(), 1)));
      input = std::span(prompt).subspan(a.prompt_done, take);
    }
    batch.push_back({input, s.cache.get(), a.logits, false});
    who.push_back(i);
  }
  if (batch.empty()) return false;
  ++counters_.steps;
  if (batch.size() > 1) ++counters_.batched_steps;
  if (Status st = forward_.eval_batch(batch); !st.is_ok()) {
    // The caches may hold part of the pass: forget what they held.
    for (size_t i : who) {
      slots_[i].history.clear();
      slots_[i].cache->clear();
      complete(slots_[i], st);
    }
    return true;
  }
  const auto now = Clock::now();
  for (size_t j = 0; j < who.size(); ++j) {
    Slot& s = slots_[who[j]];
    Active& a = *s.active;
    s.history.insert(s.history.end(), batch[j].tokens.begin(), batch[j].tokens.end());
    s.last_used = clock_;
    const size_t n_prompt = a.req.request.prompt.size();
    if (a.prompt_done < n_prompt) {
      a.prompt_done += batch[j].tokens.size();
      if (a.prompt_done < n_prompt) continue;
      a.t_prompt_done = now;
      a.res.prompt_seconds = seconds_between(a.t_admit, now);
    }
    auto next = a.gen->next(a.logits, s.history, options_.n_ctx);
    if (!next.is_ok()) {
      complete(s, next.status());
      continue;
    }
    if (next.value()) {
      a.next_token = *next.value();
      continue;
    }
    GenerateResult r = std::move(a.gen->result());
    r.n_prompt = a.res.n_prompt;
    r.n_prompt_evaluated = a.res.n_prompt_evaluated;
    r.prompt_seconds = a.res.prompt_seconds;
    r.generate_seconds = seconds_between(a.t_prompt_done, Clock::now());
    complete(s, std::move(r));
  }
  return true;
}

Result<std::vector<float>> Batcher::embed(std::span<const int32_t> tokens) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return error("nothing to embed: the input has no tokens");
  if (n >= options_.n_ctx)
    return error(ErrorKind::OutOfRange, "the input has {} tokens but the context holds {}", n, options_.n_ctx);
  STRATA_CHECK(has_free_slot());
  size_t i = 0;
  const int64_t common = take_slot(tokens, &i);
  Slot& s = slots_[i];
  std::vector<float> logits(static_cast<size_t>(lm_.hparams().n_vocab));
  const auto rest = tokens.subspan(static_cast<size_t>(common));
  if (Status st = forward_.eval(rest, *s.cache, logits, false); !st.is_ok()) {
    s.history.clear();
    s.cache->clear();
    return st;
  }
  s.history.insert(s.history.end(), rest.begin(), rest.end());
  s.last_used = ++clock_;
  auto hidden = forward_.last_hidden();
  return std::vector<float>(hidden.begin(), hidden.end());
}

}  // namespace strata::engine
