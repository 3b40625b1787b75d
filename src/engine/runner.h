// engine/runner.h: one model's runner: a thread that owns the loaded model and its batcher, takes jobs from
// a bounded queue as KV slots free up (up to n_parallel generations decode together, one forward pass per
// step; a LoadedModel serves one pass at a time), and unloads the model when its keep-alive runs out.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <thread>

#include "engine/batcher.h"
#include "engine/runtime.h"
#include "planner/plan.h"
#include "engine/job.h"

namespace strata::engine {

// How a model file becomes EngineOptions. The CLI passes its own (planner budgets, hardware profile),
// so the server loads models exactly as `strata run` does.
using EngineOptionsFactory = std::function<Result<EngineOptions>(const std::string& gguf_path)>;

struct RunnerOptions {
  int n_threads = 0;                   // engine threads (0: all cores), when there is no factory
  EngineOptionsFactory engine_options;  // unset: {gguf_path, n_threads} and default budgets
  int64_t default_num_ctx = 4096;      // when a request does not set num_ctx (clamped to the model's)
  size_t max_queue = 512;              // waiting jobs beyond the running ones; more are refused (busy)
  int n_parallel = 1;                  // sequences decoding together (OLLAMA_NUM_PARALLEL), each its own KV slot
  int64_t prompt_chunk = 256;          // prompt tokens per sequence per step while other sequences run
  KeepAlive default_keep_alive = std::chrono::minutes(5);
  std::chrono::milliseconds token_delay{0};  // testing aid: a pause after each step (a token per sequence)
};

// Counters shared by every runner (for /api/strata/stats and the load tests).
struct ServerCounters {
  std::atomic<uint64_t> jobs_started{0};
  std::atomic<uint64_t> jobs_completed{0};
  std::atomic<uint64_t> jobs_cancelled{0};   // stopped (or skipped) because the client went away
  std::atomic<uint64_t> jobs_failed{0};
  std::atomic<uint64_t> rejected_busy{0};    // refused: queue full
  std::atomic<uint64_t> tokens_generated{0};
  std::atomic<uint64_t> loads{0};
  std::atomic<uint64_t> unloads{0};
};

class Runner {
 public:
  Runner(std::string gguf_path, RunnerOptions options, ServerCounters& counters);
  ~Runner();  // fails queued jobs, stops the current one, joins the thread, unloads
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Queues a job; false when the queue is full.
  bool submit(std::shared_ptr<Job> job);
  // Unloads the model as soon as no job is running or queued.
  void request_unload();

  struct State {
    bool loaded = false;
    bool busy = false;  // a job is running
    size_t queued = 0;
    int sequences = 0;   // generations in flight (decoding or taking their prompt)
    int n_parallel = 1;  // KV slots
    std::string model_name;  // of the job that last used it
    int64_t n_ctx = 0;
    uint64_t resident_bytes = 0;
    bool keep_forever = false;
    std::chrono::system_clock::time_point expires_at;
    std::chrono::steady_clock::time_point last_used;
  };
  State state() const;

  // What the /strata page shows about this runner's model, published by the runner thread (the engine's
  // figures are read on that thread only) at load, every quarter second while generating, and at the end.
  struct LiveFigures {
    std::shared_ptr<const planner::Plan> plan;  // absent: no model, or loaded without a hardware profile
    std::shared_ptr<const std::string> plan_svg;
    std::optional<streaming::StreamStats> stream;  // absent: every weight resident
    bool generating = false;
    int64_t prompt_tokens = 0;         // of the latest generation to start
    uint64_t pieces_generated = 0;     // text pieces of the current generation so far (about one per token)
    double prefill_tokens_per_s = 0;   // the current generation's prompt (to its first piece), else the last's
    double decode_tokens_per_s = 0;    // the current generation's so far, else the last one's (exact)
    uint64_t n_generations = 0;        // finished since load
    // The batcher's counters since its slots were made (engine/batcher.h): its passes and what the prefix
    // cache saved.
    uint64_t steps = 0, batched_steps = 0;
    uint64_t prompt_tokens_total = 0, prompt_tokens_reused = 0, kv_prefix_copies = 0;
  };
  LiveFigures live() const;

 private:
  void publish_loaded();  // runner thread, after a load
  void publish_live(bool force);  // runner thread: the stream snapshot, at most every 0.25 s unless forced
  void loop();
  // Whether the job at the queue's head can start now: a free slot and the batcher's context (a job that
  // needs another context waits until every running sequence has finished).
  bool can_start_locked(const Job& job) const;  // mutex_ held
  int64_t context_for(const Job& job) const;    // REQUIRES: model_
  void start_job(const std::shared_ptr<Job>& job);
  void start_generate(const std::shared_ptr<Job>& job, JobOutcome outcome);
  void run_embed(Job& job, JobOutcome& outcome);
  void step();
  // Answers the jobs the batcher finished (outside its step: settling keep-alive may unload the model).
  void answer_finished();
  void unload_locked();
  // Applies the job's keep_alive (expiry, or an unload for 0) before its answer goes out, so that a
  // client that reads /api/ps right after the answer sees the state the answer implies.
  void settle_keep_alive_locked(const Job& job);  // mutex_ held
  // Settle keep-alive, forget the job, then answer it.
  void finish(Job& job, JobOutcome outcome);
  void fail(Job& job, Status why);

  const std::string gguf_path_;
  const RunnerOptions options_;
  ServerCounters& counters_;

  mutable std::mutex mutex_;  // guards everything below except model_/batcher_ contents (runner thread only)
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::shared_ptr<Job>> running_;  // started and not yet answered (cancelled on shutdown)
  bool stop_ = false;
  bool unload_requested_ = false;
  bool starting_ = false;  // a job is being started (loading, prompt, embedding)
  int sequences_ = 0;      // the batcher's active sequences, as of its last change
  std::string model_name_;
  int64_t n_ctx_ = 0;
  std::chrono::steady_clock::time_point expires_;  // meaningful when loaded and !keep_forever_
  std::chrono::system_clock::time_point expires_wall_;
  bool keep_forever_ = false;
  std::chrono::steady_clock::time_point last_used_;
  // Written by the runner thread with mutex_ held; read by state(). Used without the lock only by the
  // runner thread.
  std::unique_ptr<LoadedModel> model_;
  std::unique_ptr<Batcher> batcher_;
  // Runner thread only: jobs the batcher answered during a step, answered after it.
  struct Finished {
    std::shared_ptr<Job> job;
    Result<JobOutcome> outcome;
    bool constrained = false;  // a format constraint was in force (its refusal is the request's fault)
  };
  std::vector<Finished> finished_;
  mutable std::mutex live_mutex_;  // guards live_ and live_published_
  LiveFigures live_;
  std::chrono::steady_clock::time_point live_published_;
  std::thread thread_;
};

}  // namespace strata::engine
