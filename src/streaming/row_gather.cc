// streaming/row_gather.cc: laying out a pass's rows as aligned reads, reading them, packing them into a view.
#include "streaming/row_gather.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/check.h"

namespace strata::streaming {

RowGather::~RowGather() {
  if (reader_) reader_->synchronize();
}

uint64_t RowGather::layout(const gguf::TensorInfo& t, uint64_t row_bytes) {
  runs_.clear();
  row_at_.clear();
  uint64_t total = 0;
  for (int32_t r : distinct_) {
    const uint64_t offset = t.file_offset + static_cast<uint64_t>(r) * row_bytes;
    const io::AlignedSpan s = io::align_span(offset, row_bytes, io_.alignment());
    Run* run = runs_.empty() ? nullptr : &runs_.back();
    if (run != nullptr && s.start <= run->span.start + run->span.length) {
      // Neighbouring rows whose blocks touch or overlap: one longer read instead of two.
      run->span.length = std::max(run->span.start + run->span.length, s.start + s.length) - run->span.start;
      run->span.need = offset + row_bytes - run->span.start;
    } else {
      runs_.push_back({s, total});
      run = &runs_.back();
      run->span.lead = 0;
      run->span.need = offset + row_bytes - s.start;
    }
    row_at_.push_back(run->buffer_offset + (offset - run->span.start));
    total = run->buffer_offset + run->span.length;
  }
  return total;
}

Status RowGather::read_runs() {
  read_error_ = Status::ok();
  for (size_t i = 0; i < runs_.size(); ++i) {
    const Status submitted = io_.submit(IoQueue::Client::Gather, i, runs_[i].span, reads_.data() + runs_[i].buffer_offset);
    if (!submitted.is_ok()) {
      if (read_error_.is_ok()) read_error_ = submitted;
      break;  // the queue is broken for good (a fatal error): nothing later would be read either
    }
    ++n_pending_;
  }
  // Every run submitted lands before the buffer is read or reused; reads for other clients complete to theirs.
  while (n_pending_ > 0) {
    const Status waited = io_.wait_one();
    if (!waited.is_ok()) return waited;  // fatal: runs may still be in flight, so acquire refuses from now on
  }
  return read_error_;
}

Result<TensorView> RowGather::acquire(model::TensorId id, std::span<const int32_t> rows) {
  if (held_) return error(ErrorKind::Internal, "internal: a gather of '{}' is still held", m_.tensors[id].name);
  if (n_pending_ > 0) {  // an earlier gather broke the queue with reads still aimed at the buffer
    STRATA_RETURN_IF_ERROR(io_.fatal());
    return error(ErrorKind::Internal, "internal: {} gather reads still in flight", n_pending_);
  }
  TensorView view = model::make_view(m_, id, nullptr);
  const int64_t n_rows = view.n_rows();
  const uint64_t row_bytes = view.row_bytes();
  distinct_.assign(rows.begin(), rows.end());
  for (int32_t r : distinct_)
    if (r < 0 || r >= n_rows) return error(ErrorKind::OutOfRange, "row {} is out of range (the tensor has {} rows)", r, n_rows);
  std::sort(distinct_.begin(), distinct_.end());
  distinct_.erase(std::unique(distinct_.begin(), distinct_.end()), distinct_.end());

  // The last view's reader may still run on an asynchronous backend: both buffers are rewritten below.
  if (reader_) std::exchange(reader_, nullptr)->synchronize();
  const uint64_t read_bytes = layout(m_.tensors[id], row_bytes);
  if (read_bytes > reads_.size()) reads_.reset(read_bytes, io_.alignment());
  STRATA_RETURN_IF_ERROR(read_runs());

  const uint64_t packed_bytes = row_bytes * rows.size();
  if (packed_bytes > packed_.size()) packed_.reset(packed_bytes, io_.alignment());
  for (size_t i = 0; i < rows.size(); ++i) {
    const size_t d = static_cast<size_t>(std::lower_bound(distinct_.begin(), distinct_.end(), rows[i]) - distinct_.begin());
    std::memcpy(packed_.data() + i * row_bytes, reads_.data() + row_at_[d], row_bytes);
  }
  view.data = packed_.data();
  view.ne[1] = static_cast<int64_t>(rows.size());
  held_ = true;
  return view;
}

void RowGather::release(kernels::EventPtr consumed) {
  STRATA_CHECK(held_);
  held_ = false;
  if (consumed && !consumed->query()) reader_ = std::move(consumed);
}

void RowGather::complete(uint64_t run, const Status& status) {
  STRATA_CHECK(n_pending_ > 0 && run < runs_.size());
  --n_pending_;
  if (!status.is_ok() && read_error_.is_ok()) read_error_ = status;
}

}  // namespace strata::streaming
