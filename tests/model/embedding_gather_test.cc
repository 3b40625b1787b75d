// tests/model/embedding_gather_test.cc: the row-gather seam of WeightSource. A source that says it gathers the
// embedding is asked for exactly the rows of the pass's tokens (every sequence's, in order) and never for the
// whole matrix, and the logits are those of a source serving it whole, bit for bit; a tied embedding (the lm
// head too) is never gathered by a source that does not say so.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "core/thread_pool.h"
#include "kernels/cpu/backend_cpu.h"
#include "model/buffer_weights.h"
#include "model/forward.h"
#include "model/synth.h"
#include "model/model_test_util.h"
#include "support/test_support.h"
#include "tensor/dtype.h"

namespace strata::model {
namespace {

using testing_util::Loaded;

Loaded load(const SynthSpec& spec, const std::string& name) {
  const std::string path = testing::temp_dir() + "/" + name;
  auto written = write_synth_model(spec, path);
  EXPECT_TRUE(written.is_ok()) << written.status().message();
  return testing_util::load(path);
}

// Serves the embedding a row at a time into its own packed buffer (a fresh one per pass, so a view of a
// stale pass would read freed rows under a sanitizer), and refuses it whole.
class GatherWeights final : public BufferWeights {
 public:
  GatherWeights(const Model& m, std::vector<uint8_t> bytes) : BufferWeights(m, bytes), m_(m), bytes_(std::move(bytes)) {}
  bool gathers_rows(TensorId id) const override { return id == m_.token_embd; }
  Result<WeightRef> acquire(TensorId id) override {
    if (id == m_.token_embd) return error(ErrorKind::Internal, "the embedding was asked for whole");
    return BufferWeights::acquire(id);
  }
  Result<WeightRef> acquire_rows(TensorId id, std::span<const int32_t> rows) override {
    if (id != m_.token_embd) return error(ErrorKind::Internal, "a gather of tensor {}", id);
    asked.emplace_back(rows.begin(), rows.end());
    TensorView v = make_view(m_, id, nullptr);
    const uint64_t row_bytes = v.row_bytes();
    packed_.assign(row_bytes * rows.size(), 0);
    const uint8_t* base = bytes_.data() + m_.tensors[id].file_offset;
    for (size_t i = 0; i < rows.size(); ++i)
      std::memcpy(packed_.data() + i * row_bytes, base + static_cast<uint64_t>(rows[i]) * row_bytes, row_bytes);
    v.data = packed_.data();
    v.ne[1] = static_cast<int64_t>(rows.size());
    return WeightRef(v);
  }
  std::vector<std::vector<int32_t>> asked;  // the rows of each gather, in the order asked

 private:
  const Model& m_;
  std::vector<uint8_t> bytes_;
  std::vector<uint8_t> packed_;
};

const std::vector<int32_t> kPrompt = {1, 300, 17, 17, 511, 0};
const std::vector<int32_t> kDecode = {42, 7, 7};

// The prompt as one batch, then single tokens; every position's logits.
std::vector<float> run(const Model& m, WeightSource& w, ExpertSource* e) {
  ThreadPool pool(2);
  kernels::CpuBackend backend(pool);
  Forward fwd(m, w, e, backend);
  KvCache cache(m.hp, 32);
  const int64_t V = m.hp.n_vocab;
  std::vector<float> all, logits(kPrompt.size() * V);
  Status s = fwd.eval(kPrompt, cache, logits, true);
  EXPECT_TRUE(s.is_ok()) << s.message();
  all.insert(all.end(), logits.begin(), logits.end());
  for (int32_t t : kDecode) {
    s = fwd.eval(std::span(&t, 1), cache, logits, false);
    EXPECT_TRUE(s.is_ok()) << s.message();
    all.insert(all.end(), logits.begin(), logits.begin() + V);
  }
  return all;
}

SynthSpec spec(int64_t experts) {
  SynthSpec s;
  s.layers = 2;
  s.vocab = 512;
  s.experts = experts;
  s.seed = 3;
  return s;
}

TEST(EmbeddingGather, AGatheringSourceIsAskedForThePassRowsOnly) {
  for (int64_t experts : {0, 4}) {
    SCOPED_TRACE(experts);
    Loaded l = load(spec(experts), "gather.gguf");
    BufferWeights whole(l.model, l.bytes);
    const std::vector<float> want = run(l.model, whole, &whole);
    GatherWeights gather(l.model, l.bytes);
    const std::vector<float> got = run(l.model, gather, &gather);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0) << "gathered logits differ";
    ASSERT_EQ(gather.asked.size(), 1 + kDecode.size());
    EXPECT_EQ(gather.asked[0], kPrompt);
    for (size_t i = 0; i < kDecode.size(); ++i) EXPECT_EQ(gather.asked[1 + i], std::vector<int32_t>{kDecode[i]});
  }
}

TEST(EmbeddingGather, ABatchOfSequencesGathersTheirTokensConcatenated) {
  Loaded l = load(spec(0), "gather_batch.gguf");
  GatherWeights gather(l.model, l.bytes);
  BufferWeights whole(l.model, l.bytes);
  ThreadPool pool(2);
  kernels::CpuBackend backend(pool);
  const int64_t V = l.model.hp.n_vocab;
  const std::vector<int32_t> a = {5, 6, 7}, b = {500, 6};
  std::vector<std::vector<float>> logits;
  for (WeightSource* w : {static_cast<WeightSource*>(&whole), static_cast<WeightSource*>(&gather)}) {
    Forward fwd(l.model, *w, nullptr, backend);
    KvCache ca(l.model.hp, 32), cb(l.model.hp, 32);
    std::vector<float> la(V), lb(V);
    const std::vector<SeqInput> seqs = {{a, &ca, la}, {b, &cb, lb}};
    const Status s = fwd.eval_batch(seqs);
    ASSERT_TRUE(s.is_ok()) << s.message();
    la.insert(la.end(), lb.begin(), lb.end());
    logits.push_back(std::move(la));
  }
  EXPECT_EQ(std::memcmp(logits[0].data(), logits[1].data(), logits[0].size() * sizeof(float)), 0);
  ASSERT_EQ(gather.asked.size(), 1u);
  EXPECT_EQ(gather.asked[0], (std::vector<int32_t>{5, 6, 7, 500, 6}));
}

TEST(EmbeddingGather, WholeTensorSourcesAreNeverAskedToGather) {
  // The default answers no, and a gather asked of it anyway is an internal error, not a wrong view.
  SynthSpec tied = spec(0);
  tied.tied = true;
  Loaded l = load(tied, "gather_tied.gguf");
  BufferWeights whole(l.model, l.bytes);
  EXPECT_FALSE(whole.gathers_rows(l.model.token_embd));
  const int32_t row = 3;
  auto r = whole.acquire_rows(l.model.token_embd, std::span(&row, 1));
  ASSERT_FALSE(r.is_ok());
  EXPECT_TRUE(r.status().is_internal()) << r.status().to_string();
}

}  // namespace
}  // namespace strata::model
