// streaming/schedule.h: the order in which the forward pass reads dense weights, as a cycle repeating every pass,
// so reads can be issued ahead of it and across token boundaries.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "model/model.h"

namespace strata::streaming {

// One dense acquire of a forward pass: its position and tensor. Positions: 0 = the globals read before the
// layers (token_embd), 1 + l = layer l, n_layer + 1 = the globals read after them (output_norm, output).
struct PassRead {
  int position = 0;
  model::TensorId tensor = model::kNoTensor;
};

// Every dense acquire of one pass in the order model/forward.cc makes them (expert slices excluded;
// the router is included): the model's bound tensors in the architecture enumeration's order. A test fails
// if forward.cc reads in another order.
std::vector<PassRead> pass_reads(const model::Model& m);

// The expert tensors of a layer, indexed by model::ExpertTensor.
bool is_expert_tensor(const model::Model& m, model::TensorId id);

// An untied token embedding: the pass reads one row per token (a gather), so a streamed one is read row by row
// on demand (RowGather), outside the schedule and the staging slots. A tied one is also the lm head, read whole.
bool is_row_gather(const model::Model& m, model::TensorId id);

// The streamed subsequence of pass_reads() (row gathers left out), numbered by an ever-growing sequence number: entry seq is
// reads[seq % size()] in pass seq / size(). Groups (a position in a given pass) are numbered the same way:
// abs_group = pass * n_positions() + position.
class Schedule {
 public:
  Schedule() = default;
  Schedule(const model::Model& m, const std::vector<bool>& streamed);  // streamed: indexed by tensor id

  int n_positions() const { return n_positions_; }
  int64_t size() const { return static_cast<int64_t>(reads_.size()); }
  bool empty() const { return reads_.empty(); }

  model::TensorId tensor(int64_t seq) const { return reads_[seq % size()].tensor; }
  int64_t group_of(int64_t seq) const { return seq / size() * n_positions_ + reads_[seq % size()].position; }
  // The first sequence number whose group is >= abs_group.
  int64_t first_seq(int64_t abs_group) const {
    return abs_group / n_positions_ * size() + count_before_[abs_group % n_positions_];
  }

 private:
  int n_positions_ = 0;
  std::vector<PassRead> reads_;
  std::vector<int64_t> count_before_;  // per position: entries at earlier positions
};

}  // namespace strata::streaming
