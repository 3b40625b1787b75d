// tests/cli/plan_svg_cli_test.cc: `strata inspect --plan --svg` on sparse 70B- and Mixtral-shaped files made by
// `strata synth --sparse`: the SVG parses as XML, and its per-tier weight totals are `inspect --plan --json`'s.
#include <sys/stat.h>

#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace strata {
namespace {

// A 2-core machine without a GPU, and the 24 GB GPU machine of docs/planner.md's pictures.
const std::string kCpuProfile = " --profile " + std::string(STRATA_SOURCE_DIR) + "/tests/cli/profile_2core.json";
const std::string kGpuProfile = " --profile " + std::string(STRATA_SOURCE_DIR) + "/docs/plans/profile-gpu24g.json";

// Parses the SVG with python3's XML parser and prints {tier: weight bytes} from the bars' data attributes.
std::map<std::string, uint64_t> svg_tier_totals(const std::string& svg_path) {
  const std::string script_path = svg_path + ".py";
  {
    std::ofstream py(script_path);
    py << "import json, sys, xml.etree.ElementTree as E\n"
          "ns = '{http://www.w3.org/2000/svg}'\n"
          "root = E.parse(sys.argv[1]).getroot()\n"
          "assert root.tag == ns + 'svg', root.tag\n"
          "print(json.dumps({g.get('data-tier'): int(g.get('data-weight-bytes'))\n"
          "                  for g in root.iter(ns + 'g') if g.get('class') == 'tier'}))\n";
  }
  auto r = testing::run_command("python3 " + script_path + " " + svg_path);
  EXPECT_EQ(r.exit_code, 0) << "the SVG is not valid XML: " << r.err;
  std::map<std::string, uint64_t> out;
  if (r.exit_code == 0) out = nlohmann::json::parse(r.out).get<std::map<std::string, uint64_t>>();
  return out;
}

void expect_svg_matches_json(const std::string& model, const std::string& flags) {
  static int n_svgs = 0;
  const std::string svg = model + "." + std::to_string(n_svgs++) + ".svg";
  const std::string base = testing::strata_binary() + " inspect " + model + " --plan" + flags;
  auto js = testing::run_command(base + " --json");
  ASSERT_EQ(js.exit_code, 0) << js.err;
  auto sv = testing::run_command(base + " --svg " + svg);
  ASSERT_EQ(sv.exit_code, 0) << sv.err;
  const auto j = nlohmann::json::parse(js.out);
  std::map<std::string, uint64_t> expected = {{"gpu", 0}, {"pinned", 0}, {"ram", 0}, {"disk", 0}};
  for (const auto& t : j["tensors"]) expected[t["tier"].get<std::string>()] += t["size_bytes"].get<uint64_t>();
  EXPECT_EQ(svg_tier_totals(svg), expected) << model << flags << ": mode " << j["mode"];
}

std::string synth_sparse(const std::string& name, const std::string& shape_flags) {
  const std::string path = testing::temp_dir() + "/" + name + ".gguf";
  auto r = testing::run_command(testing::strata_binary() + " synth " + path + " --sparse --quiet " + shape_flags);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return path;
}

TEST(PlanSvgCli, SeventyBillionShapeTierTotalsMatchTheJson) {
  const std::string model = synth_sparse("llama-70b-shape", "--layers 80 --dim 8192 --ff 28672 --heads 64 --kv-heads 8 "
                                                            "--vocab 128256 --ctx 131072 --type Q4_K_M");
  struct stat st{};
  ASSERT_EQ(::stat(model.c_str(), &st), 0);
  EXPECT_GT(static_cast<uint64_t>(st.st_size), 30ull << 30) << "the file has its full logical size";
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 64ull << 20) << "but holds only its header on disk";
  for (const std::string& flags : {kCpuProfile, kCpuProfile + " --ram 4G", kGpuProfile + " --gpu-mem 8G --ram 24G",
                                   kGpuProfile + " --gpu-mem 20G --ram 56G"})
    expect_svg_matches_json(model, flags);
}

TEST(PlanSvgCli, MixtralShapeTierTotalsMatchTheJson) {
  const std::string model = synth_sparse("mixtral-shape", "--layers 32 --dim 4096 --ff 14336 --heads 32 --kv-heads 8 "
                                                          "--experts 8 --experts-used 2 --vocab 32000 --type Q4_K_M");
  for (const std::string& flags : {kCpuProfile + " --ram 8G", kGpuProfile + " --gpu-mem 8G --ram 16G"})
    expect_svg_matches_json(model, flags);
}

TEST(PlanSvgCli, SvgWithoutPlanIsRefused) {
  const std::string model = synth_sparse("small", "--layers 2 --dim 64");
  auto r = testing::run_command(testing::strata_binary() + " inspect " + model + " --svg /dev/null");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--plan"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace strata
