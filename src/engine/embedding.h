// engine/embedding.h: sentence embeddings from a causal model are the final normalised hidden state of the
// last token (last-token pooling: Batcher::embed, which reuses a slot's cached prefix); their normalisation.
// Last-token pooling is what decoder-only embedding models are trained for; for a plain chat model it is a
// usable, if weaker, text vector.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"

namespace strata::engine {

// Scales v to unit L2 norm (a zero vector stays zero).
void l2_normalize(std::span<float> v);

}  // namespace strata::engine
