// planner/planner.cc: budgets, the placement problem for a model and machine, and make_plan().
#include "planner/planner.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>
#include <optional>

#include "core/units.h"

namespace strata::planner {

std::string_view tier_name(Tier t) {
  switch (t) {
    case Tier::Gpu: return "gpu";
    case Tier::PinnedRam: return "pinned";
    case Tier::Ram: return "ram";
    case Tier::Disk: return "disk";
  }
  return "?";
}

std::string_view site_name(Site s) { return s == Site::Gpu ? "gpu" : "cpu"; }

std::string_view term_kind_name(TermKind k) {
  switch (k) {
    case TermKind::Compute: return "compute";
    case TermKind::Overlapped: return "overlapped";
    case TermKind::Serial: return "serial";
  }
  return "?";
}

std::string_view mode_name(Mode m) {
  switch (m) {
    case Mode::FullGpu: return "full-gpu";
    case Mode::Hybrid: return "hybrid";
    case Mode::ExpertStreaming: return "expert-streaming";
    case Mode::DenseStreaming: return "dense-streaming";
    case Mode::CpuOnly: return "cpu";
    case Mode::CpuStreaming: return "cpu-streaming";
  }
  return "?";
}

Result<Mode> parse_mode(std::string_view text) {
  std::string s(text);
  for (char& c : s) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "full-gpu" || s == "full" || s == "gpu" || s == "full-resident") return Mode::FullGpu;
  if (s == "hybrid") return Mode::Hybrid;
  if (s == "expert-streaming" || s == "experts") return Mode::ExpertStreaming;
  if (s == "dense-streaming" || s == "dense" || s == "ffn-streaming") return Mode::DenseStreaming;
  if (s == "cpu" || s == "cpu-only") return Mode::CpuOnly;
  if (s == "cpu-streaming") return Mode::CpuStreaming;
  return error("unknown mode '{}': expected full-gpu, hybrid, expert-streaming, dense-streaming, cpu or cpu-streaming",
               text);
}

