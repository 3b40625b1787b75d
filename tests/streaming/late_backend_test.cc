// tests/streaming/late_backend_test.cc: the weight-release contract on an asynchronous device. Every op runs on
// a deliberately late backend (a worker thread runs each op milliseconds after it was enqueued) while the
// weights stream through two staging slots (and a small expert cache): a slot must not be reused before the
// event recorded behind its consumer has completed. The late backend hashes each weight when a matmul is
// enqueued and again when it runs; any difference is a slot reused too early. A control run that drops the
// events (releasing at enqueue, as the old WeightRef destructor did) shows the test can see the fault.
#include <map>

#include "kernels/late_backend.h"
#include "stream_test_util.h"

namespace strata::streaming::test {
namespace {

using namespace std::chrono_literals;

const std::vector<int32_t> kTokens = {1, 300, 17, 299, 42, 301, 7};

// Forwards to a source but gives every view back at once, ignoring the consumer's event: the bug under test.
class DropEvents final : public model::WeightSource, public model::ExpertSource, private model::WeightReleaser {
 public:
  explicit DropEvents(StreamingWeights& base) : base_(base) {}
  void begin_layer(int layer) override { base_.begin_layer(layer); }
  void end_layer(int layer) override { base_.end_layer(layer); }
  Result<model::WeightRef> acquire(model::TensorId id) override { return wrap(base_.acquire(id)); }
  bool gathers_rows(model::TensorId id) const override { return base_.gathers_rows(id); }
  Result<model::WeightRef> acquire_rows(model::TensorId id, std::span<const int32_t> rows) override {
    return wrap(base_.acquire_rows(id, rows));
  }
  void on_route(int layer, std::span<const int32_t> experts) override { base_.on_route(layer, experts); }
  Result<model::WeightRef> acquire_expert(int layer, model::ExpertTensor which, int32_t e) override {
    return wrap(base_.acquire_expert(layer, which, e));
  }
  int max_held_experts() const override { return base_.max_held_experts(); }

 private:
  Result<model::WeightRef> wrap(Result<model::WeightRef> r) {
    STRATA_ASSIGN_OR_RETURN(model::WeightRef w, std::move(r));
    const TensorView v = w.view();
    held_.emplace(next_, std::move(w));
    return model::WeightRef(v, this, next_++);
  }
  void release(uint64_t handle, kernels::EventPtr) override { held_.erase(handle); }

  StreamingWeights& base_;
  std::map<uint64_t, model::WeightRef> held_;
  uint64_t next_ = 0;
};

// Every tensor's op on the late backend (backends[0], the host, only holds the caller's side of copies).
model::Placement all_on_late(const model::Model& m, kernels::Backend& host, kernels::Backend& late) {
  model::Placement p = model::Placement::single(host, m);
  p.backends.push_back(&late);
  p.decode_site.assign(m.tensors.size(), 1);
  p.prefill_site.assign(m.tensors.size(), 1);
  p.kv_site.assign(m.layers.size(), 1);
  return p;
}

std::vector<float> run_late(const Loaded& l, model::WeightSource& w, model::ExpertSource* e,
                            kernels::testing::LateBackend& late) {
  ThreadPool pool(1);
  kernels::CpuBackend host(pool);
  const model::Placement p = all_on_late(l.model, host, late);
  model::Forward fwd(l.model, w, e, p);
  model::KvCache cache(l.model.hp, 32, p);
  const int64_t V = l.model.hp.n_vocab;
  std::vector<float> all, logits(3 * V);
  EXPECT_TRUE(fwd.eval(std::span(kTokens).subspan(0, 3), cache, logits, true).is_ok());
  all.insert(all.end(), logits.begin(), logits.end());
  for (size_t i = 3; i < kTokens.size(); ++i) {
    EXPECT_TRUE(fwd.eval(std::span(kTokens).subspan(i, 1), cache, logits, false).is_ok());
    all.insert(all.end(), logits.begin(), logits.begin() + V);
  }
  return all;
}

StreamConfig tight(const model::Model& m) {
  StreamConfig c = streamed_config(m);
  c.n_slots = 2;
  c.prefetch_depth = 1;
  return c;
}

model::SynthSpec spec(int64_t experts) {
  model::SynthSpec s;
  s.layers = 3;
  s.dim = 64;
  s.heads = 4;
  s.vocab = 512;
  s.experts = experts;
  s.experts_used = 2;
  s.seed = 9;
  return s;
}

void expect_no_early_reuse(int64_t experts) {
  Loaded l = load_model(write_synth(spec(experts), testing::temp_dir(), "late.gguf"));
  const std::vector<float> want = run_resident(l, kTokens, 3);
  auto w = make_stream(l, tight(l.model));
  ASSERT_NE(w, nullptr);
  kernels::testing::LateBackend late(2, 1500us);
  const std::vector<float> got = run_late(l, *w, w.get(), late);
  EXPECT_GT(late.ops_run(), 100);
  EXPECT_EQ(late.stale_weights(), 0) << "a streamed slot was reused while an op still had to read it";
  EXPECT_TRUE(bitwise_equal(got, want)) << "logits on the late backend differ from the host's";
}

TEST(LateBackend, DenseSlotsWaitForTheirConsumers) { expect_no_early_reuse(0); }
TEST(LateBackend, ExpertEntriesWaitForTheirConsumers) { expect_no_early_reuse(4); }

TEST(LateBackend, ReleasingAtEnqueueIsCaught) {
  Loaded l = load_model(write_synth(spec(0), testing::temp_dir(), "late_control.gguf"));
  auto w = make_stream(l, tight(l.model));
  ASSERT_NE(w, nullptr);
  DropEvents dropping(*w);
  kernels::testing::LateBackend late(2, 1500us);
  (void)run_late(l, dropping, &dropping, late);
  EXPECT_GT(late.stale_weights(), 0) << "the control run should reuse slots under ops still queued";
}

}  // namespace
}  // namespace strata::streaming::test
