// streaming/stream_config.cc: validating and sizing a StreamConfig; resident layouts; budget-only configurations.
#include "streaming/stream_config.h"

#include <algorithm>
#include <cmath>

#include "core/units.h"
#include "streaming/schedule.h"

namespace strata::streaming {

namespace {

// The bytes one expert's slice of stacked tensor `id` occupies, and its file offset for expert e.
uint64_t expert_slice_bytes(const model::Model& m, model::TensorId id) {
  const TensorView v = model::make_view(m, id, nullptr);
  return v.row_bytes() * static_cast<uint64_t>(v.ne[1]);
}

// The largest aligned footprint of one expert's streamed slices, over layers and experts.
uint64_t expert_entry_bytes(const model::Model& m, const std::vector<bool>& streamed, uint64_t alignment) {
  uint64_t most = 0;
  for (const model::LayerTensors& L : m.layers) {
    uint64_t layer_most = 0;
    for (int64_t e = 0; e < m.hp.n_expert; ++e) {
      uint64_t sum = 0;
      for (model::TensorId id : L.ffn_exps) {
        if (id == model::kNoTensor || !streamed[id]) continue;
        const uint64_t bytes = expert_slice_bytes(m, id);
        sum += io::align_span(m.tensors[id].file_offset + static_cast<uint64_t>(e) * bytes, bytes, alignment).length;
      }
      layer_most = std::max(layer_most, sum);
    }
    most = std::max(most, layer_most);
  }
  return most;
}

}  // namespace

std::vector<model::TensorId> used_tensors(const model::Model& m) {
  std::vector<model::TensorId> ids;
  std::vector<bool> seen(m.tensors.size(), false);
  auto add = [&](model::TensorId id) {
    if (id != model::kNoTensor && !seen[id]) {
      seen[id] = true;
      ids.push_back(id);
    }
  };
  for (const PassRead& r : pass_reads(m)) add(r.tensor);
  for (const model::LayerTensors& L : m.layers)
    for (model::TensorId id : L.ffn_exps) add(id);
  return ids;
}

ResidentLayout layout_resident(const model::Model& m, std::span<const model::TensorId> resident, uint64_t alignment) {
  ResidentLayout out;
  out.tensor_offset.assign(m.tensors.size(), ResidentLayout::kNotResident);
  std::vector<model::TensorId> sorted(resident.begin(), resident.end());
  std::sort(sorted.begin(), sorted.end(),
            [&](model::TensorId a, model::TensorId b) { return m.tensors[a].file_offset < m.tensors[b].file_offset; });
  for (model::TensorId id : sorted) {
    const gguf::TensorInfo& t = m.tensors[id];
    const io::AlignedSpan s = io::align_span(t.file_offset, t.size_bytes, alignment);
    ResidentLayout::Run* run = out.runs.empty() ? nullptr : &out.runs.back();
    if (run != nullptr && s.start <= run->span.start + run->span.length) {
      // Overlapping or touching the previous run once rounded: extend it.
      const uint64_t end = std::max(run->span.start + run->span.length, s.start + s.length);
      run->span.length = end - run->span.start;
      run->span.need = std::max(run->span.need, t.file_offset + t.size_bytes - run->span.start);
    } else {
      out.runs.push_back({s, out.total_bytes});
      out.runs.back().span.lead = 0;
      out.runs.back().span.need = t.file_offset + t.size_bytes - s.start;
      run = &out.runs.back();
    }
    out.tensor_offset[id] = run->buffer_offset + (t.file_offset - run->span.start);
    out.total_bytes = run->buffer_offset + run->span.length;
  }
  return out;
}

Result<MemoryPlan> plan_memory(const model::Model& m, const StreamConfig& c, uint64_t alignment) {
  enum Place : uint8_t { Unplaced, Resident, Streamed, Elsewhere };
  std::vector<Place> place(m.tensors.size(), Unplaced);
  const auto mark = [&](const std::vector<model::TensorId>& ids, Place p) -> Status {
    for (model::TensorId id : ids) {
      if (id < 0 || static_cast<size_t>(id) >= m.tensors.size())
        return error("stream config names tensor id {}, but the model has {} tensors", id, m.tensors.size());
      if (place[id] != Unplaced) return error("stream config places tensor '{}' twice", m.tensors[id].name);
      place[id] = p;
    }
    return Status::ok();
  };
  STRATA_RETURN_IF_ERROR(mark(c.resident, Resident));
  STRATA_RETURN_IF_ERROR(mark(c.streamed, Streamed));
  STRATA_RETURN_IF_ERROR(mark(c.elsewhere, Elsewhere));
  std::vector<bool> used(m.tensors.size(), false);
  for (model::TensorId id : used_tensors(m)) {
    used[id] = true;
    if (place[id] == Unplaced) return error("stream config places tensor '{}' neither resident, streamed nor elsewhere", m.tensors[id].name);
  }
  for (size_t id = 0; id < place.size(); ++id)
    if (place[id] != Unplaced && !used[id])
      return error("stream config places tensor '{}', which the forward pass never reads", m.tensors[id].name);
  if (c.prefetch_depth < 0 || c.prefetch_depth > static_cast<int>(m.layers.size()) + 2)
    return error("prefetch depth {} must be between 0 and {} layers", c.prefetch_depth, m.layers.size() + 2);
  if (!std::isfinite(c.expert_decay) || c.expert_decay < 0)
    return error("expert decay {} must be a non-negative number", c.expert_decay);

  MemoryPlan plan;
  plan.resident_bytes = layout_resident(m, c.resident, alignment).total_bytes;
  std::vector<bool> streamed(m.tensors.size(), false);
  uint64_t largest = 0;
  const gguf::TensorInfo* largest_tensor = nullptr;
  bool any_streamed_experts = false;
  for (model::TensorId id : c.streamed) {
    streamed[id] = true;
    if (is_expert_tensor(m, id)) {
      any_streamed_experts = true;
      continue;
    }
    if (is_row_gather(m, id)) continue;  // read a row per token into RowGather's buffers, never a slot
    const gguf::TensorInfo& t = m.tensors[id];
    const uint64_t len = io::align_span(t.file_offset, t.size_bytes, alignment).length;
    if (len > largest) largest = len, largest_tensor = &t;
  }
  if (largest_tensor != nullptr) {
    if (c.n_slots < 1 || c.n_slots > 4096) return error("staging slot count {} must be between 1 and 4096", c.n_slots);
    if (c.slot_bytes != 0 && c.slot_bytes < largest)
      return error("staging slots of {} cannot hold tensor '{}' ({} with alignment)", format_bytes(c.slot_bytes),
                   largest_tensor->name, format_bytes(largest));
    plan.n_slots = c.n_slots;
    plan.slot_bytes = std::max(c.slot_bytes, largest);
    plan.slot_bytes = (plan.slot_bytes + alignment - 1) / alignment * alignment;
  }
  if (any_streamed_experts) {
    plan.expert_entry_bytes = expert_entry_bytes(m, streamed, alignment);
    const uint64_t most = static_cast<uint64_t>(m.hp.n_layer * m.hp.n_expert);
    const uint64_t n = c.expert_cache_bytes == 0 ? static_cast<uint64_t>(m.hp.n_expert_used)
                                                 : c.expert_cache_bytes / plan.expert_entry_bytes;
    if (n < 1)
      return error("an expert cache of {} holds no expert: one expert's slices take {}", format_bytes(c.expert_cache_bytes),
                   format_bytes(plan.expert_entry_bytes));
    plan.n_expert_entries = static_cast<int>(std::min(n, most));
  }
  return plan;
}

StreamConfig resident_config(const model::Model& m, StreamConfig base) {
  base.resident = used_tensors(m);
  base.streamed.clear();
  return base;
}

StreamConfig streamed_config(const model::Model& m, StreamConfig base) {
  base.resident.clear();
  base.streamed = used_tensors(m);
  return base;
}

namespace {

// Tensors in the order a budget makes them resident: most value per byte first (norms, biases and routers,
// then the embedding and lm head, attention, the dense FFN, the experts), forward order within a rank.
int residency_rank(arch::Role r) {
  switch (r) {
    case arch::Role::Router: return 1;
    case arch::Role::Embedding: return 2;
    case arch::Role::Output: return 3;
    case arch::Role::AttnQ: case arch::Role::AttnK: case arch::Role::AttnV: case arch::Role::AttnQkv:
    case arch::Role::AttnOutput: return 4;
    case arch::Role::FfnGate: case arch::Role::FfnUp: case arch::Role::FfnDown: return 5;
    case arch::Role::ExpertGate: case arch::Role::ExpertUp: case arch::Role::ExpertDown: return 6;
    case arch::Role::Other: return 7;
    default: return 0;  // norms, biases, sinks, frequency factors
  }
}

std::vector<model::TensorId> residency_order(const model::Model& m) {
  std::vector<const model::BoundTensor*> order;
  for (const model::BoundTensor& b : m.bound) order.push_back(&b);
  std::stable_sort(order.begin(), order.end(), [](const model::BoundTensor* a, const model::BoundTensor* b) {
    return residency_rank(a->spec.role) < residency_rank(b->spec.role);
  });
  std::vector<bool> seen(m.tensors.size(), false);
  std::vector<model::TensorId> unique;
  for (const model::BoundTensor* b : order)
    if (!seen[b->id]) seen[b->id] = true, unique.push_back(b->id);
  return unique;
}

}  // namespace

Result<StreamConfig> config_for_budget(const model::Model& m, uint64_t weight_budget_bytes, StreamConfig base) {
  base.expert_cache_bytes = 0;
  std::vector<bool> resident(m.tensors.size(), false);
  const std::vector<model::TensorId> used = used_tensors(m);
  const auto build = [&] {
    StreamConfig c = base;
    c.resident.clear();
    c.streamed.clear();
    for (model::TensorId id : used) (resident[id] ? c.resident : c.streamed).push_back(id);
    return c;
  };
  StreamConfig best = build();
  STRATA_ASSIGN_OR_RETURN(MemoryPlan plan, plan_memory(m, best));
  if (plan.total() > weight_budget_bytes)
    return error("a weight budget of {} is too small: streaming every tensor still needs {} ({} staging slots of {}, "
                 "{} expert entries of {})",
                 format_bytes(weight_budget_bytes), format_bytes(plan.total()), plan.n_slots,
                 format_bytes(plan.slot_bytes), plan.n_expert_entries, format_bytes(plan.expert_entry_bytes));
  for (model::TensorId id : residency_order(m)) {
    resident[id] = true;
    StreamConfig c = build();
    auto p = plan_memory(m, c);
    if (p.is_ok() && p->total() <= weight_budget_bytes) {
      best = std::move(c);
      plan = *p;
    } else {
      resident[id] = false;
    }
  }
  if (plan.n_expert_entries > 0) {
    // Whatever the budget has left holds more experts.
    const uint64_t extra = (weight_budget_bytes - plan.total()) / plan.expert_entry_bytes;
    best.expert_cache_bytes = (plan.n_expert_entries + extra) * plan.expert_entry_bytes;
  }
  return best;
}

}  // namespace strata::streaming
