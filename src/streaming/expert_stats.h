// streaming/expert_stats.h: co-activation statistics of MoE experts: how often each (layer, expert) is routed
// and which experts of the next layer follow it. Predicts the next layer's experts, warms the cache at start,
// and persists between runs as a small binary file in the XDG state directory.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "model/model.h"

namespace strata::streaming {

// A fingerprint of the model's tensor directory: statistics from another model are never applied.
uint64_t model_identity(const model::Model& m);

// $XDG_STATE_HOME/strata/expert-stats/<model file stem>-<identity>.bin, or ~/.local/state/... when
// XDG_STATE_HOME is empty. The caller (the edge) passes the environment's values in.
std::string default_stats_path(const model::Model& m, std::string_view model_path, std::string_view xdg_state_home,
                               std::string_view home);

struct ExpertKey {
  int layer = 0;
  int32_t expert = 0;
};

class ExpertStats {
 public:
  ExpertStats(int n_layer, int n_expert, int n_used);

  // Records one routing decision. A decision of at most n_used experts is one token's; when it follows
  // one for the previous layer, each (previous expert → expert) pair is counted.
  void record(int layer, std::span<const int32_t> experts);

  // The experts of layer + 1 most likely to follow `experts` at `layer`: (expert, estimated probability),
  // highest first, those at or above min_probability, at most max_n. The estimate is the lower end of the
  // 95% confidence interval of the observed ratio (10 of 10 is 0.72, 2 of 4 is 0.15), so sampling noise is
  // not taken for co-activation. Experts seen fewer than 4 times before a next-layer decision predict nothing.
  std::vector<std::pair<int32_t, double>> predict(int layer, std::span<const int32_t> experts, double min_probability,
                                                  size_t max_n) const;

  // Keys routed at least once, most often first; at most max_n.
  std::vector<ExpertKey> hottest(size_t max_n) const;
  uint64_t count(int layer, int32_t expert) const { return counts_[index(layer, expert)]; }
  uint64_t total() const;

  Status save(const std::string& path, uint64_t identity) const;
  // Missing file: fresh statistics. A file for another model or of the wrong shape: an error (callers
  // log it and start fresh).
  static Result<ExpertStats> load(const std::string& path, uint64_t identity, int n_layer, int n_expert, int n_used);

 private:
  static constexpr uint32_t kNone = 0xffffffffu;
  struct Successor {
    uint32_t expert = kNone;
    uint32_t count = 0;
  };
  size_t index(int layer, int32_t expert) const { return static_cast<size_t>(layer) * n_expert_ + expert; }
  void count_successor(int layer, int32_t from, int32_t to);

  int n_layer_, n_expert_, n_used_, n_successors_;
  std::vector<uint64_t> counts_;      // [layer][expert]: times routed
  std::vector<uint64_t> followed_;    // [layer][expert]: times a next-layer decision was counted after it
  std::vector<Successor> successors_; // [layer][expert][n_successors_]: the most frequent followers (space-saving)
  int prev_layer_ = -1;
  std::vector<int32_t> prev_;  // the last single-token decision, at prev_layer_
};

}  // namespace strata::streaming
