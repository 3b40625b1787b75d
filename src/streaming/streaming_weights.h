// streaming/streaming_weights.h: the weight and expert source for models bigger than RAM: a pinned resident
// set, dense tensors streamed through prefetched staging slots, MoE experts through the expert cache, all read
// with direct I/O so the page cache never holds (or evicts for) the model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/status.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "model/weight_source.h"
#include "streaming/io_queue.h"
#include "streaming/stream_config.h"
#include "streaming/stream_stats.h"

namespace strata::streaming {

class StagingPool;
class RowGather;
class ExpertCache;
class ExpertStats;

// REQUIRES: one forward pass at a time, on one thread (the pass's acquire/release order drives the
// prefetcher). Views stay valid until their WeightRef is released and the event it was released behind completes. Errors (a failed or short read, the file
// changed on disk) come back from acquire()/acquire_rows()/acquire_expert() as a Status naming the tensor; a
// file that changed keeps failing every later call. A streamed untied token embedding is served by
// acquire_rows() alone (gathers_rows): the rows of the pass's tokens, read on demand, never the matrix.
class StreamingWeights final : public model::WeightSource, public model::ExpertSource, private model::WeightReleaser {
 public:
  ~StreamingWeights() override;  // waits for reads in flight, then saves the statistics file if one is set

  void begin_layer(int layer) override;
  void end_layer(int layer) override;
  Result<model::WeightRef> acquire(model::TensorId id) override;
  bool gathers_rows(model::TensorId id) const override;
  Result<model::WeightRef> acquire_rows(model::TensorId id, std::span<const int32_t> rows) override;
  void on_route(int layer, std::span<const int32_t> experts) override;
  Result<model::WeightRef> acquire_expert(int layer, model::ExpertTensor which, int32_t expert) override;
  int max_held_experts() const override;

  StreamStats stats() const;
  const MemoryPlan& memory() const { return plan_; }
  // Writes the co-activation statistics now (also done at destruction). No-op without a stats path.
  Status save_stats() const;

 private:
  friend Result<std::unique_ptr<StreamingWeights>> make_streaming_weights(const gguf::GgufFile&, const model::Model&,
                                                                         const StreamConfig&, std::unique_ptr<io::Reader>);
  StreamingWeights(const model::Model& m, const StreamConfig& config);
  Status load_resident();
  void release(uint64_t handle, kernels::EventPtr consumed) override;
  Status context(const Status& s, model::TensorId id) const;

  const model::Model& m_;
  const StreamConfig config_;
  MemoryPlan plan_;
  std::unique_ptr<IoQueue> io_;
  ResidentLayout resident_layout_;
  AlignedBuffer resident_;
  std::vector<uint8_t> streamed_;  // per tensor id: 1 when streamed
  std::vector<uint8_t> gathered_;  // per tensor id: 1 when streamed and read a row at a time (is_row_gather)
  std::unique_ptr<StagingPool> staging_;
  std::unique_ptr<RowGather> gather_;
  std::unique_ptr<ExpertCache> experts_;
  std::unique_ptr<ExpertStats> expert_stats_;
  uint64_t identity_ = 0;
  Status sticky_;           // a file that changed under us: every later acquire fails with it
  bool after_last_layer_ = false;  // end_layer(n_layer - 1) was the last event: the next global group ends the pass
  int64_t abs_group_ = -1;         // the pass's absolute group (see Schedule)
  uint64_t n_passes_ = 0;
  double load_seconds_ = 0;
  IoCounters at_load_;  // counters once the resident set was read; stats report what came after
  Status resident_error_;
  uint64_t resident_loaded_bytes_ = 0;  // progress of load_resident (completions arrive on the draining thread)
};

// Builds the source: validates `config`, opens the reader it names, reads the resident set, warms the
// expert cache from saved statistics.
Result<std::unique_ptr<StreamingWeights>> make_streaming_weights(const gguf::GgufFile& file, const model::Model& model,
                                                                 const StreamConfig& config);
// The same over a reader the caller made (the in-memory double with injected faults, in tests).
Result<std::unique_ptr<StreamingWeights>> make_streaming_weights(const gguf::GgufFile& file, const model::Model& model,
                                                                 const StreamConfig& config,
                                                                 std::unique_ptr<io::Reader> reader);

}  // namespace strata::streaming
