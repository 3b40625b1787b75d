// planner/plan_assemble.cc: turns a solved assignment into a Plan: prefill sites, pinning, memory, mode, speeds.
#include <algorithm>
#include <cmath>
#include <set>
#include <map>

#include "core/units.h"
#include "planner/planner.h"

namespace strata::planner {

namespace {

double gbps(double bytes_per_s) { return bytes_per_s / 1e9; }

constexpr const char* kFormula =
    "max(GPU + CPU + handoffs, prefetched PCIe, prefetched disk, RAM bus) + overlap loss + expert misses";

// The sliding-window layers that keep a ring shorter than the context, for the KV line of the reasons.
std::string ring_note(const arch::HParams& hp, int64_t ctx) {
  int64_t n_ring = 0, rows = 0;
  for (int64_t l = 0; l < hp.n_layer; ++l)
    if (const int64_t r = hp.kv_rows(l, ctx); r < ctx) ++n_ring, rows = r;
  if (n_ring == 0) return "";
  return fmt::format("; {} sliding-window layers keep a ring of {} positions", n_ring, rows);
}

std::string group_of(const Item& it, const ModelRoles& roles) {
  if (it.is_kv) return "KV cache";
  const Role r = roles.tensors[it.tensor].role;
  if (r == Role::Embedding) return roles.hp.tied_output ? "token embedding (tied lm head)" : "token embedding";
  if (r == Role::Output) return "output (lm head)";
  if (is_resident_only_role(r)) return r == Role::Router ? "routers" : "norms and biases";
  if (is_attention_role(r)) return "attention (q/k/v/o)";
  if (is_dense_ffn_role(r)) return "dense FFN";
  if (is_expert_role(r)) return "experts";
  return "other matrices";
}

Mode name_mode(const Problem& p, const std::vector<Option>& a, const ModelRoles& roles) {
  bool any_gpu = false, all_gpu = true;
  uint64_t disk_dense = 0, disk_expert = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const Item& it = p.items[i];
    const Tier t = option_tier(a[i]);
    any_gpu |= option_site(a[i]) == Site::Gpu;
    if (t == Tier::Disk) (it.is_expert ? disk_expert : disk_dense) += it.size_bytes;
    const bool gather = !it.is_kv && roles.tensors[it.tensor].role == Role::Embedding && !roles.hp.tied_output;
    if (t != Tier::Gpu && !gather) all_gpu = false;
  }
  // Streaming modes are named after what streams most.
  if (disk_dense + disk_expert > 0) {
    if (!any_gpu) return Mode::CpuStreaming;
    return disk_dense > disk_expert ? Mode::DenseStreaming : Mode::ExpertStreaming;
  }
  if (!any_gpu) return Mode::CpuOnly;
  return all_gpu ? Mode::FullGpu : Mode::Hybrid;
}

void add_term(Prediction& pred, std::string resource, double bytes, double seconds, TermKind kind) {
  if (seconds <= 0 && bytes <= 0) return;
  BoundTerm t;
  t.resource = std::move(resource);
  t.bytes = bytes;
  t.seconds = seconds;
  t.bytes_per_s = seconds > 0 ? bytes / seconds : 0;
  t.kind = kind;
  pred.terms.push_back(std::move(t));
}

// A device's compute term: named after what limits it, memory traffic or arithmetic.
void add_site_term(Prediction& pred, const char* site, double bytes, double flops, double seconds, double bw,
                   double flop_rate) {
  const bool arithmetic = flops / flop_rate > bytes / bw;
  add_term(pred, fmt::format("{} {}", site, arithmetic ? "arithmetic" : "memory"), bytes, seconds, TermKind::Compute);
  if (!pred.terms.empty() && pred.terms.back().resource.starts_with(site)) pred.terms.back().flops = flops;
}

// The bound: the biggest part of the time. Compute terms add up, overlapped terms run beside them (the
// larger side counts), serial terms add on top; the largest contributor names the bound.
void finish_prediction(Prediction& pred, double seconds, double tokens) {
  pred.seconds = seconds;
  pred.tokens_per_s = seconds > 0 ? tokens / seconds : 0;
  double compute = 0;
  const BoundTerm *top_compute = nullptr, *top_overlapped = nullptr, *top_serial = nullptr;
  auto bigger = [](const BoundTerm* a, const BoundTerm& t) { return !a || t.seconds > a->seconds; };
  for (const auto& t : pred.terms) {
    if (t.kind == TermKind::Compute) {
      compute += t.seconds;
      if (bigger(top_compute, t)) top_compute = &t;
    } else if (t.kind == TermKind::Overlapped) {
      if (bigger(top_overlapped, t)) top_overlapped = &t;
    } else if (bigger(top_serial, t)) {
      top_serial = &t;
    }
  }
  const double overlapped = top_overlapped ? top_overlapped->seconds : 0.0;
  // An overlapped term must exceed compute to be the bound (on unified machines the bus equals compute).
  const BoundTerm* top = overlapped > compute * (1 + 1e-9) ? top_overlapped : top_compute;
  if (top_serial && top_serial->seconds > std::max(compute, overlapped)) top = top_serial;
  pred.bound = top ? top->resource : "nothing measured";
}

}  // namespace

