// tests/core/core_test.cc: Status/Result, size parsing, fp16/bf16 conversions, the thread pool.
#include <atomic>
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

#include "core/fp16.h"
#include "core/file.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "core/units.h"

namespace strata {
namespace {

Result<int> half_of(int x) {
  if (x % 2) return error("{} is odd", x);
  return x / 2;
}
Result<int> quarter_of(int x) {
  STRATA_ASSIGN_OR_RETURN(int h, half_of(x));
  return half_of(h);
}

TEST(Status, ResultCarriesValueOrError) {
  EXPECT_EQ(*quarter_of(8), 2);
  auto r = quarter_of(6);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "3 is odd");
  EXPECT_EQ(r.status().with_context("ctx").message(), "ctx: 3 is odd");
  EXPECT_TRUE(Status::ok().with_context("x").is_ok());
}

TEST(Status, CarriesAKindThatContextKeeps) {
  // The free helper's default kind, and each factory's predicate.
  Status bad = error("bad value {}", 3);
  EXPECT_TRUE(bad.is_invalid_argument());
  EXPECT_EQ(bad.message(), "bad value 3");
  Status missing = error(ErrorKind::NotFound, "no file '{}'", "x.gguf");
  EXPECT_TRUE(missing.is_not_found());
  EXPECT_FALSE(missing.is_invalid_argument());
  EXPECT_TRUE(Status::out_of_range("m").is_out_of_range());
  EXPECT_TRUE(Status::resource_exhausted("m").is_resource_exhausted());
  EXPECT_TRUE(Status::unavailable("m").is_unavailable());
  EXPECT_TRUE(Status::cancelled("m").is_cancelled());
  EXPECT_TRUE(Status::io_error("m").is_io_error());
  EXPECT_TRUE(Status::corruption("m").is_corruption());
  EXPECT_TRUE(Status::internal("m").is_internal());
  EXPECT_FALSE(Status::ok().is_internal());
  // Context rises with the error and keeps its kind.
  Status up = missing.with_context("loading").with_context("serve");
  EXPECT_TRUE(up.is_not_found());
  EXPECT_EQ(up.message(), "serve: loading: no file 'x.gguf'");
  EXPECT_EQ(up.to_string(), "not found: serve: loading: no file 'x.gguf'");
  Result<int> r = Status::corruption("bad magic");
  EXPECT_TRUE(r.status().is_corruption());
}

TEST(Status, FileErrorsHaveTheirKinds) {
  auto missing = File::open_read("/nonexistent/strata/file.gguf");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_TRUE(missing.status().is_not_found()) << missing.status().to_string();
  auto dir = File::open_read("/");
  ASSERT_FALSE(dir.is_ok());
  EXPECT_FALSE(dir.status().is_not_found());
}

TEST(Units, ParseSize) {
  EXPECT_EQ(*parse_size("512"), 512u);
  EXPECT_EQ(*parse_size("512K"), 512u * 1024);
  EXPECT_EQ(*parse_size("512M"), 512u * 1024 * 1024);
  EXPECT_EQ(*parse_size("8G"), 8ull << 30);
  EXPECT_EQ(*parse_size("8GiB"), 8ull << 30);
  EXPECT_EQ(*parse_size("8gb"), 8ull << 30);
  EXPECT_EQ(*parse_size("1.5G"), 3ull << 29);
  EXPECT_EQ(*parse_size("2T"), 2ull << 40);
  for (const char* bad : {"", "G", "abc", "-1G", "1.2.3M", "12X", "1e30T"}) EXPECT_FALSE(parse_size(bad).is_ok()) << bad;
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(3ull << 29), "1.50 GiB");
}

TEST(Fp16, RoundTripsEveryHalfAndRoundsToNearestEven) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_f32(f32_to_fp16(f))));
      continue;
    }
    EXPECT_EQ(f32_to_fp16(f), h) << h;
    EXPECT_EQ(f, fp16_to_f32_slow(static_cast<uint16_t>(h)));
  }
  EXPECT_EQ(fp16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1.0).
  EXPECT_EQ(f32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(f32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(f32_to_fp16(70000.0f), 0x7c00);   // overflow to infinity
  EXPECT_EQ(f32_to_fp16(-1e-9f), 0x8000);     // underflow to -0
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(3.0f)), 3.0f);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie to even
}

TEST(ThreadPool, ParallelForCoversEveryIndexOnce) {
  for (int n_threads : {1, 2, 5}) {
    ThreadPool pool(n_threads);
    for (size_t n : {0u, 1u, 7u, 1000u}) {
      std::vector<std::atomic<int>> hits(n);
      for (int rep = 0; rep < 20; ++rep)
        pool.parallel_for(n, 3, [&](size_t b, size_t e) {
          for (size_t i = b; i < e; ++i) hits[i]++;
        });
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 20) << "n=" << n << " i=" << i;
    }
  }
}

TEST(ThreadPool, RunOnAllUsesEveryThreadIndex) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> seen(4);
  for (int rep = 0; rep < 100; ++rep) pool.run_on_all([&](int t) { seen[t]++; });
  for (auto& s : seen) EXPECT_EQ(s.load(), 100);
}

}  // namespace
}  // namespace strata
