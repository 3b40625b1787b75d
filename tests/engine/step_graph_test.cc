// tests/engine/step_graph_test.cc: decode steps replayed from CUDA graphs give the logits of steps run op by op,
// bit for bit (same kernels, same order), across the re-recording every kStepGraphPositions positions and after
// a truncated history; a batched step of several sequences likewise, and each of its sequences gets the logits
// it gets decoding alone. GPU machine only (tools/gpu_test.sh); skipped with a message elsewhere.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <tuple>
#include <vector>

#include "engine/runtime.h"
#include "engine/session.h"
#include "kernels/backend.h"
#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/synth.h"
#include "planner/model_shapes.h"
#include "support/test_support.h"

namespace strata::engine {
namespace {

bool gpu_visible() {
  const kernels::BackendKind* cuda = kernels::find_backend(DeviceKind::Cuda);
  return cuda != nullptr && cuda->device_count() > 0;
}

std::unique_ptr<LoadedModel> load(const std::string& path, bool record, bool batch_invariant = false) {
  EngineOptions o;
  o.batch_invariant = batch_invariant;
  o.model_path = path;
  o.n_threads = 2;
  o.profile = planner::testing::gpu_24g();
  o.record_decode_steps = record;
  auto lm = LoadedModel::load(o);
  EXPECT_TRUE(lm.is_ok()) << lm.status().message();
  return lm.is_ok() ? std::move(lm).value() : nullptr;
}

// The models of these tests: 3 layers of dim 256, Q4_K_M (MoE with 8 experts, top 2, where experts > 0).
model::SynthSpec graph_spec(int64_t experts) {
  model::SynthSpec spec;
  spec.layers = 3;
  spec.dim = 256;
  spec.ff = 512;
  spec.heads = 8;
  spec.kv_heads = 2;
  spec.vocab = 1000;
  spec.ctx = 2048;
  spec.rope_freqs = experts == 0;
  spec.experts = experts;
  spec.experts_used = experts > 0 ? 2 : 0;
  spec.type = "Q4_K_M";
  return spec;
}

// `steps` decode steps on both sessions (recorded and op by op), the logits compared bit for bit each step.
void step_both(Session& a, Session& b, int32_t& next, int steps, const char* when) {
  std::vector<float> la, lb;
  for (int step = 0; step < steps; ++step) {
    ASSERT_TRUE(a.eval(std::span(&next, 1), la, false).is_ok());
    ASSERT_TRUE(b.eval(std::span(&next, 1), lb, false).is_ok());
    ASSERT_EQ(la.size(), lb.size());
    ASSERT_EQ(std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)), 0) << when << ", step " << step;
    next = static_cast<int32_t>((next * 37 + step) % 1000);
  }
}

// Both models loaded from the spec (one recording its steps), their sessions past the same prompt.
struct Both {
  std::unique_ptr<LoadedModel> graphs, direct;
};
Both load_both(const model::SynthSpec& spec, const std::string& name) {
  const std::string path = testing::temp_dir() + "/" + name;
  auto w = model::write_synth_model(spec, path);
  EXPECT_TRUE(w.is_ok()) << w.status().message();
  return {load(path, true), load(path, false)};
}
void prompt_both(Session& a, Session& b) {
  std::vector<float> la, lb;
  const std::vector<int32_t> prompt = {1, 17, 300, 45, 900, 12};
  ASSERT_TRUE(a.eval(prompt, la, false).is_ok());
  ASSERT_TRUE(b.eval(prompt, lb, false).is_ok());
}

TEST(StepGraphs, ReplayedStepsMatchStepsRunOpByOp) {
  if (!gpu_visible()) GTEST_SKIP() << "no CUDA GPU visible: GPU test skipped (tools/gpu_test.sh runs it)";
  Both m = load_both(graph_spec(0), "step_graph.gguf");
  ASSERT_TRUE(m.graphs && m.direct);
  ASSERT_NE(m.graphs->placement().backends.size(), 1u) << "the plan put nothing on the GPU";
  Session a(*m.graphs, 2048), b(*m.direct, 2048);
  prompt_both(a, b);
  int32_t next = 5;
  // Past 1,024 positions: the first recording's attention grid ends there and a second one is made.
  step_both(a, b, next, 1100, "decoding");
  EXPECT_GT(a.forward().replayed_steps(), 1090u);
  EXPECT_EQ(b.forward().replayed_steps(), 0u);

  // A rewound history: the next steps overwrite cache rows the recording's earlier replays wrote.
  a.truncate(100);
  b.truncate(100);
  step_both(a, b, next, 20, "after truncation");
}

