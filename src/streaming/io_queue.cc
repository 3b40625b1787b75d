// streaming/io_queue.cc: submitting through the shared reader, routing completions, counting time and bytes.
#include "streaming/io_queue.h"

#include "core/check.h"
#include "core/log.h"

namespace strata::streaming {

namespace {
constexpr int kClientShift = 56;
constexpr uint64_t kTokenMask = (uint64_t{1} << kClientShift) - 1;
}  // namespace

IoQueue::IoQueue(std::unique_ptr<io::Reader> reader) : reader_(std::move(reader)) { STRATA_CHECK(reader_ != nullptr); }

IoQueue::~IoQueue() {
  Status s = drain();
  if (!s.is_ok()) log(LogLevel::Warn, "while closing '{}': {}", reader_->path(), s.message());
}

void IoQueue::set_handler(Client client, Handler handler) { handlers_[static_cast<int>(client)] = std::move(handler); }

Status IoQueue::fail(Status s) {
  if (!s.is_ok() && fatal_.is_ok()) fatal_ = s;
  return s;
}

Status IoQueue::submit(Client client, uint64_t token, const io::AlignedSpan& span, uint8_t* dest) {
  STRATA_RETURN_IF_ERROR(fatal_);
  STRATA_CHECK(token <= kTokenMask);
  if (reader_->in_flight() == 0) busy_since_ = Clock::now();
  io::ReadRequest r;
  r.offset = span.start;
  r.length = span.length;
  r.need = span.need;
  r.dest = dest;
  r.tag = (static_cast<uint64_t>(client) << kClientShift) | token;
  return fail(reader_->submit(r));
}

void IoQueue::dispatch(io::ReadCompletion c) {
  if (reader_->in_flight() == 0)
    counters_.busy_seconds += std::chrono::duration<double>(Clock::now() - busy_since_).count();
  counters_.bytes_read += c.bytes;
  ++counters_.n_requests;
  if (!c.status.is_ok()) ++counters_.n_failed;
  const int client = static_cast<int>(c.tag >> kClientShift);
  STRATA_CHECK(client < static_cast<int>(handlers_.size()) && handlers_[client]);
  handlers_[client](c.tag & kTokenMask, c.status);
}

Status IoQueue::wait_one() {
  STRATA_RETURN_IF_ERROR(fatal_);
  const auto t0 = Clock::now();
  auto c = reader_->wait();
  counters_.wait_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  if (!c.is_ok()) return fail(c.status());
  dispatch(std::move(c).value());
  return Status::ok();
}

Status IoQueue::poll() {
  STRATA_RETURN_IF_ERROR(fatal_);
  for (;;) {
    auto c = reader_->poll();
    if (!c.is_ok()) return fail(c.status());
    if (!c.value()) return Status::ok();
    dispatch(std::move(*c.value()));
  }
}

Status IoQueue::drain() {
  while (fatal_.is_ok() && reader_->in_flight() > 0) STRATA_RETURN_IF_ERROR(wait_one());
  return fatal_;
}

}  // namespace strata::streaming
