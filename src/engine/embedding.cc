// engine/embedding.cc: L2 normalisation of embeddings.
#include "engine/embedding.h"

#include <algorithm>
#include <cmath>

namespace strata::engine {

void l2_normalize(std::span<float> v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0) return;
  const float scale = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= scale;
}

}  // namespace strata::engine
