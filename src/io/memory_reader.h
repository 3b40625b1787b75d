// io/memory_reader.h: the in-memory reader, a test double that can fail on cue (EIO, short reads,
// a file that shrinks or changes) so the streaming source's error paths can be driven deterministically.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "io/reader.h"

namespace strata::io {

// Faults the double injects. Tests keep a shared_ptr and change them while the reader is in use.
struct MemoryFaults {
  // Reads whose range covers a byte in [eio_begin, eio_end) fail with EIO.
  uint64_t eio_begin = std::numeric_limits<uint64_t>::max();
  uint64_t eio_end = std::numeric_limits<uint64_t>::max();
  // The file looks this long: reads stop short at it, as after a truncation.
  uint64_t visible_size = std::numeric_limits<uint64_t>::max();
  // Each underlying read returns at most this many bytes (0: no limit), which exercises resubmission.
  uint64_t max_read_bytes = 0;
  // After this many more requests, every request fails with EIO (negative: never).
  int64_t fail_after_requests = -1;
  // check_unchanged() reports the file as modified.
  bool changed = false;
};

struct MemoryReaderStats {
  uint64_t requests = 0;
  uint64_t reads = 0;  // underlying reads, counting resubmitted remainders
  uint64_t bytes = 0;
};

// A reader over `bytes` (the whole file). `alignment` is enforced as O_DIRECT would (4096 by default).
std::unique_ptr<Reader> make_memory_reader(std::vector<uint8_t> bytes, std::string path_for_messages,
                                           std::shared_ptr<MemoryFaults> faults = nullptr,
                                           std::shared_ptr<MemoryReaderStats> stats = nullptr,
                                           uint64_t alignment = 4096);

// Reads the whole file at `path` into a memory reader (the Memory reader kind).
Result<std::unique_ptr<Reader>> open_memory_reader(const std::string& path);

}  // namespace strata::io
