// tests/gguf/gguf_fuzz_asan_test.cc: the large GGUF mutation campaign, built only under AddressSanitizer + UBSan
// (-DSTRATA_SANITIZE=ON): every damaged file must parse or fail with a message, never crash, hang or over-allocate.
#include <chrono>
#include <cstdio>

#include <gtest/gtest.h>

#include "gguf/gguf_mutator.h"

// Any single allocation over 256 MiB, or any failed one, aborts the run instead of returning null: the "ulimit"
// that proves no header field is trusted for a size. ASAN_OPTIONS in the environment overrides these per flag.
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=0:max_allocation_size_mb=256:detect_leaks=1";
}

namespace strata::gguf::test {
namespace {

TEST(GgufFuzzAsan, DamagedFilesNeverCrash) {
  const auto t0 = std::chrono::steady_clock::now();
  CampaignStats total;
  // Independent random streams (the first also runs the systematic field sweep): ~160,000 cases, a few
  // seconds under ASan on one core.
  const uint64_t rng_seeds[] = {0xA5A5'0001ull, 0xA5A5'0002ull, 0xA5A5'0003ull};
  for (uint64_t rng_seed : rng_seeds) {
    CampaignStats s = run_campaign(/*n_random=*/50000, rng_seed, /*file_every=*/100, /*systematic=*/rng_seed == rng_seeds[0]);
    print_stats(s);
    total.cases += s.cases;
    total.accepted += s.accepted;
    total.rejected += s.rejected;
    total.file_checks += s.file_checks;
    total.largest_allocation = std::max(total.largest_allocation, s.largest_allocation);
    total.slowest_case_ms = std::max(total.slowest_case_ms, s.slowest_case_ms);
    if (::testing::Test::HasFailure()) break;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("total: %zu cases (%zu accepted, %zu rejected, %zu also from a file) in %.1f s; largest single "
              "allocation %zu bytes; slowest case %.2f ms\n",
              total.cases, total.accepted, total.rejected, total.file_checks, seconds, total.largest_allocation,
              total.slowest_case_ms);
  EXPECT_GE(total.cases, 20000u);
  EXPECT_GT(total.accepted, 1000u) << "the mutator must leave some files valid, or it tests only the first check";
  EXPECT_GT(total.rejected, 20000u);
  EXPECT_LE(total.largest_allocation, size_t{1} << 20) << "seed files are a few KiB";
  EXPECT_LT(total.slowest_case_ms, 1000.0) << "no input may make the parser crawl";
}

}  // namespace
}  // namespace strata::gguf::test
