// streaming/stream_stats.cc: the streaming report as text.
#include "streaming/stream_stats.h"

#include <fmt/format.h>

#include "core/units.h"

namespace strata::streaming {

std::string format_stream_stats(const StreamStats& s, uint64_t n_tokens, double seconds) {
  std::string out;
  out += fmt::format("memory: {} resident, {} staging, {} expert cache\n", format_bytes(s.resident_bytes),
                     format_bytes(s.staging_bytes), format_bytes(s.expert_cache_bytes));
  out += fmt::format("load: {} in {:.2f} s ({} reader{})\n", format_bytes(s.load_bytes), s.load_seconds, s.reader,
                     s.direct_io ? ", direct I/O" : ", buffered");
  if (n_tokens > 0 && seconds > 0) out += fmt::format("speed: {:.2f} tokens/s\n", n_tokens / seconds);
  const double per_token = n_tokens ? static_cast<double>(s.bytes_read) / n_tokens : 0.0;
  out += fmt::format("disk: {} read in {} requests, {} per token, {:.2f} GB/s while busy, {:.2f} s waiting\n",
                     format_bytes(s.bytes_read), s.n_reads, format_bytes(static_cast<uint64_t>(per_token)),
                     s.disk_gb_per_s(), s.io_wait_seconds);
  if (s.expert_hits + s.expert_misses > 0)
    out += fmt::format("experts: {:.1f}% hit rate ({} hits, {} misses), {} read ahead ({} used), {} warmed\n",
                       100.0 * s.expert_hit_rate(), s.expert_hits, s.expert_misses, s.expert_speculative_reads,
                       s.expert_speculative_used, s.expert_warmed);
  return out;
}

}  // namespace strata::streaming
