// tests/planner/planner_inspect_test.cc: planning a 70B-shaped file reads only its header and takes well under 1 s.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "planner/model_shapes.h"
#include "planner/planner.h"
#include "support/test_support.h"

namespace strata::planner {
namespace {

using namespace strata::planner::testing;

TEST(InspectPlan, SeventyBillionShapedFileIsPlannedFromItsHeader) {
  const std::string path = write_sparse_model(llama3_70b(), strata::testing::temp_dir() + "/llama-70b-shape.gguf");
  const auto t0 = std::chrono::steady_clock::now();
  auto file = gguf::read_file(path, gguf_type_lookup());
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  auto roles = classify_tensors(*file);
  ASSERT_TRUE(roles.is_ok()) << roles.status().message();
  auto plan = make_plan(*roles, gpu_8g(), Budgets{});
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GT(file->file_size, 40ull * kGiB);
  EXPECT_LT(file->header_bytes_read, 50ull * kMiB);
  EXPECT_LT(seconds, 1.0);
  EXPECT_EQ(plan->tensors.size(), 80u * 9 + 3);
  EXPECT_EQ(plan->mode, Mode::DenseStreaming);
  std::printf("70B plan: header %.2f MiB read, %.1f ms, mode %s, decode %.2f tok/s\n",
              file->header_bytes_read / double(kMiB), seconds * 1e3, std::string(mode_name(plan->mode)).c_str(),
              plan->decode.tokens_per_s);
}

TEST(InspectPlan, EveryGridPlanIsFast) {
  // The planner alone, on the largest shapes and every machine: each plan inside the 1 s budget (tens of
  // milliseconds in a release build; the bound leaves room for sanitizer builds and loaded CI machines).
  for (const ShapeSpec& spec : {llama3_70b(), moe_128x8()}) {
    auto roles = classify_tensors(make_gguf(spec));
    ASSERT_TRUE(roles.is_ok());
    for (const HardwareProfile& hw : {cpu_16g(), gpu_8g(), gpu_24g(), gpu_80g(), unified_32g()}) {
      const auto t0 = std::chrono::steady_clock::now();
      auto plan = make_plan(*roles, hw, Budgets{});
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ASSERT_TRUE(plan.is_ok()) << plan.status().message();
      EXPECT_LT(seconds, 1.0) << spec.arch << " on " << (hw.has_gpu() ? hw.gpus[0].name : "cpu");
    }
  }
}

}  // namespace
}  // namespace strata::planner
