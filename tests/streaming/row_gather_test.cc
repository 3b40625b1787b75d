// tests/streaming/row_gather_test.cc: a streamed untied token embedding is read as a gather of the pass's rows:
// logits bit-identical to the all-resident source, one row's aligned superset read per decoded token (not the
// matrix), staging slots sized without it, bad indices and misuse refused; a tied embedding (also the lm head)
// still streams whole.
#include <algorithm>
#include <set>

#include "core/file.h"
#include "streaming/schedule.h"
#include "stream_test_util.h"

namespace strata::streaming::test {
namespace {

// A vocabulary large enough that the embedding dwarfs every layer tensor; tokens at both ends of it, repeats,
// and neighbours whose rows share blocks.
model::SynthSpec big_vocab_spec(bool tied = false) {
  model::SynthSpec s;
  s.layers = 2;
  s.dim = 64;
  s.heads = 4;
  s.kv_heads = 2;
  s.vocab = 8192;
  s.seed = 21;
  s.tied = tied;
  return s;
}

const std::vector<int32_t> kTokens = {8191, 0, 17, 17, 18, 4000, 42, 8191, 3, 5000};
constexpr size_t kBatch = 5;

uint64_t row_read_bytes(const model::Model& m, int32_t row, uint64_t alignment = 4096) {
  const TensorView v = model::make_view(m, m.token_embd, nullptr);
  const uint64_t offset = m.tensors[m.token_embd].file_offset + static_cast<uint64_t>(row) * v.row_bytes();
  return io::align_span(offset, v.row_bytes(), alignment).length;
}

// Everything resident except the embedding: every byte read after load is the gather's.
StreamConfig only_embedding_streamed(const model::Model& m) {
  StreamConfig c = resident_config(m);
  std::erase(c.resident, m.token_embd);
  c.streamed = {m.token_embd};
  return c;
}

TEST(RowGather, StreamedEmbeddingReadsOneRowPerDecodedToken) {
  Loaded l = load_model(write_synth(big_vocab_spec(), testing::temp_dir(), "gather.gguf"));
  const model::Model& m = l.model;
  const std::vector<float> want = run_resident(l, kTokens, kBatch);
  ASSERT_FALSE(want.empty());
  const uint64_t embd_bytes = m.tensors[m.token_embd].size_bytes;
  for (io::ReaderKind kind : {io::ReaderKind::Auto, io::ReaderKind::Pread, io::ReaderKind::Memory}) {
    SCOPED_TRACE(io::reader_kind_name(kind));
    StreamConfig c = only_embedding_streamed(m);
    c.io.kind = kind;
    auto w = make_stream(l, c);
    ASSERT_NE(w, nullptr);
    EXPECT_TRUE(w->gathers_rows(m.token_embd));
    EXPECT_EQ(w->memory().staging_bytes(), 0u) << "no staging slot is sized for the embedding";

    ThreadPool pool(2);
    kernels::CpuBackend backend(pool);
    model::Forward fwd(m, *w, w.get(), backend);
    model::KvCache cache(m.hp, 64);
    const int64_t V = m.hp.n_vocab;
    std::vector<float> got, logits(kBatch * V);
    ASSERT_TRUE(fwd.eval(std::span(kTokens).subspan(0, kBatch), cache, logits, true).is_ok());
    got.insert(got.end(), logits.begin(), logits.end());
    const StreamStats after_prompt = w->stats();
    // The prompt: each distinct row once, neighbours sharing their reads; never the matrix.
    const std::set<int32_t> distinct(kTokens.begin(), kTokens.begin() + kBatch);
    uint64_t prompt_most = 0;
    for (int32_t t : distinct) prompt_most += row_read_bytes(m, t);
    EXPECT_LE(after_prompt.bytes_read, prompt_most);
    EXPECT_GE(after_prompt.bytes_read, distinct.size() * model::make_view(m, m.token_embd, nullptr).row_bytes());
    // Each decoded token: exactly its row's aligned superset.
    uint64_t decode_want = 0;
    for (size_t i = kBatch; i < kTokens.size(); ++i) {
      ASSERT_TRUE(fwd.eval(std::span(kTokens).subspan(i, 1), cache, logits, false).is_ok());
      got.insert(got.end(), logits.begin(), logits.begin() + V);
      decode_want += row_read_bytes(m, kTokens[i]);
    }
    const StreamStats s = w->stats();
    const uint64_t n_decoded = kTokens.size() - kBatch;
    EXPECT_EQ(s.bytes_read - after_prompt.bytes_read, decode_want)
        << "per decoded token: " << (s.bytes_read - after_prompt.bytes_read) / n_decoded << " bytes read, against "
        << embd_bytes << " for the whole embedding";
    EXPECT_EQ(s.n_passes, 1 + n_decoded);
    EXPECT_EQ(s.n_failed_reads, 0u);
    EXPECT_TRUE(bitwise_equal(got, want)) << "gathered logits differ from resident ones";
  }
}

TEST(RowGather, StagingSlotsAreNotSizedByTheEmbedding) {
  Loaded l = load_model(write_synth(big_vocab_spec(), testing::temp_dir(), "gather_slots.gguf"));
  const model::Model& m = l.model;
  StreamConfig c = streamed_config(m);
  std::erase(c.streamed, m.output);  // the lm head is as large as the embedding: keep it out of the slots too
  c.resident.push_back(m.output);
  auto plan = plan_memory(m, c);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  uint64_t largest_layer_tensor = 0;
  for (model::TensorId id : c.streamed)
    if (id != m.token_embd) largest_layer_tensor = std::max(largest_layer_tensor, m.tensors[id].size_bytes);
  const uint64_t embd_bytes = m.tensors[m.token_embd].size_bytes;
  ASSERT_GT(embd_bytes, 8 * largest_layer_tensor);
  EXPECT_LT(plan->slot_bytes, largest_layer_tensor + 8192) << "slots sized by the embedding";
  EXPECT_LT(plan->total(), m.tensors[m.output].size_bytes + embd_bytes / 2);
  // And the whole configuration, streaming every layer tensor beside the gather, gives the resident logits.
  const std::vector<float> want = run_resident(l, kTokens, kBatch);
  auto w = make_stream(l, c);
  ASSERT_NE(w, nullptr);
  const std::vector<float> got = run_tokens(m, *w, w.get(), kTokens, kBatch);
  EXPECT_TRUE(bitwise_equal(got, want));
  const StreamStats s = w->stats();
  EXPECT_EQ(s.n_unscheduled, 0u);
  // Every pass reads the layer tensors (prefetch may run one pass ahead) and a few rows; not the embedding.
  const uint64_t layers = tensor_bytes(m, c.streamed) - embd_bytes;
  EXPECT_LE(s.bytes_read, (s.n_passes + 1) * (layers + 8192 * c.streamed.size()) + kTokens.size() * 8192);
}

TEST(RowGather, ATiedEmbeddingStreamsWhole) {
  // Tied, the embedding is also the lm head, which multiplies the whole matrix: no gather, a slot holds it.
  Loaded l = load_model(write_synth(big_vocab_spec(/*tied=*/true), testing::temp_dir(), "gather_tied.gguf"));
  const model::Model& m = l.model;
  ASSERT_EQ(m.output, m.token_embd);
  EXPECT_FALSE(is_row_gather(m, m.token_embd));
  const StreamConfig c = streamed_config(m);
  auto w = make_stream(l, c);
  ASSERT_NE(w, nullptr);
  EXPECT_FALSE(w->gathers_rows(m.token_embd));
  EXPECT_GE(w->memory().slot_bytes, m.tensors[m.token_embd].size_bytes);
  const std::vector<float> want = run_resident(l, kTokens, kBatch);
  EXPECT_TRUE(bitwise_equal(run_tokens(m, *w, w.get(), kTokens, kBatch), want));
}

TEST(RowGather, ViewsHoldTheAskedRowsAndMisuseIsRefused) {
  Loaded l = load_model(write_synth(big_vocab_spec(), testing::temp_dir(), "gather_rows.gguf"));
  const model::Model& m = l.model;
  auto w = make_stream(l, only_embedding_streamed(m));
  ASSERT_NE(w, nullptr);
  const gguf::TensorInfo& t = m.tensors[m.token_embd];
  auto f = File::open_read(l.file.path);
  ASSERT_TRUE(f.is_ok());
  std::vector<uint8_t> file_rows(t.size_bytes);
  ASSERT_TRUE(f->read_exact(t.file_offset, file_rows).is_ok());
  const uint64_t row_bytes = model::make_view(m, m.token_embd, nullptr).row_bytes();

  w->begin_layer(model::WeightSource::kGlobalLayer);
  const std::vector<int32_t> rows = {8191, 0, 5, 5, 6, 4095, 4096};
  {
    auto r = w->acquire_rows(m.token_embd, rows);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    EXPECT_EQ(r->view().ne[0], m.hp.n_embd);
    EXPECT_EQ(r->view().ne[1], static_cast<int64_t>(rows.size()));
    for (size_t i = 0; i < rows.size(); ++i)
      EXPECT_EQ(std::memcmp(r->view().row(static_cast<int64_t>(i)), file_rows.data() + rows[i] * row_bytes, row_bytes), 0)
          << "row " << i << " (" << rows[i] << ")";
    // One gather at a time: a second while the first is held would overwrite its bytes.
    const int32_t one = 1;
    auto again = w->acquire_rows(m.token_embd, std::span(&one, 1));
    ASSERT_FALSE(again.is_ok());
    EXPECT_TRUE(again.status().is_internal()) << again.status().to_string();
  }
  // An index past the vocabulary names the tensor and the row.
  const int32_t past = 8192;
  auto bad = w->acquire_rows(m.token_embd, std::span(&past, 1));
  ASSERT_FALSE(bad.is_ok());
  EXPECT_TRUE(bad.status().is_out_of_range()) << bad.status().to_string();
  EXPECT_NE(bad.status().message().find("token_embd.weight"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("8192"), std::string::npos) << bad.status().message();
  // Whole, it is not served (no slot could hold it), nor is a gather of a tensor that is not one.
  auto whole = w->acquire(m.token_embd);
  ASSERT_FALSE(whole.is_ok());
  EXPECT_FALSE(w->gathers_rows(m.output));
  auto other = w->acquire_rows(m.output, std::span(&past, 1));
  EXPECT_FALSE(other.is_ok());
  // After all that, a gather serves the right rows again.
  auto r = w->acquire_rows(m.token_embd, std::span(rows).subspan(0, 2));
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(std::memcmp(r->view().row(1), file_rows.data(), row_bytes), 0);
}

}  // namespace
}  // namespace strata::streaming::test
