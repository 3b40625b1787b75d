// tests/cli/bench_sweep_cli_test.cc: `strata bench --sweep ram=LO..HI:STEP` on a small synthetic MoE on the CPU:
// one re-planned run per budget in the JSON record (budget, mode, predicted and achieved tok/s, the bound),
// an SVG that parses as XML with one dot per budget that ran, and clear errors for malformed sweeps.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace strata {
namespace {

const std::string kCpuProfile = " --profile " + std::string(STRATA_SOURCE_DIR) + "/tests/cli/profile_2core.json";

std::string small_moe() {
  const std::string path = testing::temp_dir() + "/sweep-moe.gguf";
  auto r = testing::run_command(testing::strata_binary() + " synth " + path +
                                " --quiet --layers 2 --dim 64 --heads 4 --experts 8 --experts-used 2 --router-skew 1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return path;
}

TEST(BenchSweepCli, RamSweepWritesOnePointPerBudgetAndAPlot) {
  const std::string model = small_moe();
  const std::string dir = testing::temp_dir();
  const std::string out = dir + "/sweep.json";
  auto r = testing::run_command(testing::strata_binary() + " bench " + model + kCpuProfile +
                                " --sweep ram=2G..4G:1G -p 8 -n 4 -r 1 --warmup 0 -t 2 --quiet -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("achieved"), std::string::npos) << r.out;
  std::ifstream in(out);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["sweep"], "ram");
  ASSERT_EQ(j["points"].size(), 3u);
  uint64_t want = 2ull << 30;
  for (const auto& p : j["points"]) {
    ASSERT_FALSE(p.contains("error")) << p.dump();
    EXPECT_EQ(p["budget_bytes"].get<uint64_t>(), want);
    want += 1ull << 30;
    EXPECT_GT(p["achieved_decode_tokens_per_s"].get<double>(), 0.0);
    EXPECT_GT(p["predicted_decode_tokens_per_s"].get<double>(), 0.0);
    EXPECT_FALSE(p["mode"].get<std::string>().empty());
    EXPECT_FALSE(p["bound_term"].get<std::string>().empty());
  }
  // The plot: valid XML, one dot per budget carrying the record's figures.
  const std::string svg = dir + "/sweep.svg";  // --out's name with .svg
  const std::string script = svg + ".py";
  {
    std::ofstream py(script);
    py << "import json, sys, xml.etree.ElementTree as E\n"
          "ns = '{http://www.w3.org/2000/svg}'\n"
          "root = E.parse(sys.argv[1]).getroot()\n"
          "assert root.tag == ns + 'svg', root.tag\n"
          "dots = [(int(c.get('data-budget-bytes')), float(c.get('data-predicted'))) for c in root.iter(ns + 'circle')]\n"
          "lines = [p.get('class') for p in root.iter(ns + 'polyline')]\n"
          "print(json.dumps({'dots': dots, 'lines': lines}))\n";
  }
  auto x = testing::run_command("python3 " + script + " " + svg);
  ASSERT_EQ(x.exit_code, 0) << "the SVG is not valid XML: " << x.err;
  const auto pic = nlohmann::json::parse(x.out);
  ASSERT_EQ(pic["dots"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(pic["dots"][i][0].get<uint64_t>(), j["points"][i]["budget_bytes"].get<uint64_t>());
    EXPECT_NEAR(pic["dots"][i][1].get<double>(), j["points"][i]["predicted_decode_tokens_per_s"].get<double>(),
                1e-3 * j["points"][i]["predicted_decode_tokens_per_s"].get<double>());
  }
  EXPECT_EQ(pic["lines"], nlohmann::json::parse(R"(["bound", "achieved"])"));
}

TEST(BenchSweepCli, MalformedSweepsAreOneLineErrors) {
  const std::string model = small_moe();
  for (const char* bad : {"vram=1G..2G", "ram=2G", "ram=4G..2G", "ram=1G..2G:0", "ram=1K..1G:1K"}) {
    auto r = testing::run_command(testing::strata_binary() + " bench " + model + kCpuProfile + " --sweep " + bad);
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.err.find("--sweep"), std::string::npos) << bad << ": " << r.err;
  }
  auto both = testing::run_command(testing::strata_binary() + " bench " + model + kCpuProfile +
                                   " --ram 4G --sweep ram=1G..2G");
  EXPECT_NE(both.exit_code, 0);
}

}  // namespace
}  // namespace strata
