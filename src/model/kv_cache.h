// model/kv_cache.h: the attention key/value cache: per layer, K and V of kv_dim half floats per held position,
// each layer in the memory of the backend that computes its attention. A full layer holds all n_ctx positions;
// a sliding-window layer holds a ring of window + max_pass - 1 (arch::HParams::kv_rows), position p in row
// p mod that, which is about half of gpt-oss's cache. F16 halves the cache's memory and matches the reference
// engine's default cache precision.
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
  // Every layer in host memory (kHostDevice: the host CPU backend's). max_pass: the most tokens one forward
  // pass appends (a longer batch goes in passes of this many; it sizes the rings).
  KvCache(const HParams& hp, int64_t n_ctx, int64_t max_pass = arch::kMaxPassTokens);
  // Layer l on backends[placement.kv_site[l]], one buffer per backend. Out of memory on a device leaves
  // status() failed (naming the backend); the forward pass returns that error.
  KvCache(const HParams& hp, int64_t n_ctx, const Placement& placement, int64_t max_pass = arch::kMaxPassTokens);
  const Status& status() const { return status_; }

  int64_t n_ctx() const { return n_ctx_; }
  int64_t kv_dim() const { return kv_dim_; }
  // The most tokens one pass may append: max_pass when a layer keeps a ring, else the whole context.
  int64_t max_pass() const { return max_pass_; }
  // Positions [0, n_filled) hold valid entries (on a ring layer, the last rows() of them).
  int64_t n_filled() const { return n_filled_; }
  void set_filled(int64_t n) { n_filled_ = n; }
  void clear() { n_filled_ = 0; }
  // Forgets the positions from n on and returns how many it keeps: n, or 0 where a ring has already
  // overwritten part of the window that position n's query sees (that prefix must be evaluated again).
  int64_t truncate(int64_t n);
  // What truncate(n) would keep, without forgetting anything.
  int64_t kept_prefix(int64_t n) const;

  const kernels::KvLayer& layer(int64_t l) const { return layers_[static_cast<size_t>(l)]; }

  static uint64_t bytes_needed(const HParams& hp, int64_t n_ctx, int64_t max_pass = arch::kMaxPassTokens) {
    return 2 * static_cast<uint64_t>(hp.kv_rows_total(n_ctx, max_pass)) * static_cast<uint64_t>(hp.kv_dim()) *
           sizeof(uint16_t);
  }

 private:
  void set_shape(const HParams& hp, int64_t max_pass);

  Status status_;
  AlignedBuffer host_;  // the host-only layout
  int64_t n_ctx_ = 0;
  int64_t kv_dim_ = 0;
  int64_t max_pass_ = 0;
  int64_t n_filled_ = 0;
  std::vector<int64_t> rows_;    // per layer: positions held
  std::vector<int64_t> window_;  // per layer: sliding window (0: full)
  std::vector<std::unique_ptr<kernels::Buffer>> buffers_;  // one per backend that holds layers
  std::vector<kernels::KvLayer> layers_;
};

// Copies positions [0, n) of every layer's K and V from `src` into `dst` (two caches made with the same
// placement and passes) on the backend holding each layer, and marks dst filled: a shared prompt prefix
// reused instead of recomputed. Returns the prefix copied: n, or 0 (dst untouched) where src's ring no
// longer holds what position n needs (src.kept_prefix). Returns once the copies are done. REQUIRES: n <= src.n_filled(),
// n <= dst.n_ctx().
int64_t copy_kv_prefix(const Placement& placement, const KvCache& src, KvCache& dst, int64_t n);

}  // namespace strata::model