// A MoE model fully on the GPU routes each decode step on the device (moe_decode), so its steps are recorded too:
// replayed steps give the logits of steps run op by op, bit for bit.
TEST(StepGraphs, MoeStepsRouteOnTheDeviceAndReplay) {
  if (!gpu_visible()) GTEST_SKIP() << "no CUDA GPU visible: GPU test skipped (tools/gpu_test.sh runs it)";
  Both m = load_both(graph_spec(8), "step_graph_moe.gguf");
  ASSERT_TRUE(m.graphs && m.direct);
  ASSERT_NE(m.graphs->placement().backends.size(), 1u) << "the plan put nothing on the GPU";
  Session a(*m.graphs, 512), b(*m.direct, 512);
  prompt_both(a, b);
  int32_t next = 5;
  step_both(a, b, next, 64, "decoding");
  EXPECT_GT(a.forward().replayed_steps(), 60u) << "MoE decode steps were not recorded";
}

// Several sequences decoding in one pass a step: the recorded batch (replayed, re-recorded when a sequence
// leaves) gives the logits of the batch run op by op, bit for bit, and each sequence the logits it gets alone.
TEST(StepGraphs, BatchedStepsReplayAndEachSequenceDecodesAsAlone) {
  if (!gpu_visible()) GTEST_SKIP() << "no CUDA GPU visible: GPU test skipped (tools/gpu_test.sh runs it)";
  Both m = load_both(graph_spec(0), "step_graph_batch.gguf");
  ASSERT_TRUE(m.graphs && m.direct);
  ASSERT_NE(m.graphs->placement().backends.size(), 1u) << "the plan put nothing on the GPU";
  LoadedModel& lm = *m.graphs;
  const int64_t vocab = lm.hparams().n_vocab;
  constexpr int kSeqs = 3;
  model::Forward rec(lm.model(), lm.weights(), lm.experts(), lm.placement());
  model::Forward direct(m.direct->model(), m.direct->weights(), m.direct->experts(), m.direct->placement());
  direct.disable_step_recording();
  model::Forward alone(m.direct->model(), m.direct->weights(), m.direct->experts(), m.direct->placement());
  alone.disable_step_recording();
  auto caches = [&](LoadedModel& l) {
    std::vector<std::unique_ptr<model::KvCache>> c;
    for (int i = 0; i < kSeqs; ++i) c.push_back(std::make_unique<model::KvCache>(l.hparams(), 2048, l.placement()));
    return c;
  };
  auto cr = caches(lm), cd = caches(*m.direct), ca = caches(*m.direct);
  std::vector<std::vector<float>> lr(kSeqs, std::vector<float>(vocab)), ld = lr, la = lr;
  std::vector<int32_t> next(kSeqs);
  // Each sequence's prompt, alone (a prompt's products are a GEMM whose kernel may depend on the row count).
  for (int i = 0; i < kSeqs; ++i) {
    const std::vector<int32_t> prompt = {1, 17 + i, 300, 45 * (i + 1), 900, 12};
    for (auto [f, c, l] : {std::tuple(&rec, cr[i].get(), &lr[i]), std::tuple(&direct, cd[i].get(), &ld[i]),
                           std::tuple(&alone, ca[i].get(), &la[i])}) {
      const model::SeqInput in{prompt, c, *l, false};
      ASSERT_TRUE(f->eval_batch(std::span(&in, 1)).is_ok());
    }
    next[i] = static_cast<int32_t>(7 * i + 3);
  }
  // Batched steps: all three, then two (the last one left: a new recording), past one recording's 1,024
  // positions.
  for (int step = 0; step < 1100; ++step) {
    const int n = step < 600 ? kSeqs : kSeqs - 1;
    std::vector<model::SeqInput> br, bd;
    for (int i = 0; i < n; ++i) {
      br.push_back({std::span(&next[i], 1), cr[i].get(), lr[i], false});
      bd.push_back({std::span(&next[i], 1), cd[i].get(), ld[i], false});
    }
    ASSERT_TRUE(rec.eval_batch(br).is_ok());
    ASSERT_TRUE(direct.eval_batch(bd).is_ok());
    for (int i = 0; i < n; ++i) {
      const model::SeqInput in{std::span(&next[i], 1), ca[i].get(), la[i], false};
      ASSERT_TRUE(alone.eval_batch(std::span(&in, 1)).is_ok());
      ASSERT_EQ(std::memcmp(lr[i].data(), ld[i].data(), vocab * sizeof(float)), 0) << "step " << step << ", seq " << i;
      ASSERT_EQ(std::memcmp(la[i].data(), ld[i].data(), vocab * sizeof(float)), 0)
          << "step " << step << ", seq " << i << ": batched logits differ from alone";
      next[i] = static_cast<int32_t>((next[i] * 37 + step + i) % vocab);
    }
  }
  EXPECT_GT(rec.replayed_steps(), 1090u);
  EXPECT_EQ(direct.replayed_steps(), 0u);
}

