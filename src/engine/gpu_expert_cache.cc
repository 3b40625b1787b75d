// engine/gpu_expert_cache.cc: expert slots on the GPU, filled at load and refilled by routing frequency.
#include "engine/gpu_expert_cache.h"

#include <algorithm>
#include <cmath>

#include "core/units.h"

namespace strata::engine {

namespace {

// Routing counts decay by this per step of their layer (half-life about 140 steps): slow enough that under
// uniform routing the counts of held and missed experts stay within the margin of each other (no churn),
// fast enough that a skewed router's favourites take over within a few hundred tokens.
constexpr double kDecay = 0.995;
// A missed expert displaces a slot's only when its count exceeds the slot's by this factor and this many.
constexpr double kMarginFactor = 1.5;
constexpr double kMarginAbs = 2.0;
constexpr uint64_t kAlign = 256;

uint64_t align_up(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

}  // namespace

std::array<uint64_t, 3> GpuExpertCache::offsets(int layer) const {
  std::array<uint64_t, 3> off{};
  uint64_t at = 0;
  for (int p = 0; p < 3; ++p) {
    off[p] = at;
    const model::TensorId id = m_.layers[layer].ffn_exps[p];
    if (id != model::kNoTensor) at += align_up(m_.tensors[id].size_bytes / n_expert_);
  }
  return off;
}

uint64_t GpuExpertCache::slot_bytes_for(const model::Model& m, int layer) {
  uint64_t bytes = 0;
  const uint64_t n = static_cast<uint64_t>(std::max<int64_t>(m.hp.n_expert, 1));
  for (model::TensorId id : m.layers[layer].ffn_exps)
    if (id != model::kNoTensor) bytes += align_up(m.tensors[id].size_bytes / n);
  return bytes;
}

Result<std::unique_ptr<GpuExpertCache>> GpuExpertCache::make(const model::Model& m, kernels::Backend& device,
                                                             kernels::Backend& copier, const ExpertCacheSetup& setup,
                                                             HostSource host) {
  if (m.hp.n_expert <= 0) return error("a GPU expert cache needs a MoE model");
  if (setup.n_slots < 1) return error("a GPU expert cache needs at least one slot, got {}", setup.n_slots);
  std::unique_ptr<GpuExpertCache> c(new GpuExpertCache(m, device, copier, std::move(host)));
  c->n_expert_ = static_cast<size_t>(m.hp.n_expert);
  c->adapt_ = setup.adapt;
  c->serves_ = setup.serves;
  c->serves_.resize(m.layers.size(), false);
  for (size_t l = 0; l < m.layers.size(); ++l) {
    if (!c->serves_[l]) continue;
    if (m.layers[l].ffn_exps[0] == model::kNoTensor) return error("internal: layer {} has no experts to cache", l);
    if (slot_bytes_for(m, static_cast<int>(l)) > setup.slot_bytes)
      return error("layer {}'s experts ({}) do not fit a GPU expert cache slot of {}", l,
                   format_bytes(slot_bytes_for(m, static_cast<int>(l))), format_bytes(setup.slot_bytes));
  }
  c->slot_bytes_ = setup.slot_bytes;
  const size_t keys = m.layers.size() * c->n_expert_;
  c->slot_index_.assign(keys, -1);
  // Every count starts at its steady state under uniform routing: held and missed experts start even, and
  // only a router that keeps preferring some experts moves them apart.
  const double prior = static_cast<double>(m.hp.n_expert_used) / static_cast<double>(m.hp.n_expert) / (1.0 - kDecay);
  c->count_.assign(keys, prior);
  c->last_step_.assign(keys, 0);
  c->step_.assign(m.layers.size(), 0);
  c->slots_.resize(static_cast<size_t>(setup.n_slots));
  const uint64_t stride = (setup.slot_bytes + 255) / 256 * 256;  // each slot's start as aligned as an allocation's
  c->arena_ = device.alloc(stride * c->slots_.size(), kernels::BufferUse::Weights);
  if (!c->arena_)
    return error(ErrorKind::ResourceExhausted, "{}: out of memory for {} GPU expert cache slots of {}", device.name(),
                 setup.n_slots, format_bytes(setup.slot_bytes));
  for (size_t i = 0; i < c->slots_.size(); ++i) c->slots_[i].data = c->arena_->data() + i * stride;
  size_t filled = 0;
  for (const auto& [layer, expert] : setup.warm) {
    if (filled == c->slots_.size()) break;
    if (!c->serves(layer) || expert < 0 || static_cast<size_t>(expert) >= c->n_expert_ || c->holds(layer, expert))
      continue;
    STRATA_RETURN_IF_ERROR(c->upload(c->slots_[filled++], layer, expert));
  }
  copier.synchronize();
  for (Slot& s : c->slots_) s.uploaded = nullptr;
  return c;
}

int GpuExpertCache::slot_of(int layer, int32_t expert) const {
  if (layer < 0 || static_cast<size_t>(layer) >= m_.layers.size() || expert < 0 ||
      static_cast<size_t>(expert) >= n_expert_)
    return -1;
  return slot_index_[key(layer, expert)];
}

double GpuExpertCache::score(int layer, int32_t expert) const {
  const size_t k = key(layer, expert);
  return count_[k] * std::pow(kDecay, static_cast<double>(step_[layer] - last_step_[k]));
}

Status GpuExpertCache::upload(Slot& slot, int layer, int32_t expert) {
  // The copy stream waits for the slot's last reader, then overwrites it.
  if (slot.read_done) copier_.wait(*slot.read_done);
  if (slot.layer >= 0) slot_index_[key(slot.layer, slot.expert)] = -1;
  slot.layer = -1;
  const std::array<uint64_t, 3> off = offsets(layer);
  for (int p = 0; p < 3; ++p) {
    if (m_.layers[layer].ffn_exps[p] == model::kNoTensor) continue;
    STRATA_ASSIGN_OR_RETURN(model::WeightRef w, host_(layer, static_cast<model::ExpertTensor>(p), expert));
    const TensorView& v = w.view();
    if (off[p] + v.size_bytes() > slot_bytes_)
      return error("internal: expert {} of layer {} overflows its GPU cache slot", expert, layer);
    if (w.ready()) copier_.wait(*w.ready());
    copier_.copy(v.data, v.device, slot.data + off[p], device_.device(), v.size_bytes());
    slot.uploaded = copier_.record();
    w.release_after(slot.uploaded);
  }
  slot.read_done = nullptr;
  slot.layer = layer;
  slot.expert = expert;
  slot_index_[key(layer, expert)] = static_cast<int>(&slot - slots_.data());
  return Status::ok();
}

void GpuExpertCache::on_route(int layer, std::span<const int32_t> experts) {
  if (!serves(layer)) return;
  ++step_[layer];
  missed_.clear();
  missed_layer_ = layer;
  for (int32_t e : experts) {
    if (e < 0 || static_cast<size_t>(e) >= n_expert_) continue;
    const size_t k = key(layer, e);
    count_[k] = score(layer, e) + 1.0;
    last_step_[k] = step_[layer];
    if (slot_index_[k] >= 0) {
      ++counters_.hits;
    } else {
      ++counters_.misses;
      missed_.push_back(e);
    }
  }
}

Status GpuExpertCache::admit(int layer) {
  if (!adapt_ || layer != missed_layer_ || missed_.empty()) return Status::ok();
  // One copy in flight at a time: admissions take the link's spare time, never a step's.
  for (Slot& s : slots_) {
    if (!s.uploaded) continue;
    if (!s.uploaded->query()) return Status::ok();
    s.uploaded = nullptr;  // complete: not asked again
  }
  int32_t best = -1;
  double best_score = 0;
  for (int32_t e : missed_)
    if (const double sc = score(layer, e); best < 0 || sc > best_score) {
      best = e;
      best_score = sc;
    }
  missed_.clear();
  // The lowest-scored slots first; the first whose readers are done is the victim. Scores come first and
  // events only for the candidates: asking every slot's event each layer would cost a query per slot.
  victims_.clear();
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& sl = slots_[i];
    if (sl.refs == 0) victims_.emplace_back(sl.layer < 0 ? -1.0 : score(sl.layer, sl.expert), i);
  }
  std::sort(victims_.begin(), victims_.end());
  for (const auto& [victim_score, i] : victims_) {
    if (best_score <= kMarginFactor * victim_score + kMarginAbs) break;  // nor does any slot after it
    Slot& victim = slots_[i];
    if (victim.read_done) {
      if (!victim.read_done->query()) continue;  // an op may still read it
      victim.read_done = nullptr;
    }
    STRATA_RETURN_IF_ERROR(upload(victim, layer, best));
    ++counters_.admissions;
    counters_.admitted_bytes += slot_bytes_for(m_, layer);
    break;
  }
  return Status::ok();
}

TensorView GpuExpertCache::acquire(int layer, model::ExpertTensor which, int32_t expert, int& slot,
                                   kernels::EventPtr& ready) {
  slot = slot_of(layer, expert);
  Slot& s = slots_[static_cast<size_t>(slot)];
  ++s.refs;
  ++counters_.slices_read;
  if (s.uploaded && s.uploaded->query()) s.uploaded = nullptr;
  ready = s.uploaded;
  const model::TensorId id = m_.layers[layer].ffn_exps[static_cast<int>(which)];
  TensorView v = model::make_view(m_, id, s.data + offsets(layer)[static_cast<int>(which)]);
  v.ne[2] = 1;  // one expert's [k, rows] slice, as TensorView::slice_last makes it
  v.ne[3] = 1;
  v.device = device_.device();
  return v;
}

void GpuExpertCache::release(int slot, kernels::EventPtr consumed) {
  Slot& s = slots_[static_cast<size_t>(slot)];
  if (s.refs > 0) --s.refs;
  if (consumed) s.read_done = std::move(consumed);
}

}  // namespace strata::engine
