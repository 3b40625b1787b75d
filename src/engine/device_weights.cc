// engine/device_weights.cc: the one-time upload of GPU-tier tensors and the lookups that serve them.
#include "engine/device_weights.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include <fmt/format.h>

#include "core/aligned_buffer.h"
#include "core/units.h"

namespace strata::engine {

Result<std::unique_ptr<DeviceWeights>> DeviceWeights::make(const model::Model& m, model::WeightSource& base,
                                                           model::ExpertSource* base_experts,
                                                           const std::vector<bool>& on_device,
                                                           kernels::Backend& device, const StagingSetup* staging,
                                                           const ExpertCacheSetup* cache,
                                                           const DeviceUploadSource* upload) {
  std::unique_ptr<DeviceWeights> dw(new DeviceWeights(m, base, base_experts, device));
  dw->views_.resize(m.tensors.size());
  std::vector<model::TensorId> ids;
  for (size_t id = 0; id < m.tensors.size() && id < on_device.size(); ++id)
    if (on_device[id]) ids.push_back(static_cast<model::TensorId>(id));
  // In file order: the reads of an upload from the file then run forward through it.
  std::sort(ids.begin(), ids.end(),
            [&](model::TensorId a, model::TensorId b) { return m.tensors[a].file_offset < m.tensors[b].file_offset; });
  // One allocation for them all: the device rounds each allocation up to its page (2 MiB), which a tensor
  // at a time would pay once per tensor.
  std::vector<std::pair<model::TensorId, uint8_t*>> targets;  // in file order, each with its device bytes
  std::vector<uint64_t> offset(ids.size());
  uint64_t total = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    offset[i] = total;
    total += (m.tensors[ids[i]].size_bytes + 255) / 256 * 256;
  }
  if (total > 0) {
    auto buf = device.alloc(total, kernels::BufferUse::Weights);
    if (!buf)
      return error(ErrorKind::ResourceExhausted, "{}: out of memory for {} of weights ({} tensors)", device.name(),
                   format_bytes(total), ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      const model::TensorId id = ids[i];
      TensorView v = model::make_view(m, id, buf->data() + offset[i]);
      v.device = device.device();
      dw->views_[id] = v;
      dw->device_bytes_ += m.tensors[id].size_bytes;
      targets.emplace_back(id, buf->data() + offset[i]);
    }
    dw->buffers_.push_back(std::move(buf));
  }
  if (upload != nullptr) {
    STRATA_RETURN_IF_ERROR(dw->upload_from_file(targets, *upload));
  } else {
    for (const auto& [id, dst] : targets) {
      STRATA_ASSIGN_OR_RETURN(model::WeightRef host, base.acquire(id));
      const TensorView& h = host.view();
      if (host.ready()) device.wait(*host.ready());
      device.copy(h.data, h.device, dst, device.device(), h.size_bytes());
      host.release_after(device.record());
    }
  }
  device.synchronize();
  if (staging != nullptr && (!staging->orders.prefill.empty() || !staging->orders.decode.empty())) {
    DeviceWeights* self = dw.get();
    auto host = [self](StageKey key) -> Result<model::WeightRef> {
      if (key.expert < 0) return self->base_.acquire(key.id);
      for (size_t l = 0; l < self->m_.layers.size(); ++l)
        for (int p = 0; p < 3; ++p)
          if (self->m_.layers[l].ffn_exps[p] == key.id && self->base_experts_)
            return self->base_experts_->acquire_expert(static_cast<int>(l), static_cast<model::ExpertTensor>(p), key.expert);
      return error("internal: no expert source for '{}'", self->m_.tensors[key.id].name);
    };
    STRATA_ASSIGN_OR_RETURN(dw->staging_,
                            DeviceStaging::make(m, device, staging->copier ? *staging->copier : device, staging->n_slots,
                                                staging->slot_bytes, staging->orders, host));
    dw->device_bytes_ += static_cast<uint64_t>(staging->n_slots) * staging->slot_bytes;
  }
  std::vector<model::TensorId> pins;
  if (staging != nullptr) pins = staging->pin;
  if (cache != nullptr && cache->n_slots > 0) {
    if (base_experts == nullptr) return error("internal: a GPU expert cache needs an expert source");
    auto host = [base_experts](int layer, model::ExpertTensor which, int32_t expert) {
      return base_experts->acquire_expert(layer, which, expert);
    };
    kernels::Backend& copier = cache->copier ? *cache->copier : device;
    STRATA_ASSIGN_OR_RETURN(dw->cache_, GpuExpertCache::make(m, device, copier, *cache, host));
    dw->device_bytes_ += dw->cache_->device_bytes();
    if (dw->staging_) {
      const GpuExpertCache* held = dw->cache_.get();
      dw->staging_->skip_held([held](int layer, int32_t expert) { return held->holds(layer, expert); });
    }
    pins.insert(pins.end(), cache->pin.begin(), cache->pin.end());
  }
  STRATA_RETURN_IF_ERROR(dw->pin(pins));
  return dw;
}

