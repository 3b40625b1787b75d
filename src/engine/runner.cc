// engine/runner.cc: the runner thread: queue, load on first use, the batcher (KV slots, prefix reuse across
// requests), generation and embedding jobs, keep-alive expiry.
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
    for (auto& job : running_) job->cancel();
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
  s.busy = starting_ || sequences_ > 0;
  s.queued = queue_.size();
  s.sequences = sequences_;
  s.n_parallel = std::max(options_.n_parallel, 1);
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
  if (!model_) return;  // a load that failed, or unloaded (keep_alive 0) by the answer just given
  const auto now = SteadyClock::now();
  {
    std::lock_guard lock(live_mutex_);
    if (!force && now - live_published_ < std::chrono::milliseconds(250)) return;
    live_published_ = now;
  }
  auto stream = model_->stream_stats();  // on this (the runner) thread: the source is not read concurrently
  std::lock_guard lock(live_mutex_);
  live_.stream = std::move(stream);
  if (batcher_) {
    const BatcherCounters& c = batcher_->counters();
    live_.steps = c.steps;
    live_.batched_steps = c.batched_steps;
    live_.prompt_tokens_total = c.prompt_tokens;
    live_.prompt_tokens_reused = c.prompt_tokens_reused;
    live_.kv_prefix_copies = c.kv_prefix_copies;
  }
}

void Runner::unload_locked() {
  if (!model_) return;
  {
    std::lock_guard lock(live_mutex_);
    live_ = LiveFigures{};
  }
  batcher_.reset();
  model_.reset();
  unload_requested_ = false;
  counters_.unloads++;
  log(LogLevel::Info, "strata serve: unloaded {}", gguf_path_);
}

void Runner::loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (!queue_.empty() && can_start_locked(*queue_.front())) {
      std::shared_ptr<Job> job = std::move(queue_.front());
      queue_.pop_front();
      starting_ = true;
      running_.push_back(job);
      lock.unlock();
      start_job(job);
      answer_finished();
      lock.lock();
      starting_ = false;
      sequences_ = batcher_ ? batcher_->n_active() : 0;
      continue;
    }
    if (sequences_ > 0) {
      lock.unlock();
      step();
      answer_finished();
      lock.lock();
      sequences_ = batcher_ ? batcher_->n_active() : 0;
      continue;
    }
    if (queue_.empty()) {
      const bool expired = model_ && !keep_forever_ && SteadyClock::now() >= expires_;
      if (model_ && (unload_requested_ || expired)) {
        unload_locked();
        continue;
      }
      if (model_ && !keep_forever_) cv_.wait_until(lock, expires_);
      else cv_.wait(lock);
    }
  }
  lock.unlock();
  if (batcher_) batcher_->fail_all(Status::unavailable("server shutting down"));
  answer_finished();
  lock.lock();
  sequences_ = 0;
  unload_locked();
}

int64_t Runner::context_for(const Job& job) const {
  int64_t n_ctx = job.options.num_ctx > 0 ? job.options.num_ctx : options_.default_num_ctx;
  const int64_t trained = model_->hparams().n_ctx_train;
  if (trained > 0) n_ctx = std::min(n_ctx, trained);  // a larger request is clamped, not refused
  return std::max<int64_t>(n_ctx, std::min<int64_t>(16, trained > 0 ? trained : 16));
}

bool Runner::can_start_locked(const Job& job) const {
  if (!batcher_ || sequences_ == 0 || !model_) return true;
  if (job.cancelled()) return true;  // answered at once
  const bool same_ctx = context_for(job) == batcher_->n_ctx();
  return same_ctx && (job.kind == Job::Kind::Load || batcher_->has_free_slot());
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
  // keep_alive 0 unloads at once, unless more work for this model is already waiting or still running
  // (then it unloads once that is done).
  if (ka == KeepAlive(0)) {
    const bool others = batcher_ && batcher_->n_active() > 0;
    if (queue_.empty() && !others) unload_locked();
    else if (others) unload_requested_ = true;
  }
}

void Runner::finish(Job& job, JobOutcome outcome) {
  {
    std::lock_guard lock(mutex_);
    settle_keep_alive_locked(job);
    std::erase_if(running_, [&](const std::shared_ptr<Job>& j) { return j.get() == &job; });
  }
  job.finish(std::move(outcome));
}

void Runner::fail(Job& job, Status why) {
  {
    std::lock_guard lock(mutex_);
    settle_keep_alive_locked(job);  // failed jobs settle too (idempotent)
    std::erase_if(running_, [&](const std::shared_ptr<Job>& j) { return j.get() == &job; });
  }
  job.fail(std::move(why));
}

