// engine/scheduler.h: which runner serves which model file: runners made on first use and reclaimed
// (thread joined) once idle with nothing loaded, a cap on how many models stay loaded (the least recently
// used idle one is unloaded), and the view /api/ps shows.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/job.h"
#include "engine/runner.h"

namespace strata::engine {

struct SchedulerOptions {
  RunnerOptions runner;
  size_t max_loaded_models = 3;  // OLLAMA_MAX_LOADED_MODELS (Ollama's CPU default)
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options);
  ~Scheduler();  // stops every runner

  // Queues `job` on the runner of `gguf_path`. False when that runner's queue is full (the caller answers busy).
  bool submit(const std::string& gguf_path, std::shared_ptr<Job> job);

  struct Loaded {
    std::string gguf_path;
    Runner::State state;
  };
  // The loaded models, most time left first.
  std::vector<Loaded> loaded() const;
  // The loaded models with their live figures (for /api/strata/stats), in path order.
  struct Live {
    std::string gguf_path;
    Runner::State state;
    Runner::LiveFigures figures;
  };
  std::vector<Live> live() const;
  // Unloads a model once idle (e.g. its file was deleted); its runner goes at the next call after that.
  void unload(const std::string& gguf_path);
  // Runners (each one thread) alive now: loaded models and those with work, plus any not yet reclaimed.
  size_t n_runners() const;

  ServerCounters& counters() { return counters_; }
  size_t queued_jobs() const;

 private:
  // Destroys (joining their threads) the runners with nothing loaded, running or queued, except `keep`.
  // Without it every model file ever used kept a thread, deleted ones included.
  void reclaim_idle_locked(const std::string* keep = nullptr) const;  // mutex_ held

  SchedulerOptions options_;
  ServerCounters counters_;
  mutable std::mutex mutex_;  // guards runners_ (reclaimed from const readers too, hence mutable)
  mutable std::map<std::string, std::unique_ptr<Runner>> runners_;
};

}  // namespace strata::engine
