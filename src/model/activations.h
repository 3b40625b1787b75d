// model/activations.h: the forward pass's activation matrices on each backend it uses, and which backends
// hold each one's current value: an activation is copied (a hand-off) only when an op on a backend that
// lacks it reads it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/status.h"
#include "kernels/backend.h"
#include "model/hparams.h"
#include "model/placement.h"

namespace strata::model {

enum class Act { X, XB, Q, K, V, Att, Gate, Up, FfnOut, Router, ExpIn, ExpGate, ExpUp, ExpOut, Logits, kCount };

struct HandoffCounters {
  uint64_t n_handoffs = 0;  // activation copies between backends
  uint64_t bytes = 0;
};

class Activations {
 public:
  Activations(const HParams& hp, const Placement& placement);
  // Prepares every matrix for batches of n tokens (buffers grow, never shrink) and forgets all values.
  void begin(int64_t n);
  // The first `rows` rows of `a` on backend b, to read: handed off from a holder first if b has no copy.
  Result<kernels::ActView> in(Act a, int b, int64_t rows);
  // ... to write: b's copy becomes the only current one.
  Result<kernels::ActView> out(Act a, int b, int64_t rows);
  // ... to update in place (read, then write): in() and then out().
  Result<kernels::ActView> inout(Act a, int b, int64_t rows);
  // Rows each matrix of `a` holds for the current batch size: the batch's, and for the expert matrices
  // (ExpIn .. ExpOut) up to kExpertGroupRows more, so a small batch's routed experts fit all at once.
  int64_t capacity(Act a) const;
  static constexpr int64_t kExpertGroupRows = 64;
  const HandoffCounters& counters() const { return counters_; }
  // Changes whenever the buffers are replaced (a batch larger than any before), so a recorded step that
  // holds their addresses knows it is stale.
  uint64_t generation() const { return generation_; }

 private:
  static constexpr int kN = static_cast<int>(Act::kCount);
  Result<kernels::ActView> view(Act a, int b, int64_t rows);
  Status hand_off(Act a, int from, int to, int64_t rows);

  const Placement& p_;
  std::array<int64_t, kN> width_{};
  int64_t capacity_ = 0;  // rows of the largest batch begun (capacity() derives each matrix's rows from it)
  int64_t n_expert_used_ = 1;
  uint64_t generation_ = 0;
  struct PerBackend {
    std::array<std::unique_ptr<kernels::Buffer>, kN> buf;
    // A copy out of this backend's buffer that another backend's stream may still be reading.
    std::array<kernels::EventPtr, kN> read_pending;
  };
  std::vector<PerBackend> per_backend_;
  std::array<uint32_t, kN> valid_{};  // bit b: backend b's copy is current
  HandoffCounters counters_;
};

}  // namespace strata::model
