// tests/cli/bench_cli_test.cc: `strata bench --out` on a small synthetic MoE on the CPU: each run's record carries
// the per-token figures a split step is read by (CPU pool dispatches, hand-offs between backends), and the
// printout names them; `--op-times` times every op of the last run and reports them by backend and op.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace strata {
namespace {

// `strata bench` on the shared stories260K model with `args`, its record written to a scratch file named
// `name`: the printout in `r`, the record returned (null when the run failed).
nlohmann::json bench_stories(const std::string& args, const std::string& name, testing::CommandResult& r) {
  const std::string out = testing::temp_dir() + "/" + name;
  r = testing::run_command(testing::strata_binary() + " bench " + std::string(STRATA_SHARED_DIR) +
                           "/models/stories260K.gguf " + args + " --quiet --out " + out);
  if (r.exit_code != 0) return nullptr;
  std::ifstream in(out);
  return nlohmann::json::parse(in);
}

TEST(BenchCli, RunsRecordDispatchesAndHandoffsAToken) {
  const std::string dir = testing::temp_dir();
  const std::string model = dir + "/bench-moe.gguf", out = dir + "/bench.json";
  auto s = testing::run_command(testing::strata_binary() + " synth " + model +
                                " --quiet --layers 2 --dim 64 --heads 4 --experts 8 --experts-used 2");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto r = testing::run_command(testing::strata_binary() + " bench " + model + " --profile " +
                                std::string(STRATA_SOURCE_DIR) + "/tests/cli/profile_2core.json" +
                                " -p 8 -n 4 -r 2 --warmup 0 -t 2 --quiet --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("decode CPU thread-pool dispatches a token"), std::string::npos) << r.out;
  std::ifstream in(out);
  const auto j = nlohmann::json::parse(in);
  ASSERT_EQ(j["runs"].size(), 2u);
  for (const auto& run : j["runs"]) {
    EXPECT_GT(run["decode_cpu_dispatches_per_token"].get<double>(), 0.0);
    // One CPU backend computes everything: no activation ever crosses to another backend.
    EXPECT_EQ(run["decode_handoffs_per_token"].get<double>(), 0.0);
  }
  EXPECT_EQ(r.out.find("hand-offs between backends"), std::string::npos) << "printed only where there are some";
}

// The llama-shaped stories260K model (5 layers, vocab 512): a decode step is 7 products a layer plus the output.
TEST(BenchCli, OpTimesCountEveryOpOfTheLastRun) {
  testing::CommandResult r;
  auto j = bench_stories("-p 16 -n 6 -r 1 --warmup 0 -t 2 --op-times", "bench-ops.json", r);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("op times, prompt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("op times, decode"), std::string::npos) << r.out;
  ASSERT_EQ(j["runs"].size(), 1u);
  const auto& ops = j["runs"][0]["op_times"];
  auto count = [&](const char* phase, const std::string& prefix, bool batch) {
    uint64_t n = 0;
    for (const auto& row : ops[phase]) {
      const std::string op = row["op"].get<std::string>();
      EXPECT_GE(row["seconds"].get<double>(), 0.0) << op;
      if (op.rfind(prefix, 0) == 0 && (op.find("(batch)") != std::string::npos) == batch) n += row["count"].get<uint64_t>();
    }
    return n;
  };
  // A layer's 7 products are 4 ops: q, k and v in one matmul_many, o, gate and up in one matmul_many, down.
  EXPECT_EQ(count("decode", "cpu matmul", false), 6u * (5 * 4 + 1));
  EXPECT_EQ(count("decode", "cpu matmul_many ", false), 6u * 5 * 2);
  EXPECT_EQ(count("decode", "cpu matmul", true), 0u);
  // The prompt is one batch: 4 batched ops a layer; the output product only for the last position.
  EXPECT_EQ(count("prompt", "cpu matmul", true), 5u * 4);
  EXPECT_EQ(count("prompt", "cpu matmul", false), 1u);
  EXPECT_GT(count("decode", "cpu attention", false), 0u);
}

// `--parallel N`: N sequences a pass, then each again alone; on the CPU every sequence keeps its tokens.
TEST(BenchCli, ParallelSequencesDecodeTheTokensTheyDecodeAlone) {
  testing::CommandResult r;
  auto j = bench_stories("-p 8 -n 12 -r 1 --warmup 0 -t 2 --parallel 3", "bench-parallel.json", r);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("parallel: 3 of 3 sequences decode the same tokens alone"), std::string::npos) << r.out;
  const auto& p = j["parallel"];
  EXPECT_EQ(p["n_parallel"].get<int>(), 3);
  EXPECT_EQ(p["sequences_identical_to_alone"].get<int>(), 3);
  EXPECT_EQ(p["tokens_equal_to_alone"], nlohmann::json::array({12, 12, 12}));
  // Reported, not promised: the CPU's prompt products tile by the row count, so a batched prompt's logits
  // may differ from alone in the last bits while the tokens agree.
  EXPECT_LE(p["prompt_logits_identical_to_alone"].get<int>(), 3);
  EXPECT_NE(r.out.find("prompt logits bit-identical to alone: "), std::string::npos) << r.out;
  EXPECT_GT(p["decode_tokens_per_s_aggregate"].get<double>(), 0.0);
}

// --op-times with --parallel times the batched steps op by op too: what a batched step spends, beside one
// sequence's table.
TEST(BenchCli, ParallelOpTimesTimeTheBatchedSteps) {
  testing::CommandResult r;
  auto j = bench_stories("-p 8 -n 6 -r 1 --warmup 0 -t 2 --parallel 2 --op-times", "bench-parallel-ops.json", r);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("op times, parallel decode, all sequences in one step"), std::string::npos) << r.out;
  const auto& ops = j["parallel"]["op_times_decode"];
  ASSERT_TRUE(ops.is_array());
  ASSERT_FALSE(ops.empty());
  uint64_t batched_products = 0;
  for (const auto& row : ops) {
    const std::string op = row["op"].get<std::string>();
    EXPECT_GE(row["seconds"].get<double>(), 0.0) << op;
    if (op.rfind("cpu matmul", 0) == 0) {
      EXPECT_NE(op.find("(batch)"), std::string::npos) << "both sequences in one product: " << op;
      batched_products += row["count"].get<uint64_t>();
    }
  }
  // A layer's 7 products are 4 ops (q/k/v and gate/up each one matmul_many) and the output one more, once a
  // step for both sequences: 6 steps of 5 layers.
  EXPECT_EQ(batched_products, 6u * (5 * 4 + 1)) << ops.dump();
}

}  // namespace
}  // namespace strata
