// engine/embedding.h: sentence embeddings from a causal model: the final normalised hidden state of the
// last token (last-token pooling), reusing the session's cached prefix.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "engine/session.h"

namespace strata::engine {

// Evaluates `tokens` in `session` (reusing the longest cached prefix, so a shared BOS or system text is
// computed once) and returns the last token's final hidden state ([n_embd], after the output norm).
// Last-token pooling is what decoder-only embedding models are trained for; for a plain chat model it
// is a usable, if weaker, text vector. REQUIRES: !tokens.empty(), tokens.size() < session.n_ctx().
Result<std::vector<float>> embed_last_token(Session& session, std::span<const int32_t> tokens);

// Scales v to unit L2 norm (a zero vector stays zero).
void l2_normalize(std::span<float> v);

}  // namespace strata::engine
