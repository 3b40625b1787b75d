// tests/engine/synth_run.h: the engine tests' synthetic model, loaded as `run` loads it, and a forward run that
// feeds prompt batches and then decode steps, collecting every position's logits.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/runtime.h"
#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/synth.h"
#include "planner/plan.h"
#include "support/test_support.h"

namespace strata::engine::testing {

// A small model: `layers` blocks of dim 64 (MoE where experts > 0) in `type`, written and loaded on 1 thread.
inline std::unique_ptr<LoadedModel> load_synth(const std::string& name, model::SynthSpec spec) {
  const std::string path = strata::testing::temp_dir() + "/" + name;
  EXPECT_TRUE(model::write_synth_model(spec, path).is_ok());
  EngineOptions o;
  o.model_path = path;
  o.n_threads = 1;
  auto lm = LoadedModel::load(o);
  EXPECT_TRUE(lm.is_ok()) << lm.status().message();
  return lm.is_ok() ? std::move(lm).value() : nullptr;
}

inline model::SynthSpec small_spec(int layers, const std::string& type, int64_t experts = 0) {
  model::SynthSpec spec;
  spec.layers = layers;
  spec.dim = 64;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.vocab = 400;
  spec.type = type;
  spec.experts = experts;
  spec.experts_used = experts > 0 ? 2 : 0;
  return spec;
}

// A 3-layer MoE of small_spec in Q8_0, 8 experts (top 2), its weights drawn from `seed`.
inline std::unique_ptr<LoadedModel> load_small_moe(const std::string& name, uint64_t seed) {
  model::SynthSpec spec = small_spec(3, "Q8_0", 8);
  spec.seed = seed;
  return load_synth(name, spec);
}

// Per tensor: whether the plan keeps it in GPU memory (what DeviceWeights::make uploads).
inline std::vector<bool> gpu_tier_mask(const planner::Plan& plan) {
  std::vector<bool> on(plan.tensors.size());
  for (size_t i = 0; i < plan.tensors.size(); ++i) on[i] = plan.tensors[i].tier == planner::Tier::Gpu;
  return on;
}

// Runs `tokens`: the prompt batches of `prompt` sizes in turn (each continuing the last), then one token a step;
// the logits of every prompt position and every step, in order.
inline std::vector<float> run_prompt_then_decode(const model::Model& m, model::WeightSource& w,
                                                 model::ExpertSource* e, const model::Placement& pl,
                                                 const std::vector<int32_t>& tokens, const std::vector<size_t>& prompt) {
  model::Forward fwd(m, w, e, pl);
  model::KvCache cache(m.hp, 32, pl);
  const int64_t V = m.hp.n_vocab;
  std::vector<float> all, logits(tokens.size() * static_cast<size_t>(V));
  size_t at = 0;
  for (size_t n : prompt) {
    const Status st = fwd.eval(std::span(tokens).subspan(at, n), cache, logits, true);
    EXPECT_TRUE(st.is_ok()) << st.message();
    all.insert(all.end(), logits.begin(), logits.begin() + static_cast<int64_t>(n) * V);
    at += n;
  }
  for (; at < tokens.size(); ++at) {
    const Status st = fwd.eval(std::span(tokens).subspan(at, 1), cache, logits, false);
    EXPECT_TRUE(st.is_ok()) << st.message();
    all.insert(all.end(), logits.begin(), logits.begin() + V);
  }
  return all;
}

// The relative RMS difference of two logit runs: sqrt(sum((a - b)^2) / sum(b^2)).
inline double rel_rms_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

}  // namespace strata::engine::testing
