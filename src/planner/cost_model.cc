// planner/cost_model.cc: decode time per token of an assignment: bytes per tier over measured rates, with overlap.
//
// The model (docs/planner.md explains it in prose):
//   compute = Σ_gpu max(bytes/gpu_bw, flops/gpu_flops) + Σ_cpu max(bytes/cpu_bw, flops/cpu_flops) + handoffs
//   stream  = max(disk reads, PCIe copies) of weights whose use is known ahead (prefetched, overlapped)
//   misses  = expert slices read or copied after the router picks them (serial), scaled by cache misses
//   bus     = all bytes through host RAM (CPU reads + DMA) / RAM bandwidth
//   time    = max(compute, stream, bus) + overlap_loss * min(compute, stream) + misses
#include "planner/cost_model.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "core/units.h"

namespace strata::planner {

Tier option_tier(Option o) {
  switch (o) {
    case Option::GpuGpu: return Tier::Gpu;
    case Option::PinnedGpu:
    case Option::PinnedCpu: return Tier::PinnedRam;
    case Option::RamGpu:
    case Option::RamCpu: return Tier::Ram;
    case Option::DiskGpu:
    case Option::DiskCpu: return Tier::Disk;
  }
  return Tier::Ram;
}

Site option_site(Option o) {
  switch (o) {
    case Option::GpuGpu:
    case Option::PinnedGpu:
    case Option::RamGpu:
    case Option::DiskGpu: return Site::Gpu;
    default: return Site::Cpu;
  }
}

std::string_view option_name(Option o) {
  static constexpr std::string_view kNames[] = {"gpu/gpu", "pinned/gpu", "pinned/cpu", "ram/gpu",
                                                "ram/cpu", "disk/gpu",   "disk/cpu"};
  return kNames[static_cast<int>(o)];
}

Machine machine_from_profile(const HardwareProfile& profile, const PlanOptions& options) {
  Machine m;
  m.unified = profile.unified_memory;
  m.cpu_bw = profile.memory.read_bytes_per_s > 0 ? profile.memory.read_bytes_per_s : 10e9;
  const double fma = profile.cpu.fma_gflops > 0 ? profile.cpu.fma_gflops : 16.0 * std::max(1, profile.cpu.n_logical);
  m.cpu_flops = fma * 1e9 * options.cpu_matmul_efficiency;
  m.cpu_attention_flops = fma * 1e9 * options.cpu_attention_efficiency;
  if (profile.has_gpu()) {
    const GpuInfo& g = profile.gpus.front();
    m.has_gpu = true;
    // What strata's kernels achieve where the profile timed them; else the copy bandwidth and the estimate.
    m.gpu_bw = g.matvec_bytes_per_s > 0        ? g.matvec_bytes_per_s
               : g.device_read_bytes_per_s > 0 ? g.device_read_bytes_per_s
                                               : m.cpu_bw;
    const double tflops = g.fp32_tflops_estimate > 0 ? g.fp32_tflops_estimate : 10.0;
    m.gpu_flops = g.gemm_flops_per_s > 0 ? g.gemm_flops_per_s : tflops * 1e12 * options.gpu_matmul_efficiency;
    m.gpu_product_s = g.product_fixed_seconds;
    m.gpu_layer_ops_s = g.layer_ops_seconds;
    m.gpu_layer_ops_prompt_s = g.layer_ops_prompt_seconds;
    m.h2d_pinned = g.h2d_pinned_bytes_per_s > 0 ? g.h2d_pinned_bytes_per_s : 12e9;
    m.h2d_pageable = g.h2d_pageable_bytes_per_s > 0 ? g.h2d_pageable_bytes_per_s : m.h2d_pinned / 2;
  }
  if (profile.storage && profile.storage->best_bytes_per_s() > 0) {
    m.has_disk = true;
    m.disk_bw = profile.storage->best_bytes_per_s();
    m.disk_latency_s = profile.storage->random_read_latency_us * 1e-6;
  }
  m.handoff_s = options.handoff_seconds;
  m.overlap_loss = options.overlap_loss;
  return m;
}

double objective(const Evaluation& e) {
  if (e.feasible) return e.seconds;
  return 1e6 + static_cast<double>(e.gpu_over + e.ram_over + e.pinned_over) / 1e6;
}

CostState::CostState(const Problem& problem)
    : p_(problem), host_stage_(problem.n_layer + 1, 0.0) {
  options_.resize(p_.items.size());
  for (size_t i = 0; i < p_.items.size(); ++i) {
    const uint32_t allowed = p_.items[i].allowed;
    STRATA_CHECK_MSG(allowed != 0, "item with no allowed option");
    // Start at the first allowed option and count it in.
    int o = 0;
    while (!(allowed & (1u << o))) ++o;
    options_[i] = static_cast<Option>(o);
    apply(i, +1);
  }
  handoffs_ = 0;
  for (size_t i = 1; i < options_.size(); ++i) handoffs_ += site_at(i) != site_at(i - 1);
}

int CostState::site_at(size_t i) const { return option_site(options_[i]) == Site::Gpu ? 1 : 0; }

void CostState::set(size_t i, Option o) {
  STRATA_CHECK(p_.items[i].allowed & option_bit(o));
  if (options_[i] == o) return;
  auto pair_diff = [&](size_t a) { return a + 1 < options_.size() && site_at(a) != site_at(a + 1) ? 1 : 0; };
  if (i > 0) handoffs_ -= pair_diff(i - 1);
  handoffs_ -= pair_diff(i);
  apply(i, -1);
  options_[i] = o;
  apply(i, +1);
  if (i > 0) handoffs_ += pair_diff(i - 1);
  handoffs_ += pair_diff(i);
}

void CostState::apply(size_t i, int sign) {
  const Item& it = p_.items[i];
  const Machine& m = p_.machine;
  const Option o = options_[i];
  const Tier tier = option_tier(o);
  const bool on_gpu = option_site(o) == Site::Gpu;
  const double s = sign;
  const double size = static_cast<double>(it.size_bytes);
  const double stage = static_cast<double>(it.stage_bytes);
  const size_t slot = it.layer >= 0 ? static_cast<size_t>(it.layer) : host_stage_.size() - 1;

  if (tier == Tier::Gpu) gpu_tier_ += s * size;
  if (tier == Tier::PinnedRam || tier == Tier::Ram) host_tier_ += s * size;
  if (tier == Tier::PinnedRam) pinned_tier_ += s * size;

  if (on_gpu) {
    gpu_bytes_ += s * it.decode_bytes;
    gpu_flops_ += s * it.decode_flops;
    gpu_s_ += s * (std::max(it.decode_bytes / m.gpu_bw, it.decode_flops / m.gpu_flops) +
                   (it.is_product ? m.gpu_product_s : 0.0) + (it.carries_layer_ops ? m.gpu_layer_ops_s : 0.0));
    n_gpu_site_ += sign;
  } else {
    cpu_bytes_ += s * it.decode_bytes;
    cpu_flops_ += s * it.decode_flops;
    cpu_s_ += s * std::max(it.decode_bytes / m.cpu_bw, it.decode_flops / m.cpu_flops);
  }

  // Bytes crossing PCIe: only on discrete machines, only for GPU-site items not held on the GPU.
  const bool crosses = on_gpu && tier != Tier::Gpu && !m.unified;
  const double h2d = tier == Tier::Ram ? m.h2d_pageable : m.h2d_pinned;  // disk stages through pinned slots
  if (tier == Tier::Disk) {
    const double read_s = it.decode_bytes / m.disk_bw + m.disk_latency_s * std::min(1.0, it.decode_reads);
    host_stage_[slot] += s * stage;
    n_disk_ += sign;
    if (crosses) n_disk_gpu_ += sign;
    if (!it.is_expert) {
      disk_bytes_ += s * it.decode_bytes;
      disk_s_ += s * read_s;
    } else {
      exp_disk_size_ += s * size;
      if (on_gpu) {
        exp_disk_gpu_bytes_ += s * it.decode_bytes;
        exp_disk_gpu_s_ += s * read_s;
      } else {
        exp_disk_cpu_bytes_ += s * it.decode_bytes;
        exp_disk_cpu_s_ += s * read_s;
      }
    }
  }
  constexpr uint32_t kGpuSite = option_bit(Option::GpuGpu) | option_bit(Option::PinnedGpu) |
                                option_bit(Option::RamGpu) | option_bit(Option::DiskGpu);
  if (tier != Tier::Gpu && !it.is_kv && (it.allowed & kGpuSite)) n_off_gpu_capable_ += sign;
  if (crosses) {
    if (it.is_expert) {
      exp_pcie_bytes_ += s * it.decode_bytes;
      exp_pcie_s_ += s * it.decode_bytes / h2d;
      gpu_cacheable_ += s * size;
    } else {
      pcie_bytes_ += s * it.decode_bytes;
      pcie_s_ += s * it.decode_bytes / h2d;
    }
  }
}

namespace {
uint64_t over(double used, uint64_t budget) {
  return used > static_cast<double>(budget) ? static_cast<uint64_t>(used - static_cast<double>(budget)) : 0;
}
uint64_t clamp_u64(double v) { return v <= 0 ? 0 : static_cast<uint64_t>(v); }
}  // namespace

Evaluation CostState::evaluate() const {
  Evaluation e;
  const Machine& m = p_.machine;
  const ResolvedBudgets& b = p_.budgets;
  e.any_gpu_site = n_gpu_site_ > 0;
  // On unified machines the host's compute buffers serve the GPU too.
  const double gpu_compute = e.any_gpu_site && !m.unified ? static_cast<double>(p_.gpu_compute_bytes) : 0.0;
  const double host_compute = static_cast<double>(p_.host_compute_bytes);
  const double host_max = *std::max_element(host_stage_.begin(), host_stage_.end());
  // Two GPU slots (one being copied into, one computed on) whenever a tensor held off the GPU may be
  // computed there: in decode, or in prompt batches, which copy once per batch.
  const double gpu_staging =
      !m.unified && m.has_gpu && n_off_gpu_capable_ > 0 ? 2.0 * static_cast<double>(p_.gpu_slot_bytes) : 0.0;
  e.pool_pinned = n_disk_gpu_ > 0 && !m.unified;

  // Deepest prefetch (up to the maximum) that still fits; depth 1 is the fallback that is judged. The
  // model gives depth no speed (it absorbs jitter), so where RAM could cache streamed experts instead,
  // one slot of lookahead is enough and the rest goes to the cache.
  int deepest = n_disk_ > 0 ? std::max(1, p_.max_prefetch_depth) : 0;
  if (exp_disk_size_ > 0) deepest = std::min(deepest, 1);
  for (int depth = deepest; depth >= (n_disk_ > 0 ? 1 : 0); --depth) {
    const double pool = depth > 0 ? (depth + 1) * host_max : 0.0;
    const double gpu_used = gpu_tier_ + gpu_compute + gpu_staging;
    const double host_used = host_tier_ + host_compute + pool;
    const double pinned_used = pinned_tier_ + (e.pool_pinned ? pool : 0.0);
    e.prefetch_depth = depth;
    e.slot_bytes = clamp_u64(host_max);
    e.pool_bytes = clamp_u64(pool);
    e.gpu_staging_bytes = clamp_u64(gpu_staging);
    e.gpu_used = clamp_u64(gpu_used);
    e.host_used = clamp_u64(host_used);
    e.pinned_used = clamp_u64(pinned_used);
    if (m.unified) {
      e.gpu_over = over(gpu_used, b.gpu_bytes);
      e.ram_over = over(gpu_used + host_used, b.ram_bytes);
      e.pinned_over = 0;
    } else {
      e.gpu_over = over(gpu_used, b.gpu_bytes);
      e.ram_over = over(host_used, b.ram_bytes);
      e.pinned_over = over(pinned_used, b.pinned_bytes);
    }
    e.feasible = e.gpu_over == 0 && e.ram_over == 0 && e.pinned_over == 0;
    if (e.feasible) break;
  }

  // Leftover memory caches expert slices that would otherwise be read or copied per token.
  const double ram_used = m.unified ? static_cast<double>(e.gpu_used + e.host_used) : static_cast<double>(e.host_used);
  const double ram_free = std::max(0.0, static_cast<double>(b.ram_bytes) - ram_used);
  const double ram_cache = std::min(ram_free, exp_disk_size_);
  e.ram_cache_bytes = clamp_u64(ram_cache);
  e.ram_hit = exp_disk_size_ > 0 ? ram_cache / exp_disk_size_ : 0.0;
  if (!m.unified && m.has_gpu) {
    const double gpu_free = std::max(0.0, static_cast<double>(b.gpu_bytes) - static_cast<double>(e.gpu_used));
    const double gpu_cache = std::min(gpu_free, gpu_cacheable_);
    e.gpu_cache_bytes = clamp_u64(gpu_cache);
    e.gpu_hit = gpu_cacheable_ > 0 ? gpu_cache / gpu_cacheable_ : 0.0;
  }

  e.gpu_bytes = gpu_bytes_;
  e.gpu_s = gpu_s_;
  e.cpu_bytes = cpu_bytes_;
  e.cpu_s = cpu_s_;
  e.gpu_flops = gpu_flops_;
  e.cpu_flops = cpu_flops_;
  e.handoffs = handoffs_;
  e.handoff_s = handoffs_ * m.handoff_s;
  e.pcie_bytes = pcie_bytes_;
  e.pcie_s = pcie_s_;
  e.disk_bytes = disk_bytes_;
  e.disk_s = disk_s_;
  const double ram_miss = 1.0 - e.ram_hit, gpu_miss = 1.0 - e.gpu_hit;
  e.miss_disk_bytes = ram_miss * exp_disk_cpu_bytes_ + ram_miss * gpu_miss * exp_disk_gpu_bytes_;
  e.miss_disk_s = ram_miss * exp_disk_cpu_s_ + ram_miss * gpu_miss * exp_disk_gpu_s_;
  e.miss_pcie_bytes = gpu_miss * exp_pcie_bytes_;
  e.miss_pcie_s = gpu_miss * exp_pcie_s_;
  // Host RAM carries the CPU's reads and every DMA: disk into RAM, RAM out to the GPU. On unified
  // machines the GPU's reads share the same memory, whose peak is the GPU's rate.
  if (m.unified) {
    e.bus_bytes = e.gpu_bytes + e.cpu_bytes + e.disk_bytes;
    e.bus_s = e.bus_bytes / std::max(m.gpu_bw, m.cpu_bw);
  } else {
    e.bus_bytes = e.cpu_bytes + e.disk_bytes + e.pcie_bytes;
    e.bus_s = e.bus_bytes / m.cpu_bw;
  }
  const double compute = e.gpu_s + e.cpu_s + e.handoff_s;
  const double stream = std::max(e.disk_s, e.pcie_s);
  e.overlap_s = m.overlap_loss * std::min(compute, stream);
  e.seconds = std::max({compute, stream, e.bus_s}) + e.overlap_s + e.miss_disk_s + e.miss_pcie_s;
  return e;
}

Evaluation evaluate_assignment(const Problem& problem, std::span<const Option> assignment) {
  STRATA_CHECK(assignment.size() == problem.items.size());
  CostState state(problem);
  for (size_t i = 0; i < assignment.size(); ++i) state.set(i, assignment[i]);
  return state.evaluate();
}

}  // namespace strata::planner
