// tests/engine/device_weights_test.cc: a plan's GPU tier is read from the model file straight to the device,
// through two bounded bounce buffers, and RAM holds no copy of it: across a late stand-in device (copies run on
// a worker thread after the call returns, so a bounce buffer refilled before its copy ran is caught), the
// logits equal the one-backend run bit for bit; the host source refuses the GPU tier's tensors by kind; a
// failed read names the tensor; gpt-oss's expert biases and sinks in GPU memory are still read on the host
// where its experts or attention run there.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "core/file.h"
#include "engine/backends.h"
#include "engine/device_weights.h"
#include "engine/synth_run.h"
#include "kernels/late_backend.h"
#include "streaming/resident_weights.h"

namespace strata::engine {
namespace {

using namespace std::chrono_literals;
using testing::load_synth;
using testing::run_prompt_then_decode;
using testing::small_spec;

// Layers 1 and 2, the output and its norm in GPU memory, computed there; the rest in RAM on the host.
planner::Plan gpu_tier_plan(const model::Model& m) {
  planner::Plan plan;
  plan.tensors.resize(m.tensors.size());
  for (size_t i = 0; i < m.tensors.size(); ++i) plan.tensors[i].size_bytes = m.tensors[i].size_bytes;
  plan.kv_tiers.assign(m.layers.size(), planner::Tier::Ram);
  auto gpu = [&](model::TensorId id) {
    plan.tensors[id].tier = planner::Tier::Gpu;
    plan.tensors[id].decode_site = plan.tensors[id].prefill_site = planner::Site::Gpu;
  };
  for (int l : {1, 2}) {
    const model::LayerTensors& L = m.layers[l];
    for (model::TensorId id : {L.attn_norm, L.attn_q, L.attn_k, L.attn_v, L.attn_output, L.ffn_norm, L.ffn_gate,
                               L.ffn_up, L.ffn_down})
      gpu(id);
    plan.kv_tiers[l] = planner::Tier::Gpu;
  }
  gpu(m.output);
  gpu(m.output_norm);
  return plan;
}

// Two prompt batches and decode steps across the host and `device` as `plan` places them: logits equal the
// one-backend run's bit for bit.
void expect_split_equals_one_backend(LoadedModel& lm, const planner::Plan& plan, DeviceWeights& dw,
                                     kernels::Backend& device) {
  const model::Model& m = lm.model();
  const model::Placement p = placement_from_plan(&plan, m, lm.backend(), &device, nullptr);
  const std::vector<int32_t> tokens = {1, 20, 30, 40, 50, 60, 70, 80, 90};
  const std::vector<float> one = run_prompt_then_decode(m, lm.weights(), lm.experts(), lm.placement(), tokens, {3, 2});
  const std::vector<float> split = run_prompt_then_decode(m, dw, &dw, p, tokens, {3, 2});
  ASSERT_EQ(one.size(), split.size());
  EXPECT_EQ(std::memcmp(one.data(), split.data(), one.size() * sizeof(float)), 0);
}

TEST(DeviceWeights, GpuTierIsUploadedFromTheFileAndNotHeldInRam) {
  for (const char* type : {"F32", "Q8_0"}) {
    SCOPED_TRACE(type);
    auto lm = load_synth(std::string("device-upload-") + type + ".gguf", small_spec(4, type));
    ASSERT_NE(lm, nullptr);
    const model::Model& m = lm->model();
    const planner::Plan plan = gpu_tier_plan(m);
    const std::vector<bool> on_gpu = testing::gpu_tier_mask(plan);
    uint64_t gpu_bytes = 0, all_bytes = 0;
    for (size_t i = 0; i < m.tensors.size(); ++i) {
      all_bytes += m.tensors[i].size_bytes;
      if (on_gpu[i]) gpu_bytes += m.tensors[i].size_bytes;
    }
    ASSERT_GT(gpu_bytes, all_bytes / 4);

    auto host = streaming::ResidentWeights::load(lm->file(), m, {}, on_gpu);
    ASSERT_TRUE(host.is_ok()) << host.status().message();
    // RAM holds the other tiers (with at most 64 bytes of padding a run), not the GPU's.
    EXPECT_LE(host.value()->resident_bytes(), all_bytes - gpu_bytes + 64 * m.tensors.size());
    EXPECT_GE(host.value()->resident_bytes(), all_bytes - gpu_bytes);
    auto refused = host.value()->acquire(m.output);
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().kind(), ErrorKind::Internal);

    auto f = File::open_read(lm->file().path);
    ASSERT_TRUE(f.is_ok());
    int reads = 0;
    DeviceUploadSource upload;
    upload.read = [&](uint64_t offset, uint64_t len, std::span<uint8_t> buf) -> Result<uint64_t> {
      ++reads;
      STRATA_RETURN_IF_ERROR(f.value().read_exact(offset, buf.first(len)));
      return uint64_t{0};
    };
    upload.chunk_bytes = 4096;  // many chunks a tensor: the two bounce buffers take turns
    kernels::testing::LateBackend late(1, 200us);
    auto dw = DeviceWeights::make(m, *host.value(), host.value().get(), on_gpu, late, nullptr, nullptr, &upload);
    ASSERT_TRUE(dw.is_ok()) << dw.status().message();
    EXPECT_GE(reads, static_cast<int>(gpu_bytes / 4096));
    EXPECT_EQ(dw.value()->device_bytes(), gpu_bytes);
    EXPECT_EQ(late.pinned_bytes(), 0u) << "the bounce buffers are unpinned once the load is done";
    EXPECT_EQ(late.bad_pins(), 0);

    expect_split_equals_one_backend(*lm, plan, *dw.value(), late);
  }
}

// The GPU tier reaches the device without entering the page cache (a memory-limited cgroup is charged for
// the cache it fills): after the upload, mincore() finds none of those tensors' pages cached.
TEST(DeviceWeights, TheGpuTierIsUploadedPastThePageCache) {
  model::SynthSpec spec = small_spec(4, "F32");
  spec.dim = 256;
  spec.heads = 4;
  auto lm = load_synth("device-upload-direct.gguf", spec);
  ASSERT_NE(lm, nullptr);
  const model::Model& m = lm->model();
  const std::string& path = lm->file().path;
  const std::vector<bool> on_gpu = testing::gpu_tier_mask(gpu_tier_plan(m));
  uint64_t gpu_begin = UINT64_MAX, gpu_end = 0, gpu_bytes = 0;
  for (size_t i = 0; i < m.tensors.size(); ++i)
    if (on_gpu[i]) {
      gpu_begin = std::min(gpu_begin, m.tensors[i].file_offset);
      gpu_end = std::max(gpu_end, m.tensors[i].file_offset + m.tensors[i].size_bytes);
      gpu_bytes += m.tensors[i].size_bytes;
    }
  ASSERT_GT(gpu_bytes, 64u * 4096) << "enough pages to see";
  auto host = streaming::ResidentWeights::load(lm->file(), m, {}, on_gpu);
  ASSERT_TRUE(host.is_ok()) << host.status().message();
  strata::testing::drop_cached_pages(path);
  if (strata::testing::cached_pages(path, gpu_begin, gpu_end) > 0)
    GTEST_SKIP() << "this filesystem keeps the file cached after POSIX_FADV_DONTNEED; nothing to measure";
  auto reader = io::open_reader(path, {});
  ASSERT_TRUE(reader.is_ok()) << reader.status().message();
  DeviceUploadSource upload = upload_source(*reader.value(), {});
  upload.chunk_bytes = 5 * 4096 + 96;
  kernels::testing::LateBackend late(1, 0us);
  auto dw = DeviceWeights::make(m, *host.value(), host.value().get(), on_gpu, late, nullptr, nullptr, &upload);
  ASSERT_TRUE(dw.is_ok()) << dw.status().message();
  EXPECT_EQ(dw.value()->device_bytes(), gpu_bytes);
  // Host tensors between the GPU ones were not read here either: the whole span stays uncached.
  EXPECT_EQ(strata::testing::cached_pages(path, gpu_begin, gpu_end), 0u)
      << (reader.value()->direct() ? "direct reads" : "buffered reads, dropped after each");
  expect_split_equals_one_backend(*lm, gpu_tier_plan(m), *dw.value(), late);
}

TEST(DeviceWeights, AFailedUploadReadNamesTheTensor) {
  auto lm = load_synth("device-upload-fail.gguf", small_spec(4, "F32"));
  ASSERT_NE(lm, nullptr);
  const model::Model& m = lm->model();
  const std::vector<bool> on_gpu = testing::gpu_tier_mask(gpu_tier_plan(m));
  auto host = streaming::ResidentWeights::load(lm->file(), m, {}, on_gpu);
  ASSERT_TRUE(host.is_ok());
  int reads = 0;
  DeviceUploadSource upload;
  upload.read = [&](uint64_t, uint64_t, std::span<uint8_t>) -> Result<uint64_t> {
    if (++reads < 3) return uint64_t{0};
    return error(ErrorKind::Io, "read failed: input/output error");
  };
  upload.chunk_bytes = 4096;
  kernels::testing::LateBackend late(1, 0us);
  auto dw = DeviceWeights::make(m, *host.value(), host.value().get(), on_gpu, late, nullptr, nullptr, &upload);
  ASSERT_FALSE(dw.is_ok());
  EXPECT_EQ(dw.status().kind(), ErrorKind::Io);
  EXPECT_NE(dw.status().message().find("uploading '"), std::string::npos) << dw.status().message();
  EXPECT_EQ(late.pinned_bytes(), 0u);
  EXPECT_EQ(late.bad_pins(), 0);
}

// gpt-oss with its attention, router and every bias and sink in GPU memory, its experts in RAM computed on the
// host (the gpt-oss-120b plan at --gpu-mem 16G keeps up_exps on the host while their biases sit on the GPU):
// the expert products read the biases' host copies. Once more with the KV cache in RAM, so the attention, and
// the sinks it reads, run on the host too.
TEST(DeviceWeights, ExpertBiasesAndSinksAreReadWhereTheirConsumersRun) {
  model::SynthSpec spec = small_spec(2, "F32", 4);
  spec.arch = "gpt-oss";
  spec.head_dim = 16;
  spec.ff_expert = 32;
  spec.window = 4;
  auto lm = load_synth("device-upload-gptoss.gguf", spec);
  ASSERT_NE(lm, nullptr);
  const model::Model& m = lm->model();
  for (bool kv_on_gpu : {true, false}) {
    SCOPED_TRACE(kv_on_gpu ? "attention on the device" : "attention on the host");
    planner::Plan plan;
    plan.tensors.resize(m.tensors.size());
    for (size_t i = 0; i < m.tensors.size(); ++i) plan.tensors[i].size_bytes = m.tensors[i].size_bytes;
    plan.kv_tiers.assign(m.layers.size(), kv_on_gpu ? planner::Tier::Gpu : planner::Tier::Ram);
    auto gpu = [&](model::TensorId id) {
      if (id == model::kNoTensor) return;
      plan.tensors[id].tier = planner::Tier::Gpu;
      plan.tensors[id].decode_site = plan.tensors[id].prefill_site = planner::Site::Gpu;
    };
    int biases = 0;
    for (const model::LayerTensors& L : m.layers) {
      for (model::TensorId id : {L.attn_norm, L.ffn_norm, L.attn_sinks, L.ffn_gate_inp, L.ffn_gate_inp_bias}) gpu(id);
      if (kv_on_gpu)
        for (model::TensorId id : {L.attn_q, L.attn_k, L.attn_v, L.attn_output, L.attn_q_bias, L.attn_k_bias,
                                   L.attn_v_bias, L.attn_output_bias})
          gpu(id);
      for (model::TensorId id : L.ffn_exps_bias) {
        gpu(id);
        biases += id != model::kNoTensor;
      }
    }
    ASSERT_EQ(biases, 6);
    const std::vector<bool> on_gpu = testing::gpu_tier_mask(plan);
    const std::vector<bool> only = gpu_only_tensors(plan, m);
    for (const model::LayerTensors& L : m.layers) {
      EXPECT_TRUE(on_gpu[L.attn_sinks]);
      EXPECT_FALSE(only[L.attn_sinks]) << "sinks keep a host copy";
      for (model::TensorId id : L.ffn_exps_bias) EXPECT_FALSE(only[id]) << "expert biases keep a host copy";
      EXPECT_TRUE(only[L.ffn_gate_inp]);
    }
    auto host = streaming::ResidentWeights::load(lm->file(), m, {}, only);
    ASSERT_TRUE(host.is_ok()) << host.status().message();
    // Through a direct reader, as a load reads: offsets are the tensors', the reads start at aligned ones.
    auto reader = io::open_reader(lm->file().path, {});
    ASSERT_TRUE(reader.is_ok()) << reader.status().message();
    DeviceUploadSource upload = upload_source(*reader.value(), {});
    upload.chunk_bytes = 3 * 4096 + 64;  // chunks that start and end off the alignment
    kernels::testing::LateBackend late(1, 100us);
    auto dw = DeviceWeights::make(m, *host.value(), host.value().get(), on_gpu, late, nullptr, nullptr, &upload);
    ASSERT_TRUE(dw.is_ok()) << dw.status().message();
    expect_split_equals_one_backend(*lm, plan, *dw.value(), late);
  }
}

}  // namespace
}  // namespace strata::engine
