// tests/gguf/gguf_mutation_test.cc: a small deterministic mutation campaign in the default build; the sanitizer
// build runs the large one (gguf_fuzz_asan_test.cc).
#include <gtest/gtest.h>

#include "gguf/gguf_mutator.h"

namespace strata::gguf::test {
namespace {

TEST(GgufMutation, DamagedFilesParseOrFailCleanly) {
  CampaignStats stats = run_campaign(/*n_random=*/2000, /*rng_seed=*/0x5eed0001, /*file_every=*/20);
  print_stats(stats);
  EXPECT_GE(stats.cases, 2000u);
  // Both outcomes must actually occur, or the mutator is not exercising the parser.
  EXPECT_GT(stats.accepted, 50u);
  EXPECT_GT(stats.rejected, 1000u);
}

}  // namespace
}  // namespace strata::gguf::test
