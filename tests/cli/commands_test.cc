// tests/cli/commands_test.cc: the CLI's contracts: synth → inspect → run round trip, and clear one-line errors
// with exit code 1 for bad files and bad arguments.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "constrain/json_constraint.h"
#include "support/test_support.h"

namespace strata {
namespace {

std::string bin() { return testing::strata_binary(); }

TEST(Cli, SynthThenInspectAndRun) {
  const std::string dir = testing::temp_dir();
  const std::string m = dir + "/moe.gguf";
  auto s = testing::run_command(bin() + " synth " + m +
                                " --layers 2 --dim 64 --heads 4 --kv-heads 2 --vocab 320 --experts 4 --experts-used 2");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.err.find("random weights"), std::string::npos);
  auto i = testing::run_command(bin() + " inspect " + m + " --json");
  ASSERT_EQ(i.exit_code, 0) << i.err;
  auto j = nlohmann::json::parse(i.out);
  EXPECT_EQ(j["metadata"]["llama.expert_count"], 4);
  EXPECT_EQ(j["metadata"]["llama.block_count"], 2);
  EXPECT_EQ(j["tensors"].size(), 3u + 2u * 10u);
  uint64_t sum = 0;
  for (const auto& t : j["tensors"]) sum += t["bytes"].get<uint64_t>();
  EXPECT_EQ(j["totals"]["bytes"].get<uint64_t>(), sum);
  auto text = testing::run_command(bin() + " inspect " + m);
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("blk.1.ffn_down_exps.weight"), std::string::npos);
  auto r = testing::run_command(bin() + " run " + m + " -p 'hello there' -n 8 --seed 7 --temp 0.9");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Same seed, same text.
  auto r2 = testing::run_command(bin() + " run " + m + " -p 'hello there' -n 8 --seed 7 --temp 0.9");
  EXPECT_EQ(r.out, r2.out);
}

void expect_clean_error(const testing::CommandResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("strata: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  // One line.
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Cli, BadFilesGiveOneLineErrors) {
  const std::string dir = testing::temp_dir();
  const std::string good = dir + "/good.gguf";
  ASSERT_EQ(testing::run_command(bin() + " synth " + good + " --vocab 300").exit_code, 0);
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});

  const std::string trunc = dir + "/trunc.gguf";
  std::ofstream(trunc, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_clean_error(testing::run_command(bin() + " inspect " + trunc), "past the end");
  expect_clean_error(testing::run_command(bin() + " run " + trunc + " -p hi"), "past the end");

  const std::string magic = dir + "/magic.gguf";
  std::ofstream(magic, std::ios::binary) << "GGUX" << bytes.substr(4);
  expect_clean_error(testing::run_command(bin() + " inspect " + magic), "not a GGUF file");

  expect_clean_error(testing::run_command(bin() + " inspect " + dir + "/missing.gguf"), "cannot open");
  expect_clean_error(testing::run_command(bin() + " logits " + good + " --tokens '1 x'"), "not a token id");
  expect_clean_error(testing::run_command(bin() + " logits " + good + " --tokens '1 300'"), "outside the vocabulary");
  expect_clean_error(testing::run_command(bin() + " synth " + dir + "/bad.gguf --dim 30 --heads 4"), "multiple of heads");
  expect_clean_error(testing::run_command(bin() + " synth " + dir + "/bad.gguf --type Q9_X"), "unknown weight type");
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad.gguf"));
}

TEST(Cli, RunFormatJsonWritesAJsonPrefix) {
  const std::string model = testing::shared_path("models/stories260K.gguf");
  auto r = testing::run_command(bin() + " run " + model + " -p 'Once upon a time' -n 40 --seed 5 --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  const std::string text = r.out.substr(0, r.out.size() - 1);  // run ends its output with a newline
  constrain::JsonRecognizer json;
  for (size_t i = 0; i < text.size(); ++i)
    ASSERT_TRUE(json.feed(static_cast<uint8_t>(text[i]))) << "not JSON at byte " << i << ": " << text;
  EXPECT_NE(text.find('{'), std::string::npos) << text;
  auto bad = testing::run_command(bin() + " run " + model + " -p x --format yaml");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("yaml not in {json}"), std::string::npos) << bad.err;
}

TEST(Cli, UsageErrorsAreNonZero) {
  EXPECT_NE(testing::run_command(bin() + " run").exit_code, 0);
  EXPECT_NE(testing::run_command(bin() + " frobnicate").exit_code, 0);
  EXPECT_EQ(testing::run_command(bin() + " --help").exit_code, 0);
}

}  // namespace
}  // namespace strata
