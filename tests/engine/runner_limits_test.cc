// tests/engine/runner_limits_test.cc: the runner and scheduler against hostile request values (issue 13):
// a client's num_ctx is checked against memory before the KV cache is allocated, an enormous keep_alive
// does not overflow the expiry clock, and runners of models no longer used give their threads back.
#include <dirent.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "model/synth.h"
#include "engine/job_wait.h"
#include "engine/scheduler.h"
#include "support/test_support.h"

namespace strata::engine {
namespace {

using namespace std::chrono_literals;

SchedulerOptions one_thread() {
  SchedulerOptions o;
  o.runner.n_threads = 1;
  return o;
}

using testing::finish;

std::shared_ptr<Job> generate_job(int64_t num_ctx) {
  auto job = std::make_shared<Job>();
  job->kind = Job::Kind::Generate;
  job->options.num_ctx = num_ctx;
  job->options.num_predict = 2;
  job->build_prompt = [](const engine::LoadedModel& lm, int64_t,
                         const std::function<bool()>&) -> Result<std::vector<int32_t>> {
    return std::vector<int32_t>{*lm.tokenizer().vocab().bos_id()};
  };
  return job;
}

size_t n_threads() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

// Defect 2: a model trained for 2^30 tokens and a client asking for all of them: a 512 GiB KV cache whose
// failed allocation hit an always-on check and aborted the server. Now it is refused, shortfall named.
TEST(RunnerLimits, HugeNumCtxIsRefusedNotAnAbort) {
  model::SynthSpec spec;
  spec.ctx = int64_t{1} << 30;  // the most the loader takes
  spec.vocab = 300;
  const std::string path = testing::temp_dir() + "/long_context.gguf";
  ASSERT_TRUE(model::write_synth_model(spec, path).is_ok());
  Scheduler scheduler(one_thread());
  auto job = generate_job(int64_t{1} << 30);
  ASSERT_TRUE(scheduler.submit(path, job));
  JobEvent e = finish(*job);
  ASSERT_EQ(e.kind, JobEvent::Kind::Error);
  EXPECT_TRUE(e.error.is_resource_exhausted()) << e.error.to_string();
  EXPECT_NE(e.error.message().find("short by"), std::string::npos) << e.error.message();
  EXPECT_NE(e.error.message().find("num_ctx"), std::string::npos) << e.error.message();
  // The model stays usable with a context that fits.
  auto small = generate_job(64);
  ASSERT_TRUE(scheduler.submit(path, small));
  EXPECT_EQ(finish(*small).kind, JobEvent::Kind::Done);
}

// Defect 8: keep_alive of 9e9 s passed validation and overflowed the wall-clock expiry (1727 in release,
// an abort under UBSan). Such a keep-alive now means forever.
TEST(RunnerLimits, EnormousKeepAliveMeansForever) {
  Scheduler scheduler(one_thread());
  const std::string path = testing::shared_path("models/stories260K.gguf");
  auto job = std::make_shared<Job>();
  job->kind = Job::Kind::Load;
  job->keep_alive = std::chrono::duration_cast<KeepAlive>(std::chrono::duration<double>(9e9));
  ASSERT_TRUE(scheduler.submit(path, job));
  ASSERT_EQ(finish(*job).kind, JobEvent::Kind::Done);
  auto loaded = scheduler.loaded();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_TRUE(loaded[0].state.keep_forever);
  EXPECT_GT(loaded[0].state.expires_at, std::chrono::system_clock::now());
}

// Defect 11: each model file used got a runner thread that was never reclaimed, deleted or not.
TEST(RunnerLimits, IdleRunnersGiveTheirThreadsBack) {
  Scheduler scheduler(one_thread());
  const size_t before = n_threads();
  for (int i = 0; i < 50; ++i) {
    auto job = std::make_shared<Job>();
    job->kind = Job::Kind::Load;
    job->keep_alive = KeepAlive(0);  // an unload request: the runner starts, answers and goes idle
    ASSERT_TRUE(scheduler.submit(testing::temp_dir() + "/model" + std::to_string(i) + ".gguf", job));
    ASSERT_EQ(finish(*job).kind, JobEvent::Kind::Done);
  }
  EXPECT_LE(scheduler.n_runners(), 1u);
  EXPECT_LE(n_threads(), before + 1);
  // A loaded model keeps its runner; deleting it (unload) lets the runner go once the model is out.
  const std::string path = testing::shared_path("models/stories260K.gguf");
  auto load = std::make_shared<Job>();
  load->kind = Job::Kind::Load;
  ASSERT_TRUE(scheduler.submit(path, load));
  ASSERT_EQ(finish(*load).kind, JobEvent::Kind::Done);
  EXPECT_EQ(scheduler.n_runners(), 1u);
  scheduler.unload(path);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (scheduler.n_runners() > 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(scheduler.n_runners(), 0u);
  EXPECT_LE(n_threads(), before);
}

}  // namespace
}  // namespace strata::engine
