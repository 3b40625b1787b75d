// model/weight_source.h: the seams through which the forward pass reads weights, never learning where bytes live.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <utility>

#include "core/status.h"
#include "kernels/backend.h"
#include "tensor/tensor.h"

namespace strata::model {

// Index of a tensor in the GGUF directory (GgufFile::tensors).
using TensorId = int32_t;
constexpr TensorId kNoTensor = -1;

class WeightReleaser {
 public:
  virtual ~WeightReleaser() = default;
  // The holder is done with `handle`'s bytes once `consumed` completes (null: now). The owner must not
  // reuse them before that: on an asynchronous backend the reading op runs after the call that enqueued it.
  virtual void release(uint64_t handle, kernels::EventPtr consumed) = 0;
};

// A weight view held while the ops that read it are enqueued. Its bytes may be read once `ready()` has
// completed (null: at once; a backend waits on it with Backend::wait). The holder gives them back with
// release_after(an event recorded behind the last op that reads them); destruction without that releases
// at once, which is right only when no op read them or every reader has already finished.
class WeightRef {
 public:
  WeightRef() = default;
  explicit WeightRef(TensorView view, WeightReleaser* owner = nullptr, uint64_t handle = 0,
                     kernels::EventPtr ready = nullptr)
      : view_(view), owner_(owner), handle_(handle), ready_(std::move(ready)) {}
  ~WeightRef() { release_after(nullptr); }
  WeightRef(const WeightRef&) = delete;
  WeightRef& operator=(const WeightRef&) = delete;
  WeightRef(WeightRef&& o) noexcept
      : view_(o.view_), owner_(std::exchange(o.owner_, nullptr)), handle_(o.handle_), ready_(std::move(o.ready_)) {}
  WeightRef& operator=(WeightRef&& o) noexcept {
    if (this != &o) {
      release_after(nullptr);
      view_ = o.view_;
      owner_ = std::exchange(o.owner_, nullptr);
      handle_ = o.handle_;
      ready_ = std::move(o.ready_);
    }
    return *this;
  }
  void release_after(kernels::EventPtr consumed) {
    if (owner_) std::exchange(owner_, nullptr)->release(handle_, std::move(consumed));
  }
  void reset() { release_after(nullptr); }
  const TensorView& view() const { return view_; }
  const TensorView* operator->() const { return &view_; }
  const kernels::EventPtr& ready() const { return ready_; }
  // Whether an owner waits for release_after (a resident weight has none: no event to record for it).
  bool owned() const { return owner_ != nullptr; }

 private:
  TensorView view_;
  WeightReleaser* owner_ = nullptr;
  uint64_t handle_ = 0;
  kernels::EventPtr ready_;
};

// Dense weights by tensor id. Layer hooks let a streaming source prefetch ahead of the forward pass.
class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // layer in [0, n_layer) for transformer blocks; kGlobalLayer for embedding/output tensors.
  static constexpr int kGlobalLayer = -1;
  virtual void begin_layer(int layer) {}
  virtual void end_layer(int layer) {}
  // A pass begins: one token for every sequence (decode) or a prompt batch. Sites, and so what a source is
  // asked to bring where, differ between the two.
  virtual void begin_pass(bool decode) {}
  virtual Result<WeightRef> acquire(TensorId id) = 0;
  // The weight of a product that runs on a backend reading memory of `where`: a source that can bring the
  // bytes there (an upload through device staging) does; the default serves acquire(id) wherever they are.
  virtual Result<WeightRef> acquire_for(TensorId id, Device where) { return acquire(id); }
  // Whether the pass should ask for `id` a row at a time (acquire_rows) rather than whole: a source that
  // streams an untied token embedding from disk reads the rows a pass's tokens pick, never the matrix.
  virtual bool gathers_rows(TensorId id) const { return false; }
  // A [k, rows.size()] view whose row i is row rows[i] of tensor `id` ([k, n]; a duplicate index repeats its
  // row). Only for an id gathers_rows() answers true for: the default, behind a false answer, is an
  // internal error (whole-tensor sources serve acquire(id), and a gather from it is the caller's get_rows).
  virtual Result<WeightRef> acquire_rows(TensorId id, std::span<const int32_t> rows) {
    return error(ErrorKind::Internal, "internal: this weight source does not gather rows (tensor id {})", id);
  }
};

// One expert's slice of a stacked expert tensor: [k, rows] out of [k, rows, n_expert].
enum class ExpertTensor { Gate = 0, Up = 1, Down = 2 };

class ExpertSource {
 public:
  virtual ~ExpertSource() = default;
  // Tells the source which experts the router picked for a layer (all tokens of the batch),
  // before any of them is acquired: it may start reads for all of them at once.
  virtual void on_route(int layer, std::span<const int32_t> experts) {}
  virtual Result<WeightRef> acquire_expert(int layer, ExpertTensor which, int32_t expert) = 0;
  // The slice for a product on a backend reading memory of `where` (see WeightSource::acquire_for).
  virtual Result<WeightRef> acquire_expert_for(int layer, ExpertTensor which, int32_t expert, Device where) {
    return acquire_expert(layer, which, expert);
  }
  // Whether the expert's slices are whole in memory of `where` (a GPU expert cache): the forward pass then runs
  // it there, beside the experts computed at their tensors' sites.
  virtual bool holds_expert_on(int layer, int32_t expert, Device where) const { return false; }
  // How many distinct experts may be held (acquired, not yet released) at once; the forward pass runs a
  // layer's routed experts in groups of at most this many. A cache of n entries answers n.
  virtual int max_held_experts() const { return std::numeric_limits<int>::max(); }
};

}  // namespace strata::model
