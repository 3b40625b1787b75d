// tests/cli/synth_arch_cli_test.cc: `strata synth --arch` and `--preset`: deterministic files for a seed (the
// reference-engine parity data depends on it), every row's metadata keys, and real-shaped presets whose
// byte-level BPE vocabularies tokenize with each family's special tokens at their real ids.
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "support/test_support.h"
#include "tensor/dtype.h"

namespace strata {
namespace {

std::string bin() { return testing::strata_binary(); }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(SynthArchCli, SameSeedSameBytesForEveryRow) {
  for (const char* arch : {"llama", "qwen2", "qwen3", "qwen3moe", "gpt-oss"}) {
    SCOPED_TRACE(arch);
    const std::string moe = std::string(arch) == "qwen3moe" || std::string(arch) == "gpt-oss" ? " --experts 4" : "";
    std::string files[3];
    for (int i = 0; i < 3; ++i) {
      files[i] = testing::temp_dir() + "/" + arch + std::to_string(i) + ".gguf";
      const std::string seed = i < 2 ? " --seed 7" : " --seed 8";
      auto r = testing::run_command(bin() + " synth " + files[i] + " --arch " + arch + " --vocab 400 --threads 2" + moe + seed);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    EXPECT_EQ(slurp(files[0]), slurp(files[1])) << "the same seed must write the same file";
    EXPECT_NE(slurp(files[0]), slurp(files[2])) << "another seed must write other weights";
  }
}

TEST(SynthArchCli, RowsWriteTheKeysTheReferenceEngineReads) {
  const std::string path = testing::temp_dir() + "/oss.gguf";
  auto r = testing::run_command(bin() + " synth " + path +
                                " --arch gpt-oss --experts 4 --ff-expert 64 --head-dim 32 --window 16 --rope-scaling yarn"
                                " --rope-scaling-factor 32 --rope-orig-ctx 4096 --vocab 400");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = gguf::read_file(path, gguf_type_lookup());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ(*f->get_int("gpt-oss.expert_feed_forward_length").value(), 64);
  EXPECT_EQ(*f->get_int("gpt-oss.attention.sliding_window").value(), 16);
  EXPECT_EQ(*f->get_int("gpt-oss.attention.key_length").value(), 32);
  EXPECT_EQ(*f->get_int("gpt-oss.rope.scaling.original_context_length").value(), 4096);
  EXPECT_EQ(*f->get_string("gpt-oss.rope.scaling.type").value(), "yarn");
  for (const char* t : {"blk.0.attn_sinks.weight", "blk.0.attn_q.bias", "blk.0.attn_output.bias",
                        "blk.0.post_attention_norm.weight", "blk.1.ffn_gate_inp.bias", "blk.1.ffn_gate_exps.bias",
                        "blk.1.ffn_up_exps.bias", "blk.1.ffn_down_exps.bias"})
    EXPECT_NE(f->find_tensor(t), nullptr) << t;
}

TEST(SynthArchCli, PresetsPlanAndTokenizeWithTheirFamiliesSpecials) {
  struct Case {
    const char* preset;
    const char* text;
    int64_t special_id;  // the id the special in `text` has in the real table
  };
  const Case cases[] = {
      {"llama3-8b", "Hello world<|eot_id|>", 128009},
      {"qwen3-30b-a3b", "<|im_start|>user hi<|im_end|>", 151645},
      {"gpt-oss-20b", "hi<|return|>", 200002},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.preset);
    const std::string path = testing::temp_dir() + "/" + c.preset + ".gguf";
    auto r = testing::run_command(bin() + " synth " + path + " --preset " + c.preset + " --sparse --type Q4_0");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto t = testing::run_command(bin() + " tokenize " + path + " -p '" + c.text + "' --json");
    ASSERT_EQ(t.exit_code, 0) << t.err;
    const auto j = nlohmann::json::parse(t.out);
    EXPECT_EQ(j["text"], c.text);
    bool found = false;
    for (const auto& id : j["ids"]) found |= id.get<int64_t>() == c.special_id;
    EXPECT_TRUE(found) << t.out;
    auto p = testing::run_command(bin() + " inspect " + path + " --plan --profile " + STRATA_SOURCE_DIR +
                                  "/tests/cli/profile_2core.json --ram 24G");
    EXPECT_EQ(p.exit_code, 0) << p.err;
  }
  auto bad = testing::run_command(bin() + " synth " + testing::temp_dir() + "/x.gguf --preset llama9");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("llama3-8b"), std::string::npos) << "the error lists the presets: " << bad.err;
}

}  // namespace
}  // namespace strata
