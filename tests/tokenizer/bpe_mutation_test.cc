// tests/tokenizer/bpe_mutation_test.cc: a small tokenizer-data mutation campaign in the default build; the
// sanitizer build runs a larger one (bpe_mutation_asan_test.cc).
#include "tokenizer/bpe_mutation.h"

namespace strata::tokenizer::test {
namespace {

TEST(BpeMutation, DamagedVocabulariesLoadOrFailCleanly) {
  const MutationStats stats = run_bpe_mutations(/*n_cases=*/1500, /*seed=*/0x7e11);
  EXPECT_EQ(stats.cases, 1500u);
  // Both outcomes must occur, or the campaign is not reaching the tokenizer's checks.
  EXPECT_GT(stats.accepted, 100u);
  EXPECT_GT(stats.rejected, 300u);
}

}  // namespace
}  // namespace strata::tokenizer::test
