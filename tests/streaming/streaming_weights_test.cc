// tests/streaming/streaming_weights_test.cc: streaming changes nothing in the output: logits are bit-identical
// to the all-resident source for dense, MoE and stories260K under configurations that stream most tensors;
// the prefetch order matches the forward pass; held views survive slot pressure; aborted passes resync.
#include <algorithm>
#include <set>

#include "core/file.h"
#include "streaming/schedule.h"
#include "stream_test_util.h"

namespace strata::streaming::test {
namespace {

const std::vector<int32_t> kTokens = {1, 300, 17, 299, 42, 301, 5, 330, 77, 12};
constexpr size_t kBatch = 4;
constexpr uint64_t kPasses = 1 + (10 - kBatch);

model::SynthSpec dense_spec(const std::string& type) {
  model::SynthSpec s;
  s.layers = 3;
  s.dim = type == "F32" ? 64 : 256;  // K-quants need rows of 256
  s.heads = 4;
  s.kv_heads = 2;
  s.vocab = 512;
  s.type = type;
  s.seed = 7;
  return s;
}

model::SynthSpec moe_spec(const std::string& type) {
  model::SynthSpec s = dense_spec(type);
  s.layers = 2;
  s.experts = 8;
  s.experts_used = 2;
  s.seed = 11;
  return s;
}

// The streamed tensors read whole through the staging slots (not expert slices, not a gathered embedding).
std::vector<model::TensorId> streamed_dense(const model::Model& m, const StreamConfig& c) {
  std::vector<model::TensorId> out;
  for (model::TensorId id : c.streamed)
    if (!is_expert_tensor(m, id) && !is_row_gather(m, id)) out.push_back(id);
  return out;
}

// Runs `c` and checks the logits against `want` bit for bit, and the counters for a clean streamed run.
StreamStats expect_same_logits(const Loaded& l, const StreamConfig& c, const std::vector<float>& want,
                               const std::string& what) {
  SCOPED_TRACE(what);
  auto w = make_stream(l, c);
  if (w == nullptr) return {};
  const std::vector<float> got = run_tokens(l.model, *w, w.get(), kTokens, kBatch);
  EXPECT_TRUE(bitwise_equal(got, want)) << "streamed logits differ from resident ones";
  const StreamStats s = w->stats();
  EXPECT_EQ(s.n_passes, kPasses);
  EXPECT_EQ(s.n_unscheduled, 0u) << "the prefetch schedule disagrees with the forward pass";
  EXPECT_EQ(s.n_failed_reads, 0u);
  // Every pass reads every streamed dense tensor once; prefetch may run up to one pass ahead, no further. A
  // streamed untied embedding adds a row's aligned superset per token, never the matrix.
  const uint64_t dense = tensor_bytes(l.model, streamed_dense(l.model, c));
  const bool gathers = std::any_of(c.streamed.begin(), c.streamed.end(),
                                   [&](model::TensorId id) { return is_row_gather(l.model, id); });
  const uint64_t rows = gathers ? kTokens.size() * (model::make_view(l.model, l.model.token_embd, nullptr).row_bytes() + 8192) : 0;
  EXPECT_GE(s.bytes_read, kPasses * dense);
  EXPECT_LE(s.bytes_read, (kPasses + 1) * (dense + 8192 * c.streamed.size()) + rows +
                              (s.expert_hits + s.expert_misses + s.expert_speculative_reads + 64) * w->memory().expert_entry_bytes);
  return s;
}

TEST(StreamingEquivalence, DenseModelsUnderTightSlots) {
  const std::string dir = testing::temp_dir();
  for (const std::string type : {"F32", "Q4_K_M"}) {
    Loaded l = load_model(write_synth(dense_spec(type), dir, type + ".gguf"));
    const std::vector<float> want = run_resident(l, kTokens, kBatch);
    ASSERT_FALSE(want.empty());
    for (auto [slots, depth] : {std::pair{1, 0}, {2, 1}, {3, 2}, {2, 5}}) {
      for (io::ReaderKind kind : {io::ReaderKind::Auto, io::ReaderKind::Pread, io::ReaderKind::Memory}) {
        StreamConfig c = streamed_config(l.model);
        c.n_slots = slots;
        c.prefetch_depth = depth;
        c.io.kind = kind;
        c.io.block_bytes = 8192;  // several reads per tensor
        c.io.queue_depth = 4;
        expect_same_logits(l, c, want,
                           fmt::format("{} slots={} depth={} reader={}", type, slots, depth, io::reader_kind_name(kind)));
      }
    }
  }
}

TEST(StreamingEquivalence, MoeModelsUnderTightExpertCache) {
  const std::string dir = testing::temp_dir();
  for (const std::string type : {"F32", "Q4_K_M"}) {
    Loaded l = load_model(write_synth(moe_spec(type), dir, "moe-" + type + ".gguf"));
    const std::vector<float> want = run_resident(l, kTokens, kBatch);
    ASSERT_FALSE(want.empty());
    auto plan = plan_memory(l.model, streamed_config(l.model));
    ASSERT_TRUE(plan.is_ok()) << plan.status().message();
    const uint64_t entry = plan->expert_entry_bytes;
    const uint64_t all = static_cast<uint64_t>(l.model.hp.n_layer * l.model.hp.n_expert);
    for (uint64_t entries : {uint64_t{1}, uint64_t{2}, all}) {
      for (double speculate : {0.0, 2.0}) {
        for (io::ReaderKind kind : {io::ReaderKind::Auto, io::ReaderKind::Memory}) {
          StreamConfig c = streamed_config(l.model);
          c.expert_cache_bytes = entries * entry;
          c.speculate_min_probability = speculate;
          c.io.kind = kind;
          const std::string what =
              fmt::format("{} entries={} speculate={} reader={}", type, entries, speculate, io::reader_kind_name(kind));
          const StreamStats s = expect_same_logits(l, c, want, what);
          EXPECT_GT(s.expert_misses, 0u) << what;
          if (entries == all && speculate > 1.0) {
            // Nothing is ever evicted: each (layer, expert) is read at most once, later routes hit.
            EXPECT_LE(s.expert_misses, all) << what;
            EXPECT_GT(s.expert_hits, 0u) << what;
          }
          ASSERT_EQ(s.expert_per_pass.size(), kPasses - 1) << what;  // closed passes
          uint64_t per_pass = 0;
          for (const auto& p : s.expert_per_pass) per_pass += p.hits + p.misses;
          EXPECT_LE(per_pass, s.expert_hits + s.expert_misses) << what;
        }
      }
    }
    // Half resident: the budget helper's choice of a middle budget.
    auto mid = config_for_budget(l.model, plan->total() + l.file.total_tensor_bytes() / 3);
    ASSERT_TRUE(mid.is_ok()) << mid.status().message();
    EXPECT_FALSE(mid->resident.empty());
    EXPECT_FALSE(mid->streamed.empty());
    expect_same_logits(l, *mid, want, type + " budget config");
  }
}

TEST(StreamingEquivalence, Stories260K) {
  Loaded l = load_model(testing::shared_path("models/stories260K.gguf"));
  ASSERT_GT(l.model.hp.n_layer, 0);
  const std::vector<float> want = run_resident(l, kTokens, kBatch);
  ASSERT_FALSE(want.empty());
  for (io::ReaderKind kind : {io::ReaderKind::Auto, io::ReaderKind::Pread}) {
    StreamConfig c = streamed_config(l.model);
    c.io.kind = kind;
    expect_same_logits(l, c, want, fmt::format("all streamed, {}", io::reader_kind_name(kind)));
  }
  // A budget of a quarter of the model: most bytes stream.
  auto q = config_for_budget(l.model, l.file.total_tensor_bytes() / 4);
  ASSERT_TRUE(q.is_ok()) << q.status().message();
  EXPECT_GT(tensor_bytes(l.model, q->streamed), tensor_bytes(l.model, q->resident));
  expect_same_logits(l, *q, want, "quarter budget");
}

// Records what the forward pass asks for, serving from the resident source.
class RecordingSource final : public model::WeightSource, public model::ExpertSource {
 public:
  explicit RecordingSource(ResidentWeights& r) : r_(r) {}
  void begin_layer(int layer) override { layer_ = layer; }
  Result<model::WeightRef> acquire(model::TensorId id) override {
    reads.push_back(id);
    return r_.acquire(id);
  }
  Result<model::WeightRef> acquire_expert(int layer, model::ExpertTensor which, int32_t e) override {
    return r_.acquire_expert(layer, which, e);
  }
  std::vector<model::TensorId> reads;

