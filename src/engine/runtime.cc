// engine/runtime.cc: loading: parse → bind → tokenizer → plan → weights (resident or streamed) → backend.
#include "engine/runtime.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "arch/ollama_compat.h"
#include "engine/backends.h"
#include "engine/device_weights.h"
#include "planner/planner.h"
#include "planner/tensor_roles.h"
#include "streaming/expert_stats.h"
#include "streaming/resident_weights.h"
#include "streaming/schedule.h"
#include "streaming/streaming_weights.h"
#include "tensor/dtype.h"

namespace strata::engine {

namespace {

// Reads of the block size and queue depth the plan took from the disk's measured profile (O_DIRECT).
io::ReaderOptions reader_options_from_plan(const planner::Plan& plan) {
  io::ReaderOptions o;
  if (plan.staging.io_block_bytes > 0) o.block_bytes = plan.staging.io_block_bytes;
  if (plan.staging.io_queue_depth > 0) {
    o.queue_depth = static_cast<uint32_t>(plan.staging.io_queue_depth);
    // Without io_uring, one pread worker per read in flight: the depth the profile measured.
    o.n_threads = std::clamp(plan.staging.io_queue_depth, 1, 64);
  }
  return o;
}

// Maps the plan's disk-tier tensors onto the streaming source's configuration.
streaming::StreamConfig stream_config_from_plan(const planner::Plan& plan, const model::Model& m,
                                                const std::string& stats_path, const std::vector<bool>& gpu_only) {
  streaming::StreamConfig c;
  std::vector<bool> on_disk(m.tensors.size(), false);
  for (size_t i = 0; i < plan.tensors.size() && i < m.tensors.size(); ++i)
    on_disk[i] = plan.tensors[i].tier == planner::Tier::Disk;
  for (model::TensorId id : streaming::used_tensors(m)) {
    if (static_cast<size_t>(id) < gpu_only.size() && gpu_only[id]) c.elsewhere.push_back(id);
    else (on_disk[id] ? c.streamed : c.resident).push_back(id);
  }
  // The plan's pool slot holds a layer's streamed bytes, the source's slot one tensor, and the source's
  // expert cache entry one expert's three slices: share the plan's pool + expert cache between them, with
  // at least n_expert_used entries (fewer would re-read experts within a layer). A streamed untied embedding
  // is read a row per token beside them (the plan's stage bytes for it are those rows): no slot holds it.
  uint64_t largest_dense = 0, expert_entry = 0;
  for (model::TensorId id : c.streamed) {
    const auto& t = m.tensors[id];
    if (t.dims.size() < 3 && !streaming::is_row_gather(m, id)) largest_dense = std::max(largest_dense, t.size_bytes);
  }
  if (m.hp.is_moe()) {
    for (model::TensorId id : m.layers[0].ffn_exps) expert_entry += m.tensors[id].size_bytes / m.hp.n_expert + 2 * 4096;
  }
  uint64_t pool = plan.staging.total_bytes() + plan.expert_cache.ram_bytes;
  bool experts_stream = false;
  for (model::TensorId id : c.streamed) experts_stream |= m.tensors[id].dims.size() == 3;
  if (experts_stream) {
    const uint64_t min_cache = expert_entry * static_cast<uint64_t>(m.hp.n_expert_used);
    c.expert_cache_bytes = std::max(min_cache, plan.expert_cache.ram_bytes);
    pool = pool > c.expert_cache_bytes ? pool - c.expert_cache_bytes : 0;
  }
  c.n_slots = 2;
  if (largest_dense > 0) c.n_slots = static_cast<int>(std::clamp<uint64_t>(pool / (largest_dense + 2 * 4096), 2, 64));
  c.prefetch_depth = std::max(1, plan.prefetch_depth);
  c.io = reader_options_from_plan(plan);
  c.stats_path = stats_path;
  return c;
}

}  // namespace

LoadedModel::~LoadedModel() = default;

std::optional<streaming::StreamStats> LoadedModel::stream_stats() const {
  if (!streaming_) return std::nullopt;
  return static_cast<const streaming::StreamingWeights*>(streaming_)->stats();
}

Result<std::unique_ptr<LoadedModel>> LoadedModel::load(const EngineOptions& options) {
  std::unique_ptr<LoadedModel> lm(new LoadedModel());
  lm->record_decode_steps_ = options.record_decode_steps;
  STRATA_ASSIGN_OR_RETURN(lm->file_, gguf::read_file(options.model_path, gguf_type_lookup()));
  arch::translate_ollama_file(lm->file_);  // an Ollama-store blob reads as its llama.cpp equivalent from here on
  auto bound = model::bind_model(lm->file_);
  if (!bound) return bound.status().with_context(options.model_path);
  lm->model_ = std::move(bound).value();
  auto tok = tokenizer::make_tokenizer(lm->file_);
  if (!tok) return tok.status().with_context(options.model_path);
  lm->tokenizer_ = std::move(tok).value();
  if (lm->tokenizer_->vocab().size() != lm->model_.hp.n_vocab)
    return error("{}: tokenizer has {} tokens but token_embd has {} rows", options.model_path,
                 lm->tokenizer_->vocab().size(), lm->model_.hp.n_vocab);

  int64_t n_ctx = options.budgets.ctx > 0 ? options.budgets.ctx
                                          : std::min<int64_t>(lm->model_.hp.n_ctx_train, planner::kDefaultMaxCtx);
  // Plan before reading a byte of weights: a budget that cannot fit is refused here, with the shortfall.
  bool stream = false;
  if (options.profile) {
    auto roles = planner::classify_tensors(lm->file_);
    if (!roles) return roles.status().with_context(options.model_path);
    auto plan = planner::make_plan(*roles, *options.profile, options.budgets);
    if (!plan) return plan.status().with_context(options.model_path);
    // A plan that needs a backend this build lacks is made again for the machine without it.
    if (plan_uses_gpu(*plan)) {
      if (std::string missing = missing_gpu_backend(*options.profile); !missing.empty()) {
        lm->backend_note_ = missing + ": planned for the CPU only";
        plan = planner::make_plan(*roles, without_gpus(*options.profile, lm->backend_note_), options.budgets);
        if (!plan) return plan.status().with_context(options.model_path);
      }
    }
    lm->plan_ = std::move(plan).value();
    n_ctx = lm->plan_->budgets.ctx;
    for (const auto& t : lm->plan_->tensors) stream |= t.tier == planner::Tier::Disk;
  } else if (options.budgets.ram_bytes || options.budgets.gpu_bytes || options.budgets.mode) {
    return error("budgets and modes need a hardware profile (run `strata profile` or pass --profile FILE)");
  }

  const int n_threads = options.n_threads > 0 ? options.n_threads : ThreadPool::hardware_threads();
  lm->pool_ = std::make_unique<ThreadPool>(n_threads);
  lm->backend_ = std::make_unique<kernels::CpuBackend>(*lm->pool_);
  if (lm->plan_ && plan_uses_gpu(*lm->plan_)) {
    lm->gpu_ = kernels::find_backend(DeviceKind::Cuda)->make(0, {.n_threads = n_threads,
                                                                 .batch_invariant = options.batch_invariant});
    if (!lm->gpu_) return error("{}: the CUDA backend did not start", options.model_path);
  }

  // Every load report names the model file.
  ProgressFn progress;
  if (options.progress) {
    progress = [&options](const Progress& p) {
      Progress named = p;
      if (named.detail.empty()) named.detail = options.model_path;
      options.progress(named);
    };
  }
  // The plan as carried out, settled before a byte is read: a GPU expert cache in place of whole expert
  // tensors where the plan splits them, and small tensors with GPU sites held there rather than computed on
  // the host. Its GPU tier is read from the file straight to the device: RAM holds only its own tiers.
  StagingSetup staging;
  ExpertCacheSetup cache;
  std::vector<bool> on_gpu(lm->model_.tensors.size(), false);
  if (lm->gpu_) {
    planner::Plan exec = *lm->plan_;
    if (options.gpu_expert_cache && !stream) {
      cache = expert_cache_from_plan(exec, lm->model_);
      if (cache.n_slots > 0)
        exec.decode = planner::predict_decode_with_expert_cache(*lm->plan_, static_cast<int>(lm->model_.hp.n_expert),
                                                                static_cast<int>(lm->model_.hp.n_expert_used));
    }
    staging = staging_from_plan(exec, lm->model_);
    hold_small_gpu_sites(exec, lm->model_, staging);
    lm->executed_plan_ = std::move(exec);
    const planner::Plan& plan = *lm->executed_plan_;
    for (size_t i = 0; i < plan.tensors.size() && i < on_gpu.size(); ++i)
      on_gpu[i] = plan.tensors[i].tier == planner::Tier::Gpu;
  }
  const std::vector<bool> gpu_only =
      lm->executed_plan_ ? gpu_only_tensors(*lm->executed_plan_, lm->model_) : std::vector<bool>(on_gpu.size(), false);

  if (stream) {
    std::string stats_path;
    if (lm->model_.hp.is_moe() && (!options.xdg_state_home.empty() || !options.home.empty()))
      stats_path = streaming::default_stats_path(lm->model_, options.model_path, options.xdg_state_home, options.home);
    streaming::StreamConfig config = stream_config_from_plan(*lm->plan_, lm->model_, stats_path, gpu_only);
    config.progress = progress;
    auto sw = streaming::make_streaming_weights(lm->file_, lm->model_, config);
    if (!sw) return sw.status().with_context(options.model_path);
    lm->resident_bytes_ = sw.value()->memory().total();
    lm->experts_ = sw.value().get();
    lm->streaming_ = sw.value().get();
    lm->weights_ = std::move(sw).value();
  } else {
    auto resident = streaming::ResidentWeights::load(lm->file_, lm->model_, progress, gpu_only);
    if (!resident) return resident.status();
    lm->resident_bytes_ = resident.value()->resident_bytes();
    lm->experts_ = resident.value().get();
    lm->weights_ = std::move(resident).value();
  }
  if (lm->gpu_) {
    if (staging.n_slots > 0 || cache.n_slots > 0) {
      // Uploads on a stream of their own, so the next tensors' copies overlap this one's product.
      lm->gpu_copier_ = kernels::find_backend(DeviceKind::Cuda)->make(0, {.n_threads = n_threads});
      if (!lm->gpu_copier_) return error("{}: the CUDA backend did not start a copy stream", options.model_path);
      staging.copier = lm->gpu_copier_.get();
      cache.copier = lm->gpu_copier_.get();
    }
    // Direct reads of the plan's measured block size and depth.
    const io::ReaderOptions upload_io = lm->plan_ ? reader_options_from_plan(*lm->plan_) : io::ReaderOptions{};
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<io::Reader> reader, io::open_reader(lm->file_.path, upload_io));
    DeviceUploadSource upload = upload_source(*reader, progress);
    auto dw = DeviceWeights::make(lm->model_, *lm->weights_, lm->experts_, on_gpu, *lm->gpu_, &staging, &cache, &upload);
    if (!dw) return dw.status().with_context(options.model_path);
    lm->experts_ = dw.value().get();
    lm->device_weights_ = std::move(dw).value();
  }
  lm->placement_ = placement_from_plan(lm->executed_plan(), lm->model_, *lm->backend_, lm->gpu_.get(), &staging);
  if (options.time_ops)
    for (kernels::Backend*& b : lm->placement_.backends) {
      lm->timed_.push_back(std::make_unique<kernels::TimedBackend>(*b));
      b = lm->timed_.back().get();
    }
  lm->default_n_ctx_ = n_ctx;
  return lm;
}

std::vector<kernels::OpTime> LoadedModel::op_times() const {
  std::vector<kernels::OpTime> all;
  for (const auto& t : timed_) {
    std::vector<kernels::OpTime> rows = t->times();
    all.insert(all.end(), rows.begin(), rows.end());
  }
  std::sort(all.begin(), all.end(), [](const kernels::OpTime& a, const kernels::OpTime& b) { return a.seconds > b.seconds; });
  return all;
}

void LoadedModel::reset_op_times() {
  for (const auto& t : timed_) t->reset();
}

std::optional<StagingCounters> LoadedModel::staging_counters() const {
  if (!device_weights_ || !device_weights_->staging()) return std::nullopt;
  return device_weights_->staging()->counters();
}

uint64_t peak_rss_bytes() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  uint64_t kb = 0;
  while (std::fgets(line, sizeof(line), f)) {
    if (std::strncmp(line, "VmHWM:", 6) == 0) {
      kb = std::strtoull(line + 6, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kb * 1024;
}

}  // namespace strata::engine