namespace {

uint64_t headroom(uint64_t bytes, uint64_t min_bytes, double fraction) {
  return std::max(min_bytes, static_cast<uint64_t>(static_cast<double>(bytes) * fraction));
}

uint64_t minus(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// Execution order inside a layer; the KV cache sits between v and the output projection.
int role_rank(Role r) {
  switch (r) {
    case Role::AttnNorm: return 0;
    case Role::AttnQ: return 1;
    case Role::AttnK: return 2;
    case Role::AttnV: return 3;
    case Role::AttnQkv: return 4;
    case Role::Bias: return 5;
    case Role::AttnOutput: return 7;  // 6 is the KV cache
    case Role::FfnNorm: return 8;
    case Role::Router: return 9;
    case Role::ExpertGate: return 10;
    case Role::ExpertUp: return 11;
    case Role::FfnGate: return 12;
    case Role::FfnUp: return 13;
    case Role::ExpertDown: return 14;
    case Role::FfnDown: return 15;
    default: return 16;
  }
}
constexpr int kKvRank = 6;

}  // namespace

Result<ResolvedBudgets> resolve_budgets(const ModelRoles& roles, const HardwareProfile& profile,
                                        const Budgets& budgets, const PlanOptions& options) {
  ResolvedBudgets r;
  r.unified = profile.unified_memory;
  if (budgets.ctx < 0) return error("--ctx must be positive, got {}", budgets.ctx);
  const int trained = roles.hp.n_ctx_train > 0 ? static_cast<int>(std::min<int64_t>(roles.hp.n_ctx_train, 1 << 30)) : kDefaultMaxCtx;
  r.ctx = budgets.ctx > 0 ? budgets.ctx : std::min(trained, kDefaultMaxCtx);

  const uint64_t avail = profile.memory.available_bytes;
  if (budgets.ram_bytes) {
    r.ram_bytes = *budgets.ram_bytes;
    r.ram_source = "set by --ram";
  } else {
    const uint64_t room = headroom(avail, options.min_ram_headroom_bytes, options.ram_headroom_fraction);
    r.ram_bytes = minus(avail, room);
    r.ram_source = fmt::format("available {} minus {} headroom{}", format_bytes(avail), format_bytes(room),
                               profile.memory.cgroup_limit_bytes ? " (cgroup limit applied)" : "");
  }
  if (budgets.gpu_bytes && !profile.has_gpu() && *budgets.gpu_bytes > 0)
    return error("--gpu-mem {} was given but the profile has no GPU ({})", format_bytes(*budgets.gpu_bytes),
                 profile.gpu_note.empty() ? "none found" : profile.gpu_note);
  if (profile.has_gpu()) {
    const GpuInfo& g = profile.gpus.front();
    if (budgets.gpu_bytes && !r.unified && *budgets.gpu_bytes > 0) {
      const uint64_t ctx_bytes = options.cuda_context_bytes;
      if (*budgets.gpu_bytes <= ctx_bytes)
        return error("--gpu-mem {} leaves nothing for the model: the CUDA context alone takes about {} of it; give "
                     "more, or 0 for none", format_bytes(*budgets.gpu_bytes), format_bytes(ctx_bytes));
      r.gpu_bytes = *budgets.gpu_bytes - ctx_bytes;
      r.gpu_source = fmt::format("set by --gpu-mem {}, less {} for the CUDA context", format_bytes(*budgets.gpu_bytes),
                                 format_bytes(ctx_bytes));
    } else if (budgets.gpu_bytes) {
      r.gpu_bytes = *budgets.gpu_bytes;
      r.gpu_source = "set by --gpu-mem";
    } else if (r.unified) {
      // One pool: the GPU may use all of it, or up to the working-set limit the platform imposes.
      r.gpu_bytes = profile.unified_gpu_limit_bytes > 0 ? std::min(profile.unified_gpu_limit_bytes, r.ram_bytes)
                                                        : r.ram_bytes;
      r.gpu_source = profile.unified_gpu_limit_bytes > 0 ? "unified pool, capped by the GPU working-set limit"
                                                         : "unified pool (shared with the CPU)";
    } else {
      const uint64_t room = headroom(g.total_bytes, options.min_gpu_headroom_bytes, options.gpu_headroom_fraction);
      r.gpu_bytes = minus(g.free_bytes, room);
      r.gpu_source = fmt::format("{} free {} minus {} headroom", g.name, format_bytes(g.free_bytes), format_bytes(room));
    }
    // Page-locked memory cannot be swapped or reclaimed: keep it to half the RAM budget.
    r.pinned_bytes = r.unified ? 0 : r.ram_bytes / 2;
  }
  return r;
}

Result<Problem> build_problem(const ModelRoles& roles, const HardwareProfile& profile, const Budgets& budgets,
                              const PlanOptions& options) {
  Problem p;
  STRATA_ASSIGN_OR_RETURN(p.budgets, resolve_budgets(roles, profile, budgets, options));
  p.machine = machine_from_profile(profile, options);
  p.machine.has_gpu = p.machine.has_gpu && p.budgets.gpu_bytes > 0;
  p.n_layer = roles.hp.n_layer;
  p.max_prefetch_depth = std::max(1, options.max_prefetch_depth);
  const arch::HParams& hp = roles.hp;
  const int ctx = p.budgets.ctx;
  const int batch = std::max(1, std::min(options.prefill_batch, ctx));

  // Compute buffers for a prompt batch: activations, FFN intermediates, logits, one head's scores.
  const double ff_eff = std::max<double>(hp.n_ff, static_cast<double>(hp.n_ff_expert) * std::max<int64_t>(1, hp.n_expert_used));
  const double act = batch * 4.0 * (4.0 * hp.n_embd + 3.0 * ff_eff + hp.n_vocab) + batch * 4.0 * 2.0 * ctx;
  // The GPU also holds a prompt product's operands in F16 (the activations, and a weight slice of at most
  // 64 MiB: kernels/cuda/backend_cuda.h).
  const double widest = 2.0 * hp.n_embd * std::max<double>({ff_eff, static_cast<double>(hp.n_vocab), 1.0 * hp.n_embd});
  const double f16_operands = batch * 2.0 * std::max<double>(hp.n_embd, ff_eff) + std::min(64.0 * kMiB, widest);
  // GPU attention splits each query's positions into runs of 64 and keeps a partial result of head_dim + 2
  // floats per (token, head, run), at most 16 Mi floats at a time (kernels/cuda: kAttentionSplit and the
  // attention op's token groups). Measured on the H100, a plan without it ran 20-50 MiB over --gpu-mem once the
  // KV cache was on the GPU.
  const double attention_ws =
      std::min(64.0 * kMiB, batch * static_cast<double>(hp.n_head) * std::ceil(ctx / 64.0) * (hp.head_dim + 2) * 4.0);
  p.gpu_compute_bytes = static_cast<uint64_t>(act + f16_operands + attention_ws) + 32 * kMiB;
  p.host_compute_bytes = static_cast<uint64_t>(act) + 32 * kMiB;

  const Mode* forced = budgets.mode ? &*budgets.mode : nullptr;
  const bool gpu_mode = forced && (*forced == Mode::FullGpu || *forced == Mode::Hybrid ||
                                   *forced == Mode::ExpertStreaming || *forced == Mode::DenseStreaming);
  if (gpu_mode && !p.machine.has_gpu)
    return error("mode {} needs a GPU, but {}; try --mode cpu or cpu-streaming", mode_name(*forced),
                 profile.has_gpu() ? "the GPU budget is 0" : "the profile has none");
  const bool stream_mode = forced && (*forced == Mode::ExpertStreaming || *forced == Mode::DenseStreaming ||
                                      *forced == Mode::CpuStreaming);
  if (stream_mode && !p.machine.has_disk)
    return error("mode {} streams from disk, but the profile has no storage figures (run `strata profile --dir "
                 "MODEL_DIR`)", mode_name(*forced));
  if (forced && *forced == Mode::ExpertStreaming && !roles.is_moe())
    return error("mode expert-streaming needs a mixture-of-experts model; this {} model has no expert tensors", hp.arch_name());
  if (forced && *forced == Mode::DenseStreaming && roles.dense_ffn_bytes == 0)
    return error("mode dense-streaming needs dense FFN tensors; this {} model has none", hp.arch_name());

  constexpr uint32_t kAll = (1u << kOptionCount) - 1;
  constexpr uint32_t kGpuOptions = option_bit(Option::GpuGpu) | option_bit(Option::PinnedGpu) |
                                   option_bit(Option::PinnedCpu) | option_bit(Option::RamGpu) |
                                   option_bit(Option::DiskGpu);
  constexpr uint32_t kDisk = option_bit(Option::DiskGpu) | option_bit(Option::DiskCpu);
  constexpr uint32_t kPinned = option_bit(Option::PinnedGpu) | option_bit(Option::PinnedCpu);
  uint32_t base = kAll & ~option_bit(Option::PinnedCpu);  // pinning for prefill is decided after the search
  if (!p.machine.has_gpu) base &= ~kGpuOptions;
  if (p.machine.unified) base &= ~kPinned;
  if (!p.machine.has_disk) base &= ~kDisk;

  auto restrict_for_mode = [&](uint32_t allowed, bool is_kv, Role role) -> uint32_t {
    if (!forced) return allowed;
    const bool expert = !is_kv && is_expert_role(role);
    const bool dense_ffn = !is_kv && is_dense_ffn_role(role);
    switch (*forced) {
      case Mode::FullGpu:
        return role == Role::Embedding && !is_kv ? allowed & (option_bit(Option::GpuGpu) | option_bit(Option::RamCpu))
                                                 : allowed & option_bit(Option::GpuGpu);
      case Mode::Hybrid: return allowed & ~kDisk;
      case Mode::ExpertStreaming: return expert ? allowed & kDisk : allowed & ~kDisk;
      case Mode::DenseStreaming: return dense_ffn ? allowed & kDisk : allowed & ~kDisk;
      case Mode::CpuOnly: return allowed & option_bit(Option::RamCpu);
      case Mode::CpuStreaming: return allowed & (option_bit(Option::RamCpu) | option_bit(Option::DiskCpu));
    }
    return allowed;
  };

  // Items in execution order: globals before the blocks, then per layer by role, output last.
  std::vector<size_t> order(roles.tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  auto key = [&](size_t i) {
    const TensorRole& t = roles.tensors[i];
    if (t.layer >= 0) return std::pair<int, int>{t.layer, role_rank(t.role)};
    if (t.role == Role::OutputNorm) return std::pair<int, int>{static_cast<int>(hp.n_layer), 0};
    if (t.role == Role::Output) return std::pair<int, int>{static_cast<int>(hp.n_layer), 1};
    return std::pair<int, int>{-1, t.role == Role::Embedding ? 1 : 0};
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });

  // K and V of one position in one layer; a sliding-window layer holds a ring (hp.kv_rows), not the context.
  const double kv_position_bytes = 2.0 * hp.n_head_kv * static_cast<double>(hp.head_dim) * options.kv_bytes_per_element;
  const double fill = std::clamp(options.decode_context_fill, 0.0, 1.0);
  auto push_kv = [&](int layer) {
    Item kv;
    kv.is_kv = true;
    kv.layer = layer;
    kv.group = kKvRank;
    kv.size_bytes = static_cast<uint64_t>(static_cast<double>(hp.kv_rows(layer, ctx)) * kv_position_bytes);
    // Decode reads the positions a query sees: the window on a sliding-window layer.
    const int64_t window = hp.layers.size() > static_cast<size_t>(layer) ? hp.layers[layer].sliding_window : 0;
    const double seen = window > 0 ? std::min<double>(static_cast<double>(window), ctx * fill) : ctx * fill;
    kv.decode_bytes = seen * kv_position_bytes;
    kv.decode_flops = 4.0 * hp.n_head * static_cast<double>(hp.head_dim) * seen;
    kv.decode_reads = 1;
    kv.prefill_bytes = kv_position_bytes * batch / 2.0;
    kv.prefill_flops = 4.0 * hp.n_head * static_cast<double>(hp.head_dim) * batch * batch / 2.0;
    kv.stage_bytes = kv.size_bytes;
    kv.allowed = restrict_for_mode(base & (option_bit(Option::GpuGpu) | option_bit(Option::RamCpu)), true, Role::Other);
    p.items.push_back(kv);
  };

  int kv_done = -1;  // the last layer whose KV item was emitted
  for (size_t idx : order) {
    const TensorRole& t = roles.tensors[idx];
    if (t.layer >= 0 && t.layer != kv_done && role_rank(t.role) > kKvRank) {
      for (int l = kv_done + 1; l <= t.layer; ++l) push_kv(l);
      kv_done = t.layer;
    }
    if (t.layer < 0 && key(idx).first == hp.n_layer) {  // the tail: flush the remaining KV caches
      for (int l = kv_done + 1; l < hp.n_layer; ++l) push_kv(l);
      kv_done = hp.n_layer - 1;
    }
    Item it;
    it.tensor = static_cast<int>(idx);
    it.layer = t.layer;
    it.group = t.layer >= 0 ? role_rank(t.role) : 32 + static_cast<int>(t.role);
    it.is_expert = is_expert_role(t.role);
    it.size_bytes = t.size_bytes;
    it.decode_bytes = t.decode_bytes;
    it.decode_flops = t.decode_flops;
    it.decode_reads = t.decode_reads;
    it.prefill_bytes = roles.prefill_bytes(t, batch);
    it.prefill_flops = roles.prefill_flops(t, batch);
    it.stage_bytes = t.size_bytes;
    if (it.is_expert && t.n_expert > 1)
      it.stage_bytes = std::min<uint64_t>(t.size_bytes, t.expert_slice_bytes * std::max<int64_t>(1, hp.n_expert_used));
    uint32_t allowed = base;
    if (is_resident_only_role(t.role)) allowed &= ~kDisk;
    if (t.role == Role::Embedding && !hp.tied_output) {
      // A gather: the CPU copies one row per token; shipping the whole matrix to the GPU never pays.
      allowed &= ~(option_bit(Option::RamGpu) | option_bit(Option::PinnedGpu) | option_bit(Option::DiskGpu));
      it.stage_bytes = std::min<uint64_t>(t.size_bytes, t.row_bytes * static_cast<uint64_t>(batch));
    }
    it.is_product = t.role != Role::AttnNorm && t.role != Role::FfnNorm && t.role != Role::OutputNorm &&
                    t.role != Role::Bias;
    it.allowed = restrict_for_mode(allowed, false, t.role);
    if (it.allowed == 0)
      return error("tensor '{}' ({}) has no allowed placement under mode {}", t.name, role_name(t.role),
                   forced ? mode_name(*forced) : "auto");
    p.items.push_back(it);
  }
  for (int l = kv_done + 1; l < hp.n_layer; ++l) push_kv(l);
  for (Item& it : p.items) it.carries_layer_ops = it.is_kv && it.layer >= 0;
  uint64_t largest = 0;
  for (const Item& it : p.items)
    if (!it.is_kv) largest = std::max(largest, it.size_bytes);
  p.gpu_slot_bytes = std::min<uint64_t>(largest, std::max<uint64_t>(options.gpu_chunk_bytes, kMiB));
  for (const Item& it : p.items)
    if (it.allowed == 0) return error("the KV cache has no allowed placement under the requested mode");
  return p;
}

namespace {

// The error for a plan that cannot fit: which budget is short, by how much, and what fills it.
Status shortfall(const ModelRoles& roles, const Problem& p, const std::vector<Option>& a, const Evaluation& e,
                 const Budgets& budgets) {
  uint64_t host_weights = 0, host_kv = 0, gpu_weights = 0, gpu_kv = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const Item& it = p.items[i];
    const Tier t = option_tier(a[i]);
    if (t == Tier::Gpu) (it.is_kv ? gpu_kv : gpu_weights) += it.size_bytes;
    if (t == Tier::Ram || t == Tier::PinnedRam) (it.is_kv ? host_kv : host_weights) += it.size_bytes;
  }
  std::vector<std::string> parts;
  const std::string mode = budgets.mode ? fmt::format(" in mode {}", mode_name(*budgets.mode)) : "";
  if (e.gpu_over > 0)
    parts.push_back(fmt::format("GPU budget {} is short by {} (weights {}, KV cache {}, compute {}, staging {})",
                                format_bytes(p.budgets.gpu_bytes), format_bytes(e.gpu_over), format_bytes(gpu_weights),
                                format_bytes(gpu_kv), format_bytes(e.any_gpu_site ? p.gpu_compute_bytes : 0),
                                format_bytes(e.gpu_staging_bytes)));
  if (e.ram_over > 0)
    parts.push_back(fmt::format("{} budget {} is short by {} (weights {}, KV cache {} at ctx {}, compute {}, staging {})",
                                p.budgets.unified ? "unified memory" : "RAM", format_bytes(p.budgets.ram_bytes),
                                format_bytes(e.ram_over), format_bytes(host_weights + (p.budgets.unified ? gpu_weights : 0)),
                                format_bytes(host_kv + (p.budgets.unified ? gpu_kv : 0)), p.budgets.ctx,
                                format_bytes(p.host_compute_bytes), format_bytes(e.pool_bytes)));
  if (e.pinned_over > 0)
    parts.push_back(fmt::format("pinned-memory cap {} is short by {}", format_bytes(p.budgets.pinned_bytes),
                                format_bytes(e.pinned_over)));
  std::string hint = "raise --ram or --gpu-mem, or lower --ctx";
  if (!p.machine.has_disk) hint += "; no storage was profiled, so nothing can stream from disk (run `strata profile --dir MODEL_DIR`)";
  if (budgets.mode) hint += "; or let the planner choose the mode (drop --mode)";
  return error(ErrorKind::ResourceExhausted, "{} ({}) does not fit{}: {}; {}", roles.hp.arch_name(),
               format_bytes(roles.total_bytes), mode, fmt::format("{}", fmt::join(parts, "; ")), hint);
}

// The plan searched again with every layer's KV cache (and so its attention) held on the GPU, where the first
// search left some in RAM on a machine with a discrete GPU. The search prices a decode step, which attention on
// the CPU slows little; a prompt it slows several-fold (PlanOptions::cpu_attention_efficiency). Nothing when
// the first plan already holds every KV on the GPU, when a mode forbids it, or when it cannot fit.
std::optional<Plan> with_kv_on_gpu(const ModelRoles& roles, const HardwareProfile& profile, const Problem& problem,
                                   const std::vector<Option>& assignment, const PlanOptions& options,
                                   const Budgets& budgets) {
  if (!problem.machine.has_gpu || problem.machine.unified) return std::nullopt;
  Problem forced = problem;
  bool any_off = false;
  for (size_t i = 0; i < forced.items.size(); ++i) {
    Item& it = forced.items[i];
    if (!it.is_kv) continue;
    if (!(it.allowed & option_bit(Option::GpuGpu))) return std::nullopt;
    any_off |= assignment[i] != Option::GpuGpu;
    it.allowed = option_bit(Option::GpuGpu);
  }
  if (!any_off) return std::nullopt;
  std::vector<Option> a = search_assignment(forced);
  if (!evaluate_assignment(forced, a).feasible) return std::nullopt;
  Plan p = assemble_plan(roles, profile, forced, a, options, budgets.mode.has_value());
  if (budgets.mode) p.mode = *budgets.mode;
  return p;
}

// A request's prompt: the context filled as far as decode is predicted at (PlanOptions::decode_context_fill),
// at least one batch.
double request_prompt_tokens(const Problem& p, const Plan& plan, const PlanOptions& options) {
  return std::max<double>(plan.prefill_batch, p.budgets.ctx * std::clamp(options.decode_context_fill, 0.0, 1.0));
}

// The seconds of a request under `plan`: its prompt, then request_gen_tokens decoded. A batch's attention grows
// with the positions before it: batch b of n costs (2b + 1) times the first's, n^2 in all, where the per-batch
// prediction counts n.

double request_seconds(const Problem& p, const Plan& plan, const PlanOptions& options) {
  const Machine& m = p.machine;
  const double batch = plan.prefill_batch;
  const double n = std::ceil(request_prompt_tokens(p, plan, options) / batch);
  double attention = 0;  // the first batch's attention, every layer
  for (const Item& it : p.items) {
    if (!it.is_kv || it.layer < 0 || static_cast<size_t>(it.layer) >= plan.kv_tiers.size()) continue;
    attention += plan.kv_tiers[it.layer] == Tier::Gpu
                     ? it.prefill_flops / m.gpu_flops + m.gpu_layer_ops_prompt_s * batch / kLayerOpsPromptTokens
                     : it.prefill_flops / m.cpu_attention_flops;
  }
  return n * batch / plan.prefill.tokens_per_s + (n * n - n) * attention +
         options.request_gen_tokens / plan.decode.tokens_per_s;
}

}  // namespace

