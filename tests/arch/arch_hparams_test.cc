// tests/arch/arch_hparams_test.cc: the one metadata reader: defaults per row, per-layer arrays, expert widths,
// sliding-window patterns, and errors that name the key and the bad value.
#include <gtest/gtest.h>

#include "arch/hparams.h"
#include "arch_test_util.h"

namespace strata::arch {
namespace {

using testing::FakeGguf;
using testing::small;

std::string error_of(const FakeGguf& g) {
  auto r = read_hparams(g.file());
  EXPECT_FALSE(r.is_ok());
  return r.is_ok() ? "" : r.status().message();
}

TEST(ReadHparams, DenseLlamaWithDefaults) {
  auto r = read_hparams(small("llama").file());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const HParams& hp = *r;
  EXPECT_EQ(hp.arch, find_arch("llama"));
  EXPECT_EQ(hp.n_layer, 4);
  EXPECT_EQ(hp.n_embd, 64);
  EXPECT_EQ(hp.n_ff, 160);
  EXPECT_EQ(hp.n_ff_expert, 0);
  EXPECT_EQ(hp.n_head, 8);
  EXPECT_EQ(hp.n_head_kv, 4);
  EXPECT_EQ(hp.head_dim, 8);
  EXPECT_EQ(hp.head_dim_v, 8);
  EXPECT_EQ(hp.n_rot, 8);
  EXPECT_EQ(hp.n_vocab, 300);
  EXPECT_EQ(hp.n_ctx_train, 4096);
  EXPECT_FLOAT_EQ(hp.rope_freq_base, 10000.0f);
  EXPECT_FLOAT_EQ(hp.rms_eps, 1e-5f);
  EXPECT_EQ(hp.rope_scaling, RopeScaling::None);
  EXPECT_TRUE(hp.tied_output);
  ASSERT_EQ(hp.layers.size(), 4u);
  for (const LayerParams& l : hp.layers) {
    EXPECT_EQ(l.n_head_kv, 4);
    EXPECT_EQ(l.sliding_window, 0);
  }
  EXPECT_EQ(hp.kv_dim(), 32);
  EXPECT_EQ(hp.q_dim(), 64);
}

TEST(ReadHparams, RowDefaultsDifferByFamily) {
  auto q = read_hparams(small("qwen3").u32("attention.key_length", 16).file());
  ASSERT_TRUE(q.is_ok()) << q.status().message();
  EXPECT_FLOAT_EQ(q->rope_freq_base, 1000000.0f);
  EXPECT_FLOAT_EQ(q->rms_eps, 1e-6f);
  EXPECT_EQ(q->head_dim, 16) << "key_length, not n_embd / n_head";
  EXPECT_EQ(q->q_dim(), 128);
  EXPECT_EQ(q->n_rot, 16);
  // Metadata wins over the row.
  auto l = read_hparams(small("llama").f32("rope.freq_base", 500000.0f).f32("attention.layer_norm_rms_epsilon", 1e-6f).file());
  ASSERT_TRUE(l.is_ok());
  EXPECT_FLOAT_EQ(l->rope_freq_base, 500000.0f);
  EXPECT_FLOAT_EQ(l->rms_eps, 1e-6f);
}

TEST(ReadHparams, PerLayerHeadCountKv) {
  auto r = read_hparams(small("llama").u32_array("attention.head_count_kv", {4, 2, 8, 1}).file());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->layers[0].n_head_kv, 4);
  EXPECT_EQ(r->layers[1].n_head_kv, 2);
  EXPECT_EQ(r->layers[2].n_head_kv, 8);
  EXPECT_EQ(r->layers[3].n_head_kv, 1);
  EXPECT_EQ(r->n_head_kv, 8) << "the widest layer";
  EXPECT_EQ(r->k_dim(1), 16);
  EXPECT_EQ(r->v_dim(3), 8);

