// tests/streaming/batch_forward_test.cc: several sequences in one pass (Forward::eval_batch) give each the
// greedy tokens and the logits it gets alone (up to float-sum order), on stories260K and synthetic dense
// and MoE models, with resident and streamed weights; a streamed batch reads the weights once per step.
#include <algorithm>
#include <cmath>

#include "stream_test_util.h"

namespace strata::streaming::test {
namespace {

// Three prompts of different lengths; the third joins two steps late, while the others decode.
const std::vector<std::vector<int32_t>> kPrompts = {
    {1, 300, 17, 299, 42, 301, 5}, {1, 77, 12}, {1, 330, 9, 100, 200, 250, 31, 64, 128, 7, 3}};
constexpr int kJoinStep = 2;
constexpr int kSteps = 8;  // tokens decoded per sequence after its prompt

int32_t argmax(std::span<const float> v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

struct Trace {
  std::vector<int32_t> tokens;              // greedy picks
  std::vector<std::vector<float>> logits;   // the logits each pick came from
};

// One sequence alone: its prompt as one batch, then one token per pass.
Trace run_alone(const model::Model& m, model::WeightSource& w, model::ExpertSource* e,
                const std::vector<int32_t>& prompt) {
  ThreadPool pool(2);
  kernels::CpuBackend backend(pool);
  model::Forward fwd(m, w, e, backend);
  model::KvCache cache(m.hp, 64);
  std::vector<float> logits(static_cast<size_t>(m.hp.n_vocab));
  Trace t;
  Status s = fwd.eval(prompt, cache, logits, false);
  for (int i = 0; s.is_ok() && i <= kSteps; ++i) {
    t.logits.push_back(logits);
    t.tokens.push_back(argmax(logits));
    if (i < kSteps) s = fwd.eval(std::span(&t.tokens.back(), 1), cache, logits, false);
  }
  EXPECT_TRUE(s.is_ok()) << s.message();
  return t;
}

// Every sequence in one pass per step: the first two prompts together, then their decodes, with the third
// prompt joining at kJoinStep (a pass that mixes a prompt with single-token decodes).
std::vector<Trace> run_batched(const model::Model& m, model::WeightSource& w, model::ExpertSource* e,
                               uint64_t* n_calls) {
  ThreadPool pool(2);
  kernels::CpuBackend backend(pool);
  model::Forward fwd(m, w, e, backend);
  const size_t n_seq = kPrompts.size();
  std::vector<std::unique_ptr<model::KvCache>> caches;
  std::vector<std::vector<float>> logits(n_seq, std::vector<float>(static_cast<size_t>(m.hp.n_vocab)));
  std::vector<Trace> traces(n_seq);
  for (size_t i = 0; i < n_seq; ++i) caches.push_back(std::make_unique<model::KvCache>(m.hp, 64));
  std::vector<bool> started(n_seq, false);
  *n_calls = 0;
  for (int step = 0;; ++step) {
    std::vector<model::SeqInput> batch;
    std::vector<size_t> who;
    for (size_t i = 0; i < n_seq; ++i) {
      const bool late = i == 2;
      if (!started[i]) {
        if (late && step < kJoinStep) continue;
        batch.push_back({kPrompts[i], caches[i].get(), logits[i], false});
      } else {
        if (traces[i].tokens.size() > kSteps) continue;
        batch.push_back({std::span(&traces[i].tokens.back(), 1), caches[i].get(), logits[i], false});
      }
      who.push_back(i);
    }
    if (batch.empty()) break;
    Status s = fwd.eval_batch(batch);
    ++*n_calls;
    EXPECT_TRUE(s.is_ok()) << s.message();
    if (!s.is_ok()) break;
    for (size_t i : who) {
      started[i] = true;
      traces[i].logits.push_back(logits[i]);
      traces[i].tokens.push_back(argmax(logits[i]));
    }
  }
  return traces;
}

// The largest |a - b| over the largest |a|. A weight product over 3 rows sums in another order than over 1
// (the CPU's mat-vec takes up to 8 rows a weight read): ulp-level differences, which the F16 rounding of q,
// K, V and the attention probabilities can step up to an F16 ulp (5e-4 relative) in one element; measured
// up to 1.6e-4 of the logits' scale on stories260K.
double relative_gap(const std::vector<float>& a, const std::vector<float>& b) {
  double gap = 0, scale = 1e-12;
  for (size_t i = 0; i < a.size(); ++i) {
    gap = std::max(gap, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(a[i])));
  }
  return gap / scale;
}

void expect_batch_matches_alone(const Loaded& l, const std::function<std::unique_ptr<model::WeightSource>()>& source,
                                bool streamed) {
  std::vector<Trace> alone;
  for (const auto& p : kPrompts) {
    auto w = source();
    alone.push_back(run_alone(l.model, *w, dynamic_cast<model::ExpertSource*>(w.get()), p));
  }
  auto w = source();
  uint64_t n_calls = 0;
  const std::vector<Trace> batched = run_batched(l.model, *w, dynamic_cast<model::ExpertSource*>(w.get()), &n_calls);
  for (size_t i = 0; i < kPrompts.size(); ++i) {
    SCOPED_TRACE(fmt::format("sequence {}", i));
    EXPECT_EQ(batched[i].tokens, alone[i].tokens) << "greedy tokens differ from the sequence run alone";
    ASSERT_EQ(batched[i].logits.size(), alone[i].logits.size());
    for (size_t s = 0; s < alone[i].logits.size(); ++s)
      EXPECT_LT(relative_gap(batched[i].logits[s], alone[i].logits[s]), 1e-3) << "step " << s;
  }
  if (streamed) {
    // One pass over the streamed weights per batched step, whatever the number of sequences in it.
    auto* sw = dynamic_cast<StreamingWeights*>(w.get());
    ASSERT_NE(sw, nullptr);
    EXPECT_EQ(sw->stats().n_passes, n_calls);
    EXPECT_EQ(sw->stats().n_unscheduled, 0u);
  }
}

void check_model(const std::string& path) {
  Loaded l = load_model(path);
  ASSERT_GT(l.model.hp.n_layer, 0);
  {
    SCOPED_TRACE("resident");
    expect_batch_matches_alone(
        l, [&]() -> std::unique_ptr<model::WeightSource> { return std::move(ResidentWeights::load(l.file, l.model)).value(); },
        false);
  }
  {
    SCOPED_TRACE("streamed");
    expect_batch_matches_alone(l, [&]() -> std::unique_ptr<model::WeightSource> { return make_stream(l, streamed_config(l.model)); },
                               true);
  }
}

TEST(BatchForward, Stories260K) { check_model(testing::shared_path("models/stories260K.gguf")); }

TEST(BatchForward, SynthDenseAndMoe) {
  const std::string dir = testing::temp_dir();
  model::SynthSpec dense;
  dense.layers = 3;
  dense.dim = 256;
  dense.heads = 4;
  dense.kv_heads = 2;
  dense.vocab = 512;
  dense.type = "Q4_K_M";
  dense.seed = 5;
  {
    SCOPED_TRACE("dense Q4_K_M");
    check_model(write_synth(dense, dir, "batch_dense.gguf"));
  }
  model::SynthSpec moe = dense;
  moe.arch = "qwen3moe";
  moe.dim = 64;
  moe.type = "F32";
  moe.experts = 8;
  moe.experts_used = 2;
  moe.seed = 9;
  {
    SCOPED_TRACE("qwen3moe F32");
    check_model(write_synth(moe, dir, "batch_moe.gguf"));
  }
}

TEST(BatchForward, RefusesASharedCacheAndAnOverfullOne) {
  Loaded l = load_model(testing::shared_path("models/stories260K.gguf"));
  ASSERT_GT(l.model.hp.n_layer, 0);
  auto w = std::move(ResidentWeights::load(l.file, l.model)).value();
  ThreadPool pool(2);
  kernels::CpuBackend backend(pool);
  model::Forward fwd(l.model, *w, w.get(), backend);
  model::KvCache a(l.model.hp, 8), b(l.model.hp, 8);
  std::vector<float> la(static_cast<size_t>(l.model.hp.n_vocab)), lb(la.size());
  const std::vector<int32_t> one = {1}, nine = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<model::SeqInput> shared = {{one, &a, la, false}, {one, &a, lb, false}};
  EXPECT_FALSE(fwd.eval_batch(shared).is_ok());
  std::vector<model::SeqInput> full = {{one, &a, la, false}, {nine, &b, lb, false}};
  Status s = fwd.eval_batch(full);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("context is full"), std::string::npos) << s.message();
  EXPECT_EQ(a.n_filled(), 0);  // a refused batch changes no cache
}

}  // namespace
}  // namespace strata::streaming::test
