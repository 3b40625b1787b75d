// tests/cli/inspect_plan_cli_test.cc: `strata inspect --plan` on a 70B-shaped GGUF (header written, the rest a
// sparse 40 GiB extent) answers from the header alone: well under a second, under 50 MB read.
#include <chrono>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "planner/model_shapes.h"
#include "support/test_support.h"

namespace strata {
namespace {

TEST(InspectPlanCli, SeventyBillionShapeFromTheHeaderAlone) {
  using namespace planner::testing;
  const std::string dir = testing::temp_dir();
  const std::string model = write_sparse_model(llama3_70b(), dir + "/llama-70b-shape.gguf");
  const std::string profile = dir + "/profile.json";
  ASSERT_TRUE(planner::write_profile_file(profile, gpu_24g()).is_ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto r = testing::run_command(testing::strata_binary() + " inspect " + model + " --plan --json --profile " + profile);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_LT(j["header_bytes_read"].get<uint64_t>(), 50ull << 20);
  EXPECT_EQ(j["tensors"].size(), 3u + 80u * 9u);
  EXPECT_LT(seconds, 1.0);
  std::printf("  inspect --plan on a 70B shape: %.0f ms, %.1f MiB of header read, mode %s\n", seconds * 1e3,
              j["header_bytes_read"].get<double>() / (1 << 20), j["mode"].get<std::string>().c_str());
}

}  // namespace
}  // namespace strata