  std::string m = error_of(small("llama").u32_array("attention.head_count_kv", {4, 4, 4}));
  EXPECT_NE(m.find("llama.attention.head_count_kv"), std::string::npos) << m;
  EXPECT_NE(m.find("3 entries"), std::string::npos) << m;
  m = error_of(small("llama").u32_array("attention.head_count_kv", {4, 3, 4, 4}));
  EXPECT_NE(m.find("llama.attention.head_count_kv"), std::string::npos) << m;
  EXPECT_NE(m.find("= 3 (layer 1)"), std::string::npos) << m;
  m = error_of(small("llama").u32_array("attention.head_count_kv", {4, 4, 16, 4}));
  EXPECT_NE(m.find("= 16"), std::string::npos) << m;
}

TEST(ReadHparams, ExpertWidthFromItsOwnKeyElseTheFfnWidth) {
  FakeGguf moe = small("qwen3moe");
  moe.u32("expert_count", 16).u32("expert_used_count", 4).u32("expert_feed_forward_length", 48);
  auto r = read_hparams(moe.file());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(r->is_moe());
  EXPECT_EQ(r->n_ff, 160);
  EXPECT_EQ(r->n_ff_expert, 48);
  EXPECT_TRUE(r->norm_topk);
  // Mixtral: one width, under feed_forward_length.
  FakeGguf mixtral = small("llama");
  mixtral.u32("expert_count", 8).u32("expert_used_count", 2);
  r = read_hparams(mixtral.file());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->n_ff_expert, 160);
  // An all-MoE model may omit the dense width; a dense one may not.
  moe.drop("feed_forward_length");
  r = read_hparams(moe.file());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->n_ff, 0);
  EXPECT_EQ(r->n_ff_expert, 48);
  std::string m = error_of(small("llama").drop("feed_forward_length"));
  EXPECT_NE(m.find("missing metadata key 'llama.feed_forward_length'"), std::string::npos) << m;
  // expert_weights_norm overrides the row.
  moe.set("qwen3moe.expert_weights_norm", gguf::Value::boolean(false));
  r = read_hparams(moe.file());
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(r->norm_topk);
}

TEST(ReadHparams, SlidingWindowOnAlternateLayers) {
  FakeGguf g = small("gpt-oss");
  g.u32("attention.sliding_window", 128);
  auto r = read_hparams(g.file());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->layers[0].sliding_window, 128);
  EXPECT_EQ(r->layers[1].sliding_window, 0);
  EXPECT_EQ(r->layers[2].sliding_window, 128);
  EXPECT_EQ(r->layers[3].sliding_window, 0);
  std::string m = error_of(small("gpt-oss"));
  EXPECT_NE(m.find("gpt-oss.attention.sliding_window"), std::string::npos) << m;
}

TEST(ReadHparams, RopeScaling) {
  FakeGguf g = small("llama");
  g.set("llama.rope.scaling.type", gguf::Value::of_string("yarn")).f32("rope.scaling.factor", 4.0f);
  g.u32("rope.scaling.original_context_length", 8192);
  auto r = read_hparams(g.file());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->rope_scaling, RopeScaling::Yarn);
  EXPECT_FLOAT_EQ(r->rope_scaling_factor, 4.0f);
  EXPECT_EQ(r->rope_scaling_n_ctx_orig, 8192);
  g.set("llama.rope.scaling.type", gguf::Value::of_string("stretchy"));
  std::string m = error_of(g);
  EXPECT_NE(m.find("llama.rope.scaling.type"), std::string::npos) << m;
  EXPECT_NE(m.find("stretchy"), std::string::npos) << m;
}

