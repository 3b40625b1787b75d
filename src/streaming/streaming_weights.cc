// streaming/streaming_weights.cc: the streaming source: building it, routing acquires to the resident set,
// the staging pool, the row gather or the expert cache, tracking where the pass is, and reporting.
#include "streaming/streaming_weights.h"

#include <chrono>

#include "core/check.h"
#include "core/log.h"
#include "streaming/expert_cache.h"
#include "streaming/expert_stats.h"
#include "io/memory_reader.h"
#include "streaming/row_gather.h"
#include "streaming/schedule.h"
#include "streaming/staging_pool.h"

namespace strata::streaming {

namespace {
enum HandleKind : uint64_t { kStagingHandle = 1, kExpertHandle = 2, kGatherHandle = 3 };
uint64_t make_handle(HandleKind kind, int index) { return (static_cast<uint64_t>(kind) << 32) | static_cast<uint32_t>(index); }
}  // namespace

StreamingWeights::StreamingWeights(const model::Model& m, const StreamConfig& config) : m_(m), config_(config) {}

StreamingWeights::~StreamingWeights() {
  // Reads still in flight target the slots, cache and resident buffer: the queue and its reader go first,
  // and the reader waits for every read it started (even after a fatal error) before it is destroyed.
  if (io_) {
    Status s = io_->drain();
    if (!s.is_ok()) log(LogLevel::Warn, "streaming: {}", s.message());
    io_.reset();
  }
  Status s = save_stats();
  if (!s.is_ok()) log(LogLevel::Warn, "streaming: expert statistics not saved: {}", s.message());
}

Status StreamingWeights::context(const Status& s, model::TensorId id) const {
  const gguf::TensorInfo& t = m_.tensors[id];
  return s.with_context(fmt::format("reading tensor '{}' ({} bytes at offset {})", t.name, t.size_bytes, t.file_offset));
}

Status StreamingWeights::load_resident() {
  if (resident_layout_.total_bytes == 0) return Status::ok();
  const auto t0 = std::chrono::steady_clock::now();
  resident_.reset(resident_layout_.total_bytes, io_->alignment());
  report(config_.progress, bytes_progress("loading", {}, 0, resident_layout_.total_bytes));
  for (size_t r = 0; r < resident_layout_.runs.size(); ++r) {
    const ResidentLayout::Run& run = resident_layout_.runs[r];
    STRATA_RETURN_IF_ERROR(io_->submit(IoQueue::Client::Resident, r, run.span, resident_.data() + run.buffer_offset));
  }
  STRATA_RETURN_IF_ERROR(io_->drain());
  STRATA_RETURN_IF_ERROR(resident_error_.with_context("loading the resident weights"));
  load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report(config_.progress, bytes_progress("loading", {}, resident_layout_.total_bytes,
                                          resident_layout_.total_bytes, /*finished=*/true));
  return Status::ok();
}

void StreamingWeights::begin_layer(int layer) {
  const int n_layer = static_cast<int>(m_.layers.size());
  const int n_positions = n_layer + 2;
  int position = layer + 1;
  if (layer == kGlobalLayer) position = after_last_layer_ ? n_layer + 1 : 0;
  after_last_layer_ = false;
  // The next absolute group at this position: one step on schedule, further after an aborted pass.
  int64_t next = abs_group_ + 1;
  next += ((position - next % n_positions) + n_positions) % n_positions;
  abs_group_ = next;
  if (position == 0) {
    ++n_passes_;
    if (experts_) experts_->begin_pass();
    if (sticky_.is_ok()) sticky_ = io_->reader().check_unchanged();
  }
  staging_->begin_group(abs_group_);
}

void StreamingWeights::end_layer(int layer) { after_last_layer_ = layer == static_cast<int>(m_.layers.size()) - 1; }

Result<model::WeightRef> StreamingWeights::acquire(model::TensorId id) {
  STRATA_RETURN_IF_ERROR(sticky_);
  if (id < 0 || static_cast<size_t>(id) >= m_.tensors.size()) return error("internal: tensor id {} out of range", id);
  const uint64_t off = resident_layout_.tensor_offset[id];
  if (off != ResidentLayout::kNotResident) return model::WeightRef(model::make_view(m_, id, resident_.data() + off));
  if (!streamed_[id] || gathered_[id] || is_expert_tensor(m_, id))
    return error("internal: tensor '{}' is not placed for whole-tensor reads", m_.tensors[id].name);
  auto a = staging_->acquire(id);
  if (!a.is_ok()) return context(a.status(), id);
  return model::WeightRef(a->view, this, make_handle(kStagingHandle, a->slot));
}

bool StreamingWeights::gathers_rows(model::TensorId id) const {
  return id >= 0 && static_cast<size_t>(id) < gathered_.size() && gathered_[id];
}

Result<model::WeightRef> StreamingWeights::acquire_rows(model::TensorId id, std::span<const int32_t> rows) {
  STRATA_RETURN_IF_ERROR(sticky_);
  if (!gathers_rows(id)) return error(ErrorKind::Internal, "internal: tensor id {} is not placed for row gathers", id);
  auto v = gather_->acquire(id, rows);
  if (!v.is_ok()) return context(v.status(), id);
  return model::WeightRef(*v, this, make_handle(kGatherHandle, 0));
}

void StreamingWeights::on_route(int layer, std::span<const int32_t> experts) {
  if (!experts_ || layer < 0 || layer >= static_cast<int>(m_.layers.size())) return;
  expert_stats_->record(layer, experts);
  experts_->on_route(layer, experts);
  if (config_.speculate_min_probability <= 1.0) {
    const auto next = expert_stats_->predict(layer, experts, config_.speculate_min_probability,
                                             static_cast<size_t>(m_.hp.n_expert_used));
    experts_->speculate(layer + 1, next);
  }
}

Result<model::WeightRef> StreamingWeights::acquire_expert(int layer, model::ExpertTensor which, int32_t expert) {
  STRATA_RETURN_IF_ERROR(sticky_);
  if (layer < 0 || layer >= static_cast<int>(m_.layers.size()) || expert < 0 || expert >= m_.hp.n_expert)
    return error("internal: expert {} of layer {} does not exist", expert, layer);
  const model::TensorId id = m_.layers[layer].ffn_exps[static_cast<int>(which)];
  const uint64_t off = resident_layout_.tensor_offset[id];
  if (off != ResidentLayout::kNotResident)
    return model::WeightRef(model::make_view(m_, id, resident_.data() + off).slice_last(expert));
  if (!streamed_[id] || experts_ == nullptr)
    return error(ErrorKind::Internal, "internal: '{}' is held in another device's memory, not read here", m_.tensors[id].name);
  auto a = experts_->acquire(layer, which, expert);
  if (!a.is_ok()) return a.status();  // names the expert and the tensor whose read failed
  return model::WeightRef(a->view, this, make_handle(kExpertHandle, a->entry));
}

int StreamingWeights::max_held_experts() const {
  return experts_ ? experts_->n_entries() : model::ExpertSource::max_held_experts();
}

void StreamingWeights::release(uint64_t handle, kernels::EventPtr consumed) {
  const int index = static_cast<int>(handle & 0xffffffffu);
  switch (handle >> 32) {
    case kStagingHandle: staging_->release(index, std::move(consumed)); break;
    case kExpertHandle: experts_->release(index, std::move(consumed)); break;
    case kGatherHandle: gather_->release(std::move(consumed)); break;
    default: STRATA_CHECK_MSG(false, "unknown weight handle");
  }
}

Status StreamingWeights::save_stats() const {
  if (config_.stats_path.empty() || !expert_stats_ || expert_stats_->total() == 0) return Status::ok();
  return expert_stats_->save(config_.stats_path, identity_);
}

StreamStats StreamingWeights::stats() const {
  StreamStats s;
  const IoCounters& c = io_->counters();
  s.reader = std::string(io_->reader().kind_name());
  s.direct_io = io_->reader().direct();
  s.resident_bytes = resident_.size();
  s.staging_bytes = staging_->bytes() + gather_->bytes();
  s.expert_cache_bytes = experts_ ? experts_->bytes() : 0;
  s.load_bytes = at_load_.bytes_read;
  s.load_seconds = load_seconds_;
  s.n_passes = n_passes_;
  s.bytes_read = c.bytes_read - at_load_.bytes_read;
  s.n_reads = c.n_requests - at_load_.n_requests;
  s.n_failed_reads = c.n_failed - at_load_.n_failed;
  s.io_wait_seconds = c.wait_seconds - at_load_.wait_seconds;
  s.io_busy_seconds = c.busy_seconds - at_load_.busy_seconds;
  s.staging_hits = staging_->counters().n_hits;
  s.n_unscheduled = staging_->counters().n_unscheduled;
  if (experts_) {
    const ExpertCounters& e = experts_->counters();
    s.expert_hits = e.hits;
    s.expert_misses = e.misses;
    s.expert_speculative_reads = e.speculative_reads;
    s.expert_speculative_used = e.speculative_used;
    s.expert_warmed = e.warmed;
    for (const PassExpertCounts& p : experts_->per_pass()) s.expert_per_pass.push_back({p.hits, p.misses});
  }
  return s;
}

Result<std::unique_ptr<StreamingWeights>> make_streaming_weights(const gguf::GgufFile& file, const model::Model& model,
                                                                 const StreamConfig& config) {
  std::unique_ptr<io::Reader> reader;
  if (config.io.kind == io::ReaderKind::Memory) {
    STRATA_ASSIGN_OR_RETURN(reader, io::open_memory_reader(file.path));
  } else {
    STRATA_ASSIGN_OR_RETURN(reader, io::open_reader(file.path, config.io));
  }
  return make_streaming_weights(file, model, config, std::move(reader));
}

Result<std::unique_ptr<StreamingWeights>> make_streaming_weights(const gguf::GgufFile& file, const model::Model& model,
                                                                 const StreamConfig& config,
                                                                 std::unique_ptr<io::Reader> reader) {
  if (reader->file_size() != file.file_size)
    return error("'{}' changed size since it was parsed ({} → {} bytes)", file.path, file.file_size, reader->file_size());
  const uint64_t alignment = reader->alignment();
  STRATA_ASSIGN_OR_RETURN(MemoryPlan plan, plan_memory(model, config, alignment));
  std::unique_ptr<StreamingWeights> w(new StreamingWeights(model, config));
  w->plan_ = plan;
  w->io_ = std::make_unique<IoQueue>(std::move(reader));
  w->identity_ = model_identity(model);
  std::vector<bool> streamed(model.tensors.size(), false);
  for (model::TensorId id : config.streamed) streamed[id] = true;
  w->streamed_.assign(streamed.begin(), streamed.end());
  w->gathered_.assign(model.tensors.size(), 0);
  for (model::TensorId id : config.streamed) w->gathered_[id] = is_row_gather(model, id);
  w->resident_layout_ = layout_resident(model, config.resident, alignment);
  w->staging_ = std::make_unique<StagingPool>(model, Schedule(model, streamed), *w->io_, plan.n_slots, plan.slot_bytes,
                                              config.prefetch_depth);
  w->gather_ = std::make_unique<RowGather>(model, *w->io_);
  if (plan.n_expert_entries > 0)
    w->experts_ = std::make_unique<ExpertCache>(model, streamed, *w->io_, plan.n_expert_entries, plan.expert_entry_bytes,
                                                config.expert_decay);

  StreamingWeights* self = w.get();
  w->io_->set_handler(IoQueue::Client::Resident, [self](uint64_t run, const Status& s) {
    if (!s.is_ok() && self->resident_error_.is_ok()) self->resident_error_ = s;
    if (!self->config_.progress || run >= self->resident_layout_.runs.size()) return;
    const uint64_t total = self->resident_layout_.total_bytes;
    self->resident_loaded_bytes_ += self->resident_layout_.runs[run].span.length;
    self->config_.progress(bytes_progress("loading", {}, std::min(self->resident_loaded_bytes_, total), total));
  });
  w->io_->set_handler(IoQueue::Client::Staging, [self](uint64_t token, const Status& s) { self->staging_->complete(token, s); });
  w->io_->set_handler(IoQueue::Client::Gather, [self](uint64_t run, const Status& s) { self->gather_->complete(run, s); });
  w->io_->set_handler(IoQueue::Client::Experts, [self](uint64_t token, const Status& s) {
    STRATA_CHECK(self->experts_ != nullptr);
    self->experts_->complete(token, s);
  });

  STRATA_RETURN_IF_ERROR(w->load_resident());
  if (w->experts_) {
    const int n_layer = static_cast<int>(model.hp.n_layer), n_expert = static_cast<int>(model.hp.n_expert);
    const int n_used = static_cast<int>(model.hp.n_expert_used);
    w->expert_stats_ = std::make_unique<ExpertStats>(n_layer, n_expert, n_used);
    if (!config.stats_path.empty()) {
      auto loaded = ExpertStats::load(config.stats_path, w->identity_, n_layer, n_expert, n_used);
      if (loaded.is_ok()) {
        *w->expert_stats_ = std::move(loaded).value();
      } else {
        log(LogLevel::Warn, "streaming: ignoring saved expert statistics: {}", loaded.status().message());
      }
      // Warm the cache with the experts routed most often in earlier runs.
      STRATA_RETURN_IF_ERROR(w->experts_->warm(w->expert_stats_->hottest(static_cast<size_t>(plan.n_expert_entries))));
    }
  }
  w->at_load_ = w->io_->counters();
  return w;
}

}  // namespace strata::streaming
