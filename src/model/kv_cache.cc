// model/kv_cache.cc: KV cache storage, carved per layer out of one buffer per backend.
#include "model/kv_cache.h"

#include "core/check.h"

namespace strata::model {

namespace {

uint64_t layer_halves(const HParams& hp, int64_t n_ctx) {
  return 2 * static_cast<uint64_t>(n_ctx) * static_cast<uint64_t>(hp.kv_dim());
}

}  // namespace

KvCache::KvCache(const HParams& hp, int64_t n_ctx)
    : host_(bytes_needed(hp, n_ctx)), n_ctx_(n_ctx), kv_dim_(hp.kv_dim()) {
  const uint64_t per_layer = layer_halves(hp, n_ctx);
  auto* base = reinterpret_cast<uint16_t*>(host_.data());
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    uint16_t* k = base + static_cast<uint64_t>(l) * per_layer;
    layers_.push_back({kHostDevice, k, k + per_layer / 2, n_ctx, kv_dim_});
  }
}

KvCache::KvCache(const HParams& hp, int64_t n_ctx, const Placement& placement) : n_ctx_(n_ctx), kv_dim_(hp.kv_dim()) {
  const uint64_t per_layer = layer_halves(hp, n_ctx);
  layers_.resize(static_cast<size_t>(hp.n_layer));
  for (size_t b = 0; b < placement.backends.size(); ++b) {
    std::vector<int64_t> mine;
    for (int64_t l = 0; l < hp.n_layer; ++l)
      if (placement.kv_site[static_cast<size_t>(l)] == b) mine.push_back(l);
    if (mine.empty()) continue;
    kernels::Backend& be = *placement.backends[b];
    const uint64_t bytes = mine.size() * per_layer * sizeof(uint16_t);
    auto buf = be.alloc(bytes, kernels::BufferUse::KvCache);
    if (!buf) {
      status_ = error("{}: out of memory for the KV cache of {} layers ({} bytes)", be.name(), mine.size(), bytes);
      return;
    }
    auto* base = reinterpret_cast<uint16_t*>(buf->data());
    for (size_t i = 0; i < mine.size(); ++i) {
      uint16_t* k = base + i * per_layer;
      layers_[static_cast<size_t>(mine[i])] = {be.device(), k, k + per_layer / 2, n_ctx, kv_dim_};
    }
    buffers_.push_back(std::move(buf));
  }
}

void copy_kv_prefix(const Placement& placement, const KvCache& src, KvCache& dst, int64_t n) {
  STRATA_CHECK(n >= 0 && n <= src.n_filled() && n <= dst.n_ctx() && src.kv_dim() == dst.kv_dim());
  const uint64_t bytes = static_cast<uint64_t>(n) * static_cast<uint64_t>(src.kv_dim()) * sizeof(uint16_t);
  std::vector<bool> used(placement.backends.size(), false);
  for (size_t l = 0; l < placement.kv_site.size(); ++l) {
    const size_t b = placement.kv_site[l];
    kernels::Backend& be = *placement.backends[b];
    const kernels::KvLayer& from = src.layer(static_cast<int64_t>(l));
    const kernels::KvLayer& to = dst.layer(static_cast<int64_t>(l));
    if (bytes > 0) {
      be.copy(from.k, from.device, to.k, to.device, bytes);
      be.copy(from.v, from.device, to.v, to.device, bytes);
    }
    used[b] = true;
  }
  for (size_t b = 0; b < used.size(); ++b)
    if (used[b]) placement.backends[b]->synchronize();
  dst.set_filled(n);
}

}  // namespace strata::model
