// tests/streaming/expert_stats_test.cc: co-activation statistics: counting, prediction, the file (round trip,
// another model's file refused, a damaged file ignored), and warming the cache on the next run.
#include <filesystem>
#include <fstream>

#include "streaming/expert_stats.h"
#include "stream_test_util.h"

namespace strata::streaming::test {
namespace {

TEST(ExpertStats, CountsAndPredictsSuccessors) {
  ExpertStats s(3, 8, 2);
  for (int token = 0; token < 10; ++token) {
    s.record(0, std::vector<int32_t>{1, 2});
    s.record(1, std::vector<int32_t>{3, token % 2 == 0 ? 4 : 5});
    s.record(2, std::vector<int32_t>{6, 7});
  }
  EXPECT_EQ(s.count(0, 1), 10u);
  EXPECT_EQ(s.count(1, 4), 5u);
  EXPECT_EQ(s.count(0, 0), 0u);
  auto p = s.predict(0, std::vector<int32_t>{1}, 0.0, 8);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].first, 3);
  // The lower ends of the 95% Wilson intervals of 10 in 10 and 5 in 10.
  EXPECT_NEAR(p[0].second, 0.7225, 1e-4);
  EXPECT_NEAR(p[1].second, 0.2366, 1e-4);
  EXPECT_EQ(s.predict(0, std::vector<int32_t>{1}, 0.7, 8).size(), 1u);
  EXPECT_TRUE(s.predict(2, std::vector<int32_t>{6}, 0.0, 8).empty());  // no layer after the last
  // A batch's routing (more than n_used experts) is counted but pairs no successors.
  ExpertStats b(2, 8, 2);
  b.record(0, std::vector<int32_t>{0, 1, 2, 3});
  b.record(1, std::vector<int32_t>{4, 5});
  EXPECT_EQ(b.count(0, 3), 1u);
  EXPECT_TRUE(b.predict(0, std::vector<int32_t>{0}, 0.0, 8).empty());
  const auto hot = s.hottest(4);
  ASSERT_EQ(hot.size(), 4u);
  EXPECT_EQ(s.count(hot[0].layer, hot[0].expert), 10u);
}

// Near-uniform routing over many experts: after a few tokens some successor pairs repeat by chance (2 of 4 reads as
// "0.5"). None of them is a prediction at the streaming source's threshold; a pair that always follows, seen as
// often, is.
TEST(ExpertStats, SamplingNoiseIsNotCoActivation) {
  ExpertStats s(2, 128, 8);
  uint64_t x = 12345;
  auto next = [&x] { x = x * 6364136223846793005ull + 1442695040888963407ull; return static_cast<int32_t>((x >> 33) % 128); };
  for (int token = 0; token < 6; ++token) {
    std::vector<int32_t> a{0}, b;
    for (int j = 1; j < 8; ++j) a.push_back(next());
    for (int j = 0; j < 7; ++j) b.push_back(next());
    b.push_back(token % 2 == 0 ? 99 : next());  // expert 99 follows expert 0 every other token: not enough to read it ahead
    s.record(0, a);
    s.record(1, b);
  }
  EXPECT_TRUE(s.predict(0, std::vector<int32_t>{0}, 0.5, 8).empty());
  ExpertStats t(2, 128, 8);
  for (int token = 0; token < 12; ++token) {
    t.record(0, std::vector<int32_t>{0});
    t.record(1, std::vector<int32_t>{99, next()});
  }
  const auto p = t.predict(0, std::vector<int32_t>{0}, 0.5, 8);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].first, 99);
}

TEST(ExpertStats, FileRoundTripAndRejection) {
  const std::string dir = testing::temp_dir();
  ExpertStats s(2, 4, 1);
  for (int i = 0; i < 5; ++i) {
    s.record(0, std::vector<int32_t>{i % 4});
    s.record(1, std::vector<int32_t>{(i + 1) % 4});
  }
  const std::string path = dir + "/sub/dir/stats.bin";
  ASSERT_TRUE(s.save(path, 42).is_ok());
  auto back = ExpertStats::load(path, 42, 2, 4, 1);
  ASSERT_TRUE(back.is_ok()) << back.status().message();
  for (int l = 0; l < 2; ++l)
    for (int e = 0; e < 4; ++e) EXPECT_EQ(back->count(l, e), s.count(l, e));
  EXPECT_EQ(back->predict(0, std::vector<int32_t>{1}, 0, 4), s.predict(0, std::vector<int32_t>{1}, 0, 4));
  EXPECT_FALSE(ExpertStats::load(path, 43, 2, 4, 1).is_ok());  // another model
  EXPECT_FALSE(ExpertStats::load(path, 42, 2, 8, 1).is_ok());
  auto missing = ExpertStats::load(dir + "/none.bin", 42, 2, 4, 1);
  ASSERT_TRUE(missing.is_ok());
  EXPECT_EQ(missing->total(), 0u);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  EXPECT_FALSE(ExpertStats::load(path, 42, 2, 4, 1).is_ok());
  std::ofstream(path, std::ios::binary) << "garbage";
  EXPECT_FALSE(ExpertStats::load(path, 42, 2, 4, 1).is_ok());
}

