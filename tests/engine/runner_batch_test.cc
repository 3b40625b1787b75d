// tests/engine/runner_batch_test.cc: a runner with several KV slots: concurrent jobs decode together and
// answer as they do one at a time, a job asking for another context waits for the running ones, and slots
// that cannot fit are refused naming the parallel count.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "engine/job_wait.h"
#include "engine/scheduler.h"
#include "model/synth.h"
#include "support/test_support.h"

namespace strata::engine {
namespace {

using namespace std::chrono_literals;

using testing::finish;

std::shared_ptr<Job> generate_job(const std::string& text, int32_t n, int64_t num_ctx = 128) {
  auto job = std::make_shared<Job>();
  job->kind = Job::Kind::Generate;
  job->options.num_ctx = num_ctx;
  job->options.num_predict = n;
  job->options.sampling.temperature = 0;
  job->build_prompt = [text](const LoadedModel& lm, int64_t, const std::function<bool()>&) -> Result<std::vector<int32_t>> {
    tokenizer::EncodeOptions eo;
    eo.add_bos = true;
    return lm.tokenizer().encode(text, eo);
  };
  return job;
}

SchedulerOptions options(int n_parallel) {
  SchedulerOptions o;
  o.runner.n_threads = 1;
  o.runner.n_parallel = n_parallel;
  o.runner.token_delay = 2ms;  // long enough for the jobs to overlap
  return o;
}

const std::vector<std::string> kPrompts = {"Once upon a time", "The dog", "Lily went to the park", "A big red ball"};

std::vector<std::vector<int32_t>> run_all(int n_parallel, int* max_sequences) {
  Scheduler s(options(n_parallel));
  const std::string model = testing::shared_path("models/stories260K.gguf");
  std::vector<std::shared_ptr<Job>> jobs;
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    jobs.push_back(generate_job(kPrompts[i], 24 + static_cast<int32_t>(i)));
    EXPECT_TRUE(s.submit(model, jobs.back()));
  }
  *max_sequences = 0;
  for (int i = 0; i < 2000 && s.queued_jobs() > 0; ++i) {
    for (const auto& l : s.loaded()) *max_sequences = std::max(*max_sequences, l.state.sequences);
    std::this_thread::sleep_for(1ms);
  }
  std::vector<std::vector<int32_t>> out;
  for (auto& j : jobs) {
    JobEvent e = finish(*j);
    EXPECT_EQ(e.kind, JobEvent::Kind::Done) << e.error.message();
    out.push_back(j->outcome().result.tokens);
  }
  return out;
}

TEST(RunnerBatch, ConcurrentJobsDecodeTogetherAndAnswerAsOneAtATime) {
  int serial_max = 0, batched_max = 0;
  const auto serial = run_all(1, &serial_max);
  const auto batched = run_all(4, &batched_max);
  EXPECT_LE(serial_max, 1);
  EXPECT_GT(batched_max, 1) << "the jobs never ran together";
  EXPECT_EQ(batched, serial);
}

TEST(RunnerBatch, AnotherContextWaitsForTheRunningJobs) {
  Scheduler s(options(2));
  const std::string model = testing::shared_path("models/stories260K.gguf");
  auto a = generate_job(kPrompts[0], 30, 128);  // stories260K's whole training context
  auto b = generate_job(kPrompts[1], 4, 64);
  ASSERT_TRUE(s.submit(model, a));
  ASSERT_TRUE(s.submit(model, b));
  EXPECT_EQ(finish(*a).kind, JobEvent::Kind::Done);
  EXPECT_EQ(finish(*b).kind, JobEvent::Kind::Done);
  EXPECT_EQ(a->outcome().n_ctx, 128);
  EXPECT_EQ(b->outcome().n_ctx, 64);
}

// keep_alive 0 unloads the model before the answer goes out; with another sequence still running it waits
// for that one (the answered job's figures are not published from an unloaded model: a crash once).
TEST(RunnerBatch, KeepAliveZeroUnloadsOnceTheLastSequenceEnds) {
  Scheduler s(options(2));
  const std::string model = testing::shared_path("models/stories260K.gguf");
  auto alone = generate_job(kPrompts[0], 4);
  alone->keep_alive = KeepAlive(0);
  ASSERT_TRUE(s.submit(model, alone));
  EXPECT_EQ(finish(*alone).kind, JobEvent::Kind::Done);
  EXPECT_TRUE(s.loaded().empty()) << "keep_alive 0 unloads before answering";
  auto longer = generate_job(kPrompts[1], 40);
  auto shorter = generate_job(kPrompts[2], 2);
  shorter->keep_alive = KeepAlive(0);
  ASSERT_TRUE(s.submit(model, longer));
  ASSERT_TRUE(s.submit(model, shorter));
  EXPECT_EQ(finish(*shorter).kind, JobEvent::Kind::Done);
  EXPECT_EQ(finish(*longer).kind, JobEvent::Kind::Done);
  for (int i = 0; i < 200 && !s.loaded().empty(); ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(s.loaded().empty()) << "the deferred unload happened once the running sequence ended";
}

TEST(RunnerBatch, SlotsThatDoNotFitAreRefusedNamingTheParallelCount) {
  // stories260K is trained for 128 tokens, so a synthetic model with a huge training context stands in.
  model::SynthSpec spec;
  spec.ctx = int64_t{1} << 30;
  spec.vocab = 300;
  const std::string path = testing::temp_dir() + "/wide.gguf";
  ASSERT_TRUE(model::write_synth_model(spec, path).is_ok());
  Scheduler s(options(8));
  auto job = generate_job("hi", 2, int64_t{1} << 26);
  ASSERT_TRUE(s.submit(path, job));
  JobEvent e = finish(*job);
  ASSERT_EQ(e.kind, JobEvent::Kind::Error);
  EXPECT_TRUE(e.error.is_resource_exhausted()) << e.error.message();
  EXPECT_NE(e.error.message().find("8 parallel sequences"), std::string::npos) << e.error.message();
}

}  // namespace
}  // namespace strata::engine
