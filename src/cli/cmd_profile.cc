// cli/cmd_profile.cc: `strata profile [--json] [--refresh] [--dir PATH]`: measure or read the cached profile.
#include "cli/cmd_profile.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/units.h"
#include "cli/gpu_kernel_profile.h"
#include "cli/progress_line.h"
#include "hw/measure.h"

namespace strata::cli {

namespace {

std::string gbs(double bytes_per_s) { return fmt::format("{:.2f} GB/s", bytes_per_s / 1e9); }

std::string size_label(uint64_t bytes) {
  return bytes >= kMiB ? fmt::format("{} MiB", bytes / kMiB) : fmt::format("{} KiB", bytes / kKiB);
}

}  // namespace

std::string profile_cache_dir_from_env() {
  return planner::default_cache_dir(std::getenv("XDG_CACHE_HOME"), std::getenv("HOME"));
}

std::string format_profile_text(const planner::HardwareProfile& p) {
  std::string out;
  out += fmt::format("measured {} in {:.1f} s (fingerprint {})\n", p.measured_at, p.measure_seconds, p.fingerprint);
  out += fmt::format("cpu:     {}, {} threads on {} cores; {}\n", p.cpu.model, p.cpu.n_logical, p.cpu.n_physical,
                     p.cpu.isa.empty() ? "no SIMD features listed" : fmt::format("{}", fmt::join(p.cpu.isa, " ")));
  out += fmt::format("         f32 multiply-add peak {:.0f} GFLOP/s (all threads)\n", p.cpu.fma_gflops);
  out += fmt::format("memory:  {} total, {} available{}\n", format_bytes(p.memory.total_bytes),
                     format_bytes(p.memory.available_bytes),
                     p.memory.cgroup_limit_bytes
                         ? fmt::format(" (cgroup limit {})", format_bytes(*p.memory.cgroup_limit_bytes))
                         : "");
  out += fmt::format("         read bandwidth {} ({} threads)\n", gbs(p.memory.read_bytes_per_s), p.memory.read_threads);
  if (p.gpus.empty()) out += fmt::format("gpu:     {}\n", p.gpu_note);
  for (const auto& g : p.gpus) {
    out += fmt::format("gpu {}:   {} (compute {}.{}, {} SMs{}), {} free of {}\n", g.index, g.name, g.cc_major, g.cc_minor,
                       g.n_sm, g.integrated ? ", integrated" : "", format_bytes(g.free_bytes), format_bytes(g.total_bytes));
    out += fmt::format("         device memory {}; host to device {} pinned, {} pageable; device to host {} pinned, {} "
                       "pageable; f32 ~{:.0f} TFLOP/s (estimate)\n",
                       gbs(g.device_read_bytes_per_s), gbs(g.h2d_pinned_bytes_per_s), gbs(g.h2d_pageable_bytes_per_s),
                       gbs(g.d2h_pinned_bytes_per_s), gbs(g.d2h_pageable_bytes_per_s), g.fp32_tflops_estimate);
    if (g.matvec_bytes_per_s > 0)
      out += fmt::format("         strata's kernels: decode mat-vec {} of weights (Q4_K), prompt GEMM {:.1f} TFLOP/s; "
                         "{:.1f} us a product beyond its bytes, a layer's other ops {:.1f} us (1 token), {:.2f} ms "
                         "({} tokens)\n",
                         gbs(g.matvec_bytes_per_s), g.gemm_flops_per_s / 1e12, g.product_fixed_seconds * 1e6,
                         g.layer_ops_seconds * 1e6, g.layer_ops_prompt_seconds * 1e3, planner::kLayerOpsPromptTokens);
  }
  if (!p.gpus.empty() && !p.gpu_note.empty()) out += fmt::format("         note: {}\n", p.gpu_note);
  out += fmt::format("unified memory: {}\n", p.unified_memory ? "yes (GPU and CPU share one pool)" : "no");
  if (!p.storage) {
    out += "storage: not measured\n";
    return out;
  }
  const auto& s = *p.storage;
  out += fmt::format("storage: {} ({} on {}){}{}\n", s.path, s.filesystem, s.device,
                     s.direct_io ? ", O_DIRECT" : ", buffered: the filesystem refused O_DIRECT, figures are cache speeds",
                     s.reader.empty() ? "" : ", read with " + s.reader);
  // Sequential reads as a table: block size down, queue depth across.
  std::vector<int> depths;
  for (const auto& r : s.sequential)
    if (std::find(depths.begin(), depths.end(), r.queue_depth) == depths.end()) depths.push_back(r.queue_depth);
  out += "         sequential read";
  for (int d : depths) out += fmt::format("{:>12}", fmt::format("QD {}", d));
  out += "\n";
  std::vector<uint64_t> blocks;
  for (const auto& r : s.sequential)
    if (std::find(blocks.begin(), blocks.end(), r.block_bytes) == blocks.end()) blocks.push_back(r.block_bytes);
  for (uint64_t b : blocks) {
    out += fmt::format("         {:>15}", size_label(b));
    for (int d : depths) {
      double v = 0;
      for (const auto& r : s.sequential)
        if (r.block_bytes == b && r.queue_depth == d) v = r.bytes_per_s;
      out += fmt::format("{:>12}", gbs(v));
    }
    out += "\n";
  }
  const auto best = s.best_sample();
  out += fmt::format("         sustained {} ({} requests at QD {}; median of a held run)\n",
                     gbs(s.sustained_bytes_per_s), size_label(best.block_bytes), best.queue_depth);
  out += fmt::format("         random 4 KiB read latency {:.0f} us (queue depth 1)\n", s.random_read_latency_us);
  return out;
}

Result<planner::HardwareProfile> resolve_profile(const ProfileSource& source) {
  if (!source.profile_file.empty()) return planner::read_profile_file(source.profile_file);
  planner::ProfileRequest req;
  req.storage_dir = source.model_dir.empty() ? "." : source.model_dir;
  req.measure_gpu_kernels = measure_gpu_kernels;
  STRATA_ASSIGN_OR_RETURN(auto loaded, planner::load_or_measure_profile(req, source.cache_dir, source.refresh));
  if (loaded.measured)
    log(LogLevel::Info, "measured this machine in {:.1f} s; cached at {}", loaded.profile.measure_seconds,
        loaded.cache_path.empty() ? "(nowhere: no cache directory)" : loaded.cache_path);
  return std::move(loaded.profile);
}

Result<planner::Budgets> budgets_from_flags(const std::string& gpu_mem, const std::string& ram, int64_t ctx,
                                            const std::string& mode) {
  planner::Budgets b;
  if (!gpu_mem.empty()) {
    auto v = parse_size(gpu_mem);
    if (!v) return v.status().with_context("--gpu-mem");
    b.gpu_bytes = *v;
  }
  if (!ram.empty()) {
    auto v = parse_size(ram);
    if (!v) return v.status().with_context("--ram");
    b.ram_bytes = *v;
  }
  if (ctx < 0 || ctx > (int64_t{1} << 24)) return error("--ctx {} is out of range", ctx);
  b.ctx = static_cast<int>(ctx);
  if (!mode.empty() && mode != "auto") {
    auto m = planner::parse_mode(mode);
    if (!m) return m.status().with_context("--mode");
    b.mode = *m;
  }
  return b;
}

int run_profile_command(const ProfileOptions& options) {
  planner::ProfileRequest req;
  req.storage_dir = options.dir.empty() ? "." : options.dir;
  req.unified_memory = options.unified_memory;
  req.measure_gpu_kernels = measure_gpu_kernels;
  ProgressFlags flags;
  flags.quiet = options.quiet;
  ProgressLine progress(flags);
  req.progress = progress.callback();
  auto loaded = planner::load_or_measure_profile(req, options.cache_dir, options.refresh);
  progress.finish_line();
  if (!loaded) {
    std::fprintf(stderr, "strata profile: %s\n", loaded.status().message().c_str());
    return 1;
  }
  if (options.json) {
    nlohmann::json j;
    planner::to_json(j, loaded->profile);
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s", format_profile_text(loaded->profile).c_str());
    std::printf("%s\n", loaded->measured
                            ? fmt::format("cached at {}", loaded->cache_path.empty() ? "(no cache dir)" : loaded->cache_path).c_str()
                            : fmt::format("from cache {} (--refresh to measure again)", loaded->cache_path).c_str());
  }
  return 0;
}

}  // namespace strata::cli
