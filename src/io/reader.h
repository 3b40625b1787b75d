// io/reader.h: the asynchronous file reader interface (io_uring, a pread thread pool, an in-memory double).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace strata::io {

// One read of a file range into caller memory. With direct I/O the offset, length and destination are
// multiples of alignment(); GGUF tensors are only 32-byte aligned, so callers read an aligned superset.
struct ReadRequest {
  uint64_t offset = 0;      // file offset, a multiple of alignment()
  uint64_t length = 0;      // bytes to read, a multiple of alignment(); may run past the end of the file
  uint64_t need = 0;        // bytes from `offset` that must arrive (<= length); only the rest may lie past EOF
  uint8_t* dest = nullptr;  // aligned to alignment(); must stay valid until the completion is returned
  uint64_t tag = 0;         // returned with the completion
};

// A file range [offset, offset + size) rounded out to the reader's alignment.
struct AlignedSpan {
  uint64_t start = 0;   // aligned file offset where the read begins
  uint64_t length = 0;  // aligned bytes to read
  uint64_t need = 0;    // bytes from start up to the end of the wanted range
  uint64_t lead = 0;    // offset - start: where the wanted bytes begin in the destination
};
AlignedSpan align_span(uint64_t offset, uint64_t size, uint64_t alignment);

struct ReadCompletion {
  uint64_t tag = 0;
  uint64_t bytes = 0;  // bytes transferred from the file
  Status status;       // a failed or short read names the file, offset and cause
};

enum class ReaderKind { Auto, IoUring, Pread, Memory };
std::string_view reader_kind_name(ReaderKind kind);
Result<ReaderKind> parse_reader_kind(std::string_view text);

struct ReaderOptions {
  ReaderKind kind = ReaderKind::Auto;  // Auto: io_uring when built in and the kernel allows it, else pread
  bool direct = true;                  // O_DIRECT; where the filesystem refuses it, buffered reads + DONTNEED
  uint64_t block_bytes = 1 << 20;      // a request is split into reads of at most this size
  uint32_t queue_depth = 64;           // reads in flight at once
  int n_threads = 4;                   // pread workers
};

// REQUIRES: one thread calls submit/wait/poll (the consumer); implementations may use their own threads.
// The destructor waits for reads in flight, so no read ever lands in memory its caller has freed.
class Reader {
 public:
  virtual ~Reader() = default;
  virtual std::string_view kind_name() const = 0;
  // True when reads bypass the page cache (O_DIRECT). False: buffered reads whose pages are dropped
  // (POSIX_FADV_DONTNEED) right after, where the filesystem refuses O_DIRECT.
  virtual bool direct() const = 0;
  virtual uint64_t alignment() const = 0;
  virtual uint64_t file_size() const = 0;
  virtual const std::string& path() const = 0;

  // Queues a read; it completes later through wait() or poll(). An error here is fatal for the reader.
  virtual Status submit(const ReadRequest& request) = 0;
  // Blocks for the next finished request. REQUIRES: in_flight() > 0. A failed Result is fatal (the ring
  // broke); a failed read arrives as a completion carrying its own status.
  virtual Result<ReadCompletion> wait() = 0;
  // A finished request if one is ready, without blocking.
  virtual Result<std::optional<ReadCompletion>> poll() = 0;
  // Requests submitted and not yet returned.
  virtual size_t in_flight() const = 0;
  // Whether the file still has the size and modification time it had when opened.
  virtual Status check_unchanged() = 0;
};

// Opens `path` with the reader `options.kind` names (not Memory: see memory_reader.h).
Result<std::unique_ptr<Reader>> open_reader(const std::string& path, const ReaderOptions& options);

// True when this build has io_uring and the running kernel lets us set up a ring.
bool io_uring_available();

}  // namespace strata::io
