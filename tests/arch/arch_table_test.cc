// tests/arch/arch_table_test.cc: the architecture rows: lookup, the unknown-architecture error, and the columns
// each family's quirks live in.
#include <gtest/gtest.h>

#include "arch/arch.h"

namespace strata::arch {
namespace {

TEST(ArchTable, EveryRowIsFoundByItsName) {
  for (std::string_view name : {"llama", "qwen2", "qwen3", "qwen3moe", "gpt-oss"}) {
    const Arch* a = find_arch(name);
    ASSERT_NE(a, nullptr) << name;
    EXPECT_EQ(a->name, name);
    EXPECT_GT(a->default_rope_freq_base, 0);
    EXPECT_GT(a->default_rms_eps, 0);
    EXPECT_FALSE(a->ffn_norm.empty());
  }
  EXPECT_EQ(supported_arch_names(), "llama, qwen2, qwen3, qwen3moe, gpt-oss");
}

TEST(ArchTable, UnknownArchitectureIsOneErrorNamingItAndTheSupportedOnes) {
  EXPECT_EQ(find_arch("mamba"), nullptr);
  auto r = lookup_arch("mamba");
  ASSERT_FALSE(r.is_ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("'mamba'"), std::string::npos) << m;
  EXPECT_NE(m.find("llama, qwen2, qwen3, qwen3moe, gpt-oss"), std::string::npos) << m;
  EXPECT_FALSE(lookup_arch("").is_ok());
  EXPECT_FALSE(lookup_arch("LLAMA").is_ok()) << "names are GGUF's, matched exactly";
}

TEST(ArchTable, FamilyQuirksAreColumns) {
  const Arch& llama = *find_arch("llama");
  EXPECT_EQ(llama.rope_layout, kernels::RopeLayout::Interleaved);
  EXPECT_TRUE(llama.tied_output);
  EXPECT_TRUE(llama.rope_freqs);
  EXPECT_FALSE(llama.biases.qkv);
  EXPECT_EQ(llama.qk_norm, QkNorm::None);
  EXPECT_EQ(llama.swa_period, 0);

  const Arch& qwen2 = *find_arch("qwen2");
  EXPECT_EQ(qwen2.rope_layout, kernels::RopeLayout::Halves);
  EXPECT_TRUE(qwen2.biases.qkv);
  EXPECT_FALSE(qwen2.biases.attn_out);

  const Arch& qwen3 = *find_arch("qwen3");
  EXPECT_EQ(qwen3.qk_norm, QkNorm::PerHeadRms);
  EXPECT_FALSE(qwen3.biases.qkv);

  const Arch& moe = *find_arch("qwen3moe");
  EXPECT_EQ(moe.qk_norm, QkNorm::PerHeadRms);
  EXPECT_TRUE(moe.norm_topk_default);

  const Arch& oss = *find_arch("gpt-oss");
  EXPECT_EQ(oss.activation, Activation::SwiGluClamped);
  EXPECT_TRUE(oss.attn_sinks);
  EXPECT_EQ(oss.swa_period, 2);
  EXPECT_TRUE(oss.biases.qkv && oss.biases.attn_out && oss.biases.router && oss.biases.experts);
  EXPECT_FALSE(oss.tied_output);
  EXPECT_EQ(oss.ffn_norm, "post_attention_norm");
}

}  // namespace
}  // namespace strata::arch
