// engine/context_fit.h: whether a session's KV cache of a client-chosen context fits in memory, checked
// before anything is allocated, so an oversized context is refused with the shortfall named, never an abort.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "engine/runtime.h"

namespace strata::engine {

// The KV cache bytes of an n_ctx session, sliding-window layers counted at their ring (in double: a hostile
// file's dimensions could overflow 64 bits).
double kv_cache_bytes(const model::HParams& hp, int64_t n_ctx);

// OK when n_parallel KV slots of n_ctx each fit: against the RAM the model's plan leaves for the KV cache, or, for a
// model loaded without a plan, against the memory available now plus `freed_bytes` (a session about to
// be dropped). Otherwise resource exhausted, naming the context, the bytes it needs and the shortfall.
Status check_context_fits(const LoadedModel& model, int64_t n_ctx, uint64_t freed_bytes, int n_parallel = 1);

}  // namespace strata::engine
