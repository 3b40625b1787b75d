// engine/device_weights.h: the tensors a plan keeps in GPU memory, copied there once at load; the RAM-tier
// tensors it computes on the GPU, uploaded per use through device staging; the MoE experts a GPU expert cache
// holds; every other tensor from the wrapped source (resident RAM or streaming).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/status.h"
#include "engine/device_staging.h"
#include "engine/gpu_expert_cache.h"
#include "io/reader.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "model/weight_source.h"

namespace strata::engine {

// What device staging the plan asks for: the tensors each kind of pass uploads, in pass order, and the ring.
struct StagingSetup {
  kernels::Backend* copier = nullptr;  // the copy stream (null: the device backend itself)
  int n_slots = 0;
  uint64_t slot_bytes = 0;
  DeviceStaging::Orders orders;
  std::vector<model::TensorId> pin;  // staged tensors the plan holds in pinned RAM: page-locked at load
};

// Where the tensors kept in GPU memory come from when the host holds no copy of them: the model file, read a
// bounded chunk at a time into host bounce buffers and copied on (RAM then holds only what its tier plans).
struct DeviceUploadSource {
  // Checked read of the file range [offset, offset + len) into `buf` (page-aligned, len + 2 * alignment bytes
  // long); returns where in `buf` the range begins (a direct read starts at the aligned offset below it).
  std::function<Result<uint64_t>(uint64_t offset, uint64_t len, std::span<uint8_t> buf)> read;
  uint64_t alignment = 4096;
  ProgressFn progress;  // hears "loading to the GPU" in bytes
  uint64_t chunk_bytes = 64ull << 20;
};

// The model file through `reader` (O_DIRECT where the filesystem allows: the GPU tier never passes through
// the page cache, which a memory-limited cgroup would otherwise be charged for). `reader` outlives the source.
DeviceUploadSource upload_source(io::Reader& reader, ProgressFn progress);

class DeviceWeights final : public model::WeightSource, public model::ExpertSource, private model::WeightReleaser {
 public:
  // Copies every tensor with on_device[id] into Weights buffers of `device`: from `upload`'s file where given
  // (`base` then need not hold them), else from `base`. With `staging`, the tensors it lists are uploaded per
  // use for products on `device`. With `cache`, experts of the layers it serves are held a (layer, expert) at
  // a time in a GPU expert cache.
  static Result<std::unique_ptr<DeviceWeights>> make(const model::Model& m, model::WeightSource& base,
                                                     model::ExpertSource* base_experts,
                                                     const std::vector<bool>& on_device, kernels::Backend& device,
                                                     const StagingSetup* staging = nullptr,
                                                     const ExpertCacheSetup* cache = nullptr,
                                                     const DeviceUploadSource* upload = nullptr);

  void begin_layer(int layer) override { base_.begin_layer(layer); }
  // The layer's ops are issued: the expert cache may now copy in an expert its decode steps keep missing.
  void end_layer(int layer) override;
  void begin_pass(bool decode) override;
  Result<model::WeightRef> acquire(model::TensorId id) override;
  Result<model::WeightRef> acquire_for(model::TensorId id, Device where) override;
  // Row gathers are the base's (a streamed embedding, read on the host: the plan never ships it to the GPU);
  // a tensor held on the device is served whole.
  bool gathers_rows(model::TensorId id) const override {
    const bool held = id >= 0 && static_cast<size_t>(id) < views_.size() && views_[id].data;
    return !held && base_.gathers_rows(id);
  }
  Result<model::WeightRef> acquire_rows(model::TensorId id, std::span<const int32_t> rows) override {
    return base_.acquire_rows(id, rows);
  }
  void on_route(int layer, std::span<const int32_t> experts) override;
  Result<model::WeightRef> acquire_expert(int layer, model::ExpertTensor which, int32_t expert) override;
  Result<model::WeightRef> acquire_expert_for(int layer, model::ExpertTensor which, int32_t expert,
                                              Device where) override;
  bool holds_expert_on(int layer, int32_t expert, Device where) const override;
  // The base's, and in a pass that stages expert slices, what the ring can hold beside one slot receiving.
  int max_held_experts() const override;
  ~DeviceWeights() override;
  uint64_t device_bytes() const { return device_bytes_; }
  // Host bytes page-locked for staging uploads (0 where the backend or the system declined).
  uint64_t pinned_bytes() const { return pinned_bytes_; }
  // Null without staging.
  const DeviceStaging* staging() const { return staging_.get(); }
  // Null without an expert cache.
  const GpuExpertCache* expert_cache() const { return cache_.get(); }
  // Why the expert cache stopped admitting experts (empty while it works).
  const std::string& expert_cache_error() const { return cache_error_; }

 private:
  DeviceWeights(const model::Model& m, model::WeightSource& base, model::ExpertSource* base_experts,
                kernels::Backend& device)
      : m_(m), base_(base), base_experts_(base_experts), device_(device) {}
  void release(uint64_t handle, kernels::EventPtr consumed) override;
  Status pin(const std::vector<model::TensorId>& ids);
  Status upload_from_file(std::span<const std::pair<model::TensorId, uint8_t*>> targets,
                          const DeviceUploadSource& src);
  Result<model::WeightRef> staged(StageKey key);

  const model::Model& m_;
  model::WeightSource& base_;
  model::ExpertSource* base_experts_;
  kernels::Backend& device_;
  std::vector<std::unique_ptr<kernels::Buffer>> buffers_;
  std::vector<TensorView> views_;  // per tensor id; data == nullptr where the base source serves it
  uint64_t device_bytes_ = 0;
  std::unique_ptr<DeviceStaging> staging_;
  std::unique_ptr<GpuExpertCache> cache_;
  std::string cache_error_;
  // WeightRef handles: a staging region's handle, or a cache slot's index with this bit.
  static constexpr uint64_t kCacheHandle = uint64_t{1} << 63;
  bool decode_ = false;
  std::vector<uint8_t*> pinned_;  // page-locked ranges, unpinned at destruction
  uint64_t pinned_bytes_ = 0;
};

}  // namespace strata::engine
