// tests/streaming/memory_budget_test.cc: budgets kept. Under a weight budget X, the peak resident memory a
// streamed run adds stays within X plus the stated overhead (docs/streaming.md), measured in a forked child
// whose peak (VmHWM) is reset first; and inference writes nothing to disk except the statistics file.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "core/units.h"
#include "stream_test_util.h"

namespace strata::streaming::test {
namespace {

// The overhead docs/streaming.md states beyond the weight budget, KV cache and activations: code pages
// first touched, thread stacks, allocator arenas, the io_uring rings and the source's bookkeeping.
constexpr uint64_t kStatedOverheadBytes = 4 * kMiB;

int64_t status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size()));
  return -1;
}

int64_t io_field(const char* field) {
  std::ifstream in("/proc/self/io");
  std::string name;
  int64_t value = 0;
  while (in >> name >> value)
    if (name == std::string(field) + ":") return value;
  return -1;
}

// Runs `body` in a child process whose peak RSS is reset at the start; returns the peak's growth in bytes
// (or -1 when the body failed or the kernel cannot reset the peak).
int64_t peak_growth_in_child(const std::function<bool()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    int64_t growth = -1;
    const int fd = ::open("/proc/self/clear_refs", O_WRONLY);
    if (fd >= 0 && ::write(fd, "5", 1) == 1) {  // "5": reset the peak RSS to the current RSS
      const int64_t base = status_kib("VmHWM");
      if (body()) growth = (status_kib("VmHWM") - base) * 1024;
    }
    if (fd >= 0) ::close(fd);
    (void)!::write(fds[1], &growth, sizeof(growth));
    ::_exit(0);
  }
  ::close(fds[1]);
  int64_t growth = -1;
  if (::read(fds[0], &growth, sizeof(growth)) != sizeof(growth)) growth = -1;
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return growth;
}

class MemoryBudget : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model::SynthSpec s;
    s.layers = 8;
    s.dim = 512;
    s.ff = 1536;
    s.heads = 8;
    s.vocab = 512;
    s.type = "Q8_0";
    path_ = new std::string(write_synth(s, testing::temp_dir(), "big.gguf"));
  }
  static void TearDownTestSuite() { delete path_; }
  static std::string* path_;
};
std::string* MemoryBudget::path_ = nullptr;

const std::vector<int32_t> kTokens = {1, 300, 17, 299, 42, 301, 5, 330};
constexpr int64_t kCtx = 64;

TEST_F(MemoryBudget, PeakRssStaysWithinTheWeightBudget) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's shadow memory and quarantine make resident-memory figures meaningless";
#endif
  Loaded l = load_model(*path_);
  const uint64_t model_bytes = l.file.total_tensor_bytes();
  ASSERT_GT(model_bytes, 20 * kMiB);
  const uint64_t budget = 6 * kMiB;
  auto c = config_for_budget(l.model, budget);
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  const uint64_t kv = model::KvCache::bytes_needed(l.model.hp, kCtx);
  const auto run = [&](bool streamed) {
    return [&, streamed] {
      ThreadPool pool(2);
      kernels::CpuBackend backend(pool);
      model::KvCache cache(l.model.hp, kCtx);
      std::unique_ptr<model::WeightSource> w;
      if (streamed) {
        auto s = make_streaming_weights(l.file, l.model, *c);
        if (!s.is_ok()) return false;
        w = std::move(s).value();
      } else {
        auto r = ResidentWeights::load(l.file, l.model);
        if (!r.is_ok()) return false;
        w = std::move(r).value();
      }
      model::Forward fwd(l.model, *w, nullptr, backend);
      std::vector<float> logits(l.model.hp.n_vocab);
      for (int32_t t : kTokens)
        if (!fwd.eval(std::span(&t, 1), cache, logits, false).is_ok()) return false;
      return true;
    };
  };
  const int64_t resident = peak_growth_in_child(run(false));
  if (resident < 0) GTEST_SKIP() << "this kernel cannot reset the peak RSS (/proc/self/clear_refs)";
  const int64_t streamed = peak_growth_in_child(run(true));
  auto plan = plan_memory(l.model, *c);
  ASSERT_TRUE(plan.is_ok());
  EXPECT_LE(plan->total(), budget);
  ASSERT_GE(streamed, 0) << "the streamed run failed";
  const uint64_t limit = budget + kv + kStatedOverheadBytes;
  std::printf("peak RSS growth: resident %s; streamed %s with weights %s (budget %s) + KV %s, allowed overhead %s\n",
              format_bytes(resident).c_str(), format_bytes(streamed).c_str(), format_bytes(plan->total()).c_str(),
              format_bytes(budget).c_str(), format_bytes(kv).c_str(), format_bytes(kStatedOverheadBytes).c_str());
  EXPECT_GE(static_cast<uint64_t>(resident), model_bytes) << "the measurement cannot see the weights";
  EXPECT_LE(static_cast<uint64_t>(streamed), limit);
}

