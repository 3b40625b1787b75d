// model/kv_cache.cc: KV cache storage, carved per layer out of one buffer per backend, and what a ring keeps.
#include "model/kv_cache.h"

#include <algorithm>

#include "core/check.h"

namespace strata::model {

void KvCache::set_shape(const HParams& hp, int64_t max_pass) {
  STRATA_CHECK(max_pass >= 1);
  kv_dim_ = hp.kv_dim();
  max_pass_ = n_ctx_;
  rows_.resize(static_cast<size_t>(hp.n_layer));
  window_.resize(static_cast<size_t>(hp.n_layer));
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const auto i = static_cast<size_t>(l);
    rows_[i] = hp.kv_rows(l, n_ctx_, max_pass);
    window_[i] = hp.layers[i].sliding_window;
    if (rows_[i] < n_ctx_) max_pass_ = max_pass;
  }
}

KvCache::KvCache(const HParams& hp, int64_t n_ctx, int64_t max_pass)
    : host_(bytes_needed(hp, n_ctx, max_pass)), n_ctx_(n_ctx) {
  set_shape(hp, max_pass);
  auto* k = reinterpret_cast<uint16_t*>(host_.data());
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    const int64_t rows = rows_[static_cast<size_t>(l)];
    const uint64_t halves = static_cast<uint64_t>(rows) * static_cast<uint64_t>(kv_dim_);
    layers_.push_back({kHostDevice, k, k + halves, n_ctx, kv_dim_, rows});
    k += 2 * halves;
  }
}

KvCache::KvCache(const HParams& hp, int64_t n_ctx, const Placement& placement, int64_t max_pass) : n_ctx_(n_ctx) {
  set_shape(hp, max_pass);
  layers_.resize(static_cast<size_t>(hp.n_layer));
  for (size_t b = 0; b < placement.backends.size(); ++b) {
    std::vector<int64_t> mine;
    uint64_t halves = 0;
    for (int64_t l = 0; l < hp.n_layer; ++l)
      if (placement.kv_site[static_cast<size_t>(l)] == b) {
        mine.push_back(l);
        halves += 2 * static_cast<uint64_t>(rows_[static_cast<size_t>(l)]) * static_cast<uint64_t>(kv_dim_);
      }
    if (mine.empty()) continue;
    kernels::Backend& be = *placement.backends[b];
    const uint64_t bytes = halves * sizeof(uint16_t);
    auto buf = be.alloc(bytes, kernels::BufferUse::KvCache);
    if (!buf) {
      status_ = error("{}: out of memory for the KV cache of {} layers ({} bytes)", be.name(), mine.size(), bytes);
      return;
    }
    auto* k = reinterpret_cast<uint16_t*>(buf->data());
    for (int64_t l : mine) {
      const int64_t rows = rows_[static_cast<size_t>(l)];
      const uint64_t layer_halves = static_cast<uint64_t>(rows) * static_cast<uint64_t>(kv_dim_);
      layers_[static_cast<size_t>(l)] = {be.device(), k, k + layer_halves, n_ctx, kv_dim_, rows};
      k += 2 * layer_halves;
    }
    buffers_.push_back(std::move(buf));
  }
}

// A ring of R rows holds positions [n_filled - R, n_filled). A query at position n sees [n + 1 - window, n];
// all but n itself must still be there (position n is written before it is read).
int64_t KvCache::kept_prefix(int64_t n) const {
  n = std::clamp<int64_t>(n, 0, n_filled_);
  for (size_t l = 0; l < layers_.size() && n > 0; ++l) {
    const int64_t rows = rows_[l];
    if (rows >= n_ctx_ || n_filled_ <= rows) continue;  // a full layer, or a ring not yet wrapped
    if (std::max<int64_t>(0, n + 1 - window_[l]) < n_filled_ - rows) n = 0;
  }
  return n;
}

int64_t KvCache::truncate(int64_t n) {
  n_filled_ = kept_prefix(n);
  return n_filled_;
}

// Full layers copy their first n rows; a ring layer is copied whole (its rows past the prefix are written by
// dst before any query reads them).
int64_t copy_kv_prefix(const Placement& placement, const KvCache& src, KvCache& dst, int64_t n) {
  STRATA_CHECK(n >= 0 && n <= src.n_filled() && n <= dst.n_ctx() && src.kv_dim() == dst.kv_dim());
  n = src.kept_prefix(n);
  if (n == 0) return 0;  // nothing usable: dst is left as it was
  std::vector<bool> used(placement.backends.size(), false);
  for (size_t l = 0; l < placement.kv_site.size(); ++l) {
    const size_t b = placement.kv_site[l];
    kernels::Backend& be = *placement.backends[b];
    const kernels::KvLayer& from = src.layer(static_cast<int64_t>(l));
    const kernels::KvLayer& to = dst.layer(static_cast<int64_t>(l));
    STRATA_CHECK(from.rows() == to.rows());
    const int64_t rows = from.rows() < src.n_ctx() ? from.rows() : n;
    const uint64_t bytes = static_cast<uint64_t>(rows) * static_cast<uint64_t>(src.kv_dim()) * sizeof(uint16_t);
    if (bytes > 0) {
      be.copy(from.k, from.device, to.k, to.device, bytes);
      be.copy(from.v, from.device, to.v, to.device, bytes);
    }
    used[b] = true;
  }
  for (size_t b = 0; b < used.size(); ++b)
    if (used[b]) placement.backends[b]->synchronize();
  dst.set_filled(n);
  return n;
}

}  // namespace strata::model