// As the reference engine reads them: a factor without a type is linear; YaRN extrapolates fully from the
// original context, which defaults to context_length; "none" ignores a factor.
TEST(ReadHparams, RopeParamsFollowTheReferenceEngine) {
  FakeGguf bare = small("qwen2");
  bare.f32("rope.scaling.factor", 2.0f);
  auto r = read_hparams(bare.file());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->rope_scaling, RopeScaling::Linear);
  kernels::RopeParams p = rope_params(*r);
  EXPECT_EQ(p.layout, kernels::RopeLayout::Halves);
  EXPECT_FLOAT_EQ(p.factor, 2.0f);
  EXPECT_EQ(p.yarn_ext_factor, 0.0f);

  FakeGguf yarn = small("gpt-oss");
  yarn.u32("attention.sliding_window", 128).u32("context_length", 131072).f32("rope.scaling.factor", 32.0f);
  yarn.set("gpt-oss.rope.scaling.type", gguf::Value::of_string("yarn"));
  r = read_hparams(yarn.file());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  p = rope_params(*r);
  EXPECT_EQ(p.scaling, RopeScaling::Yarn);
  EXPECT_EQ(p.yarn_ext_factor, 1.0f);
  EXPECT_EQ(p.n_ctx_orig, 131072);

  FakeGguf none = small("llama");
  none.f32("rope.scaling.factor", 8.0f).set("llama.rope.scaling.type", gguf::Value::of_string("none"));
  r = read_hparams(none.file());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(rope_params(*r).scaling, RopeScaling::None);
  EXPECT_FLOAT_EQ(rope_params(*r).factor, 1.0f);
}

TEST(ReadHparams, BadValuesNameTheKeyAndTheValue) {
  struct Case {
    FakeGguf file;
    std::string key, value;
  };
  std::vector<Case> cases;
  cases.push_back({small("llama").u32("block_count", 0), "llama.block_count", "0"});
  cases.push_back({small("llama").u32("embedding_length", 1u << 30), "llama.embedding_length", "1073741824"});
  cases.push_back({small("llama").u32("attention.head_count_kv", 3), "llama.attention.head_count_kv", "3"});
  cases.push_back({small("llama").u32("attention.head_count", 12), "llama.embedding_length", "64"});
  cases.push_back({small("llama").u32("rope.dimension_count", 7), "llama.rope.dimension_count", "7"});
  cases.push_back({small("llama").u32("rope.dimension_count", 64), "llama.rope.dimension_count", "64"});
  cases.push_back({small("llama").f32("rope.freq_base", -1.0f), "llama.rope.freq_base", "-1"});
  cases.push_back({small("llama").f32("attention.layer_norm_rms_epsilon", 2.0f), "llama.attention.layer_norm_rms_epsilon", "2"});
  cases.push_back({small("llama").u32("expert_count", 4).u32("expert_used_count", 5), "llama.expert_used_count", "5"});
  cases.push_back({small("llama").u32("expert_count", 4), "llama.expert_used_count", "0"});
  cases.push_back({small("llama").set("llama.block_count", gguf::Value::of_string("four")), "llama.block_count", "string"});
  cases.push_back({small("llama").drop("block_count"), "llama.block_count", "missing"});
  cases.push_back({small("llama").drop("attention.head_count"), "llama.attention.head_count", "missing"});
  for (const Case& c : cases) {
    const std::string m = error_of(c.file);
    EXPECT_NE(m.find(c.key), std::string::npos) << c.key << ": " << m;
    EXPECT_NE(m.find(c.value), std::string::npos) << c.key << ": " << m;
  }
  FakeGguf none("llama");
  none.set("general.architecture", gguf::Value::of_u32(3));
  EXPECT_NE(error_of(none).find("general.architecture"), std::string::npos);
  EXPECT_NE(error_of(small("falcon")).find("'falcon'"), std::string::npos);
}

TEST(ReadHeadline, ListsWhatItCanWithoutTheRest) {
  FakeGguf g("bert");
  g.u32("context_length", 512).u32("embedding_length", 384);
  auto h = read_headline(g.file());
  ASSERT_TRUE(h.is_ok()) << h.status().message();
  EXPECT_EQ(h->arch, "bert");
  EXPECT_EQ(h->n_ctx_train, 512);
  EXPECT_EQ(h->n_embd, 384);
  g.set("bert.context_length", gguf::Value::of_string("long"));
  EXPECT_FALSE(read_headline(g.file()).is_ok());
}

}  // namespace
}  // namespace strata::arch