TEST_F(MemoryBudget, AStreamedEmbeddingCostsRowsNotSlots) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's shadow memory and quarantine make resident-memory figures meaningless";
#endif
  // A vocabulary-heavy model whose embedding alone is far beyond the weight budget: streamed untied, it is
  // read a row per token, so the budget holds the lm head (resident) and slots for the layer tensors.
  model::SynthSpec s;
  s.layers = 2;
  s.dim = 256;
  s.ff = 768;
  s.heads = 4;
  s.vocab = 32768;
  s.type = "Q8_0";
  Loaded l = load_model(write_synth(s, testing::temp_dir(), "vocab.gguf"));
  const model::Model& m = l.model;
  StreamConfig c = streamed_config(m);
  std::erase(c.streamed, m.output);
  c.resident.push_back(m.output);
  const uint64_t embd_bytes = m.tensors[m.token_embd].size_bytes;
  uint64_t largest_layer_tensor = 0;
  for (const model::LayerTensors& L : m.layers)
    for (model::TensorId id : {L.attn_q, L.attn_k, L.attn_v, L.attn_output, L.ffn_gate, L.ffn_up, L.ffn_down})
      largest_layer_tensor = std::max(largest_layer_tensor, m.tensors[id].size_bytes);
  const uint64_t budget = m.tensors[m.output].size_bytes + 2 * (largest_layer_tensor + 8192) + 8192;
  ASSERT_LT(budget + 2 * kMiB, m.tensors[m.output].size_bytes + embd_bytes);
  auto plan = plan_memory(m, c);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  EXPECT_LE(plan->total(), budget) << "staging slots of " << format_bytes(plan->slot_bytes) << " for an embedding of "
                                   << format_bytes(embd_bytes);
  const uint64_t kv = model::KvCache::bytes_needed(m.hp, kCtx);
  const int64_t streamed = peak_growth_in_child([&] {
    ThreadPool pool(2);
    kernels::CpuBackend backend(pool);
    model::KvCache cache(m.hp, kCtx);
    auto w = make_streaming_weights(l.file, m, c);
    if (!w.is_ok()) return false;
    model::Forward fwd(m, **w, nullptr, backend);
    std::vector<float> logits(4 * m.hp.n_vocab);
    if (!fwd.eval(std::span(kTokens).subspan(0, 4), cache, logits, true).is_ok()) return false;
    for (size_t i = 4; i < kTokens.size(); ++i)
      if (!fwd.eval(std::span(kTokens).subspan(i, 1), cache, logits, false).is_ok()) return false;
    return true;
  });
  if (peak_growth_in_child([] { return true; }) < 0) GTEST_SKIP() << "this kernel cannot reset the peak RSS";
  ASSERT_GE(streamed, 0) << "the streamed run failed";
  // The logits of 4 prompt tokens are the caller's, beside the budget, KV cache and stated overhead.
  const uint64_t limit = budget + kv + 4 * m.hp.n_vocab * sizeof(float) + kStatedOverheadBytes;
  std::printf("peak RSS growth %s with weights %s (budget %s, embedding %s) + KV %s\n", format_bytes(streamed).c_str(),
              format_bytes(plan->total()).c_str(), format_bytes(budget).c_str(), format_bytes(embd_bytes).c_str(),
              format_bytes(kv).c_str());
  EXPECT_LE(static_cast<uint64_t>(streamed), limit);
}

TEST_F(MemoryBudget, InferenceWritesNothingButTheStatisticsFile) {
  if (io_field("write_bytes") < 0) GTEST_SKIP() << "no /proc/self/io accounting";
  const std::string dir = testing::temp_dir();
  model::SynthSpec s;
  s.layers = 2;
  s.dim = 64;
  s.heads = 4;
  s.vocab = 512;
  s.experts = 8;
  s.experts_used = 2;
  const std::string path = write_synth(s, dir, "moe.gguf");
  {
    // A freshly written file still has dirty pages; their writeback (and ext4's delayed block allocation,
    // charged to whoever forces it, as an O_DIRECT read does) is the writer's, not inference's.
    const int fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::fsync(fd), 0);
    ::close(fd);
  }
  Loaded l = load_model(path);
  {
    // The accounting sees writes at all: a control file.
    const int64_t before = io_field("write_bytes");
    std::ofstream(dir + "/control.bin") << std::string(1 << 20, 'x');
    ASSERT_GE(io_field("write_bytes") - before, 1 << 20);
    // Its writeback done here, before the measured runs: delayed writeback is charged to whichever process
    // forces it, and once under a parallel ctest the statistics run was charged 36,864 bytes against 12,288.
    const int fd = ::open((dir + "/control.bin").c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::fsync(fd), 0);
    ::close(fd);
  }
  for (bool with_stats : {false, true}) {
    StreamConfig c = streamed_config(l.model);
    if (with_stats) c.stats_path = dir + "/state/stats.bin";
    const int64_t before = io_field("write_bytes");
    {
      auto w = make_stream(l, c);
      ASSERT_NE(w, nullptr);
      run_tokens(l.model, *w, w.get(), kTokens, 3);
    }
    const int64_t written = io_field("write_bytes") - before;
    if (!with_stats) {
      EXPECT_EQ(written, 0) << "inference wrote to disk";
    } else {
      ASSERT_TRUE(std::filesystem::exists(c.stats_path));
      const int64_t stats = static_cast<int64_t>(std::filesystem::file_size(c.stats_path));
      EXPECT_LE(written, (stats + 4095) / 4096 * 4096 + 8192) << "more than the statistics file was written";
    }
  }
}

}  // namespace
}  // namespace strata::streaming::test
