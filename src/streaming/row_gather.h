// streaming/row_gather.h: a streamed tensor read a few rows at a time (an untied token embedding: the rows a
// pass's tokens pick, never the matrix), through the shared I/O queue into buffers reused across passes.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/status.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "streaming/io_queue.h"

namespace strata::streaming {

// One gather at a time: the view acquire() returns must be released before the next acquire (the pass takes
// the embedding once). The buffers grow to the largest pass seen and are kept, so a decode step allocates
// nothing; what they hold is bytes() (a few aligned blocks per token of the largest pass).
class RowGather {
 public:
  // REQUIRES: `io` routes Gather completions to complete(); no read into the buffers is in flight at
  // destruction (the owner drains or destroys the queue first).
  RowGather(const model::Model& m, IoQueue& io) : m_(m), io_(io) {}
  ~RowGather();  // waits for the consumer still reading the last view

  // Reads rows `rows` of tensor `id` ([k, n]) and returns a [k, rows.size()] view whose row i is row rows[i].
  // Each distinct row is read once, as the aligned superset of its bytes; rows whose supersets touch share
  // one read. The view stays valid until release(e) and e's completion. Errors: an index out of range, a
  // failed or short read (the caller adds the tensor's name).
  Result<TensorView> acquire(model::TensorId id, std::span<const int32_t> rows);
  void release(kernels::EventPtr consumed);  // consumed: null = the bytes are free now
  // A read into the read buffer finished.
  void complete(uint64_t run, const Status& status);

  uint64_t bytes() const { return reads_.size() + packed_.size(); }

 private:
  // One read: the aligned span covering a run of distinct rows, and where it lands in reads_.
  struct Run {
    io::AlignedSpan span;
    uint64_t buffer_offset = 0;
  };
  // Lays out distinct_ as runs; fills row_at_ (each distinct row's offset in reads_); returns the bytes.
  uint64_t layout(const gguf::TensorInfo& t, uint64_t row_bytes);
  Status read_runs();

  const model::Model& m_;
  IoQueue& io_;
  AlignedBuffer reads_;   // the runs' aligned supersets, back to back
  AlignedBuffer packed_;  // the view: rows.size() rows of row_bytes, in the order asked
  std::vector<int32_t> distinct_;   // the rows asked for, sorted, each once
  std::vector<uint64_t> row_at_;    // per distinct row: its bytes' offset in reads_
  std::vector<Run> runs_;
  int n_pending_ = 0;  // runs submitted and not completed
  Status read_error_;  // the first failed run of this gather
  bool held_ = false;  // a view is out (acquired, not released)
  kernels::EventPtr reader_;  // the op the last view was released behind, until it completes
};

}  // namespace strata::streaming
