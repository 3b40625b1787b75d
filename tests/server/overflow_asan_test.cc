// tests/server/overflow_asan_test.cc: issue 13, defect 8, under UBSan (tools/test.sh builds it in
// build-asan): out-of-range keep_alive and option values never reach a signed overflow or an undefined
// float-to-int or double-to-float cast (the study's UBSan server aborted in the runner's expiry add).
#include <chrono>

#include <gtest/gtest.h>

#include "server/request_options.h"
#include "engine/scheduler.h"
#include "support/test_support.h"

namespace strata::server {
namespace {

using namespace std::chrono_literals;

TEST(OverflowUbsan, HugeValuesAreRefusedOrSaturated) {
  for (double v : {1e300, -1e300, 3.5e38, 9.3e18, -9.3e18, 1e19}) {
    RunOptions o = ollama_defaults();
    for (const char* key : {"temperature", "top_p", "min_p", "repeat_penalty", "num_ctx", "num_predict", "seed",
                            "top_k", "repeat_last_n"})
      (void)apply_options(Json{{key, v}}, o);  // refused or clamped; UBSan watches the casts
    (void)parse_keep_alive(Json{{"keep_alive", v}});
    (void)parse_duration(fmt::format("{}", v));
    (void)parse_duration(fmt::format("{}s", v));
    (void)parse_duration(fmt::format("{}h", v));
  }
}

TEST(OverflowUbsan, EnormousKeepAliveDoesNotOverflowTheExpiry) {
  engine::SchedulerOptions so;
  so.runner.n_threads = 1;
  engine::Scheduler scheduler(so);
  for (double seconds : {9e9, 1e9, 3.2e9}) {
    auto ka = parse_keep_alive(Json{{"keep_alive", seconds}});
    ASSERT_TRUE(ka.is_ok()) << ka.status().message();
    auto job = std::make_shared<engine::Job>();
    job->kind = engine::Job::Kind::Load;
    job->keep_alive = ka.value();
    ASSERT_TRUE(scheduler.submit(testing::shared_path("models/stories260K.gguf"), job));
    std::optional<engine::JobEvent> e;
    for (int i = 0; i < 600 && !e; ++i) e = job->next_event(100ms);
    ASSERT_TRUE(e && e->kind == engine::JobEvent::Kind::Done);
    auto loaded = scheduler.loaded();
    ASSERT_EQ(loaded.size(), 1u);
    EXPECT_GT(loaded[0].state.expires_at, std::chrono::system_clock::now());
  }
}

}  // namespace
}  // namespace strata::server
