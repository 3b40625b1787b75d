// tests/streaming/expert_cache_test.cc: the expert cache on its own: an entry counts as cached only once its
// reads have arrived; eviction weighs frequency against recency (LRFU) as configured; speculative reads
// never evict routed experts and count as used only when routed.
#include <deque>

#include "streaming/expert_cache.h"
#include "streaming/io_queue.h"
#include "io/memory_reader.h"
#include "stream_test_util.h"

namespace strata::streaming::test {
namespace {

// A reader whose reads land only when the consumer waits: nothing arrives behind the cache's back.
class DeferredReader final : public io::Reader {
 public:
  DeferredReader(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  std::string_view kind_name() const override { return "deferred"; }
  bool direct() const override { return true; }
  uint64_t alignment() const override { return 4096; }
  uint64_t file_size() const override { return bytes_.size(); }
  const std::string& path() const override { return path_; }
  Status submit(const io::ReadRequest& r) override {
    queued_.push_back(r);
    return Status::ok();
  }
  Result<io::ReadCompletion> wait() override {
    if (queued_.empty()) return error("nothing in flight");
    const io::ReadRequest r = queued_.front();
    queued_.pop_front();
    const uint64_t n = std::min<uint64_t>(r.length, bytes_.size() - r.offset);
    std::memcpy(r.dest, bytes_.data() + r.offset, n);
    ++landed;
    return io::ReadCompletion{r.tag, n, Status::ok()};
  }
  Result<std::optional<io::ReadCompletion>> poll() override { return std::optional<io::ReadCompletion>(); }
  size_t in_flight() const override { return queued_.size(); }
  Status check_unchanged() override { return Status::ok(); }
  int landed = 0;

 private:
  std::vector<uint8_t> bytes_;
  std::string path_ = "deferred";
  std::deque<io::ReadRequest> queued_;
};

std::vector<uint8_t> file_bytes(const std::string& path) {
  auto r = io::open_memory_reader(path);
  EXPECT_TRUE(r.is_ok());
  std::vector<uint8_t> b((*r)->file_size());
  AlignedBuffer buf((b.size() + 4095) / 4096 * 4096, 4096);
  EXPECT_TRUE((*r)->submit({0, buf.size(), b.size(), buf.data(), 0}).is_ok());
  EXPECT_TRUE((*r)->wait().is_ok());
  std::memcpy(b.data(), buf.data(), b.size());
  return b;
}

struct Fixture {
  Loaded l;
  std::vector<uint8_t> bytes;
  std::unique_ptr<IoQueue> io;
  DeferredReader* reader = nullptr;
  std::unique_ptr<ExpertCache> cache;
  uint64_t entry_bytes = 0;

