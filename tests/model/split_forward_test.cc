// tests/model/split_forward_test.cc: split execution before any GPU exists: a model placed across two backend
// instances (the host CPU backend and a second CPU backend with its own buffers and device tag, standing in
// for a device) with hand-offs between them and each layer's KV cache on the backend that computes its
// attention, against the same model on one backend. The two run the same kernels in the same order, so the
// logits must be bit-identical; the hand-off counter proves the split really moved activations.
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
using testing_util::load;

// A prompt as one batch (prefill sites), then single tokens (decode sites); every position's logits.
std::vector<float> run(const Loaded& l, const Placement& p, const std::vector<int32_t>& tokens, size_t n_batch,
                       uint64_t* handoffs = nullptr) {
  BufferWeights w(l.model, l.bytes);
  Forward fwd(l.model, w, &w, p);
  KvCache cache(l.model.hp, 32, p);
  const int64_t V = l.model.hp.n_vocab;
  std::vector<float> all, logits(n_batch * V);
  EXPECT_TRUE(fwd.eval(std::span(tokens).subspan(0, n_batch), cache, logits, true).is_ok());
  all.insert(all.end(), logits.begin(), logits.begin() + n_batch * V);
  for (size_t i = n_batch; i < tokens.size(); ++i) {
    EXPECT_TRUE(fwd.eval(std::span(tokens).subspan(i, 1), cache, logits, false).is_ok());
    all.insert(all.end(), logits.begin(), logits.begin() + V);
  }
  if (handoffs) *handoffs = fwd.handoffs().n_handoffs;
  return all;
}

// The split: odd layers' attention (and KV) on the device, even layers' FFN on it, the embedding on the
// host, the output head on the device (logits copied back); prefill moves the q projections the other way,
// so the two phases differ.
Placement split(const Model& m, kernels::Backend& host, kernels::Backend& device) {
  Placement p = Placement::single(host, m);
  p.backends.push_back(&device);
  auto put = [&](TensorId id, uint8_t decode, uint8_t prefill) {
    if (id == kNoTensor) return;
    p.decode_site[id] = decode;
    p.prefill_site[id] = prefill;
  };
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const LayerTensors& L = m.layers[l];
    const uint8_t attn = l % 2, ffn = 1 - l % 2;
    for (TensorId id : {L.attn_norm, L.attn_k, L.attn_v, L.attn_output}) put(id, attn, attn);
    put(L.attn_q, attn, 1 - attn);
    p.kv_site[l] = attn;
    for (TensorId id : {L.ffn_norm, L.ffn_gate, L.ffn_up, L.ffn_down, L.ffn_gate_inp}) put(id, ffn, ffn);
    for (TensorId id : L.ffn_exps) put(id, ffn, l == 0 ? 1 - ffn : ffn);
  }
  put(m.output_norm, 1, 0);
  put(m.output, 1, 1);
  return p;
}

void expect_split_matches(const std::string& path) {
  Loaded l = load(path);
  ThreadPool pool(2);
  kernels::CpuBackend host(pool);
  kernels::CpuBackend device(pool, /*index=*/1);
  const std::vector<int32_t> tokens = {1, 30, 17, 29, 42, 31, 5, 33, 8};
  const auto one = run(l, Placement::single(host, l.model), tokens, 5);
  uint64_t handoffs = 0;
  const auto two = run(l, split(l.model, host, device), tokens, 5, &handoffs);
  ASSERT_EQ(one.size(), two.size());
  ASSERT_FALSE(one.empty());
  size_t n_diff = 0;
  for (size_t i = 0; i < one.size(); ++i) n_diff += std::memcmp(&one[i], &two[i], sizeof(float)) != 0;
  EXPECT_EQ(n_diff, 0u) << "logits differ between one backend and the split";
  EXPECT_GT(handoffs, 0u) << "the split never handed an activation over";
}

std::string synth(const SynthSpec& spec, const std::string& name) {
  const std::string path = testing::temp_dir() + "/" + name;
  auto s = write_synth_model(spec, path);
  EXPECT_TRUE(s.is_ok()) << s.status().message();
  return path;
}

TEST(SplitForward, DenseF32) { expect_split_matches(synth({.layers = 4, .dim = 64, .heads = 4, .kv_heads = 2}, "d.gguf")); }

TEST(SplitForward, DenseQ4KM) {
  expect_split_matches(synth({.layers = 3, .dim = 256, .heads = 4, .kv_heads = 1, .type = "Q4_K_M"}, "q.gguf"));
}

TEST(SplitForward, Moe) {
  expect_split_matches(
      synth({.layers = 3, .dim = 64, .heads = 4, .experts = 6, .experts_used = 2, .type = "Q8_0"}, "moe.gguf"));
}

TEST(SplitForward, MoeMxfp4) {
  const std::string path = synth(
      {.layers = 3, .dim = 64, .heads = 4, .experts = 6, .experts_used = 2, .type = "MXFP4_MOE"}, "moe_mxfp4.gguf");
  expect_split_matches(path);
  // The mix: MXFP4 for the expert tensors only; Q8_0 for the other matrices (norms and router stay F32).
  Loaded l = load(path);
  int n_mxfp4 = 0;
  for (const auto& t : l.file.tensors) {
    const bool experts = t.name.find("_exps") != std::string::npos;
    if (experts) ++n_mxfp4;
    if (!experts && t.dims.size() < 2) continue;  // norms stay F32
    const bool router = t.name.find("ffn_gate_inp") != std::string::npos;  // F32 too
    const DType want = experts ? DType::MXFP4 : router ? DType::F32 : DType::Q8_0;
    EXPECT_EQ(t.type_id, static_cast<uint32_t>(want)) << t.name;
  }
  EXPECT_EQ(n_mxfp4, 9);
}

TEST(SplitForward, Stories260K) {
  const std::string path = std::string(STRATA_SHARED_DIR) + "/models/stories260K.gguf";
  if (!std::ifstream(path)) GTEST_SKIP() << "no " << path;
  expect_split_matches(path);
}

// The KV cache of each layer is allocated by the backend the placement names, and tagged with its device.
TEST(SplitForward, KvCacheLivesOnItsBackend) {
  Loaded l = load(synth({.layers = 4, .dim = 64, .heads = 4}, "kv.gguf"));
  ThreadPool pool(1);
  kernels::CpuBackend host(pool), device(pool, 1);
  const Placement p = split(l.model, host, device);
  KvCache cache(l.model.hp, 8, p);
  ASSERT_TRUE(cache.status().is_ok());
  for (int64_t layer = 0; layer < 4; ++layer)
    EXPECT_EQ(cache.layer(layer).device, p.backends[p.kv_site[layer]]->device()) << "layer " << layer;
}

}  // namespace
}  // namespace strata::model
