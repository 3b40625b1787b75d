// tests/cli/reference_test.cc: `strata run` and `strata logits` on the real stories260K model against the
// reference engine's outputs in ../shared/reference (exact greedy tokens and text; top-5 logits within 1e-3).
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace strata {
namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

nlohmann::json load_reference() {
  std::ifstream in(testing::shared_path("reference/stories260K_greedy.json"));
  return nlohmann::json::parse(in);
}

std::string model_path() { return testing::shared_path("models/stories260K.gguf"); }

TEST(Reference, RunGeneratesTheReferenceGreedyText) {
  auto ref = load_reference();
  ASSERT_EQ(ref["cases"].size(), 4u);
  for (const auto& c : ref["cases"]) {
    const std::string prompt = c["prompt"];
    auto r = testing::run_command(testing::strata_binary() + " run " + shell_quote(model_path()) + " -p " +
                                  shell_quote(prompt) + " -n 64 --temp 0 --threads 2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, c["result"]["greedy_text"].get<std::string>() + "\n") << "prompt: " << prompt;
    EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
  }
}

TEST(Reference, LogitsMatchTopFiveAndGreedyTokens) {
  auto ref = load_reference();
  for (const auto& c : ref["cases"]) {
    const auto& want = c["result"];
    std::string ids;
    for (int t : want["tokens"]) ids += std::to_string(t) + " ";
    auto r = testing::run_command(testing::strata_binary() + " logits " + shell_quote(model_path()) + " --tokens " +
                                  shell_quote(ids) + " --top 5 --gen 64 --threads 2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto got = nlohmann::json::parse(r.out);
    EXPECT_EQ(got["n_vocab"], want["n_vocab"]);
    EXPECT_EQ(got["tokens"], want["tokens"]);
    ASSERT_EQ(got["positions"].size(), want["positions"].size());
    double max_diff = 0;
    for (size_t p = 0; p < want["positions"].size(); ++p) {
      const auto& wt = want["positions"][p]["top"];
      const auto& gt = got["positions"][p]["top"];
      ASSERT_EQ(gt.size(), 5u);
      for (size_t i = 0; i < wt.size(); ++i) {
        EXPECT_EQ(gt[i][0], wt[i][0]) << "position " << p << " rank " << i;
        max_diff = std::max(max_diff, std::fabs(gt[i][1].get<double>() - wt[i][1].get<double>()));
      }
    }
    EXPECT_LT(max_diff, 1e-3) << c["prompt"];
    EXPECT_EQ(got["greedy"], want["greedy"]) << c["prompt"];
    EXPECT_FALSE(got["positions"][0].contains("logits"));
  }
}

TEST(Reference, LogitsFullPrintsEveryLogit) {
  auto r = testing::run_command(testing::strata_binary() + " logits " + shell_quote(model_path()) +
                                " --tokens '1 403' --full --top 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto got = nlohmann::json::parse(r.out);
  ASSERT_EQ(got["positions"].size(), 2u);
  EXPECT_EQ(got["positions"][1]["logits"].size(), 512u);
  EXPECT_EQ(got["positions"][1]["top"].size(), 3u);
  EXPECT_EQ(got["greedy"].size(), 0u);
  // The top entry is the maximum of the full logits.
  const auto& full = got["positions"][1]["logits"];
  double mx = -1e30;
  for (const auto& v : full) mx = std::max(mx, v.get<double>());
  EXPECT_DOUBLE_EQ(got["positions"][1]["top"][0][1].get<double>(), mx);
}

}  // namespace
}  // namespace strata
