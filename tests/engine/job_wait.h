// tests/engine/job_wait.h: waiting for a scheduler job's end in the engine tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>

#include "engine/job.h"

namespace strata::testing {

// The job's final event (Done or Error); a test failure, and an empty event, after 60 s without one.
inline engine::JobEvent finish(engine::Job& job) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto e = job.next_event(100ms);
    if (e && e->kind != engine::JobEvent::Kind::Text) return *e;
  }
  ADD_FAILURE() << "the job did not end";
  return {};
}

}  // namespace strata::testing