Result<Plan> make_plan(const ModelRoles& roles, const HardwareProfile& profile, const Budgets& budgets,
                       const PlanOptions& options) {
  if (roles.tensors.empty()) return error("the model has no tensors to plan");
  if (roles.hp.n_layer <= 0) return error("the model has no layers (block_count is 0)");
  STRATA_ASSIGN_OR_RETURN(Problem problem, build_problem(roles, profile, budgets, options));
  std::vector<Option> assignment = search_assignment(problem);
  const Evaluation e = evaluate_assignment(problem, assignment);
  if (!e.feasible) return shortfall(roles, problem, assignment, e, budgets);
  Plan plan = assemble_plan(roles, profile, problem, assignment, options, budgets.mode.has_value());
  if (std::optional<Plan> kv_on_gpu = with_kv_on_gpu(roles, profile, problem, assignment, options, budgets)) {
    const double before = request_seconds(problem, plan, options);
    const double after = request_seconds(problem, *kv_on_gpu, options);
    if (after < before) {
      const int prompt = static_cast<int>(request_prompt_tokens(problem, plan, options));
      plan = std::move(*kv_on_gpu);
      plan.reasons.push_back(fmt::format(
          "KV cache on the GPU: a request of a {}-token prompt and {} generated tokens takes {:.0f} ms predicted, "
          "against {:.0f} ms with attention on the CPU (the search weighs decode alone)",
          prompt, options.request_gen_tokens, after * 1e3, before * 1e3));
    }
  }
  if (budgets.mode) plan.mode = *budgets.mode;
  return plan;
}

}  // namespace strata::planner
