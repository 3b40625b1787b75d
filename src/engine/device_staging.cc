// engine/device_staging.cc: the staging ring: uploads in pass order, slots refilled behind their readers.
#include "engine/device_staging.h"

#include <algorithm>

#include "core/units.h"

namespace strata::engine {

Result<std::unique_ptr<DeviceStaging>> DeviceStaging::make(const model::Model& m, kernels::Backend& device,
                                                           kernels::Backend& copier, int n_slots, uint64_t slot_bytes,
                                                           Orders orders, HostSource host) {
  if (n_slots < 2) return error("device staging needs at least 2 slots (one computing, one receiving), got {}", n_slots);
  std::unique_ptr<DeviceStaging> s(new DeviceStaging(m, device, copier, std::move(host)));
  s->slot_bytes_ = slot_bytes;
  auto positions = [&](const std::vector<model::TensorId>& order, std::vector<int32_t>& pos) -> Status {
    pos.assign(m.tensors.size(), -1);
    for (size_t i = 0; i < order.size(); ++i) {
      const model::TensorId id = order[i];
      if (id < 0 || static_cast<size_t>(id) >= m.tensors.size()) return error("internal: staged tensor id {}", id);
      if (m.tensors[id].size_bytes > slot_bytes)
        return error("tensor '{}' ({}) does not fit a device staging slot of {}", m.tensors[id].name,
                     format_bytes(m.tensors[id].size_bytes), format_bytes(slot_bytes));
      pos[id] = static_cast<int32_t>(i);
    }
    return Status::ok();
  };
  STRATA_RETURN_IF_ERROR(positions(orders.prefill, s->prefill_pos_));
  STRATA_RETURN_IF_ERROR(positions(orders.decode, s->decode_pos_));
  s->orders_ = std::move(orders);
  s->slots_.resize(static_cast<size_t>(n_slots));
  for (Slot& slot : s->slots_) {
    slot.buf = device.alloc(slot_bytes, kernels::BufferUse::Weights);
    if (!slot.buf)
      return error("{}: out of memory for {} device staging slots of {}", device.name(), n_slots, format_bytes(slot_bytes));
  }
  return s;
}

bool DeviceStaging::stages(model::TensorId id, bool decode) const {
  const auto& pos = decode ? decode_pos_ : prefill_pos_;
  return id >= 0 && static_cast<size_t>(id) < pos.size() && pos[id] >= 0;
}

int DeviceStaging::slot_of(model::TensorId id) const {
  for (size_t s = 0; s < slots_.size(); ++s)
    if (slots_[s].id == id) return static_cast<int>(s);
  return -1;
}

Result<bool> DeviceStaging::upload(model::TensorId id) {
  Slot& slot = slots_[static_cast<size_t>(next_)];
  if (slot.refs > 0) return false;  // the ring reached the slot an op is reading: nothing further ahead
  STRATA_ASSIGN_OR_RETURN(model::WeightRef host, host_(id));
  const TensorView& v = host.view();
  if (v.size_bytes() > slot_bytes_)
    return error("tensor '{}' ({}) does not fit a device staging slot of {}", m_.tensors[id].name,
                 format_bytes(v.size_bytes()), format_bytes(slot_bytes_));
  // The copy stream waits for the slot's last reader and for the host bytes, then overwrites the slot.
  if (slot.read_done) copier_.wait(*slot.read_done);
  if (host.ready()) copier_.wait(*host.ready());
  copier_.copy(v.data, v.device, slot.buf->data(), device_.device(), v.size_bytes());
  slot.uploaded = copier_.record();
  slot.read_done = nullptr;
  slot.id = id;
  host.release_after(slot.uploaded);
  next_ = (next_ + 1) % n_slots();
  ++counters_.uploads;
  counters_.bytes += v.size_bytes();
  return true;
}

Result<TensorView> DeviceStaging::acquire(model::TensorId id, int& slot_index, kernels::EventPtr& ready) {
  int s = slot_of(id);
  if (s >= 0) {
    ++counters_.ahead;
  } else {
    ++counters_.on_demand;
    // Ops release their weights as soon as they are enqueued, so at most one slot is held: skip past it.
    for (int tries = 0; tries < n_slots() && slots_[static_cast<size_t>(next_)].refs > 0; ++tries)
      next_ = (next_ + 1) % n_slots();
    STRATA_ASSIGN_OR_RETURN(bool issued, upload(id));
    if (!issued) return error("internal: every device staging slot is held");
    s = slot_of(id);
  }
  Slot& slot = slots_[static_cast<size_t>(s)];
  ++slot.refs;
  slot_index = s;
  ready = slot.uploaded;
  TensorView v = model::make_view(m_, id, slot.buf->data());
  v.device = device_.device();

  // Upload ahead: the tensors after this one in the pass's order (wrapping into the next pass), into the
  // ring's next slots, which hold what was read longest ago.
  const auto& ord = order();
  const auto& pos = position();
  if (static_cast<size_t>(id) < pos.size() && pos[id] >= 0) {
    for (int j = 1; j < n_slots(); ++j) {
      const model::TensorId next = ord[(static_cast<size_t>(pos[id]) + static_cast<size_t>(j)) % ord.size()];
      if (next == id) break;  // fewer staged tensors than slots: all of them are in
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
