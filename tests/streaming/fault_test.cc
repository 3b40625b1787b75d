// tests/streaming/fault_test.cc: failing reads (EIO, short reads, a file that shrinks or changes during a run)
// reach Forward::eval as a Status naming the file and tensor, with no crash and no garbage logits.
#include <filesystem>
#include <unistd.h>

#include "io/memory_reader.h"
#include "streaming/schedule.h"
#include "stream_test_util.h"

namespace strata::streaming::test {
namespace {

const std::vector<int32_t> kTokens = {1, 300, 17, 299, 42, 301};

model::SynthSpec spec(int64_t experts) {
  model::SynthSpec s;
  s.layers = 3;
  s.dim = 64;
  s.heads = 4;
  s.vocab = 512;
  s.experts = experts;
  s.experts_used = 2;
  s.seed = 5;
  return s;
}

std::vector<uint8_t> slurp(const std::string& path) {
  std::vector<uint8_t> b(std::filesystem::file_size(path));
  FILE* f = std::fopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr);
  if (f) {
    EXPECT_EQ(std::fread(b.data(), 1, b.size(), f), b.size());
    std::fclose(f);
  }
  return b;
}

struct Faulty {
  std::shared_ptr<io::MemoryFaults> faults = std::make_shared<io::MemoryFaults>();
  std::unique_ptr<StreamingWeights> w;
};

Faulty make_faulty(const Loaded& l, StreamConfig c) {
  Faulty f;
  auto w = make_streaming_weights(l.file, l.model, c, io::make_memory_reader(slurp(l.file.path), l.file.path, f.faults));
  EXPECT_TRUE(w.is_ok()) << w.status().message();
  if (w.is_ok()) f.w = std::move(w).value();
  return f;
}

bool contains(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

TEST(StreamingFaults, ReadErrorsNameTheTensorAndTheRunRecovers) {
  Loaded l = load_model(write_synth(spec(0), testing::temp_dir(), "dense.gguf"));
  const std::vector<float> want = run_resident(l, kTokens, 3);
  Faulty f = make_faulty(l, streamed_config(l.model));
  ASSERT_NE(f.w, nullptr);
  const gguf::TensorInfo& victim = l.model.tensors[l.model.layers[1].ffn_up];
  // A bad byte in the middle: the aligned reads of its neighbours do not reach it.
  f.faults->eio_begin = victim.file_offset + victim.size_bytes / 2;
  f.faults->eio_end = f.faults->eio_begin + 1;
  Status s;
  run_tokens(l.model, *f.w, f.w.get(), kTokens, 3, &s);
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(contains(s, "Input/output error")) << s.message();
  EXPECT_TRUE(contains(s, victim.name)) << s.message();
  EXPECT_GT(f.w->stats().n_failed_reads, 0u);
  // The fault clears: the same source serves a fresh run, bit for bit.
  f.faults->eio_begin = f.faults->eio_end = UINT64_MAX;
  EXPECT_TRUE(bitwise_equal(run_tokens(l.model, *f.w, f.w.get(), kTokens, 3), want));
}

TEST(StreamingFaults, GatherReadErrorsNameTheEmbeddingAndTheRunRecovers) {
  Loaded l = load_model(write_synth(spec(0), testing::temp_dir(), "dense.gguf"));
  const std::vector<float> want = run_resident(l, kTokens, 3);
  Faulty f = make_faulty(l, streamed_config(l.model));
  ASSERT_NE(f.w, nullptr);
  ASSERT_TRUE(f.w->gathers_rows(l.model.token_embd));
  // A bad byte inside the row of token 299 (decoded after the prompt): its gather fails, naming the tensor.
  const gguf::TensorInfo& embd = l.model.tensors[l.model.token_embd];
  const uint64_t row_bytes = model::make_view(l.model, l.model.token_embd, nullptr).row_bytes();
  f.faults->eio_begin = embd.file_offset + 299 * row_bytes + row_bytes / 2;
  f.faults->eio_end = f.faults->eio_begin + 1;
  Status s;
  run_tokens(l.model, *f.w, f.w.get(), kTokens, 3, &s);
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(contains(s, "Input/output error")) << s.message();
  EXPECT_TRUE(contains(s, embd.name)) << s.message();
  f.faults->eio_begin = f.faults->eio_end = UINT64_MAX;
  EXPECT_TRUE(bitwise_equal(run_tokens(l.model, *f.w, f.w.get(), kTokens, 3), want));
  // Short reads of rows are completed, not passed on.
  f.faults->max_read_bytes = 100;
  EXPECT_TRUE(bitwise_equal(run_tokens(l.model, *f.w, f.w.get(), kTokens, 3), want));
}

TEST(StreamingFaults, ShortReadsAreCompletedAndShrinkingIsAnError) {
  Loaded l = load_model(write_synth(spec(0), testing::temp_dir(), "dense.gguf"));
  const std::vector<float> want = run_resident(l, kTokens, 3);
  Faulty f = make_faulty(l, streamed_config(l.model));
  ASSERT_NE(f.w, nullptr);
  f.faults->max_read_bytes = 777;  // every read short: resubmitted until whole
  EXPECT_TRUE(bitwise_equal(run_tokens(l.model, *f.w, f.w.get(), kTokens, 3), want));
  f.faults->visible_size = l.model.tensors[l.model.layers[2].attn_q].file_offset + 10;
  Status s;
  run_tokens(l.model, *f.w, f.w.get(), kTokens, 3, &s);
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(contains(s, "shorter")) << s.message();
  EXPECT_TRUE(contains(s, "blk.2.attn_q")) << s.message();
}

TEST(StreamingFaults, ExpertReadErrors) {
  Loaded l = load_model(write_synth(spec(8), testing::temp_dir(), "moe.gguf"));
  StreamConfig c = streamed_config(l.model);
  c.speculate_min_probability = 2.0;
  Faulty f = make_faulty(l, c);
  ASSERT_NE(f.w, nullptr);
  // Fail every expert slice of layer 0's stacked up tensor (away from its aligned neighbours).
  const gguf::TensorInfo& up = l.model.tensors[l.model.layers[0].ffn_exps[1]];
  f.faults->eio_begin = up.file_offset + 4096;
  f.faults->eio_end = up.file_offset + up.size_bytes - 4096;
  Status s;
  run_tokens(l.model, *f.w, f.w.get(), kTokens, 3, &s);
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(contains(s, "expert")) << s.message();
  EXPECT_TRUE(contains(s, up.name)) << s.message();
  f.faults->eio_begin = f.faults->eio_end = UINT64_MAX;
  EXPECT_TRUE(bitwise_equal(run_tokens(l.model, *f.w, f.w.get(), kTokens, 3), run_resident(l, kTokens, 3)));
  // A reader that fails everything from now on.
  f.faults->fail_after_requests = 0;
  run_tokens(l.model, *f.w, f.w.get(), kTokens, 3, &s);
  EXPECT_FALSE(s.is_ok());
}

TEST(StreamingFaults, AChangedFileFailsEveryLaterPass) {
  Loaded l = load_model(write_synth(spec(0), testing::temp_dir(), "dense.gguf"));
  Faulty f = make_faulty(l, streamed_config(l.model));
  ASSERT_NE(f.w, nullptr);
  f.faults->changed = true;
  Status s;
  run_tokens(l.model, *f.w, f.w.get(), kTokens, 3, &s);
  ASSERT_FALSE(s.is_ok());
  EXPECT_TRUE(contains(s, "changed")) << s.message();
  f.faults->changed = false;  // it stays untrusted
  run_tokens(l.model, *f.w, f.w.get(), kTokens, 3, &s);
  EXPECT_TRUE(contains(s, "changed")) << s.message();
}

// Truncates the model file when the pass reaches a layer, mid-pass, then serves from the streaming source.
class TruncateAt final : public model::WeightSource {
 public:
  TruncateAt(StreamingWeights& w, std::string path, int layer, off_t size)
      : w_(w), path_(std::move(path)), layer_(layer), size_(size) {}
  void begin_layer(int layer) override {
    if (layer == layer_ && !done_) {
      EXPECT_EQ(::truncate(path_.c_str(), size_), 0);
      done_ = true;
    }
    w_.begin_layer(layer);
  }
  void end_layer(int layer) override { w_.end_layer(layer); }
  Result<model::WeightRef> acquire(model::TensorId id) override { return w_.acquire(id); }
  bool gathers_rows(model::TensorId id) const override { return w_.gathers_rows(id); }
  Result<model::WeightRef> acquire_rows(model::TensorId id, std::span<const int32_t> rows) override {
    return w_.acquire_rows(id, rows);
  }

 private:
  StreamingWeights& w_;
  std::string path_;
  int layer_;
  off_t size_;
  bool done_ = false;
};

TEST(StreamingFaults, RealFileTruncatedDuringARun) {
  for (io::ReaderKind kind : {io::ReaderKind::Pread, io::ReaderKind::IoUring}) {
    if (kind == io::ReaderKind::IoUring && !io::io_uring_available()) continue;
    SCOPED_TRACE(io::reader_kind_name(kind));
    const std::string path = write_synth(spec(0), testing::temp_dir(), "trunc.gguf");
    Loaded l = load_model(path);
    StreamConfig c = streamed_config(l.model);
    c.n_slots = 1;
    c.prefetch_depth = 0;  // nothing of layer 2 is read before the truncation
    c.io.kind = kind;
    auto w = make_stream(l, c);
    ASSERT_NE(w, nullptr);
    // Between passes: the next pass sees the file changed.
    Status s;
    run_tokens(l.model, *w, w.get(), {1, 2}, 2, &s);
    ASSERT_TRUE(s.is_ok()) << s.message();
    // During a pass: the reads of layer 2 hit the new end of file.
    auto w2 = make_stream(l, c);
    ASSERT_NE(w2, nullptr);
    TruncateAt trunc(*w2, path, 2, static_cast<off_t>(l.model.tensors[l.model.layers[2].attn_norm].file_offset));
    run_tokens(l.model, trunc, nullptr, {1, 2}, 2, &s);
    ASSERT_FALSE(s.is_ok());
    EXPECT_TRUE(contains(s, "shorter")) << s.message();
    EXPECT_TRUE(contains(s, "blk.2.")) << s.message();
    EXPECT_TRUE(contains(s, "trunc.gguf")) << s.message();
    run_tokens(l.model, *w, w.get(), {1, 2}, 2, &s);
    ASSERT_FALSE(s.is_ok());
    EXPECT_TRUE(contains(s, "changed")) << s.message();
    // A fresh source refuses the file outright.
    auto again = make_streaming_weights(l.file, l.model, c);
    ASSERT_FALSE(again.is_ok());
    EXPECT_TRUE(contains(again.status(), "changed size")) << again.status().message();
  }
}

}  // namespace
}  // namespace strata::streaming::test