Plan assemble_plan(const ModelRoles& roles, const HardwareProfile& profile, const Problem& p,
                   const std::vector<Option>& assignment, const PlanOptions& options, bool mode_forced) {
  const Evaluation e = evaluate_assignment(p, assignment);
  const Machine& m = p.machine;
  const ResolvedBudgets& b = p.budgets;
  Plan plan;
  plan.budgets = b;
  plan.arch = std::string(roles.hp.arch_name());
  plan.n_layer = roles.hp.n_layer;
  plan.mode_forced = mode_forced;
  plan.prefill_batch = std::max(1, std::min(options.prefill_batch, b.ctx));
  plan.tensors.resize(roles.tensors.size());
  plan.kv_tiers.assign(static_cast<size_t>(std::max<int64_t>(0, roles.hp.n_layer)), Tier::Ram);

  // Prefill sites. A tensor held off the GPU is computed there for a batch when one copy per batch plus
  // GPU compute beats CPU compute, and two copies of it fit beside what decode already holds.
  const bool discrete = m.has_gpu && !m.unified;
  double gpu_left = m.has_gpu ? static_cast<double>(b.gpu_bytes) - static_cast<double>(e.gpu_used + e.gpu_cache_bytes) : 0;
  if (discrete && !e.any_gpu_site) gpu_left -= static_cast<double>(p.gpu_compute_bytes);
  if (m.unified)  // the pool is shared: what RAM holds is not free for the GPU either
    gpu_left = std::min(gpu_left, static_cast<double>(b.ram_bytes) -
                                      static_cast<double>(e.gpu_used + e.host_used + e.ram_cache_bytes));
  const double staging_allow = static_cast<double>(e.gpu_staging_bytes) + std::max(0.0, gpu_left);
  double pinned_left = static_cast<double>(b.pinned_bytes) - static_cast<double>(e.pinned_used);
  std::vector<Site> prefill(p.items.size(), Site::Cpu);
  std::vector<Tier> tiers(p.items.size());
  uint64_t prefill_staging = 0;
  int n_prefill_moved = 0;
  uint64_t pinned_for_prefill = 0;
  for (size_t i = 0; i < p.items.size(); ++i) {
    const Item& it = p.items[i];
    tiers[i] = option_tier(assignment[i]);
    if (tiers[i] == Tier::Gpu) {
      prefill[i] = Site::Gpu;
      continue;
    }
    // Only tensors that may be computed on the GPU while held elsewhere (not KV, not a row gather).
    const bool can_gpu = m.has_gpu && !it.is_kv &&
                         (it.allowed & (option_bit(Option::RamGpu) | option_bit(Option::PinnedGpu) | option_bit(Option::DiskGpu)));
    const double c_cpu = std::max(it.prefill_bytes / m.cpu_bw, it.prefill_flops / m.cpu_flops);
    if (!can_gpu || (option_site(assignment[i]) == Site::Cpu && gpu_left < 0 && !e.any_gpu_site)) continue;
    const bool decode_on_gpu = option_site(assignment[i]) == Site::Gpu;
    // Pinning is a prefill decision here; decode-site copies were priced (and pinned) by the search.
    const bool pin = discrete && !decode_on_gpu && tiers[i] == Tier::Ram &&
                     static_cast<double>(it.size_bytes) <= pinned_left;
    const double h2d = tiers[i] == Tier::Ram && !pin ? m.h2d_pageable : m.h2d_pinned;
    const double transfer = m.unified ? 0.0 : it.prefill_bytes / h2d;
    const double c_gpu = std::max(it.prefill_bytes / m.gpu_bw, it.prefill_flops / m.gpu_flops) + transfer;
    const double staged = m.unified ? 0.0 : 2.0 * static_cast<double>(std::min(it.size_bytes, p.gpu_slot_bytes));
    if ((c_gpu < c_cpu && staged <= staging_allow) || decode_on_gpu) {
      prefill[i] = Site::Gpu;
      if (!decode_on_gpu) {
        ++n_prefill_moved;
        prefill_staging = std::max<uint64_t>(prefill_staging, static_cast<uint64_t>(staged));
      }
      if (pin) {
        tiers[i] = Tier::PinnedRam;
        pinned_left -= static_cast<double>(it.size_bytes);
        pinned_for_prefill += it.size_bytes;
      }
    }
  }

  // Tensors, KV tiers and memory.
  MemoryUse& mem = plan.memory;
  bool prefill_gpu = false;
  for (size_t i = 0; i < p.items.size(); ++i) {
    const Item& it = p.items[i];
    prefill_gpu |= prefill[i] == Site::Gpu;
    uint64_t* gpu_slot = it.is_kv ? &mem.gpu_kv : &mem.gpu_weights;
    uint64_t* ram_slot = it.is_kv ? &mem.ram_kv : &mem.ram_weights;
    if (tiers[i] == Tier::Gpu) *gpu_slot += it.size_bytes;
    if (tiers[i] == Tier::Ram || tiers[i] == Tier::PinnedRam) *ram_slot += it.size_bytes;
    if (tiers[i] == Tier::PinnedRam) mem.pinned += it.size_bytes;
    if (it.is_kv) {
      plan.kv_bytes += it.size_bytes;
      if (it.layer >= 0 && it.layer < roles.hp.n_layer) plan.kv_tiers[it.layer] = tiers[i];
      continue;
    }
    const TensorRole& t = roles.tensors[it.tensor];
    TensorPlacement& tp = plan.tensors[it.tensor];
    tp.name = t.name;
    tp.role = t.role;
    tp.layer = t.layer;
    tp.size_bytes = t.size_bytes;
    tp.tier = tiers[i];
    tp.decode_site = option_site(assignment[i]);
    tp.prefill_site = prefill[i];
  }
  mem.gpu_compute = (e.any_gpu_site || prefill_gpu) && !m.unified ? p.gpu_compute_bytes : 0;
  mem.gpu_staging = std::max(e.gpu_staging_bytes, prefill_staging);
  mem.gpu_expert_cache = e.gpu_cache_bytes;
  mem.ram_compute = p.host_compute_bytes;
  mem.staging_pool = e.pool_bytes;
  mem.ram_expert_cache = e.ram_cache_bytes;
  if (e.pool_pinned) mem.pinned += e.pool_bytes;

  // Pools and caches.
  plan.prefetch_depth = e.prefetch_depth;
  if (e.pool_bytes > 0) {
    plan.staging.n_slots = e.prefetch_depth + 1;
    plan.staging.slot_bytes = e.slot_bytes;
    plan.staging.pinned = e.pool_pinned;
    if (profile.storage) {
      const ReadSample best = profile.storage->best_sample();
      plan.staging.io_block_bytes = best.block_bytes;
      plan.staging.io_queue_depth = best.queue_depth;
    }
  }
  for (size_t i = 0; i < p.items.size(); ++i)
    if (p.items[i].is_expert && tiers[i] != Tier::Gpu)
      plan.expert_cache.slice_bytes =
          std::max(plan.expert_cache.slice_bytes, roles.tensors[p.items[i].tensor].expert_slice_bytes);
  plan.expert_cache.ram_bytes = e.ram_cache_bytes;
  plan.expert_cache.gpu_bytes = e.gpu_cache_bytes;
  plan.expert_cache.ram_hit_rate = e.ram_hit;
  plan.expert_cache.gpu_hit_rate = e.gpu_hit;
  plan.mode = name_mode(p, assignment, roles);

  // Decode prediction: the evaluation's terms.
  Prediction& dec = plan.decode;
  if (m.has_gpu) add_site_term(dec, "GPU", e.gpu_bytes, e.gpu_flops, e.gpu_s, m.gpu_bw, m.gpu_flops);
  add_site_term(dec, "CPU", e.cpu_bytes, e.cpu_flops, e.cpu_s, m.cpu_bw, m.cpu_flops);
  add_term(dec, "handoffs", e.handoffs, e.handoff_s, TermKind::Compute);
  add_term(dec, "PCIe (prefetched)", e.pcie_bytes, e.pcie_s, TermKind::Overlapped);
  add_term(dec, "disk (prefetched)", e.disk_bytes, e.disk_s, TermKind::Overlapped);
  add_term(dec, "RAM bus (CPU reads + DMA)", e.bus_bytes, e.bus_s, TermKind::Overlapped);
  add_term(dec, "overlap loss", 0, e.overlap_s, TermKind::Serial);
  add_term(dec, "disk (expert misses)", e.miss_disk_bytes, e.miss_disk_s, TermKind::Serial);
  add_term(dec, "PCIe (expert copies)", e.miss_pcie_bytes, e.miss_pcie_s, TermKind::Serial);
  dec.formula = kFormula;
  finish_prediction(dec, e.seconds, 1.0);

  // Prefill prediction: the same shape per batch; expert reads are prefetched too (a batch touches most).
  double g_b = 0, g_s = 0, g_f = 0, c_b = 0, c_s = 0, c_f = 0, x_b = 0, x_s = 0, d_b = 0, d_s = 0;
  int handoffs = 0;
  for (size_t i = 0; i < p.items.size(); ++i) {
    const Item& it = p.items[i];
    if (i > 0 && prefill[i] != prefill[i - 1]) ++handoffs;
    if (prefill[i] == Site::Gpu) {
      g_b += it.prefill_bytes;
      g_f += it.prefill_flops;
      g_s += std::max(it.prefill_bytes / m.gpu_bw, it.prefill_flops / m.gpu_flops) +
             (it.is_product ? m.gpu_product_s : 0.0) +
             (it.carries_layer_ops ? m.gpu_layer_ops_prompt_s * plan.prefill_batch / kLayerOpsPromptTokens : 0.0);
      if (tiers[i] != Tier::Gpu && !m.unified) {
        x_b += it.prefill_bytes;
        x_s += it.prefill_bytes / (tiers[i] == Tier::Ram ? m.h2d_pageable : m.h2d_pinned);
      }
    } else {
      c_b += it.prefill_bytes;
      c_f += it.prefill_flops;
      c_s += std::max(it.prefill_bytes / m.cpu_bw, it.prefill_flops / (it.is_kv ? m.cpu_attention_flops : m.cpu_flops));
    }
    if (tiers[i] == Tier::Disk) {
      const double miss = it.is_expert ? 1.0 - e.ram_hit : 1.0;
      d_b += miss * it.prefill_bytes;
      d_s += miss * it.prefill_bytes / m.disk_bw + m.disk_latency_s;
    }
  }
  Prediction& pre = plan.prefill;
  const double bus_b = m.unified ? g_b + c_b + d_b : c_b + d_b + x_b;
  const double bus_s = bus_b / (m.unified ? std::max(m.gpu_bw, m.cpu_bw) : m.cpu_bw);
  const double pre_compute = g_s + c_s + handoffs * m.handoff_s;
  const double pre_stream = std::max(x_s, d_s);
  const double pre_loss = m.overlap_loss * std::min(pre_compute, pre_stream);
  if (m.has_gpu) add_site_term(pre, "GPU", g_b, g_f, g_s, m.gpu_bw, m.gpu_flops);
  add_site_term(pre, "CPU", c_b, c_f, c_s, m.cpu_bw, m.cpu_flops);
  add_term(pre, "handoffs", handoffs, handoffs * m.handoff_s, TermKind::Compute);
  add_term(pre, "PCIe (prefetched)", x_b, x_s, TermKind::Overlapped);
  add_term(pre, "disk (prefetched)", d_b, d_s, TermKind::Overlapped);
  add_term(pre, "RAM bus (CPU reads + DMA)", bus_b, bus_s, TermKind::Overlapped);
  add_term(pre, "overlap loss", 0, pre_loss, TermKind::Serial);
  pre.formula = std::string(kFormula) + ", per batch (expert reads prefetched: a batch touches most experts)";
  finish_prediction(pre, std::max({pre_compute, pre_stream, bus_s}) + pre_loss, plan.prefill_batch);

  // Reasons: one line per decision.
  auto& why = plan.reasons;
  why.push_back(fmt::format("RAM budget {}: {}", format_bytes(b.ram_bytes), b.ram_source));
  if (m.has_gpu)
    why.push_back(fmt::format("GPU budget {}: {}{}", format_bytes(b.gpu_bytes), b.gpu_source,
                              b.unified ? "" : fmt::format("; pinned host memory capped at {}", format_bytes(b.pinned_bytes))));
  else
    why.push_back(fmt::format("no GPU used: {}", profile.has_gpu() ? "GPU budget is 0" : profile.gpu_note));
  if (profile.gpus.size() > 1)
    why.push_back(fmt::format("{} GPUs found; this plan uses GPU 0 only (multi-GPU splitting is not planned yet)", profile.gpus.size()));
  why.push_back(fmt::format("context {}{}: KV cache {} ({} layers x 2 x {} KV heads x {} x {} B{})", b.ctx,
                            roles.hp.n_ctx_train > 0 && b.ctx > roles.hp.n_ctx_train
                                ? fmt::format(" (beyond the {} the model was trained for)", roles.hp.n_ctx_train)
                                : "",
                            format_bytes(plan.kv_bytes), roles.hp.n_layer, roles.hp.n_head_kv, roles.hp.head_dim, b.ctx,
                            options.kv_bytes_per_element, ring_note(roles.hp, b.ctx)));
  why.push_back(fmt::format("compute buffers for batches of {}: {} in RAM{}", plan.prefill_batch,
                            format_bytes(mem.ram_compute),
                            mem.gpu_compute ? fmt::format(", {} on the GPU", format_bytes(mem.gpu_compute)) : ""));
  std::map<std::string, std::map<std::string, std::pair<int, uint64_t>>> groups;
  std::map<std::string, std::pair<double, double>> density;
  for (size_t i = 0; i < p.items.size(); ++i) {
    const std::string g = group_of(p.items[i], roles);
    auto& cell = groups[g][fmt::format("{}/{}", tier_name(tiers[i]), site_name(option_site(assignment[i])))];
    ++cell.first;
    cell.second += p.items[i].size_bytes;
    density[g].first += p.items[i].decode_bytes;
    density[g].second += static_cast<double>(p.items[i].size_bytes);
  }
  for (const auto& [g, cells] : groups) {
    std::vector<std::string> parts;
    bool on_disk = false, on_cpu = false, all_gpu = true;
    for (const auto& [where, cell] : cells) {
      parts.push_back(fmt::format("{} {} ({})", cell.first, where, format_bytes(cell.second)));
      on_disk |= where.starts_with("disk");
      on_cpu |= where.ends_with("/cpu");
      all_gpu &= where.starts_with("gpu");
    }
    const double d = density[g].first / std::max(1.0, density[g].second);
    std::string because;
    if (all_gpu) because = "fits in the GPU budget, the fastest tier";
    else if (g == "token embedding") because = "a gather of one row per token: the CPU copies the row, the matrix stays put";
    else if (on_disk) because = "denser tensors took the memory first; the rest streams from disk";
    else if (on_cpu && discrete) because = fmt::format("the CPU reads RAM at {:.1f} GB/s, more than a per-token copy over PCIe at {:.1f} GB/s", gbps(m.cpu_bw), gbps(m.h2d_pinned));
    else if (on_cpu) because = "held in RAM and computed by the CPU";
    else because = "held in RAM and computed on the GPU";
    why.push_back(fmt::format("{}: {} per token per byte held; {} — {}", g, fmt::format("{:.3f} B read", d),
                              fmt::format("{}", fmt::join(parts, ", ")), because));
  }
  why.push_back(fmt::format("mode {}{}", mode_name(plan.mode), mode_forced ? " (forced by --mode)" : " (lowest predicted decode time)"));
  if (e.pool_bytes > 0)
    why.push_back(fmt::format("staging pool: {} slots x {}{} (the largest layer's streamed bytes); reads of {} at queue depth {}, "
                              "the fastest configuration measured ({:.2f} GB/s sustained)",
                              plan.staging.n_slots, format_bytes(plan.staging.slot_bytes), plan.staging.pinned ? " pinned" : "",
                              format_bytes(plan.staging.io_block_bytes), plan.staging.io_queue_depth, gbps(m.disk_bw)));
  if (e.prefetch_depth > 0)
    why.push_back(fmt::format("prefetch depth {}: {} read ahead while one computes{}", e.prefetch_depth,
                              e.prefetch_depth == 1 ? "one layer is" : fmt::format("{} layers are", e.prefetch_depth),
                              e.prefetch_depth < p.max_prefetch_depth ? " (reduced to fit the RAM budget)" : ""));
  if (plan.expert_cache.ram_bytes > 0 || plan.expert_cache.gpu_bytes > 0)
    why.push_back(fmt::format("expert cache: {} in RAM ({:.0f}% hits), {} on the GPU ({:.0f}% hits), from leftover memory; "
                              "hit rates assume uniform routing, a floor for real routers",
                              format_bytes(plan.expert_cache.ram_bytes), 100 * e.ram_hit,
                              format_bytes(plan.expert_cache.gpu_bytes), 100 * e.gpu_hit));
  if (n_prefill_moved > 0)
    why.push_back(fmt::format("prefill: {} tensors held off the GPU are computed on it per batch of {} (one copy per batch "
                              "beats CPU compute){}",
                              n_prefill_moved, plan.prefill_batch,
                              pinned_for_prefill ? fmt::format("; {} of them pinned for faster copies", format_bytes(pinned_for_prefill)) : ""));
  for (const Prediction* pr : {&plan.decode, &plan.prefill}) {
    const BoundTerm* bound = nullptr;
    for (const auto& t : pr->terms)
      if (t.resource == pr->bound) bound = &t;
    const char* per = pr == &plan.decode ? "token" : "batch";
    std::string detail;
    if (bound && bound->resource.ends_with("arithmetic"))
      detail = fmt::format(": {:.2f} TFLOP per {} at {:.1f} TFLOP/s effective", bound->flops / 1e12, per,
                           bound->flops / bound->seconds / 1e12);
    else if (bound && bound->resource != "handoffs" && bound->bytes > 0)
      detail = fmt::format(": {} per {} at {:.2f} GB/s", format_bytes(static_cast<uint64_t>(bound->bytes)), per,
                           gbps(bound->bytes_per_s));
    why.push_back(fmt::format("{} predicted {:.2f} tok/s, bound by {}{}", pr == &plan.decode ? "decode" : "prefill",
                              pr->tokens_per_s, pr->bound, detail));
  }
  return plan;
}

