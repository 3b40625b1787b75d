// model/kv_cache.cc: KV cache storage.
#include "model/kv_cache.h"

namespace strata::model {

KvCache::KvCache(const HParams& hp, int64_t n_ctx)
    : n_ctx_(n_ctx), kv_dim_(hp.kv_dim()), buf_(bytes_needed(hp, n_ctx)) {}

}  // namespace strata::model
