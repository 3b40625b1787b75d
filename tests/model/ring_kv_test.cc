// tests/model/ring_kv_test.cc: sliding-window layers on a ring of window + max_pass - 1 cache rows give the
// logits of the full cache, bit for bit, on a synthetic gpt-oss (sliding, full, sliding) whose window of 16
// the ring laps several times: prompts in one call (split into passes), token by token, and in chunks; and a
// truncation that the ring can no longer serve is refused, never answered from overwritten rows.
#include <cmath>
#include <fstream>
#include <iterator>
#include <random>

#include <gtest/gtest.h>

#include "gguf/gguf_file.h"
#include "kernels/cpu/backend_cpu.h"
#include "model/buffer_weights.h"
#include "model/forward.h"
#include "model/synth.h"
#include "support/test_support.h"
#include "tensor/dtype.h"

namespace strata::model {
namespace {

constexpr int64_t kWindow = 16;
constexpr int64_t kCtx = 256;
constexpr size_t kTokens = 150;


class RingKv : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SynthSpec s;
    s.arch = "gpt-oss";
    s.layers = 3;  // sliding, full, sliding
    s.dim = 64;
    s.heads = 4;
    s.kv_heads = 2;
    s.head_dim = 16;
    s.experts = 4;
    s.experts_used = 2;
    s.ff_expert = 32;
    s.vocab = 400;
    s.window = kWindow;
    s.seed = 11;
    path_ = new std::string(testing::temp_dir() + "/ring-gpt-oss.gguf");
    auto w = write_synth_model(s, *path_);
    ASSERT_TRUE(w.is_ok()) << w.status().message();
  }
  static void TearDownTestSuite() { delete path_; }

  void SetUp() override {
    auto f = gguf::read_file(*path_, gguf_type_lookup());
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    file_ = std::move(f).value();
    auto m = bind_model(file_);
    ASSERT_TRUE(m.is_ok()) << m.status().message();
    model_ = std::move(m).value();
    std::ifstream in(*path_, std::ios::binary);
    weights_ = std::make_unique<BufferWeights>(model_, std::vector<uint8_t>{std::istreambuf_iterator<char>(in), {}});
    std::mt19937 rng(3);
    std::uniform_int_distribution<int32_t> id(3, static_cast<int32_t>(model_.hp.n_vocab) - 1);
    for (size_t i = 0; i < kTokens; ++i) tokens_.push_back(id(rng));
    ASSERT_EQ(model_.hp.layers[0].sliding_window, kWindow);
    ASSERT_EQ(model_.hp.layers[1].sliding_window, 0);
  }

  // Logits of every token, fed to eval in calls of the given sizes (cycled), on `cache`.
  std::vector<float> run(KvCache& cache, std::vector<size_t> calls) {
    ThreadPool pool(2);
    kernels::CpuBackend backend(pool);
    Forward fwd(model_, *weights_, weights_.get(), backend);
    const size_t V = static_cast<size_t>(model_.hp.n_vocab);
    std::vector<float> all(kTokens * V);
    for (size_t at = 0, c = 0; at < kTokens; ++c) {
      const size_t n = std::min(calls[c % calls.size()], kTokens - at);
      Status s = fwd.eval(std::span(tokens_).subspan(at, n), cache, std::span(all).subspan(at * V), true);
      EXPECT_TRUE(s.is_ok()) << s.message();
      if (!s) return {};
      at += n;
    }
    return all;
  }

  static std::string* path_;
  gguf::GgufFile file_;
  Model model_;
  std::unique_ptr<BufferWeights> weights_;
  std::vector<int32_t> tokens_;
};
std::string* RingKv::path_ = nullptr;

TEST_F(RingKv, RingsHoldWindowPlusPassMinusOneRows) {
  KvCache ring(model_.hp, kCtx, 32);
  EXPECT_EQ(ring.max_pass(), 32);
  EXPECT_EQ(ring.layer(0).rows(), kWindow + 31);
  EXPECT_EQ(ring.layer(1).rows(), kCtx);
  EXPECT_EQ(ring.layer(2).rows(), kWindow + 31);
  EXPECT_EQ(KvCache::bytes_needed(model_.hp, kCtx, 32),
            2u * (kCtx + 2 * (kWindow + 31)) * static_cast<uint64_t>(model_.hp.kv_dim()) * sizeof(uint16_t));
  // A pass limit past the context leaves no ring, and no limit on a pass.
  KvCache full(model_.hp, kCtx, kCtx);
  EXPECT_EQ(full.layer(0).rows(), kCtx);
  EXPECT_EQ(full.max_pass(), kCtx);
}

