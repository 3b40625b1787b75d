// engine/sampler.h: turning logits into the next token: penalties, top-k, top-p, min-p, temperature, seeded RNG.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace strata::engine {

struct SamplingOptions {
  float temperature = 0.8f;  // <= 0: greedy (argmax)
  int32_t top_k = 40;        // <= 0: off
  float top_p = 0.9f;        // >= 1: off
  float min_p = 0.0f;        // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off
  int32_t repeat_last_n = 64;   // how many recent tokens the penalty sees
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingOptions& options);

  // Picks a token from logits (modified in place by the penalty). `history` is every token so far.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);

  static int32_t argmax(std::span<const float> logits);

 private:
  SamplingOptions opt_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

}  // namespace strata::engine
