// streaming/stream_stats.h: what the streaming source reports: bytes read, I/O time, expert cache hits,
// and the figures derived from them (bytes per pass, achieved disk bandwidth, hit rate).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace strata::streaming {

struct StreamStats {
  std::string reader;     // io_uring, pread or memory
  bool direct_io = true;  // O_DIRECT; false: buffered reads whose pages are dropped right after
  // Memory held (allocated at load).
  uint64_t resident_bytes = 0;
  uint64_t staging_bytes = 0;  // the staging slots, and the row-gather buffers as large as the largest pass made them
  uint64_t expert_cache_bytes = 0;
  // Loading the resident set.
  uint64_t load_bytes = 0;
  double load_seconds = 0;
  // Since load: forward passes, reads and their timing.
  uint64_t n_passes = 0;
  uint64_t bytes_read = 0;   // from disk, aligned supersets included
  uint64_t n_reads = 0;      // requests (each may be split into several block-sized reads)
  uint64_t n_failed_reads = 0;
  double io_wait_seconds = 0;  // the forward pass blocked on reads
  double io_busy_seconds = 0;  // at least one read in flight (observed when the pass polls)
  uint64_t staging_hits = 0;   // dense acquires whose read the prefetcher had already issued
  uint64_t n_unscheduled = 0;  // dense acquires outside the expected order (0 unless forward.cc changed)
  // Experts.
  uint64_t expert_hits = 0;
  uint64_t expert_misses = 0;
  uint64_t expert_speculative_reads = 0;
  uint64_t expert_speculative_used = 0;
  uint64_t expert_warmed = 0;
  struct PassExperts {
    uint32_t hits = 0;
    uint32_t misses = 0;
  };
  std::vector<PassExperts> expert_per_pass;  // the most recent passes, oldest first (one per decoded token)

  double bytes_per_pass() const { return n_passes ? static_cast<double>(bytes_read) / n_passes : 0.0; }
  double disk_gb_per_s() const { return io_busy_seconds > 0 ? bytes_read / io_busy_seconds / 1e9 : 0.0; }
  double expert_hit_rate() const {
    const uint64_t n = expert_hits + expert_misses;
    return n ? static_cast<double>(expert_hits) / n : 0.0;
  }
};

// One line per figure, for `strata run --stats` and benchmarks; tokens/s comes from the caller's clock.
std::string format_stream_stats(const StreamStats& s, uint64_t n_tokens, double seconds);

}  // namespace strata::streaming
