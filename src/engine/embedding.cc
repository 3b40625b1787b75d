// engine/embedding.cc: last-token pooling over Session's cache, and L2 normalisation.
#include "engine/embedding.h"

#include <algorithm>
#include <cmath>

namespace strata::engine {

Result<std::vector<float>> embed_last_token(Session& session, std::span<const int32_t> tokens) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) return error("nothing to embed: the input has no tokens");
  if (n >= session.n_ctx())
    return error(ErrorKind::OutOfRange, "the input has {} tokens but the context holds {}", n, session.n_ctx());
  // The hidden state of a token depends only on the tokens before it, so a cached prefix is reusable;
  // at least the last token is evaluated so last_hidden() belongs to this input.
  const auto& history = session.history();
  int64_t common = 0;
  while (common < static_cast<int64_t>(history.size()) && common < n && history[common] == tokens[common]) ++common;
  common = session.truncate(std::min(common, n - 1));
  std::vector<float> logits;
  STRATA_RETURN_IF_ERROR(session.eval(tokens.subspan(static_cast<size_t>(common)), logits, false));
  auto hidden = session.forward().last_hidden();
  return std::vector<float>(hidden.begin(), hidden.end());
}

void l2_normalize(std::span<float> v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0) return;
  const float scale = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= scale;
}

}  // namespace strata::engine