// Two host bounce buffers, page-locked where the device allows: one fills from the file while the other's copy
// runs, so the load moves at the slower of the disk and the link and holds 2 chunks of RAM, never a tensor.
Status DeviceWeights::upload_from_file(std::span<const std::pair<model::TensorId, uint8_t*>> targets,
                                       const DeviceUploadSource& src) {
  uint64_t total = 0;
  for (const auto& [id, dst] : targets) total += m_.tensors[id].size_bytes;
  if (total == 0) return Status::ok();
  const uint64_t chunk = std::max<uint64_t>(src.chunk_bytes, 4096);
  AlignedBuffer bounce[2];
  bool pinned[2] = {false, false};
  kernels::EventPtr copied[2];
  for (int b = 0; b < 2; ++b) {  // whole pages, to be page-locked, with room for an aligned read's ends
    bounce[b].reset((std::min(chunk, total) + 2 * src.alignment + 4095) / 4096 * 4096);
    pinned[b] = device_.pin_host(bounce[b].data(), bounce[b].size());
  }
  Progress p = bytes_progress("loading to the GPU", {}, 0, total);
  report(src.progress, p);
  Status st = Status::ok();
  int b = 0;
  for (const auto& [id, dst] : targets) {
    const gguf::TensorInfo& t = m_.tensors[id];
    for (uint64_t off = 0; off < t.size_bytes && st; off += chunk, b ^= 1) {
      const uint64_t len = std::min(chunk, t.size_bytes - off);
      if (copied[b]) copied[b]->synchronize();  // the copy out of this buffer has finished reading it
      Result<uint64_t> lead = src.read(t.file_offset + off, len, {bounce[b].data(), bounce[b].size()});
      if (!lead) {
        st = lead.status().with_context(fmt::format("uploading '{}' to {}", t.name, device_.name()));
        break;
      }
      device_.copy(bounce[b].data() + lead.value(), kHostDevice, dst + off, device_.device(), len);
      copied[b] = device_.record();
      p.done += len;
      report(src.progress, p);
    }
    if (!st) break;
  }
  device_.synchronize();  // no copy still reads a bounce buffer about to be freed
  for (int b2 = 0; b2 < 2; ++b2)
    if (pinned[b2]) device_.unpin_host(bounce[b2].data());
  STRATA_RETURN_IF_ERROR(st);
  p.done = total;
  p.finished = true;
  report(src.progress, p);
  return Status::ok();
}

DeviceUploadSource upload_source(io::Reader& reader, ProgressFn progress) {
  DeviceUploadSource s;
  s.alignment = reader.alignment();
  s.progress = std::move(progress);
  s.read = [&reader](uint64_t offset, uint64_t len, std::span<uint8_t> buf) -> Result<uint64_t> {
    const io::AlignedSpan a = io::align_span(offset, len, reader.alignment());
    if (a.length > buf.size())
      return error("internal: an aligned read of {} bytes does not fit a {}-byte bounce buffer", a.length, buf.size());
    STRATA_RETURN_IF_ERROR(reader.submit({a.start, a.length, a.need, buf.data(), 0}));
    STRATA_ASSIGN_OR_RETURN(io::ReadCompletion done, reader.wait());
    STRATA_RETURN_IF_ERROR(done.status);
    return a.lead;
  };
  return s;
}

void DeviceWeights::end_layer(int layer) {
  base_.end_layer(layer);
  if (!cache_ || !decode_ || !cache_error_.empty()) return;
  // An admission that fails leaves the cache as it is (every held expert still correct): it stops adapting,
  // and the run reports why.
  if (Status st = cache_->admit(layer); !st) cache_error_ = st.message();
}

bool DeviceWeights::holds_expert_on(int layer, int32_t expert, Device where) const {
  return cache_ && where == device_.device() && cache_->holds(layer, expert);
}

DeviceWeights::~DeviceWeights() {
  if (staging_) staging_->synchronize();  // no upload still reads a range about to be unpinned
  if (cache_) cache_->synchronize();
  for (uint8_t* p : pinned_) device_.unpin_host(p);
}

