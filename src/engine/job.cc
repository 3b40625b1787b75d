// engine/job.cc: the runner → client-thread event channel.
#include "engine/job.h"

namespace strata::engine {

void Job::emit_text(std::string_view text) {
  {
    std::lock_guard lock(mutex_);
    // One event (one streamed line) per piece, as Ollama sends one line per token.
    events_.push_back(JobEvent{JobEvent::Kind::Text, std::string(text), {}});
  }
  cv_.notify_one();
}

void Job::finish(JobOutcome outcome) {
  {
    std::lock_guard lock(mutex_);
    outcome_ = std::move(outcome);
    events_.push_back(JobEvent{JobEvent::Kind::Done, {}, {}});
  }
  cv_.notify_one();
}

void Job::fail(Status error) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(JobEvent{JobEvent::Kind::Error, {}, std::move(error)});
  }
  cv_.notify_one();
}

std::optional<JobEvent> Job::next_event(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
  JobEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

}  // namespace strata::engine
