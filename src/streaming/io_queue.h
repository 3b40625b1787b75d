// streaming/io_queue.h: one reader shared by the resident loader, the staging pool, the expert cache and row gathers:
// tags that route each completion to its owner, and the I/O counters.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/status.h"
#include "io/reader.h"

namespace strata::streaming {

struct IoCounters {
  uint64_t bytes_read = 0;   // bytes transferred from the file (aligned supersets included)
  uint64_t n_requests = 0;   // requests completed
  uint64_t n_failed = 0;     // requests that completed with an error
  double wait_seconds = 0;   // time the consumer spent blocked on reads
  double busy_seconds = 0;   // time with at least one request in flight, as seen by the consumer
};

class IoQueue {
 public:
  enum class Client : uint8_t { Resident = 0, Staging = 1, Experts = 2, Gather = 3 };
  // Called on the consumer thread with the token given at submit and the read's outcome.
  using Handler = std::function<void(uint64_t token, const Status& status)>;

  explicit IoQueue(std::unique_ptr<io::Reader> reader);
  ~IoQueue();  // waits for every read in flight

  io::Reader& reader() { return *reader_; }
  uint64_t alignment() const { return reader_->alignment(); }
  void set_handler(Client client, Handler handler);

  // Reads `span` into dest (aligned). The completion goes to the client's handler with `token`.
  Status submit(Client client, uint64_t token, const io::AlignedSpan& span, uint8_t* dest);
  // Blocks until one read completes and dispatches it.
  Status wait_one();
  // Dispatches every completion already available, without blocking.
  Status poll();
  // Waits for every read in flight.
  Status drain();
  size_t in_flight() const { return reader_->in_flight(); }

  // A failure of the reader itself (not of one read): sticky, every later call returns it.
  const Status& fatal() const { return fatal_; }
  const IoCounters& counters() const { return counters_; }

 private:
  using Clock = std::chrono::steady_clock;
  void dispatch(io::ReadCompletion c);
  Status fail(Status s);

  std::unique_ptr<io::Reader> reader_;
  std::array<Handler, 4> handlers_;
  Status fatal_;
  IoCounters counters_;
  Clock::time_point busy_since_{};  // valid while in_flight() > 0
};

}  // namespace strata::streaming