Prediction predict_decode_with_expert_cache(const Plan& plan, int n_expert, int n_expert_used) {
  const Prediction& was = plan.decode;
  const BoundTerm *gpu = nullptr, *cpu = nullptr, *hand = nullptr;
  for (const BoundTerm& t : was.terms) {
    if (t.resource.starts_with("GPU ")) gpu = &t;
    if (t.resource.starts_with("CPU ")) cpu = &t;
    if (t.resource == "handoffs") hand = &t;
  }
  if (!gpu || !cpu || n_expert <= 0 || gpu->bytes_per_s <= 0 || cpu->bytes_per_s <= 0) return was;
  const double share = static_cast<double>(n_expert_used) / n_expert;  // of an expert tensor read a token
  double e_gpu = 0, e_cpu = 0, held = 0, all = 0;
  std::set<int> moe_layers;
  for (const TensorPlacement& t : plan.tensors) {
    if (t.role != Role::ExpertGate && t.role != Role::ExpertUp && t.role != Role::ExpertDown) continue;
    moe_layers.insert(t.layer);
    all += static_cast<double>(t.size_bytes);
    if (t.tier == Tier::Gpu) {
      e_gpu += share * static_cast<double>(t.size_bytes);
      held += static_cast<double>(t.size_bytes);
    } else if (t.decode_site == Site::Cpu) {
      e_cpu += share * static_cast<double>(t.size_bytes);
    }
  }
  if (e_gpu <= 0 || e_cpu <= 0) return was;
  const double g_e = e_gpu / gpu->bytes_per_s, c_e = e_cpu / cpu->bytes_per_s;
  // A layer's step waits for the slower side; the GPU's experts show only in the layers with no miss.
  const double hit = held / all;
  const double experts_s = std::max(c_e, g_e) + std::min(c_e, g_e) * std::pow(hit, n_expert_used);
  const double per_handoff = hand && hand->bytes > 0 ? hand->seconds / hand->bytes : 0;
  // Every MoE layer brings its routing to the host; a layer with a miss hands its input over and the misses'
  // sum back.
  const double handoffs = static_cast<double>(moe_layers.size()) * (1.0 + 2.0 * (1.0 - std::pow(hit, n_expert_used)));
  Prediction p;
  p.formula = was.formula;
  add_term(p, "GPU memory (no experts)", gpu->bytes - e_gpu, gpu->seconds - g_e, TermKind::Compute);
  add_term(p, "CPU memory (no experts)", cpu->bytes - e_cpu, cpu->seconds - c_e, TermKind::Compute);
  add_term(p, "experts: CPU misses beside GPU hits", e_gpu + e_cpu, experts_s, TermKind::Compute);
  add_term(p, "handoffs", handoffs, handoffs * per_handoff, TermKind::Compute);
  double compute = 0, overlapped = 0, serial = 0;
  for (const BoundTerm& t : p.terms) compute += t.seconds;
  for (const BoundTerm& t : was.terms) {
    if (t.kind == TermKind::Overlapped) {
      overlapped = std::max(overlapped, t.seconds);
      p.terms.push_back(t);
    } else if (t.kind == TermKind::Serial) {
      serial += t.seconds;
      p.terms.push_back(t);
    }
  }
  finish_prediction(p, std::max(compute, overlapped) + serial, 1.0);
  return p;
}

}  // namespace strata::planner
