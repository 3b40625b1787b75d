// tests/cli/bench_cli_test.cc: `strata bench --out` on a small synthetic MoE on the CPU: each run's record carries
// the per-token figures a split step is read by (CPU pool dispatches, hand-offs between backends), and the
// printout names them.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace strata {
namespace {

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

}  // namespace
}  // namespace strata
