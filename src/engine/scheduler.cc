// engine/scheduler.cc: runner lookup and creation, the loaded-model cap, /api/ps ordering.
#include "engine/scheduler.h"

#include <algorithm>

namespace strata::engine {

Scheduler::Scheduler(SchedulerOptions options) : options_(options) {}

Scheduler::~Scheduler() {
  std::map<std::string, std::unique_ptr<Runner>> runners;
  {
    std::lock_guard lock(mutex_);
    runners.swap(runners_);
  }
  runners.clear();  // each destructor fails its queue and joins its thread
}

void Scheduler::reclaim_idle_locked(const std::string* keep) const {
  // Only submit() (under mutex_) gives a runner work, so one seen idle here stays idle until destroyed;
  // its thread is waiting for work and joins at once.
  for (auto it = runners_.begin(); it != runners_.end();) {
    const Runner::State s = it->second->state();
    if (!s.loaded && !s.busy && s.queued == 0 && (!keep || it->first != *keep)) it = runners_.erase(it);
    else ++it;
  }
}

size_t Scheduler::n_runners() const {
  std::lock_guard lock(mutex_);
  reclaim_idle_locked();
  return runners_.size();
}

bool Scheduler::submit(const std::string& gguf_path, std::shared_ptr<Job> job) {
  std::lock_guard lock(mutex_);
  reclaim_idle_locked(&gguf_path);
  auto& runner = runners_[gguf_path];
  if (!runner) runner = std::make_unique<Runner>(gguf_path, options_.runner, counters_);
  // Make room: when this model is not loaded and the cap is reached, unload the least recently used
  // idle model (a busy one finishes first; the cap may then be exceeded briefly).
  if (!runner->state().loaded) {
    size_t n_loaded = 0;
    Runner* lru = nullptr;
    std::chrono::steady_clock::time_point lru_time = std::chrono::steady_clock::time_point::max();
    for (auto& [path, r] : runners_) {
      Runner::State s = r->state();
      if (!s.loaded) continue;
      ++n_loaded;
      if (!s.busy && s.queued == 0 && s.last_used < lru_time) lru = r.get(), lru_time = s.last_used;
    }
    if (n_loaded >= options_.max_loaded_models && lru) lru->request_unload();
  }
  if (!runner->submit(std::move(job))) {
    counters_.rejected_busy++;
    return false;
  }
  return true;
}

std::vector<Scheduler::Loaded> Scheduler::loaded() const {
  std::vector<Loaded> out;
  {
    std::lock_guard lock(mutex_);
    reclaim_idle_locked();
    for (const auto& [path, r] : runners_) {
      Runner::State s = r->state();
      if (s.loaded) out.push_back({path, s});
    }
  }
  std::sort(out.begin(), out.end(), [](const Loaded& a, const Loaded& b) {
    if (a.state.keep_forever != b.state.keep_forever) return a.state.keep_forever;
    return a.state.expires_at > b.state.expires_at;
  });
  return out;
}

std::vector<Scheduler::Live> Scheduler::live() const {
  std::vector<Live> out;
  std::lock_guard lock(mutex_);
  for (const auto& [path, r] : runners_) {
    Runner::State s = r->state();
    if (s.loaded) out.push_back({path, s, r->live()});
  }
  return out;
}

void Scheduler::unload(const std::string& gguf_path) {
  std::lock_guard lock(mutex_);
  auto it = runners_.find(gguf_path);
  if (it != runners_.end()) it->second->request_unload();
  reclaim_idle_locked();
}

size_t Scheduler::queued_jobs() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [path, r] : runners_) {
    Runner::State s = r->state();
    n += s.queued + std::max<size_t>(static_cast<size_t>(s.sequences), s.busy ? 1 : 0);
  }
  return n;
}

}  // namespace strata::engine
