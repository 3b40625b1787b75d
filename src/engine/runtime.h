// engine/runtime.h: a loaded model (file, binding, plan, tokenizer, weights, threads) and the options that load it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/progress.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/device_weights.h"
#include "gguf/gguf_file.h"
#include "kernels/backend.h"
#include "kernels/timed_backend.h"
#include "kernels/cpu/backend_cpu.h"
#include "model/placement.h"
#include "model/model.h"
#include "model/weight_source.h"
#include "hw/hardware_profile.h"
#include "planner/plan.h"
#include "streaming/stream_stats.h"
#include "tokenizer/tokenizer.h"

namespace strata::engine {

// Everything the engine needs to load a model, parsed at the edge (CLI flags, HTTP options).
struct EngineOptions {
  std::string model_path;
  int n_threads = 0;  // 0: all hardware threads
  // Budgets (--ram, --gpu-mem, --ctx, --mode). budgets.ctx 0: min(training context, 4096).
  planner::Budgets budgets;
  // The machine. Absent: a plan is made only from what the model needs (everything resident in RAM);
  // a RAM budget or a streaming mode then needs a profile (CLI: `strata profile`).
  std::optional<planner::HardwareProfile> profile;
  // Where MoE co-activation statistics are kept ($XDG_STATE_HOME, $HOME as the edge read them); both empty: none.
  std::string xdg_state_home;
  std::string home;
  // Hears "loading" in bytes while weights are read (the CLI draws it on stderr); may be empty.
  ProgressFn progress;
  // Decode steps replayed from a recording (CUDA graphs) where the plan puts a whole step on one GPU;
  // false runs every step op by op (`--no-graphs`, for A/B measurement).
  bool record_decode_steps = true;
  // A MoE plan that splits experts between GPU memory and RAM runs with a GPU expert cache (hits on the GPU,
  // misses on the CPU at once, often-routed experts copied in); false keeps the plan's whole-tensor placement
  // (`--static-experts`, for A/B measurement).
  bool gpu_expert_cache = true;
  // Every op waited for and timed by backend, op and weight shape (`bench --op-times`): a serialized pass,
  // for finding where time goes, never for speed figures.
  bool time_ops = false;
  // Several sequences share passes (OLLAMA_NUM_PARALLEL > 1, `bench --parallel`): each gets the outputs it gets
  // alone (kernels::BackendOptions::batch_invariant; prompts on a GPU ran at about half speed on an H100).
  bool batch_invariant = false;
};

class LoadedModel {
 public:
  static Result<std::unique_ptr<LoadedModel>> load(const EngineOptions& options);
  ~LoadedModel();

  const gguf::GgufFile& file() const { return file_; }
  const model::Model& model() const { return model_; }
  const model::HParams& hparams() const { return model_.hp; }
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  // The weights as the forward pass reads them (GPU-tier tensors from GPU memory when a GPU is used).
  model::WeightSource& weights() { return device_weights_ ? *device_weights_ : *weights_; }
  model::ExpertSource* experts() { return experts_; }
  // The host CPU backend (always present) and where each op runs.
  kernels::CpuBackend& backend() { return *backend_; }
  const model::Placement& placement() const { return placement_; }
  bool record_decode_steps() const { return record_decode_steps_; }
  // Why the plan was made without a GPU the machine has (this build lacks its backend); empty otherwise.
  const std::string& backend_note() const { return backend_note_; }
  int64_t default_n_ctx() const { return default_n_ctx_; }
  // The plan the model was loaded under (absent when it was loaded without a profile).
  const std::optional<planner::Plan>& plan() const { return plan_; }
  // The plan as carried out: plan() with a GPU expert cache's rewrite of the expert tensors (see
  // expert_cache_from_plan) and its small GPU-site tensors held on the GPU (hold_small_gpu_sites), or plan()
  // itself when no GPU is used.
  const planner::Plan* executed_plan() const { return executed_plan_ ? &*executed_plan_ : plan_ ? &*plan_ : nullptr; }
  // Null without a GPU expert cache.
  const GpuExpertCache* expert_cache() const { return device_weights_ ? device_weights_->expert_cache() : nullptr; }
  std::string expert_cache_error() const { return device_weights_ ? device_weights_->expert_cache_error() : ""; }
  // Disk streaming figures since load; absent when every weight is resident.
  std::optional<streaming::StreamStats> stream_stats() const;
  uint64_t resident_bytes() const { return resident_bytes_; }
  // Uploads of RAM-tier weights to the GPU so far; absent when nothing is staged.
  std::optional<StagingCounters> staging_counters() const;
  // Host bytes page-locked for those uploads.
  uint64_t pinned_bytes() const { return device_weights_ ? device_weights_->pinned_bytes() : 0; }
  // With EngineOptions::time_ops: each backend's op times since load or the last reset (empty otherwise).
  std::vector<kernels::OpTime> op_times() const;
  void reset_op_times();

 private:
  LoadedModel() = default;
  gguf::GgufFile file_;
  model::Model model_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<kernels::CpuBackend> backend_;
  std::unique_ptr<kernels::Backend> gpu_;  // when the plan uses a GPU
  std::unique_ptr<kernels::Backend> gpu_copier_;  // a second stream of that GPU, for staging uploads
  std::optional<planner::Plan> plan_;
  std::optional<planner::Plan> executed_plan_;  // plan_ as carried out on a GPU
  std::string backend_note_;
  std::unique_ptr<model::WeightSource> weights_;
  std::unique_ptr<DeviceWeights> device_weights_;  // wraps weights_ when a GPU holds some tensors
  model::ExpertSource* experts_ = nullptr;  // points into weights_ or device_weights_ (every source serves experts)
  model::Placement placement_;
  std::vector<std::unique_ptr<kernels::TimedBackend>> timed_;  // placement_'s backends, when ops are timed
  bool record_decode_steps_ = true;
  const void* streaming_ = nullptr;         // weights_ as StreamingWeights, when streaming
  int64_t default_n_ctx_ = 0;
  uint64_t resident_bytes_ = 0;
};

// Peak resident memory of this process so far (VmHWM), in bytes; 0 when unknown.
uint64_t peak_rss_bytes();

}  // namespace strata::engine