// Batch-invariant passes (several requests sharing passes): prompts of several sequences in one pass, with and
// without another sequence's decode token beside them, give each sequence the logits of its prompt alone, bit
// for bit, whatever the pass's row count (the prompt GEMM in fixed token tiles; decode rows apart).
TEST(StepGraphs, BatchInvariantPromptsGiveTheLogitsTheyGiveAlone) {
  if (!gpu_visible()) GTEST_SKIP() << "no CUDA GPU visible: GPU test skipped (tools/gpu_test.sh runs it)";
  const std::string path = testing::temp_dir() + "/step_graph_invariant.gguf";
  ASSERT_TRUE(model::write_synth_model(graph_spec(0), path).is_ok());
  auto lm = load(path, false, true);
  ASSERT_TRUE(lm);
  ASSERT_NE(lm->placement().backends.size(), 1u) << "the plan put nothing on the GPU";
  const int64_t vocab = lm->hparams().n_vocab;
  model::Forward fwd(lm->model(), lm->weights(), lm->experts(), lm->placement());
  const std::vector<int64_t> lengths = {20, 150, 5, 40, 9};  // 224 rows: two tiles, the last padded
  std::vector<std::vector<int32_t>> prompts;
  for (size_t i = 0; i < lengths.size(); ++i) {
    std::vector<int32_t> p(static_cast<size_t>(lengths[i]));
    for (size_t t = 0; t < p.size(); ++t) p[t] = static_cast<int32_t>((t * 131 + i * 17 + 1) % vocab);
    prompts.push_back(std::move(p));
  }
  auto cache = [&] { return std::make_unique<model::KvCache>(lm->hparams(), 512, lm->placement()); };
  // Alone: each prompt, all its logits.
  std::vector<std::vector<float>> alone;
  for (const auto& p : prompts) {
    auto c = cache();
    alone.emplace_back(p.size() * vocab);
    const model::SeqInput in{p, c.get(), alone.back(), true};
    ASSERT_TRUE(fwd.eval_batch(std::span(&in, 1)).is_ok());
  }
  // Together, then together beside a decode step of another sequence (first in the pass).
  for (bool with_decode : {false, true}) {
    std::vector<std::unique_ptr<model::KvCache>> caches;
    std::vector<std::vector<float>> got;
    std::vector<model::SeqInput> batch;
    auto other = cache();
    std::vector<float> other_logits(vocab);
    const std::vector<int32_t> other_prompt = {1, 2, 3};
    const int32_t other_token = 7;
    if (with_decode) {
      const model::SeqInput in{other_prompt, other.get(), other_logits, false};
      ASSERT_TRUE(fwd.eval_batch(std::span(&in, 1)).is_ok());
      batch.push_back({std::span(&other_token, 1), other.get(), other_logits, false});
    }
    for (const auto& p : prompts) {
      caches.push_back(cache());
      got.emplace_back(p.size() * vocab);
    }
    for (size_t i = 0; i < prompts.size(); ++i) batch.push_back({prompts[i], caches[i].get(), got[i], true});
    ASSERT_TRUE(fwd.eval_batch(batch).is_ok());
    for (size_t i = 0; i < prompts.size(); ++i)
      EXPECT_EQ(std::memcmp(got[i].data(), alone[i].data(), got[i].size() * sizeof(float)), 0)
          << "prompt " << i << " (" << lengths[i] << " tokens)" << (with_decode ? ", beside a decode step" : "");
  }
}

}  // namespace
}  // namespace strata::engine
