// tests/tokenizer/bpe_mutation_asan_test.cc: the tokenizer-data mutation campaign under ASan and UBSan.
#include "tokenizer/bpe_mutation.h"

namespace strata::tokenizer::test {
namespace {

TEST(BpeMutationAsan, DamagedVocabulariesNeverCrash) {
  const MutationStats stats = run_bpe_mutations(/*n_cases=*/6000, /*seed=*/0xa5a5);
  EXPECT_EQ(stats.cases, 6000u);
  EXPECT_GT(stats.accepted, 400u);
  EXPECT_GT(stats.rejected, 1200u);
}

}  // namespace
}  // namespace strata::tokenizer::test