void Runner::start_job(const std::shared_ptr<Job>& job_ptr) {
  Job& job = *job_ptr;
  counters_.jobs_started++;
  job.mark_started();
  if (job.cancelled()) {  // the client left while the job was queued
    counters_.jobs_cancelled++;
    fail(job, Status::cancelled("client closed the request"));
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
        fail(job, load_failure(eo.status()));
        return;
      }
      auto lm = LoadedModel::load(eo.value());
      if (!lm) {
        counters_.jobs_failed++;
        fail(job, load_failure(lm.status()));
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
    const int64_t n_ctx = context_for(job);
    if (!batcher_ || batcher_->n_ctx() != n_ctx) {
      // No sequence is running here (can_start_locked). Every slot's KV cache of a client-chosen context is
      // checked against the memory budget before it is allocated.
      const int n_parallel = std::max(options_.n_parallel, 1);
      const uint64_t freed = batcher_ ? static_cast<uint64_t>(engine::kv_cache_bytes(model_->hparams(), batcher_->n_ctx()) *
                                                              batcher_->n_parallel())
                                      : 0;
      if (Status fits = engine::check_context_fits(*model_, n_ctx, freed, n_parallel); !fits.is_ok()) {
        counters_.jobs_failed++;
        fail(job, fits);
        return;
      }
      std::lock_guard lock(mutex_);
      batcher_.reset();
      BatcherOptions bo;
      bo.n_parallel = n_parallel;
      bo.n_ctx = n_ctx;
      bo.prompt_chunk = options_.prompt_chunk;
      batcher_ = std::make_unique<Batcher>(*model_, bo);
    }
    if (!batcher_->status().is_ok()) {
      counters_.jobs_failed++;
      Status why = batcher_->status();
      {
        std::lock_guard lock(mutex_);
        batcher_.reset();
      }
      fail(job, why);
      return;
    }
    {
      std::lock_guard lock(mutex_);
      n_ctx_ = n_ctx;
      model_name_ = job.model_name;
    }
    out.n_ctx = n_ctx;
    if (job.cancelled()) {  // the client left while the model was loading
      counters_.jobs_cancelled++;
      fail(job, Status::cancelled("client closed the request"));
      return;
    }
    switch (job.kind) {
      case Job::Kind::Load:
        counters_.jobs_completed++;
        finish(job, std::move(out));
        return;
      case Job::Kind::Generate: start_generate(job_ptr, std::move(out)); return;
      case Job::Kind::Embed: run_embed(job, out); return;
    }
  } catch (const std::exception& e) {
    // Allocation failure (a huge context) and the like: the request fails, the server stays up.
    counters_.jobs_failed++;
    if (batcher_) batcher_->fail_all(Status::internal(std::string("internal error: ") + e.what()));
    {
      std::lock_guard lock(mutex_);
      batcher_.reset();
    }
    fail(job, Status::internal(std::string("internal error: ") + e.what()));
  }
}

void Runner::start_generate(const std::shared_ptr<Job>& job_ptr, JobOutcome out) {
  Job& job = *job_ptr;
  const int64_t n_ctx = batcher_->n_ctx();
  auto prompt = job.build_prompt(*model_, n_ctx, [&job] { return job.cancelled(); });
  if (!prompt) {
    (prompt.status().is_cancelled() ? counters_.jobs_cancelled : counters_.jobs_failed)++;
    fail(job, prompt.status());
    return;
  }
  BatchRequest br;
  GenerateRequest& req = br.request;
  req.prompt = std::move(prompt).value();
  req.max_tokens = job.options.num_predict >= 0 ? job.options.num_predict : -1;
  req.sampling = job.options.sampling;
  if (req.sampling.repeat_last_n < 0) req.sampling.repeat_last_n = static_cast<int32_t>(n_ctx);
  req.sampling.seed = job.options.seed >= 0 ? static_cast<uint64_t>(job.options.seed) : std::random_device{}();
  req.stop = job.options.stop;
  req.render_special = job.render_special;
  if (job.tool_calls) br.constraint = std::make_unique<constrain::ToolCallConstraint>(model_->tokenizer(), job.tool_calls);
  else if (job.schema) br.constraint = std::make_unique<constrain::SchemaConstraint>(model_->tokenizer(), job.schema);
  else if (job.json_output) br.constraint = std::make_unique<constrain::JsonConstraint>(model_->tokenizer());
  const bool constrained = br.constraint != nullptr;
  out.prompt = req.prompt;
  {
    std::lock_guard lock(live_mutex_);
    live_.prompt_tokens = static_cast<int64_t>(req.prompt.size());
  }
  // Live speeds of this generation: the prompt to the first piece, then pieces over the time since it.
  struct Progress {
    SteadyClock::time_point t_start = SteadyClock::now(), t_first;
    uint64_t n_pieces = 0;
    size_t n_prompt = 0;
  };
  auto progress = std::make_shared<Progress>();
  progress->n_prompt = req.prompt.size();
  br.on_text = [this, &job, progress](std::string_view text) {
    job.emit_text(text);
    const auto now = SteadyClock::now();
    Progress& p = *progress;
    if (p.n_pieces++ == 0) p.t_first = now;
    {
      std::lock_guard lock(live_mutex_);
      live_.pieces_generated = p.n_pieces;
      const double prefill_s = std::chrono::duration<double>(p.t_first - p.t_start).count();
      const double decode_s = std::chrono::duration<double>(now - p.t_first).count();
      if (p.n_pieces == 1 && prefill_s > 0) live_.prefill_tokens_per_s = p.n_prompt / prefill_s;
      if (p.n_pieces > 1 && decode_s > 0) live_.decode_tokens_per_s = (p.n_pieces - 1) / decode_s;
    }
    publish_live(false);
    return !job.cancelled();
  };
  br.cancelled = [&job] { return job.cancelled(); };
  auto shared_out = std::make_shared<JobOutcome>(std::move(out));
  br.on_done = [this, job_ptr, shared_out, constrained](Result<GenerateResult> r) {
    if (!r) {
      finished_.push_back({job_ptr, r.status(), constrained});
      return;
    }
    shared_out->result = std::move(r).value();
    finished_.push_back({job_ptr, std::move(*shared_out), constrained});
  };
  {
    std::lock_guard lock(live_mutex_);
    live_.generating = true;
    live_.pieces_generated = 0;
  }
  batcher_->admit(std::move(br));
}

