// tests/engine/kv_bytes_test.cc: the KV cache's bytes, counted alike by the planner, the context check and
// the cache itself, with sliding-window layers at their ring: gpt-oss-20b's cache is about half of what
// full layers everywhere would take; a model without windows is unchanged.
#include <gtest/gtest.h>

#include "engine/context_fit.h"
#include "gguf/gguf_file.h"
#include "model/kv_cache.h"
#include "model/synth.h"
#include "planner/model_shapes.h"
#include "planner/planner.h"
#include "support/test_support.h"
#include "tensor/dtype.h"

namespace strata::engine {
namespace {

struct Counted {
  arch::HParams hp;
  uint64_t planned = 0;
};

Counted plan_preset(const char* preset, int ctx) {
  auto spec = model::synth_preset(preset);
  EXPECT_TRUE(spec.is_ok()) << spec.status().message();
  spec->sparse = true;  // the header only: the planner never reads weights
  const std::string path = strata::testing::temp_dir() + "/" + preset + ".gguf";
  auto w = model::write_synth_model(*spec, path);
  EXPECT_TRUE(w.is_ok()) << w.status().message();
  auto file = gguf::read_file(path, gguf_type_lookup());
  EXPECT_TRUE(file.is_ok()) << file.status().message();
  auto roles = planner::classify_tensors(*file);
  EXPECT_TRUE(roles.is_ok()) << roles.status().message();
  planner::Budgets budgets;
  budgets.ctx = ctx;
  auto plan = planner::make_plan(*roles, planner::testing::gpu_80g(), budgets);
  EXPECT_TRUE(plan.is_ok()) << plan.status().message();
  return {roles->hp, plan->kv_bytes};
}

TEST(KvBytes, GptOssSlidingLayersCountTheirRing) {
  constexpr int kCtx = 8192;
  const Counted c = plan_preset("gpt-oss-20b", kCtx);
  const arch::HParams& hp = c.hp;
  ASSERT_EQ(hp.n_layer, 24);
  ASSERT_EQ(hp.layers[0].sliding_window, 128);
  ASSERT_EQ(hp.layers[1].sliding_window, 0);
  const uint64_t position = 2 * static_cast<uint64_t>(hp.kv_dim()) * sizeof(uint16_t);  // K and V, F16
  const uint64_t ring = 128 + arch::kMaxPassTokens - 1;
  const uint64_t want = (12 * kCtx + 12 * ring) * position;
  EXPECT_EQ(c.planned, want);
  EXPECT_EQ(model::KvCache::bytes_needed(hp, kCtx), want);
  EXPECT_EQ(kv_cache_bytes(hp, kCtx), static_cast<double>(want));
  const double full = 24.0 * kCtx * static_cast<double>(position);
  EXPECT_LT(static_cast<double>(want) / full, 0.55);  // about half: the full layers plus small rings
  EXPECT_GT(static_cast<double>(want) / full, 0.5);
}

TEST(KvBytes, ShortContextsKeepEveryLayerWhole) {
  // A context no longer than window + max_pass - 1 needs no ring: every layer holds it all.
  const Counted c = plan_preset("gpt-oss-20b", 512);
  const uint64_t position = 2 * static_cast<uint64_t>(c.hp.kv_dim()) * sizeof(uint16_t);
  EXPECT_EQ(c.planned, 24u * 512 * position);
  EXPECT_EQ(model::KvCache::bytes_needed(c.hp, 512), c.planned);
}

TEST(KvBytes, ModelsWithoutWindowsAreUnchanged) {
  const Counted c = plan_preset("llama3-8b", 4096);
  const uint64_t want = 32ull * 4096 * 2 * static_cast<uint64_t>(c.hp.kv_dim()) * sizeof(uint16_t);
  EXPECT_EQ(c.planned, want);
  EXPECT_EQ(model::KvCache::bytes_needed(c.hp, 4096), want);
  EXPECT_EQ(kv_cache_bytes(c.hp, 4096), static_cast<double>(want));
}

}  // namespace
}  // namespace strata::engine