  Fixture(int n_entries, double decay) {
    model::SynthSpec s;
    s.layers = 2;
    s.dim = 64;
    s.heads = 4;
    s.vocab = 512;
    s.experts = 8;
    s.experts_used = 2;
    l = load_model(write_synth(s, testing::temp_dir(), "moe.gguf"));
    bytes = file_bytes(l.file.path);
    auto r = std::make_unique<DeferredReader>(bytes);
    reader = r.get();
    io = std::make_unique<IoQueue>(std::move(r));
    const StreamConfig c = streamed_config(l.model);
    entry_bytes = plan_memory(l.model, c)->expert_entry_bytes;
    std::vector<bool> streamed(l.model.tensors.size(), true);
    cache = std::make_unique<ExpertCache>(l.model, streamed, *io, n_entries, entry_bytes, decay);
    io->set_handler(IoQueue::Client::Experts, [this](uint64_t t, const Status& st) { cache->complete(t, st); });
  }
  // Reads still queued land in the cache's memory: they finish before the cache goes (owners drain first).
  ~Fixture() { (void)io->drain(); }
  // Routes one expert and consumes it as the forward pass does; checks the bytes it serves.
  void use(int layer, int32_t e) {
    cache->on_route(layer, std::vector<int32_t>{e});
    for (auto which : {model::ExpertTensor::Gate, model::ExpertTensor::Up, model::ExpertTensor::Down}) {
      auto a = cache->acquire(layer, which, e);
      ASSERT_TRUE(a.is_ok()) << a.status().message();
      const model::TensorId id = l.model.layers[layer].ffn_exps[static_cast<int>(which)];
      const TensorView want = model::make_view(l.model, id, bytes.data() + l.model.tensors[id].file_offset).slice_last(e);
      EXPECT_EQ(std::memcmp(a->view.data, want.data, want.size_bytes()), 0);
      EXPECT_EQ(a->view.ne, want.ne);
      cache->release(a->entry);
    }
  }
};

TEST(ExpertCache, CachedOnlyOnceArrived) {
  Fixture f(4, 0.5);
  f.cache->begin_pass();
  f.cache->on_route(0, std::vector<int32_t>{3, 5});
  EXPECT_TRUE(f.cache->contains(0, 3));
  EXPECT_FALSE(f.cache->ready(0, 3)) << "marked cached before its data arrived";
  EXPECT_EQ(f.reader->landed, 0);
  auto a = f.cache->acquire(0, model::ExpertTensor::Up, 3);  // waits for the reads
  ASSERT_TRUE(a.is_ok());
  EXPECT_TRUE(f.cache->ready(0, 3));
  EXPECT_GE(f.reader->landed, 3);
  f.cache->release(a->entry);
  EXPECT_EQ(f.cache->counters().misses, 2u);
  EXPECT_EQ(f.cache->counters().hits, 0u);
}

TEST(ExpertCache, EvictionWeighsFrequencyAgainstRecency) {
  for (double decay : {0.5, 50.0}) {
    Fixture f(2, decay);
    // (0, 0) is used on four passes; (1, 5) once, later.
    for (int pass = 0; pass < 4; ++pass) {
      f.cache->begin_pass();
      f.use(0, 0);
    }
    f.use(1, 5);
    f.cache->begin_pass();
    f.use(0, 1);  // needs a victim
    if (decay < 1) {
      EXPECT_TRUE(f.cache->contains(0, 0)) << "LRFU keeps the frequent expert";
      EXPECT_FALSE(f.cache->contains(1, 5));
    } else {
      EXPECT_FALSE(f.cache->contains(0, 0)) << "a fast decay is LRU: the least recent goes";
      EXPECT_TRUE(f.cache->contains(1, 5));
    }
    EXPECT_EQ(f.cache->counters().hits, 3u);
  }
}

TEST(ExpertCache, SpeculationNeverEvictsRoutedExperts) {
  Fixture f(2, 0.5);
  f.cache->begin_pass();
  f.cache->on_route(0, std::vector<int32_t>{1, 2});  // both entries pinned until consumed
  const std::vector<std::pair<int32_t, double>> guess = {{6, 0.99}};
  f.cache->speculate(1, guess);
  EXPECT_FALSE(f.cache->contains(1, 6));
  EXPECT_EQ(f.cache->counters().speculative_reads, 0u);
  for (int32_t e : {1, 2})
    for (auto which : {model::ExpertTensor::Gate, model::ExpertTensor::Up, model::ExpertTensor::Down}) {
      auto a = f.cache->acquire(0, which, e);
      ASSERT_TRUE(a.is_ok());
      f.cache->release(a->entry);
    }
  // Consumed now: a confident guess may take a slot, a weak one may not displace a used expert.
  const std::vector<std::pair<int32_t, double>> weak = {{7, 0.01}};
  f.cache->speculate(1, weak);
  EXPECT_FALSE(f.cache->contains(1, 7));
  f.cache->speculate(1, guess);
  EXPECT_TRUE(f.cache->contains(1, 6));
  EXPECT_EQ(f.cache->counters().speculative_reads, 1u);
  f.use(1, 6);
  EXPECT_EQ(f.cache->counters().speculative_used, 1u);
  EXPECT_EQ(f.cache->counters().hits, 1u);
}

TEST(ExpertCache, OneEntryServesAWholeBatch) {
  Fixture f(1, 0.5);
  f.cache->begin_pass();
  const std::vector<int32_t> routed = {0, 2, 4, 6};
  f.cache->on_route(1, routed);
  for (int32_t e : routed)
    for (auto which : {model::ExpertTensor::Gate, model::ExpertTensor::Up, model::ExpertTensor::Down}) {
      auto a = f.cache->acquire(1, which, e);
      ASSERT_TRUE(a.is_ok()) << a.status().message();
      // Holding one view, a second expert cannot be loaded into the only entry: an error, not a wait.
      if (e == 0 && which == model::ExpertTensor::Gate) {
        auto b = f.cache->acquire(1, model::ExpertTensor::Gate, 2);
        ASSERT_FALSE(b.is_ok());
        EXPECT_NE(b.status().message().find("in use"), std::string::npos) << b.status().message();
      }
      f.cache->release(a->entry);
    }
  EXPECT_EQ(f.cache->counters().misses, 4u);
}

}  // namespace
}  // namespace strata::streaming::test
