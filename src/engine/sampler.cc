// engine/sampler.cc: the sampling chain, in llama.cpp's default order: penalties → top-k → top-p → min-p → temperature.
#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace strata::engine {

Sampler::Sampler(const SamplingOptions& options) : opt_(options), rng_(options.seed) {}

int32_t Sampler::argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = static_cast<int32_t>(i);
  return best;
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  const int32_t n_vocab = static_cast<int32_t>(logits.size());
  if (opt_.repeat_penalty != 1.0f && opt_.repeat_last_n != 0 && !history.empty()) {
    size_t n = opt_.repeat_last_n < 0 ? history.size() : std::min<size_t>(history.size(), opt_.repeat_last_n);
    std::unordered_set<int32_t> seen(history.end() - n, history.end());
    for (int32_t t : seen) {
      if (t < 0 || t >= n_vocab) continue;
      logits[t] = logits[t] > 0 ? logits[t] / opt_.repeat_penalty : logits[t] * opt_.repeat_penalty;
    }
  }
  if (opt_.temperature <= 0.0f) return argmax(logits);

  candidates_.clear();
  candidates_.reserve(n_vocab);
  for (int32_t i = 0; i < n_vocab; ++i)
    if (std::isfinite(logits[i])) candidates_.emplace_back(logits[i], i);
  if (candidates_.empty()) return argmax(logits);
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };

  size_t keep = candidates_.size();
  if (opt_.top_k > 0 && static_cast<size_t>(opt_.top_k) < keep) {
    keep = opt_.top_k;
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  candidates_.resize(keep);

  // Probabilities at temperature 1 decide the top-p and min-p cut-offs.
  std::vector<double> p(keep);
  const double mx = candidates_[0].first;
  double sum = 0;
  for (size_t i = 0; i < keep; ++i) sum += p[i] = std::exp(candidates_[i].first - mx);
  for (auto& v : p) v /= sum;
  if (opt_.top_p < 1.0f) {
    double cum = 0;
    size_t n = 0;
    while (n < keep) {
      cum += p[n++];
      if (cum >= opt_.top_p) break;
    }
    keep = std::max<size_t>(n, 1);
  }
  if (opt_.min_p > 0.0f) {
    size_t n = 1;
    while (n < keep && p[n] >= opt_.min_p * p[0]) ++n;
    keep = n;
  }

  std::vector<double> w(keep);
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += w[i] = std::exp((candidates_[i].first - mx) / opt_.temperature);
  std::uniform_real_distribution<double> uni(0.0, total);
  double r = uni(rng_);
  for (size_t i = 0; i < keep; ++i) {
    r -= w[i];
    if (r <= 0) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;
}

}  // namespace strata::engine