 private:
  ResidentWeights& r_;
  int layer_ = 0;
};

TEST(Schedule, MatchesTheForwardPassReadOrder) {
  const std::string dir = testing::temp_dir();
  for (const model::SynthSpec& spec : {dense_spec("F32"), moe_spec("F32")}) {
    model::SynthSpec tied = spec;
    tied.tied = true;
    for (const model::SynthSpec& s : {spec, tied}) {
      Loaded l = load_model(write_synth(s, dir, "order.gguf"));
      auto r = ResidentWeights::load(l.file, l.model);
      ASSERT_TRUE(r.is_ok());
      RecordingSource rec(**r);
      run_tokens(l.model, rec, &rec, {1, 2, 3}, 3);
      std::vector<model::TensorId> want;
      for (const PassRead& p : pass_reads(l.model)) want.push_back(p.tensor);
      EXPECT_EQ(rec.reads, want) << "forward.cc's read order changed: update pass_reads()";
    }
  }
}

TEST(StagingPool, HeldViewSurvivesSlotPressure) {
  // Tied: the embedding is also the lm head, so it streams whole through a slot (an untied one is gathered).
  model::SynthSpec tied = dense_spec("F32");
  tied.tied = true;
  Loaded l = load_model(write_synth(tied, testing::temp_dir(), "m.gguf"));
  StreamConfig c = streamed_config(l.model);
  c.n_slots = 2;
  c.prefetch_depth = 3;
  auto w = make_stream(l, c);
  ASSERT_NE(w, nullptr);
  // The embedding, held for a whole pass while every other tensor streams through the one slot left.
  w->begin_layer(model::WeightSource::kGlobalLayer);
  auto embd = w->acquire(l.model.token_embd);
  ASSERT_TRUE(embd.is_ok()) << embd.status().message();
  const gguf::TensorInfo& t = l.model.tensors[l.model.token_embd];
  auto f = File::open_read(l.file.path);
  ASSERT_TRUE(f.is_ok());
  std::vector<uint8_t> want(t.size_bytes);
  ASSERT_TRUE(f->read_exact(t.file_offset, want).is_ok());
  for (int layer = 0; layer < l.model.hp.n_layer; ++layer) {
    w->begin_layer(layer);
    for (const PassRead& p : pass_reads(l.model))
      if (p.position == layer + 1) {
        auto r = w->acquire(p.tensor);
        ASSERT_TRUE(r.is_ok()) << r.status().message();
      }
    w->end_layer(layer);
    EXPECT_EQ(std::memcmp(embd->view().data, want.data(), want.size()), 0) << "slot reused while held, layer " << layer;
  }
  // With both slots held, a third acquire is refused, not deadlocked or overwritten.
  w->begin_layer(model::WeightSource::kGlobalLayer);
  auto norm = w->acquire(l.model.output_norm);
  ASSERT_TRUE(norm.is_ok()) << norm.status().message();
  auto out = w->acquire(l.model.output);
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("staging slots"), std::string::npos) << out.status().message();
  EXPECT_EQ(std::memcmp(embd->view().data, want.data(), want.size()), 0);
}

TEST(StagingPool, ResynchronisesAfterAnAbortedPass) {
  Loaded l = load_model(write_synth(dense_spec("F32"), testing::temp_dir(), "m.gguf"));
  const std::vector<float> want = run_resident(l, kTokens, kBatch);
  StreamConfig c = streamed_config(l.model);
  c.prefetch_depth = 2;
  auto w = make_stream(l, c);
  ASSERT_NE(w, nullptr);
  // A pass that stops inside layer 1 (as an error would leave it), with prefetched reads outstanding.
  w->begin_layer(model::WeightSource::kGlobalLayer);
  { auto r = w->acquire_rows(l.model.token_embd, std::span(kTokens).subspan(0, kBatch)); ASSERT_TRUE(r.is_ok()); }
  w->begin_layer(0);
  { auto r = w->acquire(l.model.layers[0].attn_norm); ASSERT_TRUE(r.is_ok()); }
  const std::vector<float> got = run_tokens(l.model, *w, w.get(), kTokens, kBatch);
  EXPECT_TRUE(bitwise_equal(got, want));
  EXPECT_EQ(w->stats().n_unscheduled, 0u);
}

TEST(StreamingWeights, OutOfOrderAcquiresStillServeTheRightBytes) {
  Loaded l = load_model(write_synth(dense_spec("F32"), testing::temp_dir(), "m.gguf"));
  StreamConfig c = streamed_config(l.model);
  c.n_slots = 1;
  auto w = make_stream(l, c);
  ASSERT_NE(w, nullptr);
  auto f = File::open_read(l.file.path);
  ASSERT_TRUE(f.is_ok());
  w->begin_layer(1);
  // Reverse order: nothing the prefetcher expects.
  const auto reads = pass_reads(l.model);
  for (auto it = reads.rbegin(); it != reads.rend(); ++it) {
    if (w->gathers_rows(it->tensor)) continue;  // the untied embedding is only ever gathered
    const gguf::TensorInfo& t = l.model.tensors[it->tensor];
    auto r = w->acquire(it->tensor);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    std::vector<uint8_t> want(t.size_bytes);
    ASSERT_TRUE(f->read_exact(t.file_offset, want).is_ok());
    EXPECT_EQ(std::memcmp(r->view().data, want.data(), want.size()), 0) << t.name;
  }
  EXPECT_GT(w->stats().n_unscheduled, 0u);
}

}  // namespace
}  // namespace strata::streaming::test