// One call of 150 tokens: the full cache in one pass; the ring in passes of 32 (into a ring of 47). The
// matmuls of a pass of 32 may round unlike those of one pass of 150, so the bit-exact comparison is with
// the full cache fed the same passes, and the one-pass run within float rounding.
TEST_F(RingKv, PromptInOneCallMatchesTheFullCache) {
  KvCache ring(model_.hp, kCtx, 32), full_same(model_.hp, kCtx, kCtx), full_one(model_.hp, kCtx, kCtx);
  const auto got = run(ring, {kTokens});
  ASSERT_EQ(ring.n_filled(), static_cast<int64_t>(kTokens));
  EXPECT_EQ(got, run(full_same, {32}));
  const auto want = run(full_one, {kTokens});
  ASSERT_EQ(got.size(), want.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  EXPECT_LT(std::sqrt(num / den), 1e-5);
}

// The smallest ring: max_pass 1 keeps exactly the window's 16 rows, lapped nine times by 150 tokens.
TEST_F(RingKv, TokenByTokenOnTheSmallestRing) {
  KvCache ring(model_.hp, kCtx, 1), full(model_.hp, kCtx, kCtx);
  ASSERT_EQ(ring.layer(0).rows(), kWindow);
  EXPECT_EQ(run(ring, {1}), run(full, {1}));
}

// Chunks of several sizes up to the pass limit, so passes start at every offset of the ring.
TEST_F(RingKv, ChunksOfMixedSizes) {
  KvCache ring(model_.hp, kCtx, 8), full(model_.hp, kCtx, kCtx);
  ASSERT_EQ(ring.layer(0).rows(), kWindow + 7);
  const std::vector<size_t> calls = {8, 5, 1, 3, 8, 7, 2};
  EXPECT_EQ(run(ring, calls), run(full, calls));
}

// Truncating the history: a prefix whose window is still in the ring is kept and continues exactly as the
// full cache does; one whose window the ring has partly overwritten is refused (0 kept).
TEST_F(RingKv, TruncationKeepsOnlyWhatTheRingStillHolds) {
  KvCache ring(model_.hp, kCtx, 8), full(model_.hp, kCtx, kCtx);
  run(ring, {8});
  run(full, {8});
  const int64_t n = static_cast<int64_t>(kTokens), rows = ring.layer(0).rows();  // 23: positions 127..149 held
  ASSERT_EQ(rows, kWindow + 7);
  EXPECT_EQ(ring.truncate(n - rows + kWindow - 2), 0);  // position 141 would need 126..140: 126 is overwritten
  EXPECT_EQ(ring.n_filled(), 0);
  ring.set_filled(n);
  const int64_t keep = n - rows + kWindow - 1;  // position 142 needs 127..141: the oldest rows still held
  ASSERT_EQ(ring.truncate(keep), keep);
  ASSERT_EQ(full.truncate(keep), keep);
  ThreadPool pool(2);
  kernels::CpuBackend backend(pool);
  Forward fwd(model_, *weights_, weights_.get(), backend);
  const size_t V = static_cast<size_t>(model_.hp.n_vocab), m = static_cast<size_t>(n - keep);
  std::vector<float> got(m * V), want(m * V);
  const auto rest = std::span(tokens_).subspan(static_cast<size_t>(keep));
  ASSERT_TRUE(fwd.eval(rest, ring, got, true).is_ok());
  ASSERT_TRUE(fwd.eval(rest, full, want, true).is_ok());
  EXPECT_EQ(got, want);
  // A full cache keeps any prefix.
  EXPECT_EQ(full.truncate(3), 3);
}

// The prefix cache's copy (another sequence's KV reused): a ring is copied whole and the copy continues exactly as
// the full cache; a prefix whose window the source ring has overwritten is refused (0) and leaves dst alone.
TEST_F(RingKv, CopiedPrefixContinuesOnlyWhereTheRingHoldsIt) {
  KvCache src(model_.hp, kCtx, 8), full(model_.hp, kCtx, kCtx);
  run(src, {8});
  run(full, {8});
  ThreadPool pool(2);
  kernels::CpuBackend backend(pool);
  const Placement placement = Placement::single(backend, model_);
  const int64_t n = static_cast<int64_t>(kTokens), rows = src.layer(0).rows();
  KvCache refused(model_.hp, kCtx, 8);
  EXPECT_EQ(copy_kv_prefix(placement, src, refused, n - rows + kWindow - 2), 0);
  EXPECT_EQ(refused.n_filled(), 0);
  const int64_t keep = n - rows + kWindow - 1;
  KvCache dst(model_.hp, kCtx, 8);
  ASSERT_EQ(copy_kv_prefix(placement, src, dst, keep), keep);
  ASSERT_EQ(dst.n_filled(), keep);
  ASSERT_EQ(full.truncate(keep), keep);
  Forward fwd(model_, *weights_, weights_.get(), backend);
  const size_t V = static_cast<size_t>(model_.hp.n_vocab), m = static_cast<size_t>(n - keep);
  std::vector<float> got(m * V), want(m * V);
  const auto rest = std::span(tokens_).subspan(static_cast<size_t>(keep));
  ASSERT_TRUE(fwd.eval(rest, dst, got, true).is_ok());
  ASSERT_TRUE(fwd.eval(rest, full, want, true).is_ok());
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace strata::model
