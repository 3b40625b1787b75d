// engine/runner.cc: the runner thread: queue, load on first use, the session (KV-cache prefix reuse
// across requests), generation and embedding jobs, keep-alive expiry.
#include "engine/runner.h"

#include <filesystem>
#include <optional>
#include <random>

#include "core/log.h"
#include "engine/context_fit.h"
#include "engine/embedding.h"
#include "constrain/json_schema.h"
#include "planner/plan_picture.h"

namespace strata::engine {

namespace {

using SteadyClock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

// A keep-alive longer than this is forever: a clock plus ~290 years of nanoseconds overflows its int64.
constexpr KeepAlive kMaxFiniteKeepAlive = std::chrono::hours(24 * 365 * 100);

double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

// A model that does not load is the server's failure, not the request's: a refusal of the file's
// contents (invalid argument, corruption) becomes internal; a memory shortfall, a missing file and
// I/O keep their kinds.
Status load_failure(const Status& s) {
  if (s.is_invalid_argument() || s.is_corruption() || s.is_out_of_range()) return Status::internal(s.message());
  return s;
}

// The engine refusing what the runner handed it is a bug, except a prompt longer than the context (out
// of range: the client's to fix); cancellation, memory and I/O keep their kinds.
Status engine_failure(const Status& s) {
  if (s.is_invalid_argument() || s.is_corruption()) return Status::internal(s.message());
  return s;
}

}  // namespace

Runner::Runner(std::string gguf_path, RunnerOptions options, ServerCounters& counters)
    : gguf_path_(std::move(gguf_path)), options_(options), counters_(counters) {
  thread_ = std::thread([this] { loop(); });
}

Runner::~Runner() {
  std::deque<std::shared_ptr<Job>> pending;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    pending.swap(queue_);
    if (current_) current_->cancel();
  }
  cv_.notify_all();
  for (auto& job : pending) job->fail(Status::unavailable("server shutting down"));
  thread_.join();
}

bool Runner::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard lock(mutex_);
    if (stop_ || queue_.size() >= options_.max_queue) return false;
    queue_.push_back(std::move(job));
    unload_requested_ = false;
  }
  cv_.notify_one();
  return true;
}

void Runner::request_unload() {
  {
    std::lock_guard lock(mutex_);
    unload_requested_ = true;
  }
  cv_.notify_one();
}

Runner::State Runner::state() const {
  std::lock_guard lock(mutex_);
  State s;
  s.loaded = model_ != nullptr;
  s.busy = busy_;
  s.queued = queue_.size();
  s.model_name = model_name_;
  s.n_ctx = n_ctx_;
  s.resident_bytes = model_ ? model_->resident_bytes() : 0;
  s.keep_forever = keep_forever_;
  s.expires_at = expires_wall_;
  s.last_used = last_used_;
  return s;
}

Runner::LiveFigures Runner::live() const {
  std::lock_guard lock(live_mutex_);
  return live_;
}

void Runner::publish_loaded() {
  LiveFigures f;
  if (model_->plan()) {
    f.plan = std::make_shared<const planner::Plan>(*model_->plan());
    f.plan_svg = std::make_shared<const std::string>(planner::plan_svg(*f.plan, std::filesystem::path(gguf_path_).filename().string()));
  }
  f.stream = model_->stream_stats();
  std::lock_guard lock(live_mutex_);
  live_ = std::move(f);
  live_published_ = SteadyClock::now();
}

void Runner::publish_live(bool force) {
  const auto now = SteadyClock::now();
  {
    std::lock_guard lock(live_mutex_);
    if (!force && now - live_published_ < std::chrono::milliseconds(250)) return;
    live_published_ = now;
  }
  auto stream = model_->stream_stats();  // on this (the runner) thread: the source is not read concurrently
  std::lock_guard lock(live_mutex_);
  live_.stream = std::move(stream);
}

void Runner::unload_locked() {
  if (!model_) return;
  {
    std::lock_guard lock(live_mutex_);
    live_ = LiveFigures{};
  }
  session_.reset();
  model_.reset();
  unload_requested_ = false;
  counters_.unloads++;
  log(LogLevel::Info, "strata serve: unloaded {}", gguf_path_);
}

void Runner::loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (queue_.empty()) {
      const bool expired = model_ && !keep_forever_ && SteadyClock::now() >= expires_;
      if (model_ && (unload_requested_ || expired)) {
        unload_locked();
        continue;
      }
      if (model_ && !keep_forever_) cv_.wait_until(lock, expires_);
      else cv_.wait(lock);
      continue;
    }
    std::shared_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    current_ = job;
    lock.unlock();
    run_job(*job);
    lock.lock();
    busy_ = false;
    current_.reset();
    settle_keep_alive_locked(*job);  // again for failed jobs, which answered without it; idempotent
  }
  unload_locked();
}

