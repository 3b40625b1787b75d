// engine/device_staging.cc: the staging ring: uploads in pass order, slots refilled behind their readers.
#include "engine/device_staging.h"

#include <algorithm>

#include "core/units.h"

namespace strata::engine {

uint64_t DeviceStaging::unit_bytes(const model::Model& m, StageKey key) {
  const uint64_t whole = m.tensors[key.id].size_bytes;
  return key.expert < 0 ? whole : whole / static_cast<uint64_t>(std::max<int64_t>(m.hp.n_expert, 1));
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
  s->slots_.resize(static_cast<size_t>(n_slots));
  for (Slot& slot : s->slots_) {
    slot.buf = device.alloc(slot_bytes, kernels::BufferUse::Weights);
    if (!slot.buf)
      return error("{}: out of memory for {} device staging slots of {}", device.name(), n_slots, format_bytes(slot_bytes));
  }
  return s;
}

bool DeviceStaging::stages(StageKey key, bool decode) const {
  return (decode ? decode_pos_ : prefill_pos_).count(hash(key)) > 0;
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

int DeviceStaging::slot_of(StageKey key) const {
  for (size_t s = 0; s < slots_.size(); ++s)
    if (slots_[s].key == key) return static_cast<int>(s);
  return -1;
}

Result<bool> DeviceStaging::upload(StageKey key) {
  Slot& slot = slots_[static_cast<size_t>(next_)];
  if (slot.refs > 0) return false;  // the ring reached the slot an op is reading: nothing further ahead
  STRATA_ASSIGN_OR_RETURN(model::WeightRef host, host_(key));
  const TensorView& v = host.view();
  if (v.size_bytes() > slot_bytes_)
    return error("tensor '{}' ({}) does not fit a device staging slot of {}", m_.tensors[key.id].name,
                 format_bytes(v.size_bytes()), format_bytes(slot_bytes_));
  // The copy stream waits for the slot's last reader and for the host bytes, then overwrites the slot.
  if (slot.read_done) copier_.wait(*slot.read_done);
  if (host.ready()) copier_.wait(*host.ready());
  copier_.copy(v.data, v.device, slot.buf->data(), device_.device(), v.size_bytes());
  slot.uploaded = copier_.record();
  slot.read_done = nullptr;
  slot.key = key;
  host.release_after(slot.uploaded);
  next_ = (next_ + 1) % n_slots();
  ++counters_.uploads;
  counters_.bytes += v.size_bytes();
  return true;
}

Result<TensorView> DeviceStaging::acquire(StageKey key, int& slot_index, kernels::EventPtr& ready) {
  int s = slot_of(key);
  if (s >= 0) {
    ++counters_.ahead;
  } else {
    ++counters_.on_demand;
    // Ops release their weights once enqueued, so only a group's units are held: skip past them.
    for (int tries = 0; tries < n_slots() && slots_[static_cast<size_t>(next_)].refs > 0; ++tries)
      next_ = (next_ + 1) % n_slots();
    STRATA_ASSIGN_OR_RETURN(bool issued, upload(key));
    if (!issued) return error("internal: every device staging slot is held");
    s = slot_of(key);
  }
  Slot& slot = slots_[static_cast<size_t>(s)];
  ++slot.refs;
  slot_index = s;
  ready = slot.uploaded;
  TensorView v = model::make_view(m_, key.id, slot.buf->data());
  if (key.expert >= 0) {
    v.ne[2] = 1;  // one expert's [k, rows] slice, as TensorView::slice_last makes it
    v.ne[3] = 1;
  }
  v.device = device_.device();

  // Upload ahead: the units after this one in the pass's order (wrapping into the next pass), into the ring's
  // next slots, which hold what was read longest ago.
  const auto& ord = order();
  const auto at = position().find(hash(key));
  if (at != position().end()) {
    int issued_ahead = 0;
    for (size_t j = 1; j < ord.size() && issued_ahead < n_slots() - 1; ++j) {
      const StageKey next = ord[(at->second + j) % ord.size()];
      if (next == key) break;
      if (skipped(next)) continue;
      ++issued_ahead;  // counts units already in a slot too: the lookahead is the ring's depth
      if (slot_of(next) >= 0) continue;
      STRATA_ASSIGN_OR_RETURN(bool issued, upload(next));
      if (!issued) break;
    }
  }
  return v;
}

void DeviceStaging::release(int slot_index, kernels::EventPtr consumed) {
  Slot& slot = slots_[static_cast<size_t>(slot_index)];
  if (slot.refs > 0) --slot.refs;
  if (consumed) slot.read_done = std::move(consumed);
}

}  // namespace strata::engine
