// model/kv_cache.h: the attention key/value cache: per layer, [n_ctx, kv_dim] half floats for K and for V.
// F16 halves the cache's memory and matches the reference engine's default cache precision.
#pragma once

#include <cstdint>
#include <vector>

#include "core/aligned_buffer.h"
#include "model/hparams.h"

namespace strata::model {

class KvCache {
 public:
  KvCache(const HParams& hp, int64_t n_ctx);

  int64_t n_ctx() const { return n_ctx_; }
  int64_t kv_dim() const { return kv_dim_; }
  // Positions [0, n_filled) hold valid entries.
  int64_t n_filled() const { return n_filled_; }
  void set_filled(int64_t n) { n_filled_ = n; }
  void clear() { n_filled_ = 0; }

  uint16_t* k(int64_t layer, int64_t pos) { return ptr(layer, pos, 0); }
  uint16_t* v(int64_t layer, int64_t pos) { return ptr(layer, pos, 1); }
  const uint16_t* k(int64_t layer, int64_t pos) const { return const_cast<KvCache*>(this)->ptr(layer, pos, 0); }
  const uint16_t* v(int64_t layer, int64_t pos) const { return const_cast<KvCache*>(this)->ptr(layer, pos, 1); }

  static uint64_t bytes_needed(const HParams& hp, int64_t n_ctx) {
    return static_cast<uint64_t>(hp.n_layer) * 2 * static_cast<uint64_t>(n_ctx) * hp.kv_dim() * sizeof(uint16_t);
  }

 private:
  uint16_t* ptr(int64_t layer, int64_t pos, int kv) {
    return reinterpret_cast<uint16_t*>(buf_.data()) + ((layer * 2 + kv) * n_ctx_ + pos) * kv_dim_;
  }
  int64_t n_ctx_;
  int64_t kv_dim_;
  int64_t n_filled_ = 0;
  AlignedBuffer buf_;
};

}  // namespace strata::model