void Runner::settle_keep_alive_locked(const Job& job) {
  last_used_ = SteadyClock::now();
  const KeepAlive ka = job.keep_alive.value_or(options_.default_keep_alive);
  keep_forever_ = ka < KeepAlive(0) || ka > kMaxFiniteKeepAlive;
  if (!keep_forever_) {
    expires_ = SteadyClock::now() + ka;
    expires_wall_ = SystemClock::now() + std::chrono::duration_cast<SystemClock::duration>(ka);
  } else {
    expires_wall_ = SystemClock::now() + std::chrono::hours(24 * 365 * 100);
  }
  // keep_alive 0 unloads at once, unless more work for this model is already waiting.
  if (ka == KeepAlive(0) && queue_.empty()) unload_locked();
}

void Runner::finish(Job& job, JobOutcome outcome) {
  {
    std::lock_guard lock(mutex_);
    settle_keep_alive_locked(job);
  }
  job.finish(std::move(outcome));
}

void Runner::run_job(Job& job) {
  counters_.jobs_started++;
  job.mark_started();
  if (job.cancelled()) {  // the client left while the job was queued
    counters_.jobs_cancelled++;
    job.fail(Status::cancelled("client closed the request"));
    return;
  }
  JobOutcome out;
  const KeepAlive ka = job.keep_alive.value_or(options_.default_keep_alive);
  if (job.kind == Job::Kind::Load && ka == KeepAlive(0)) {
    out.unloaded = true;  // an unload request: nothing to load; finish() unloads before answering
    counters_.jobs_completed++;
    finish(job, std::move(out));
    return;
  }
  try {
    if (!model_) {
      auto t0 = SteadyClock::now();
      EngineOptions defaults;
      defaults.model_path = gguf_path_;
      defaults.n_threads = options_.n_threads;
      auto eo = options_.engine_options ? options_.engine_options(gguf_path_) : Result<EngineOptions>(defaults);
      if (!eo) {
        counters_.jobs_failed++;
        job.fail(load_failure(eo.status()));
        return;
      }
      auto lm = LoadedModel::load(eo.value());
      if (!lm) {
        counters_.jobs_failed++;
        job.fail(load_failure(lm.status()));
        return;
      }
      if (!lm.value()->backend_note().empty())
        log(LogLevel::Info, "strata serve: {}: {}", gguf_path_, lm.value()->backend_note());
      {
        std::lock_guard lock(mutex_);
        model_ = std::move(lm).value();
        counters_.loads++;
      }
      out.load_seconds = seconds_since(t0);
      publish_loaded();
    }
    int64_t n_ctx = job.options.num_ctx > 0 ? job.options.num_ctx : options_.default_num_ctx;
    const int64_t trained = model_->hparams().n_ctx_train;
    if (trained > 0) n_ctx = std::min(n_ctx, trained);  // a larger request is clamped, not refused
    n_ctx = std::max<int64_t>(n_ctx, std::min<int64_t>(16, trained > 0 ? trained : 16));
    if (!session_ || session_->n_ctx() != n_ctx) {
      // A client-chosen context is checked against the memory budget before its KV cache is allocated.
      const uint64_t freed =
          session_ ? static_cast<uint64_t>(engine::kv_cache_bytes(model_->hparams(), session_->n_ctx())) : 0;
      if (Status fits = engine::check_context_fits(*model_, n_ctx, freed); !fits.is_ok()) {
        counters_.jobs_failed++;
        job.fail(fits);
        return;
      }
      session_.reset();
      session_ = std::make_unique<Session>(*model_, n_ctx);
    }
    {
      std::lock_guard lock(mutex_);
      n_ctx_ = n_ctx;
      model_name_ = job.model_name;
    }
    out.n_ctx = n_ctx;
    if (job.cancelled()) {  // the client left while the model was loading
      counters_.jobs_cancelled++;
      job.fail(Status::cancelled("client closed the request"));
      return;
    }
    switch (job.kind) {
      case Job::Kind::Load:
        counters_.jobs_completed++;
        finish(job, std::move(out));
        return;
      case Job::Kind::Generate: run_generate(job, out); return;
      case Job::Kind::Embed: run_embed(job, out); return;
    }
  } catch (const std::exception& e) {
    // Allocation failure (a huge context) and the like: the request fails, the server stays up.
    counters_.jobs_failed++;
    session_.reset();
    job.fail(Status::internal(std::string("internal error: ") + e.what()));
  }
}