TEST(ExpertStats, DefaultPathFollowsXdg) {
  Loaded l = load_model(testing::shared_path("models/stories260K.gguf"));
  const std::string a = default_stats_path(l.model, "/m/stories260K.gguf", "/state", "/home/u");
  EXPECT_EQ(a.rfind("/state/strata/expert-stats/stories260K-", 0), 0u) << a;
  const std::string b = default_stats_path(l.model, "/m/stories260K.gguf", "", "/home/u");
  EXPECT_EQ(b.rfind("/home/u/.local/state/strata/expert-stats/stories260K-", 0), 0u) << b;
}

TEST(ExpertStats, SavedAtExitAndWarmTheNextRun) {
  const std::string dir = testing::temp_dir();
  model::SynthSpec spec;
  spec.layers = 2;
  spec.dim = 64;
  spec.heads = 4;
  spec.vocab = 512;
  spec.experts = 8;
  spec.experts_used = 2;
  Loaded l = load_model(write_synth(spec, dir, "moe.gguf"));
  const std::vector<int32_t> tokens = {1, 300, 17, 299, 42, 301, 5, 330};
  const std::vector<float> want = run_resident(l, tokens, 1);
  auto plan = plan_memory(l.model, streamed_config(l.model));
  ASSERT_TRUE(plan.is_ok());
  StreamConfig c = streamed_config(l.model);
  c.expert_cache_bytes = 6 * plan->expert_entry_bytes;
  c.stats_path = dir + "/state/stats.bin";
  uint64_t cold_first_hits = 0;
  {
    auto w = make_stream(l, c);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->stats().expert_warmed, 0u);
    EXPECT_TRUE(bitwise_equal(run_tokens(l.model, *w, w.get(), tokens, 1), want));
    const StreamStats s = w->stats();
    ASSERT_FALSE(s.expert_per_pass.empty());
    cold_first_hits = s.expert_per_pass[0].hits;
    EXPECT_FALSE(std::filesystem::exists(c.stats_path)) << "written before exit";
  }
  ASSERT_TRUE(std::filesystem::exists(c.stats_path));
  EXPECT_EQ(cold_first_hits, 0u);  // a cold cache cannot hit on the first token
  {
    auto w = make_stream(l, c);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->stats().expert_warmed, 6u);
    EXPECT_GT(w->stats().load_bytes, 0u);
    EXPECT_TRUE(bitwise_equal(run_tokens(l.model, *w, w.get(), tokens, 1), want));
    const StreamStats s = w->stats();
    ASSERT_FALSE(s.expert_per_pass.empty());
    EXPECT_GT(s.expert_per_pass[0].hits, 0u) << "warmed experts should serve the first token";
  }
  // A damaged file is ignored (with a warning), never trusted.
  std::filesystem::resize_file(c.stats_path, 100);
  auto w = make_stream(l, c);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->stats().expert_warmed, 0u);
  EXPECT_TRUE(bitwise_equal(run_tokens(l.model, *w, w.get(), tokens, 1), want));
}

TEST(ExpertCache, PrefillRoutingMoreExpertsThanTheCacheHolds) {
  model::SynthSpec spec;
  spec.layers = 2;
  spec.dim = 64;
  spec.heads = 4;
  spec.vocab = 512;
  spec.experts = 16;
  spec.experts_used = 4;
  Loaded l = load_model(write_synth(spec, testing::temp_dir(), "moe16.gguf"));
  std::vector<int32_t> tokens;
  for (int i = 0; i < 24; ++i) tokens.push_back(3 + 17 * i % 500);
  const std::vector<float> want = run_resident(l, tokens, 20);  // a 20-token batch routes nearly every expert
  auto plan = plan_memory(l.model, streamed_config(l.model));
  ASSERT_TRUE(plan.is_ok());
  for (uint64_t entries : {1, 3}) {
    StreamConfig c = streamed_config(l.model);
    c.expert_cache_bytes = entries * plan->expert_entry_bytes;
    auto w = make_stream(l, c);
    ASSERT_NE(w, nullptr);
    EXPECT_TRUE(bitwise_equal(run_tokens(l.model, *w, w.get(), tokens, 20), want)) << entries;
    EXPECT_GT(w->stats().expert_misses, 16u);
  }
}

}  // namespace
}  // namespace strata::streaming::test
