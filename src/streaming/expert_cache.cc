// streaming/expert_cache.cc: expert entries, their reads, and the LRFU eviction policy.
#include "streaming/expert_cache.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/check.h"
#include "core/log.h"

namespace strata::streaming {

namespace {
constexpr size_t kPassHistory = 4096;
constexpr int kPartBits = 4;  // read token = entry * 4 + part
}  // namespace

ExpertCache::ExpertCache(const model::Model& m, const std::vector<bool>& streamed, IoQueue& io, int n_entries,
                         uint64_t entry_bytes, double decay_per_pass)
    : m_(m),
      io_(io),
      n_layer_(static_cast<int>(m.layers.size())),
      n_expert_(static_cast<int>(m.hp.n_expert)),
      entry_bytes_(entry_bytes),
      decay_(decay_per_pass),
      parts_(m.layers.size(), 0),
      arena_(static_cast<size_t>(n_entries) * entry_bytes),
      entries_(n_entries),
      slot_of_(static_cast<size_t>(n_layer_) * n_expert_, -1) {
  STRATA_CHECK(n_entries >= 1 && entry_bytes % io.alignment() == 0);
  for (int l = 0; l < n_layer_; ++l)
    for (int p = 0; p < 3; ++p) {
      const model::TensorId id = m.layers[l].ffn_exps[p];
      if (id != model::kNoTensor && streamed[id]) parts_[l] |= static_cast<uint8_t>(1 << p);
    }
}

double ExpertCache::score(const Entry& e) const { return e.crf * std::exp2(-decay_ * (now_ - e.last)); }

void ExpertCache::touch(Entry& e) {
  e.crf = 1.0 + score(e);
  e.last = now_;
}

bool ExpertCache::contains(int layer, int32_t expert) const {
  const int s = slot_of_[key(layer, expert)];
  return s >= 0 && entries_[s].state != State::Failed;
}

bool ExpertCache::ready(int layer, int32_t expert) const {
  const int s = slot_of_[key(layer, expert)];
  return s >= 0 && entries_[s].state == State::Ready;
}

bool ExpertCache::routed_now(int layer, int32_t expert) const {
  return layer == route_layer_ && std::find(route_.begin(), route_.end(), expert) != route_.end();
}

int ExpertCache::victim(bool allow_pinned, double below) const {
  int best = -1;
  double best_score = below;
  int best_distance = -1;
  for (int i = 0; i < n_entries(); ++i) {
    const Entry& e = entries_[i];
    if (e.refs > 0 || e.state == State::Loading || busy(e)) continue;
    if (e.state == State::Empty || e.state == State::Failed) return i;
    if ((pinned(e) && !allow_pinned) || e.spec_epoch == epoch_) continue;
    const double s = score(e);
    // On a tie, evict what the layer cycle needs last: the layer the pass left most recently.
    const int distance = (e.layer - route_layer_ - 1 + n_layer_) % n_layer_;
    if (s < best_score || (best >= 0 && s == best_score && distance > best_distance)) {
      best = i;
      best_score = s;
      best_distance = distance;
    }
  }
  return best;
}

void ExpertCache::forget(int slot) {
  Entry& e = entries_[slot];
  if (e.layer >= 0) slot_of_[key(e.layer, e.expert)] = -1;
  e = Entry{};
}

void ExpertCache::load(int slot, int layer, int32_t expert) {
  forget(slot);
  Entry& e = entries_[slot];
  e.layer = layer;
  e.expert = expert;
  e.state = State::Loading;
  e.last = now_;
  slot_of_[key(layer, expert)] = slot;
  uint8_t* base = arena_.data() + static_cast<uint64_t>(slot) * entry_bytes_;
  uint64_t used = 0;
  for (int p = 0; p < 3; ++p) {
    if (!((parts_[layer] >> p) & 1)) continue;
    // One contiguous read per expert per tensor: the expert's [k, rows] slice of the stacked tensor.
    const model::TensorId id = m_.layers[layer].ffn_exps[p];
    const TensorView whole = model::make_view(m_, id, nullptr);
    const uint64_t slice = whole.row_bytes() * static_cast<uint64_t>(whole.ne[1]);
    const io::AlignedSpan span = io::align_span(m_.tensors[id].file_offset + static_cast<uint64_t>(expert) * slice, slice,
                                        io_.alignment());
    STRATA_CHECK(used + span.length <= entry_bytes_);
    e.data_offset[p] = static_cast<uint64_t>(slot) * entry_bytes_ + used + span.lead;
    ++e.pending;
    const Status s = io_.submit(IoQueue::Client::Experts, static_cast<uint64_t>(slot) * kPartBits + p, span, base + used);
    if (!s.is_ok()) {
      --e.pending;
      e.error = s.with_context(fmt::format("reading expert {} of tensor '{}'", expert, m_.tensors[id].name));
      break;
    }
    used += span.length;
  }
  if (e.pending == 0) e.state = e.error.is_ok() ? State::Ready : State::Failed;
}

void ExpertCache::complete(uint64_t token, const Status& status) {
  Entry& e = entries_[token / kPartBits];
  STRATA_CHECK(e.state == State::Loading && e.pending > 0);
  if (!status.is_ok() && e.error.is_ok()) {
    const gguf::TensorInfo& t = m_.tensors[m_.layers[e.layer].ffn_exps[token % kPartBits]];
    e.error = status.with_context(fmt::format("reading expert {} of tensor '{}'", e.expert, t.name));
  }
  if (--e.pending == 0) e.state = e.error.is_ok() ? State::Ready : State::Failed;
}

void ExpertCache::begin_pass() {
  if (pass_ > 0) {
    per_pass_.push_back(this_pass_);
    if (per_pass_.size() > kPassHistory) per_pass_.pop_front();
  }
  this_pass_ = {};
  ++pass_;
  now_ = static_cast<double>(pass_);
}

void ExpertCache::on_route(int layer, std::span<const int32_t> experts) {
  ++epoch_;
  route_layer_ = layer;
  route_.assign(experts.begin(), experts.end());
  now_ = static_cast<double>(pass_) + static_cast<double>(layer) / n_layer_;
  if (parts_[layer] == 0) return;  // this layer's experts are resident
  for (int32_t x : experts) {
    int s = slot_of_[key(layer, x)];
    if (s >= 0 && entries_[s].state == State::Failed) {
      forget(s);  // a failed speculative read: try again
      s = -1;
    }
    if (s >= 0) {
      ++counters_.hits;
      ++this_pass_.hits;
      if (entries_[s].speculative) ++counters_.speculative_used;
      entries_[s].speculative = false;
    } else {
      ++counters_.misses;
      ++this_pass_.misses;
      s = victim(/*allow_pinned=*/false, std::numeric_limits<double>::infinity());
      if (s < 0) continue;  // every entry is busy: acquire() reads it once one frees up
      load(s, layer, x);
    }
    Entry& e = entries_[s];
    touch(e);
    e.pin_epoch = epoch_;
    e.unused = parts_[layer];
  }
}

void ExpertCache::speculate(int layer, std::span<const std::pair<int32_t, double>> candidates) {
  if (layer < 0 || layer >= n_layer_ || parts_[layer] == 0) return;
  for (const auto& [x, p] : candidates) {
    if (slot_of_[key(layer, x)] >= 0) continue;
    // Scores run over [0, inf), probabilities over [0, 1]: a guess displaces an entry whose score s has
    // s / (1 + s) < p, i.e. s < p / (1 - p).
    const double below = p >= 1.0 ? std::numeric_limits<double>::infinity() : p / (1.0 - p);
    const int s = victim(/*allow_pinned=*/false, below);
    if (s < 0) return;
    load(s, layer, x);
    Entry& e = entries_[s];
    e.speculative = true;
    e.spec_epoch = epoch_;  // not to be evicted by the rest of this round
    e.crf = 0;              // earns its place only if routed
    ++counters_.speculative_reads;
  }
}

Status ExpertCache::warm(std::span<const ExpertKey> keys) {
  for (const ExpertKey& k : keys) {
    if (k.layer < 0 || k.layer >= n_layer_ || k.expert < 0 || k.expert >= n_expert_ || parts_[k.layer] == 0) continue;
    if (slot_of_[key(k.layer, k.expert)] >= 0) continue;
    int s = -1;
    for (int i = 0; i < n_entries() && s < 0; ++i)
      if (entries_[i].state == State::Empty) s = i;
    if (s < 0) break;
    load(s, k.layer, k.expert);
    entries_[s].crf = 1.0;
    ++counters_.warmed;
  }
  STRATA_RETURN_IF_ERROR(io_.drain());
  for (int i = 0; i < n_entries(); ++i)
    if (entries_[i].state == State::Failed) {
      log(LogLevel::Warn, "warming the expert cache: {}", entries_[i].error.message());
      forget(i);
    }
  return Status::ok();
}

Result<ExpertCache::Acquired> ExpertCache::acquire(int layer, model::ExpertTensor which, int32_t expert) {
  STRATA_RETURN_IF_ERROR(io_.poll());
  int s = slot_of_[key(layer, expert)];
  if (s >= 0 && entries_[s].state == State::Failed && entries_[s].refs == 0 && entries_[s].speculative) {
    forget(s);  // a failed read nobody asked for: retry it
    s = -1;
  }
  while (s < 0) {
    s = victim(/*allow_pinned=*/false, std::numeric_limits<double>::infinity());
    // Routed experts not yet used may be dropped (and read again later) before anything in use.
    if (s < 0) s = victim(/*allow_pinned=*/true, std::numeric_limits<double>::infinity());
    if (s >= 0) {
      if (!routed_now(layer, expert)) {
        ++counters_.misses;
        ++this_pass_.misses;
      }
      load(s, layer, expert);
      touch(entries_[s]);
      break;
    }
    if (io_.in_flight() == 0) {
      // An entry released behind a device op still running frees once the op finishes: wait for one.
      auto held = std::find_if(entries_.begin(), entries_.end(), [](const Entry& x) { return x.refs == 0 && busy(x); });
      if (held != entries_.end()) {
        held->readers.front()->synchronize();
        continue;
      }
      return error("all {} expert cache entries are in use at once; the cache needs more room", n_entries());
    }
    STRATA_RETURN_IF_ERROR(io_.wait_one());
  }
  while (entries_[s].state == State::Loading) STRATA_RETURN_IF_ERROR(io_.wait_one());
  Entry& e = entries_[s];
  if (e.state == State::Failed) {
    Status err = e.error;
    if (e.refs == 0) forget(s);
    return err;
  }
  ++e.refs;
  e.unused &= static_cast<uint8_t>(~(1u << static_cast<int>(which)));
  const model::TensorId id = m_.layers[layer].ffn_exps[static_cast<int>(which)];
  TensorView v = model::make_view(m_, id, arena_.data() + e.data_offset[static_cast<int>(which)]);
  v.ne[2] = 1;  // one expert's [k, rows] slice, as TensorView::slice_last makes it
  v.ne[3] = 1;
  return Acquired{v, s};
}

void ExpertCache::release(int entry, kernels::EventPtr consumed) {
  STRATA_CHECK(entry >= 0 && entry < n_entries() && entries_[entry].refs > 0);
  if (consumed && !consumed->query()) entries_[entry].readers.push_back(std::move(consumed));
  --entries_[entry].refs;
}

ExpertCache::~ExpertCache() {
  for (Entry& e : entries_)
    for (auto& r : e.readers) r->synchronize();
}

bool ExpertCache::busy(const Entry& e) {
  std::erase_if(e.readers, [](const kernels::EventPtr& r) { return r->query(); });
  return !e.readers.empty();
}

}  // namespace strata::streaming
