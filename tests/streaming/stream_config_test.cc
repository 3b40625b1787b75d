// tests/streaming/stream_config_test.cc: validating configurations, memory plans, resident layouts, and
// configurations made from a RAM budget alone.
#include <set>

#include "streaming/schedule.h"
#include "stream_test_util.h"

namespace strata::streaming::test {
namespace {

Loaded moe_model() {
  model::SynthSpec s;
  s.layers = 3;
  s.dim = 64;
  s.heads = 4;
  s.vocab = 512;
  s.experts = 4;
  s.experts_used = 2;
  return load_model(write_synth(s, testing::temp_dir(), "moe.gguf"));
}

bool has(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

TEST(StreamConfig, PlansAreValidated) {
  Loaded l = moe_model();
  const auto used = used_tensors(l.model);
  EXPECT_EQ(std::set<model::TensorId>(used.begin(), used.end()).size(), used.size());
  EXPECT_EQ(used.size(), l.model.tensors.size());  // the synth model has no unused tensors

  StreamConfig c = streamed_config(l.model);
  ASSERT_TRUE(plan_memory(l.model, c).is_ok());
  StreamConfig dup = c;
  dup.resident.push_back(c.streamed[0]);
  EXPECT_TRUE(has(plan_memory(l.model, dup).status(), "twice"));
  StreamConfig missing = c;
  missing.streamed.pop_back();
  EXPECT_TRUE(has(plan_memory(l.model, missing).status(), "neither"));
  StreamConfig bad_id = c;
  bad_id.resident.push_back(9999);
  EXPECT_FALSE(plan_memory(l.model, bad_id).is_ok());
  StreamConfig small_slots = c;
  small_slots.slot_bytes = 4096;
  EXPECT_TRUE(has(plan_memory(l.model, small_slots).status(), "cannot hold"));
  StreamConfig no_slots = c;
  no_slots.n_slots = 0;
  EXPECT_FALSE(plan_memory(l.model, no_slots).is_ok());
  StreamConfig tiny_cache = c;
  tiny_cache.expert_cache_bytes = 100;
  EXPECT_TRUE(has(plan_memory(l.model, tiny_cache).status(), "holds no expert"));
  StreamConfig deep = c;
  deep.prefetch_depth = 99;
  EXPECT_FALSE(plan_memory(l.model, deep).is_ok());

  // Sizes: slots fit the largest streamed dense tensor (the untied embedding is gathered a row at a time
  // instead); the default cache holds n_expert_used experts.
  auto plan = plan_memory(l.model, c);
  uint64_t largest = 0;
  for (model::TensorId id : c.streamed)
    if (!is_expert_tensor(l.model, id) && !is_row_gather(l.model, id))
      largest = std::max(largest, l.model.tensors[id].size_bytes);
  EXPECT_GE(plan->slot_bytes, largest);
  EXPECT_LT(plan->slot_bytes, largest + 8192);
  EXPECT_EQ(plan->n_slots, 2);
  EXPECT_EQ(plan->n_expert_entries, 2);
  EXPECT_EQ(plan->resident_bytes, 0u);
  auto resident = plan_memory(l.model, resident_config(l.model));
  ASSERT_TRUE(resident.is_ok());
  EXPECT_EQ(resident->staging_bytes() + resident->expert_cache_bytes(), 0u);
  EXPECT_GE(resident->resident_bytes, l.file.total_tensor_bytes());
  EXPECT_LE(resident->resident_bytes, l.file.total_tensor_bytes() + 8192);  // one run: the file's data section
}

TEST(StreamConfig, ResidentLayoutSharesReadsBetweenNeighbours) {
  Loaded l = moe_model();
  const auto& L = l.model.layers[1];
  // attn_norm and attn_q are neighbours in the file: one run; a far tensor: its own run.
  const std::vector<model::TensorId> ids = {L.attn_norm, L.attn_q, l.model.token_embd};
  const ResidentLayout layout = layout_resident(l.model, ids, 4096);
  EXPECT_EQ(layout.runs.size(), 2u);
  for (model::TensorId id : ids) {
    ASSERT_NE(layout.tensor_offset[id], ResidentLayout::kNotResident);
    EXPECT_EQ(layout.tensor_offset[id] % 32, l.model.tensors[id].file_offset % 32);  // alignment kept
  }
  EXPECT_EQ(layout.tensor_offset[L.attn_k], ResidentLayout::kNotResident);
  for (const auto& run : layout.runs) {
    EXPECT_EQ(run.span.start % 4096, 0u);
    EXPECT_EQ(run.span.length % 4096, 0u);
    EXPECT_EQ(run.buffer_offset % 4096, 0u);
  }
}

TEST(StreamConfig, BudgetConfigsFitTheirBudget) {
  Loaded l = moe_model();
  const uint64_t model_bytes = l.file.total_tensor_bytes();
  auto least = plan_memory(l.model, streamed_config(l.model));
  ASSERT_TRUE(least.is_ok());
  // Too small even to stream.
  auto none = config_for_budget(l.model, least->total() - 1);
  ASSERT_FALSE(none.is_ok());
  EXPECT_TRUE(has(none.status(), "too small")) << none.status().message();
  // Enough for everything: everything resident.
  auto all = config_for_budget(l.model, 2 * model_bytes);
  ASSERT_TRUE(all.is_ok());
  EXPECT_TRUE(all->streamed.empty());
  // In between: the plan fits, norms and routers come first, something streams, the rest feeds the cache.
  for (double fraction : {0.1, 0.3, 0.6}) {
    const uint64_t budget = least->total() + static_cast<uint64_t>(fraction * model_bytes);
    auto c = config_for_budget(l.model, budget);
    ASSERT_TRUE(c.is_ok()) << c.status().message();
    auto plan = plan_memory(l.model, *c);
    ASSERT_TRUE(plan.is_ok());
    EXPECT_LE(plan->total(), budget);
    EXPECT_GT(plan->total(), budget - plan->expert_entry_bytes - 4096 * 4) << "budget left unused";
    EXPECT_FALSE(c->streamed.empty());
    const std::set<model::TensorId> res(c->resident.begin(), c->resident.end());
    for (const auto& L : l.model.layers) {
      EXPECT_TRUE(res.count(L.attn_norm) && res.count(L.ffn_norm) && res.count(L.ffn_gate_inp));
    }
  }
}

}  // namespace
}  // namespace strata::streaming::test
