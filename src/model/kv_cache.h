// model/kv_cache.h: the attention key/value cache: per layer, [n_ctx, kv_dim] half floats for K and for V, each
// layer in the memory of the backend that computes its attention. F16 halves the cache's memory and matches
// the reference engine's default cache precision.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/status.h"
#include "kernels/backend.h"
#include "model/hparams.h"
#include "model/placement.h"

namespace strata::model {

class KvCache {
 public:
  // Every layer in host memory (kHostDevice: the host CPU backend's).
  KvCache(const HParams& hp, int64_t n_ctx);
  // Layer l on backends[placement.kv_site[l]], one buffer per backend. Out of memory on a device leaves
  // status() failed (naming the backend); the forward pass returns that error.
  KvCache(const HParams& hp, int64_t n_ctx, const Placement& placement);
  const Status& status() const { return status_; }

  int64_t n_ctx() const { return n_ctx_; }
  int64_t kv_dim() const { return kv_dim_; }
  // Positions [0, n_filled) hold valid entries.
  int64_t n_filled() const { return n_filled_; }
  void set_filled(int64_t n) { n_filled_ = n; }
  void clear() { n_filled_ = 0; }

  const kernels::KvLayer& layer(int64_t l) const { return layers_[static_cast<size_t>(l)]; }

  static uint64_t bytes_needed(const HParams& hp, int64_t n_ctx) {
    return static_cast<uint64_t>(hp.n_layer) * 2 * static_cast<uint64_t>(n_ctx) * hp.kv_dim() * sizeof(uint16_t);
  }

 private:
  Status status_;
  AlignedBuffer host_;  // the host-only layout
  int64_t n_ctx_ = 0;
  int64_t kv_dim_ = 0;
  int64_t n_filled_ = 0;
  std::vector<std::unique_ptr<kernels::Buffer>> buffers_;  // one per backend that holds layers
  std::vector<kernels::KvLayer> layers_;
};

// Copies positions [0, n) of every layer's K and V from `src` into `dst` (two caches made with the same
// placement) on the backend holding each layer, and marks dst filled to n: a shared prompt prefix reused
// instead of recomputed. Returns once the copies are done. REQUIRES: n <= src.n_filled(), n <= dst.n_ctx().
void copy_kv_prefix(const Placement& placement, const KvCache& src, KvCache& dst, int64_t n);

}  // namespace strata::model
