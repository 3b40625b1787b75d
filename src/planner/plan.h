// planner/plan.h: the plan the planner hands to the engine and streamer: tiers, sites, mode, pools, prediction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "planner/tensor_roles.h"

namespace strata::planner {

// Where a tensor's bytes live between uses.
enum class Tier { Gpu, PinnedRam, Ram, Disk };
// Where a tensor's products are computed.
enum class Site { Gpu, Cpu };

enum class Mode {
  FullGpu,          // every weight in GPU memory (the embedding gather may stay in RAM)
  Hybrid,           // GPU and RAM, no disk reads
  ExpertStreaming,  // with a GPU: non-expert weights resident, some experts read from disk per routed token
  DenseStreaming,   // with a GPU: some dense weights (FFN first) stream from disk through a prefetch pool
  CpuOnly,          // no GPU used, everything in RAM
  CpuStreaming,     // no GPU used, some weights (experts or dense) stream from disk
};

std::string_view tier_name(Tier t);
std::string_view site_name(Site s);
std::string_view mode_name(Mode m);  // "full-gpu", "hybrid", "expert-streaming", ...
// Accepts the names mode_name() prints and a few short forms ("full", "cpu", "experts", "dense").
Result<Mode> parse_mode(std::string_view text);

// What the user asked for (`--gpu-mem`, `--ram`, `--ctx`, `--mode`); unset fields take measured defaults.
struct Budgets {
  std::optional<uint64_t> gpu_bytes;
  std::optional<uint64_t> ram_bytes;
  int ctx = 0;  // 0: the model's training context, at most kDefaultMaxCtx
  std::optional<Mode> mode;
};

inline constexpr int kDefaultMaxCtx = 4096;

struct PlanOptions {
  int prefill_batch = 512;             // tokens per prompt batch
  uint32_t kv_bytes_per_element = 2;   // f16 KV cache
  double decode_context_fill = 0.5;    // decode speed is predicted with the cache this full on average
  int max_prefetch_depth = 2;          // layers read ahead of the one computing
  uint64_t gpu_chunk_bytes = 128ull << 20;  // GPU staging slot: tensors larger than this go in row chunks
  // Fractions of the FMA peak that quantized matmuls reach; calibrate with `strata bench`.
  double cpu_matmul_efficiency = 0.35;
  double gpu_matmul_efficiency = 0.5;
  // The CPU's prompt attention (a batch's causal scores and values against its K/V) reaches far less. On the
  // H100 machine's 16 cores (2,556 FMA GFLOP/s by `strata profile`), `strata bench --op-times`, 2026-12-07: the
  // block kernel 442 GFLOP/s at a prompt of 2048 (Llama-3-8B shape); at 512 it does about 0.62 of that on the
  // 2-core development machine, so about 270 here (the query-by-query kernel before it: 107 at 512).
  double cpu_attention_efficiency = 0.10;
  // Where the KV cache (and so attention) goes is judged on a whole request, not on decode alone: a prompt that
  // fills the context as far as decode is predicted at (decode_context_fill), then this many generated tokens.
  // Attention off the GPU costs a decode step little but a long prompt most of its time.
  int request_gen_tokens = 128;
  double handoff_seconds = 30e-6;      // one GPU↔CPU switch: a sync plus an activation copy
  // Prefetch hides streams behind compute imperfectly (jitter, queue gaps): this fraction of the
  // smaller side still shows. It also makes holding a tensor strictly better than streaming it.
  double overlap_loss = 0.1;
  // Below these the planner keeps back headroom for the OS, the driver and fragmentation.
  uint64_t min_ram_headroom_bytes = 1ull << 30;
  double ram_headroom_fraction = 0.10;
  uint64_t min_gpu_headroom_bytes = 512ull << 20;
  double gpu_headroom_fraction = 0.05;
  // `--gpu-mem X` bounds the process's whole use of the card, its CUDA context included (what nvidia-smi shows):
  // the context took 527-529 MiB on the H100 (CUDA 13, driver 580) and is kept out of the plan's share. A budget
  // from the measured free memory needs none: the profile measured it with a context already open.
  uint64_t cuda_context_bytes = 640ull << 20;
};

// The budgets the plan was made against, after defaults and headroom.
struct ResolvedBudgets {
  uint64_t gpu_bytes = 0;     // 0: no GPU
  uint64_t ram_bytes = 0;     // on unified machines: the one shared pool
  uint64_t pinned_bytes = 0;  // cap on page-locked host memory (part of ram_bytes)
  int ctx = 0;
  bool unified = false;
  std::string gpu_source;     // "measured free 7.6 GiB minus 512 MiB headroom", "--gpu-mem"
  std::string ram_source;
};

struct TensorPlacement {
  std::string name;
  Role role = Role::Other;
  int layer = -1;
  uint64_t size_bytes = 0;
  Tier tier = Tier::Ram;
  Site decode_site = Site::Cpu;
  Site prefill_site = Site::Cpu;
};

// How a term enters the time: compute terms add up; overlapped terms (prefetched streams, the shared
// memory bus) run beside compute and only the largest of them and compute counts; serial terms add on top.
enum class TermKind { Compute, Overlapped, Serial };
std::string_view term_kind_name(TermKind k);

// One term of the speed bound: bytes moved per token (decode) or per batch (prefill) over a rate.
struct BoundTerm {
  std::string resource;  // "GPU memory" (or "GPU arithmetic"), "CPU memory", "PCIe (prefetched)", ...
  double bytes = 0;      // for "handoffs": the number of GPU/CPU switches
  double flops = 0;      // compute terms: the arithmetic behind them ("... arithmetic" when it binds)
  double bytes_per_s = 0;
  double seconds = 0;
  TermKind kind = TermKind::Compute;
};

struct Prediction {
  double seconds = 0;       // per token (decode) or per batch (prefill)
  double tokens_per_s = 0;
  std::vector<BoundTerm> terms;
  std::string bound;        // the term that sets the speed
  std::string formula;      // how the terms combine, e.g. "max(compute, stream) + expert misses"
};

struct MemoryUse {
  uint64_t gpu_weights = 0, gpu_kv = 0, gpu_compute = 0, gpu_staging = 0, gpu_expert_cache = 0;
  uint64_t ram_weights = 0, ram_kv = 0, ram_compute = 0, staging_pool = 0, ram_expert_cache = 0;
  uint64_t pinned = 0;
  uint64_t gpu_total() const { return gpu_weights + gpu_kv + gpu_compute + gpu_staging + gpu_expert_cache; }
  uint64_t ram_total() const { return ram_weights + ram_kv + ram_compute + staging_pool + ram_expert_cache; }
};

struct StagingPool {
  int n_slots = 0;            // prefetch_depth + 1 (one slot computing)
  uint64_t slot_bytes = 0;    // the largest layer's streamed bytes
  bool pinned = false;        // page-locked: streamed weights are copied to the GPU
  uint64_t io_block_bytes = 0;  // request size and queue depth that read fastest in the profile
  int io_queue_depth = 0;
  uint64_t total_bytes() const { return static_cast<uint64_t>(n_slots) * slot_bytes; }
};

struct ExpertCache {
  uint64_t slice_bytes = 0;   // one expert's slice of one expert tensor (largest)
  uint64_t ram_bytes = 0;     // RAM cache of disk-tier expert slices
  uint64_t gpu_bytes = 0;     // GPU cache of slices computed on the GPU but held in RAM or on disk
  double ram_hit_rate = 0;    // assuming uniform routing (a floor: real routing is skewed)
  double gpu_hit_rate = 0;
};

struct Plan {
  Mode mode = Mode::CpuOnly;
  bool mode_forced = false;
  ResolvedBudgets budgets;
  std::string arch;
  int n_layer = 0;
  std::vector<TensorPlacement> tensors;  // file order
  std::vector<Tier> kv_tiers;            // per layer: Gpu or Ram
  uint64_t kv_bytes = 0;
  MemoryUse memory;
  StagingPool staging;
  int prefetch_depth = 0;
  ExpertCache expert_cache;
  Prediction decode;
  Prediction prefill;
  int prefill_batch = 0;
  std::vector<std::string> reasons;  // one line per decision
};

}  // namespace strata::planner