// Page-locks the host bytes of `ids` (whole pages, overlapping ranges merged), so their uploads run at the
// link's full speed. Bytes a source moves (a streaming slot) are not pinned.
Status DeviceWeights::pin(const std::vector<model::TensorId>& ids) {
  constexpr uintptr_t kPage = 4096;
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
  for (model::TensorId id : ids) {
    STRATA_ASSIGN_OR_RETURN(model::WeightRef w, base_.acquire(id));
    if (w.owned() || !w->device.is_host() || w->data == nullptr) continue;
    const auto begin = reinterpret_cast<uintptr_t>(w->data);
    ranges.emplace_back(begin / kPage * kPage, (begin + w.view().size_bytes() + kPage - 1) / kPage * kPage);
  }
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<uintptr_t, uintptr_t>> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().second) merged.back().second = std::max(merged.back().second, r.second);
    else merged.push_back(r);
  }
  for (const auto& [begin, end] : merged) {
    auto* p = reinterpret_cast<uint8_t*>(begin);
    if (!device_.pin_host(p, end - begin)) continue;
    pinned_.push_back(p);
    pinned_bytes_ += end - begin;
  }
  return Status::ok();
}

void DeviceWeights::begin_pass(bool decode) {
  decode_ = decode;
  if (staging_) staging_->begin_pass(decode);
  base_.begin_pass(decode);
}

Result<model::WeightRef> DeviceWeights::acquire(model::TensorId id) {
  if (id >= 0 && static_cast<size_t>(id) < views_.size() && views_[id].data) return model::WeightRef(views_[id]);
  return base_.acquire(id);
}

Result<model::WeightRef> DeviceWeights::acquire_for(model::TensorId id, Device where) {
  if (id >= 0 && static_cast<size_t>(id) < views_.size() && views_[id].data) {
    if (where == device_.device()) return model::WeightRef(views_[id]);
    // Read elsewhere too (an expert bias beside host-computed experts): the host copy where the source keeps
    // one; otherwise the device's, which the reader's backend then refuses by name.
    if (auto host = base_.acquire_for(id, where); host.is_ok()) return host;
    return model::WeightRef(views_[id]);
  }
  if (staging_ && where == device_.device() && staging_->stages({id, -1}, decode_)) return staged({id, -1});
  return base_.acquire_for(id, where);
}

Result<model::WeightRef> DeviceWeights::staged(StageKey key) {
  uint64_t handle = 0;
  kernels::EventPtr ready;
  STRATA_ASSIGN_OR_RETURN(TensorView v, staging_->acquire(key, handle, ready));
  return model::WeightRef(v, this, handle, std::move(ready));
}

Result<model::WeightRef> DeviceWeights::acquire_expert_for(int layer, model::ExpertTensor which, int32_t expert,
                                                           Device where) {
  const model::TensorId id = m_.layers[layer].ffn_exps[static_cast<int>(which)];
  const bool resident = id >= 0 && static_cast<size_t>(id) < views_.size() && views_[id].data;
  if (!resident && cache_ && where == device_.device() && cache_->holds(layer, expert)) {
    int slot = -1;
    kernels::EventPtr ready;
    TensorView v = cache_->acquire(layer, which, expert, slot, ready);
    return model::WeightRef(v, this, kCacheHandle | static_cast<uint64_t>(slot), std::move(ready));
  }
  if (!resident && staging_ && where == device_.device() && staging_->stages({id, expert}, decode_))
    return staged({id, expert});
  return acquire_expert(layer, which, expert);
}

int DeviceWeights::max_held_experts() const {
  int most = base_experts_ ? base_experts_->max_held_experts() : model::ExpertSource::max_held_experts();
  // A group holds its experts' three slices each until its last product (DeviceStaging::max_held_units: the last
  // one uploaded on demand, beside the tail the ring loses where it wraps).
  if (staging_ && staging_->stages_experts(decode_)) most = std::min(most, std::max(1, staging_->max_held_units() / 3));
  return most;
}

void DeviceWeights::release(uint64_t handle, kernels::EventPtr consumed) {
  if (handle & kCacheHandle) cache_->release(static_cast<int>(handle & ~kCacheHandle), std::move(consumed));
  else staging_->release(handle, std::move(consumed));
}

void DeviceWeights::on_route(int layer, std::span<const int32_t> experts) {
  if (staging_) staging_->on_route(layer, experts);
  if (cache_ && decode_) cache_->on_route(layer, experts);
  if (base_experts_) base_experts_->on_route(layer, experts);
}

Result<model::WeightRef> DeviceWeights::acquire_expert(int layer, model::ExpertTensor which, int32_t expert) {
  const model::TensorId id = m_.layers[layer].ffn_exps[static_cast<int>(which)];
  if (id >= 0 && static_cast<size_t>(id) < views_.size() && views_[id].data)
    return model::WeightRef(views_[id].slice_last(expert));
  if (!base_experts_) return error("internal: no expert source for layer {}", layer);
  return base_experts_->acquire_expert(layer, which, expert);
}

}  // namespace strata::engine
