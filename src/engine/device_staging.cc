// engine/device_staging.cc: the staging ring: uploads in pass order, slots refilled behind their readers.
#include "engine/device_staging.h"

#include <algorithm>

#include "core/units.h"

namespace strata::engine {

uint64_t DeviceStaging::unit_bytes(const model::Model& m, StageKey key) {
  const uint64_t whole = m.tensors[key.id].size_bytes;
  return key.expert < 0 ? whole : whole / static_cast<uint64_t>(std::max<int64_t>(m.hp.n_expert, 1));
}

int DeviceStaging::max_held_units(int n_slots, uint64_t slot_bytes) {
  if (n_slots <= 0 || slot_bytes == 0) return 0;
  const uint64_t units = static_cast<uint64_t>(n_slots) * slot_bytes / aligned(slot_bytes);
  return units > 1 ? static_cast<int>(units - 1) : 0;
}

Result<std::unique_ptr<DeviceStaging>> DeviceStaging::make(const model::Model& m, kernels::Backend& device,
                                                           kernels::Backend& copier, int n_slots, uint64_t slot_bytes,
                                                           Orders orders, HostSource host) {
  if (n_slots < 2) return error("device staging needs at least 2 slots (one computing, one receiving), got {}", n_slots);
  std::unique_ptr<DeviceStaging> s(new DeviceStaging(m, device, copier, std::move(host)));
  s->slot_bytes_ = slot_bytes;
  s->layer_of_.assign(m.tensors.size(), -1);
  for (size_t l = 0; l < m.layers.size(); ++l)
    for (model::TensorId id : m.layers[l].ffn_exps)
      if (id != model::kNoTensor) s->layer_of_[id] = static_cast<int>(l);
  auto positions = [&](const std::vector<StageKey>& order, std::unordered_map<uint64_t, size_t>& pos,
                       bool& experts) -> Status {
    for (size_t i = 0; i < order.size(); ++i) {
      const StageKey k = order[i];
      if (k.id < 0 || static_cast<size_t>(k.id) >= m.tensors.size()) return error("internal: staged tensor id {}", k.id);
      if (k.expert >= 0 && (s->layer_of_[k.id] < 0 || k.expert >= m.hp.n_expert))
        return error("internal: '{}' has no expert {} to stage", m.tensors[k.id].name, k.expert);
      if (unit_bytes(m, k) > slot_bytes)
        return error("tensor '{}' ({}) does not fit a device staging slot of {}", m.tensors[k.id].name,
                     format_bytes(unit_bytes(m, k)), format_bytes(slot_bytes));
      pos[hash(k)] = i;
      experts |= k.expert >= 0;
    }
    return Status::ok();
  };
  STRATA_RETURN_IF_ERROR(positions(orders.prefill, s->prefill_pos_, s->prefill_experts_));
  STRATA_RETURN_IF_ERROR(positions(orders.decode, s->decode_pos_, s->decode_experts_));
  s->orders_ = std::move(orders);
  s->ring_bytes_ = static_cast<uint64_t>(n_slots) * slot_bytes;
  s->ring_ = device.alloc(s->ring_bytes_, kernels::BufferUse::Weights);
  if (!s->ring_)
    return error("{}: out of memory for device staging of {}", device.name(), format_bytes(s->ring_bytes_));
  return s;
}

bool DeviceStaging::stages(StageKey key, bool decode) const {
  return (decode ? decode_pos_ : prefill_pos_).count(hash(key)) > 0;
}

void DeviceStaging::begin_pass(bool decode) {
  decode_ = decode;
  ++pass_;
  routed_layer_ = -1;
}

void DeviceStaging::on_route(int layer, std::span<const int32_t> experts) {
  routed_layer_ = layer;
  routed_.assign(static_cast<size_t>(std::max<int64_t>(m_.hp.n_expert, 0)), false);
  for (int32_t e : experts)
    if (e >= 0 && static_cast<size_t>(e) < routed_.size()) routed_[static_cast<size_t>(e)] = true;
}

bool DeviceStaging::skipped(StageKey key) const {
  if (key.expert < 0) return false;
  if (held_ && held_(layer_of_[key.id], key.expert)) return true;
  return layer_of_[key.id] == routed_layer_ && !routed_[static_cast<size_t>(key.expert)];
}

DeviceStaging::Region* DeviceStaging::find(StageKey key) {
  const auto it = where_.find(hash(key));
  if (it == where_.end() || it->second < front_handle_) return nullptr;
  Region& r = regions_[static_cast<size_t>(it->second - front_handle_)];
  if (r.key != key || (key.expert >= 0 && r.pass != pass_)) return nullptr;
  return &r;
}

Result<bool> DeviceStaging::upload(StageKey key) {
  STRATA_ASSIGN_OR_RETURN(model::WeightRef host, host_(key));
  const TensorView& v = host.view();
  if (v.size_bytes() > slot_bytes_)
    return error("tensor '{}' ({}) does not fit a device staging unit of {}", m_.tensors[key.id].name,
                 format_bytes(v.size_bytes()), format_bytes(slot_bytes_));
  const uint64_t bytes = aligned(v.size_bytes());
  // After the newest region, or from the ring's start when the end is too near (the tail is then given up).
  const bool wrap = head_ + bytes > ring_bytes_;
  const uint64_t start = wrap ? 0 : head_;
  // The oldest regions lie in the way (live regions run on from the oldest to head_): retire them, the copy
  // stream waiting for each one's last reader.
  while (!regions_.empty()) {
    const Region& r = regions_.front();
    const bool in_tail = wrap && r.offset >= head_;
    const bool overlaps = r.offset < start + bytes && start < r.offset + r.bytes;
    if (!in_tail && !overlaps) break;
    if (r.refs > 0) return false;  // an op being issued still holds it: nothing further ahead
    if (r.read_done) copier_.wait(*r.read_done);
    if (auto it = where_.find(hash(r.key)); it != where_.end() && it->second == front_handle_) where_.erase(it);
    regions_.pop_front();
    ++front_handle_;
  }
  Region r;
  r.key = key;
  r.offset = start;
  r.bytes = bytes;
  r.pass = pass_;
  if (host.ready()) copier_.wait(*host.ready());
  copier_.copy(v.data, v.device, ring_->data() + start, device_.device(), v.size_bytes());
  r.uploaded = copier_.record();
  host.release_after(r.uploaded);
  where_[hash(key)] = front_handle_ + regions_.size();
  regions_.push_back(std::move(r));
  head_ = start + bytes;
  ++counters_.uploads;
  counters_.bytes += v.size_bytes();
  return true;
}

Result<TensorView> DeviceStaging::acquire(StageKey key, uint64_t& handle, kernels::EventPtr& ready) {
  if (find(key) != nullptr) {
    ++counters_.ahead;
  } else {
    ++counters_.on_demand;
    STRATA_ASSIGN_OR_RETURN(bool issued, upload(key));
    if (!issued) return error("internal: the device staging ring is held whole by the ops being issued");
  }
  Region& r = *find(key);
  ++r.refs;
  handle = where_[hash(key)];
  ready = r.uploaded;
  TensorView v = model::make_view(m_, key.id, ring_->data() + r.offset);
  if (key.expert >= 0) {
    v.ne[2] = 1;  // one expert's [k, rows] slice, as TensorView::slice_last makes it
    v.ne[3] = 1;
  }
  v.device = device_.device();

  // Upload ahead: the units after this one in the pass's order (wrapping into the next pass), while they and
  // this one fit the ring beside room for one more unit of the largest size (an on-demand upload never has to
  // wait for the units ahead to be read), up to the first expert slice of a layer not yet routed.
  const auto& ord = order();
  const auto at = position().find(hash(key));
  if (at != position().end()) {
    uint64_t ahead = r.bytes;
    for (size_t j = 1; j < ord.size(); ++j) {
      const StageKey next = ord[(at->second + j) % ord.size()];
      if (next == key || unrouted(next, at->second + j >= ord.size())) break;
      if (skipped(next)) continue;
      ahead += aligned(unit_bytes(m_, next));
      if (ahead + slot_bytes_ > ring_bytes_) break;
      if (find(next) != nullptr) continue;
      STRATA_ASSIGN_OR_RETURN(bool issued, upload(next));
      if (!issued) break;
    }
  }
  return v;
}

void DeviceStaging::release(uint64_t handle, kernels::EventPtr consumed) {
  if (handle < front_handle_ || handle - front_handle_ >= regions_.size()) return;
  Region& r = regions_[static_cast<size_t>(handle - front_handle_)];
  if (r.refs > 0) --r.refs;
  if (consumed) r.read_done = std::move(consumed);
}

}  // namespace strata::engine