void Runner::run_generate(Job& job, JobOutcome& out) {
  const int64_t n_ctx = session_->n_ctx();
  auto prompt = job.build_prompt(*model_, n_ctx, [&job] { return job.cancelled(); });
  if (!prompt) {
    (prompt.status().is_cancelled() ? counters_.jobs_cancelled : counters_.jobs_failed)++;
    job.fail(prompt.status());
    return;
  }
  engine::GenerateRequest req;
  req.prompt = std::move(prompt).value();
  req.max_tokens = job.options.num_predict >= 0 ? job.options.num_predict : -1;
  req.sampling = job.options.sampling;
  if (req.sampling.repeat_last_n < 0) req.sampling.repeat_last_n = static_cast<int32_t>(n_ctx);
  req.sampling.seed = job.options.seed >= 0 ? static_cast<uint64_t>(job.options.seed) : std::random_device{}();
  req.stop = job.options.stop;
  std::optional<constrain::JsonConstraint> json;
  std::optional<constrain::SchemaConstraint> schema;
  std::optional<constrain::ToolCallConstraint> tools;
  req.render_special = job.render_special;
  if (job.tool_calls) req.constraint = &tools.emplace(model_->tokenizer(), job.tool_calls);
  else if (job.schema) req.constraint = &schema.emplace(model_->tokenizer(), job.schema);
  else if (job.json_output) req.constraint = &json.emplace(model_->tokenizer());
  const auto delay = options_.token_delay;
  const auto t_start = SteadyClock::now();
  SteadyClock::time_point t_first;
  uint64_t n_pieces = 0;
  {
    std::lock_guard lock(live_mutex_);
    live_.generating = true;
    live_.prompt_tokens = static_cast<int64_t>(req.prompt.size());
    live_.pieces_generated = 0;
  }
  auto res = session_->generate(req, [&](std::string_view text) {
    job.emit_text(text);
    // Live speeds: the prompt to the first piece, then pieces over the time since it.
    const auto now = SteadyClock::now();
    if (n_pieces++ == 0) t_first = now;
    {
      std::lock_guard lock(live_mutex_);
      live_.pieces_generated = n_pieces;
      const double prefill_s = std::chrono::duration<double>(t_first - t_start).count();
      const double decode_s = std::chrono::duration<double>(now - t_first).count();
      if (n_pieces == 1 && prefill_s > 0) live_.prefill_tokens_per_s = req.prompt.size() / prefill_s;
      if (n_pieces > 1 && decode_s > 0) live_.decode_tokens_per_s = (n_pieces - 1) / decode_s;
    }
    publish_live(false);
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    return !job.cancelled();
  });
  publish_live(true);
  {
    std::lock_guard lock(live_mutex_);
    live_.generating = false;
    if (res) {
      const auto& r = res.value();
      live_.n_generations++;
      if (r.prompt_seconds > 0) live_.prefill_tokens_per_s = r.n_prompt_evaluated / r.prompt_seconds;
      if (r.generate_seconds > 0) live_.decode_tokens_per_s = r.tokens.size() / r.generate_seconds;
    }
  }
  if (!res) {
    counters_.jobs_failed++;
    // A format this model's tokens cannot follow (the constraint's invalid argument) is the request's to
    // change, not an engine bug.
    const bool format_refused = req.constraint != nullptr && res.status().is_invalid_argument();
    job.fail(format_refused ? res.status() : engine_failure(res.status()));
    return;
  }
  counters_.tokens_generated += res.value().tokens.size();
  if (res.value().reason == engine::StopReason::Cancelled) counters_.jobs_cancelled++;
  else counters_.jobs_completed++;
  out.result = std::move(res).value();
  out.prompt = std::move(req.prompt);
  finish(job, std::move(out));
}

void Runner::run_embed(Job& job, JobOutcome& out) {
  const auto& tok = model_->tokenizer();
  const int64_t n_ctx = session_->n_ctx();
  for (const auto& input : job.embed_inputs) {
    if (job.cancelled()) {
      counters_.jobs_cancelled++;
      job.fail(Status::cancelled("client closed the request"));
      return;
    }
    tokenizer::EncodeOptions eo;
    eo.add_bos = tok.vocab().add_bos();
    eo.add_eos = tok.vocab().add_eos();
    std::vector<int32_t> tokens = tok.encode(input, eo);
    if (tokens.empty()) {
      counters_.jobs_failed++;
      job.fail(Status::invalid_argument("cannot embed an empty input"));
      return;
    }
    if (static_cast<int64_t>(tokens.size()) >= n_ctx) {
      if (!job.embed_truncate) {
        counters_.jobs_failed++;
        job.fail(Status::out_of_range("the input length exceeds the context length"));
        return;
      }
      tokens.resize(static_cast<size_t>(n_ctx - 1));  // keep the beginning, as Ollama does
    }
    auto vec = engine::embed_last_token(*session_, tokens);
    if (!vec) {
      counters_.jobs_failed++;
      job.fail(engine_failure(vec.status()));
      return;
    }
    if (job.embed_normalize) engine::l2_normalize(vec.value());
    out.n_input_tokens += static_cast<int64_t>(tokens.size());
    out.embeddings.push_back(std::move(vec).value());
  }
  counters_.jobs_completed++;
  finish(job, std::move(out));
}

}  // namespace strata::engine
