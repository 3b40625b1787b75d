// tests/cli/streaming_cli_test.cc: the planner and the streaming source through the real binary: a RAM budget
// that forces most weights onto the disk tier changes no logit, keeps peak RSS under the budget, and a budget
// that cannot fit is refused before loading with the shortfall named.
#include <fstream>
#include <regex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace strata {
namespace {

const std::string kProfile = std::string(STRATA_SOURCE_DIR) + "/tests/cli/profile_2core.json";

std::string bin() { return testing::strata_binary(); }

nlohmann::json logits(const std::string& model, const std::string& extra) {
  auto r = testing::run_command(bin() + " logits " + model + " --tokens '1 300 17 299 42 301' --full --gen 4 --profile " +
                                kProfile + " " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
}

uint64_t mib(double v) { return static_cast<uint64_t>(v * 1024 * 1024); }

void expect_streaming_identical(const std::string& model, const std::string& ram) {
  auto plan = testing::run_command(bin() + " inspect " + model + " --plan --json --profile " + kProfile + " --ram " + ram);
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  auto p = nlohmann::json::parse(plan.out);
  double disk = 0, total = 0;
  for (const auto& t : p["tensors"]) {
    total += t["size_bytes"].get<double>();
    if (t["tier"] == "disk") disk += t["size_bytes"].get<double>();
  }
  EXPECT_GT(disk * 2, total) << "the budget should force most weight bytes onto the disk tier";
  auto resident = logits(model, "");
  auto streamed = logits(model, "--ram " + ram);
  EXPECT_TRUE(resident == streamed) << "streaming changed the logits";  // every logit, as printed
}

TEST(StreamingCli, DenseLogitsIdenticalUnderABudget) {
  const std::string m = testing::temp_dir() + "/dense.gguf";
  ASSERT_EQ(testing::run_command(bin() + " synth " + m + " --layers 4 --dim 512 --heads 8 --kv-heads 2 --vocab 1000 --type Q8_0").exit_code, 0);
  expect_streaming_identical(m, "66M");
}

TEST(StreamingCli, MoeLogitsIdenticalUnderABudget) {
  const std::string m = testing::temp_dir() + "/moe.gguf";
  ASSERT_EQ(testing::run_command(bin() + " synth " + m +
                                 " --layers 3 --dim 256 --heads 4 --vocab 600 --experts 8 --experts-used 2 --type Q8_0")
                .exit_code,
            0);
  expect_streaming_identical(m, "64M");
}

// Every architecture row streams with the same logits as resident: its biases, norms and sinks ride in the
// layer reads, and MoE rows stream expert slices.
TEST(StreamingCli, EveryArchLogitsIdenticalUnderABudget) {
  struct Case {
    const char* arch;
    const char* shape;
    const char* ram;
  };
  const Case cases[] = {
      {"llama", "--layers 4 --dim 512 --heads 8 --kv-heads 2 --rope-freqs --rope-base 500000", "66M"},
      {"qwen2", "--layers 4 --dim 512 --heads 8 --kv-heads 2 --rope-base 1000000", "66M"},
      {"qwen3", "--layers 4 --dim 512 --heads 8 --kv-heads 2 --head-dim 96", "68M"},
      {"qwen3moe", "--layers 3 --dim 512 --heads 4 --head-dim 96 --experts 8 --experts-used 3 --ff-expert 512", "72M"},
      {"gpt-oss", "--layers 3 --dim 512 --heads 4 --kv-heads 2 --head-dim 64 --experts 8 --ff-expert 512 --window 3 "
                  "--rope-scaling yarn --rope-scaling-factor 32 --rope-orig-ctx 64",
       "64M"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.arch);
    const std::string m = testing::temp_dir() + "/" + c.arch + ".gguf";
    auto r = testing::run_command(bin() + " synth " + m + " --arch " + c.arch + " " + c.shape + " --vocab 1000 --type Q8_0");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_streaming_identical(m, c.ram);
  }
}

TEST(StreamingCli, RunReportsStreamingAndStaysUnderTheBudget) {
  const std::string m = testing::temp_dir() + "/dense.gguf";
  ASSERT_EQ(testing::run_command(bin() + " synth " + m + " --layers 4 --dim 512 --heads 8 --kv-heads 2 --vocab 1000 --type Q8_0").exit_code, 0);
  auto r = testing::run_command(bin() + " run " + m + " -p 'hello there' -n 12 --seed 1 --threads 2 --profile " + kProfile +
                                " --ram 66M");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("per forward pass from disk"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("plan: cpu-streaming"), std::string::npos) << r.err;
  std::smatch mm;
  ASSERT_TRUE(std::regex_search(r.err, mm, std::regex("peak resident memory ([0-9.]+) MiB"))) << r.err;
  // The documented promise: peak RSS within the budget plus 16 MiB of process overhead (code, vocabulary, threads).
  EXPECT_LT(mib(std::stod(mm[1])), mib(66 + 16)) << r.err;
}

TEST(StreamingCli, ImpossibleBudgetIsRefusedWithTheShortfall) {
  const std::string m = testing::temp_dir() + "/dense.gguf";
  ASSERT_EQ(testing::run_command(bin() + " synth " + m + " --layers 2 --dim 256 --vocab 600").exit_code, 0);
  auto r = testing::run_command(bin() + " run " + m + " -p hi --profile " + kProfile + " --ram 4M");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("RAM budget 4.0 MiB is short by"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace strata