void Runner::step() {
  try {
    batcher_->step();
  } catch (const std::exception& e) {
    // An allocation failure mid-pass: every sequence in it fails, the slots start cold, the server stays up.
    batcher_->fail_all(Status::internal(std::string("internal error: ") + e.what()));
    std::lock_guard lock(mutex_);
    batcher_.reset();
  }
  publish_live(false);
  if (options_.token_delay.count() > 0) std::this_thread::sleep_for(options_.token_delay);
}

void Runner::answer_finished() {
  std::vector<Finished> done;
  done.swap(finished_);
  for (Finished& f : done) {
    Job& job = *f.job;
    if (!f.outcome) {
      counters_.jobs_failed++;
      // A format this model's tokens cannot follow (the constraint's invalid argument) is the request's to
      // change, not an engine bug.
      const Status& s = f.outcome.status();
      const bool format_refused = f.constrained && s.is_invalid_argument();
      fail(job, format_refused || s.is_unavailable() ? s : engine_failure(s));
      continue;
    }
    JobOutcome& out = f.outcome.value();
    const GenerateResult& r = out.result;
    counters_.tokens_generated += r.tokens.size();
    if (r.reason == StopReason::Cancelled) counters_.jobs_cancelled++;
    else counters_.jobs_completed++;
    {
      std::lock_guard lock(live_mutex_);
      live_.n_generations++;
      if (r.prompt_seconds > 0) live_.prefill_tokens_per_s = r.n_prompt_evaluated / r.prompt_seconds;
      if (r.generate_seconds > 0) live_.decode_tokens_per_s = r.tokens.size() / r.generate_seconds;
    }
    finish(job, std::move(out));
  }
  if (!done.empty() && !(batcher_ && batcher_->n_active() > 0)) {
    publish_live(true);
    std::lock_guard lock(live_mutex_);
    live_.generating = false;
  }
}

void Runner::run_embed(Job& job, JobOutcome& out) {
  const auto& tok = model_->tokenizer();
  const int64_t n_ctx = batcher_->n_ctx();
  for (const auto& input : job.embed_inputs) {
    if (job.cancelled()) {
      counters_.jobs_cancelled++;
      fail(job, Status::cancelled("client closed the request"));
      return;
    }
    tokenizer::EncodeOptions eo;
    eo.add_bos = tok.vocab().add_bos();
    eo.add_eos = tok.vocab().add_eos();
    std::vector<int32_t> tokens = tok.encode(input, eo);
    if (tokens.empty()) {
      counters_.jobs_failed++;
      fail(job, Status::invalid_argument("cannot embed an empty input"));
      return;
    }
    if (static_cast<int64_t>(tokens.size()) >= n_ctx) {
      if (!job.embed_truncate) {
        counters_.jobs_failed++;
        fail(job, Status::out_of_range("the input length exceeds the context length"));
        return;
      }
      tokens.resize(static_cast<size_t>(n_ctx - 1));  // keep the beginning, as Ollama does
    }
    auto vec = batcher_->embed(tokens);
    if (!vec) {
      counters_.jobs_failed++;
      fail(job, engine_failure(vec.status()));
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
