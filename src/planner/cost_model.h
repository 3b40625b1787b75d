// planner/cost_model.h: the placement problem (items, machine rates, budgets) and the decode cost of an assignment.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "hw/hardware_profile.h"
#include "planner/plan.h"
#include "planner/tensor_roles.h"

namespace strata::planner {

// A placement choice for one item: tier and decode compute site together.
enum class Option : uint8_t { GpuGpu, PinnedGpu, PinnedCpu, RamGpu, RamCpu, DiskGpu, DiskCpu };
inline constexpr int kOptionCount = 7;
inline constexpr uint32_t option_bit(Option o) { return 1u << static_cast<int>(o); }
Tier option_tier(Option o);
Site option_site(Option o);
std::string_view option_name(Option o);

// One thing to place: a tensor, or one layer's KV cache. Items are kept in execution order.
struct Item {
  int tensor = -1;  // index into ModelRoles::tensors; -1 for a KV cache
  int layer = -1;
  int group = 0;    // the role's rank within a layer (same role in every layer: same group)
  bool is_kv = false;
  bool is_expert = false;
  uint64_t size_bytes = 0;
  double decode_bytes = 0, decode_flops = 0, decode_reads = 0;
  double prefill_bytes = 0, prefill_flops = 0;
  uint64_t stage_bytes = 0;  // what a staging slot must hold for it per token (experts: the used slices)
  uint32_t allowed = 0;      // option_bit()s
  // The layer's KV cache carries the layer's non-product ops (norms, RoPE, attention, adds, GLU): they run where
  // its attention runs. (Spread over the layer's items, moving a norm weight off the GPU looked like it saved
  // a share of them.)
  bool carries_layer_ops = false;
  bool is_product = false;   // a weight product (or gather): one launch with a fixed cost beyond its bytes
};

// The rates the cost model uses (bytes/s, flop/s, s), derived from the profile and options.
struct Machine {
  bool has_gpu = false;
  bool unified = false;
  bool has_disk = false;
  double gpu_bw = 0, gpu_flops = 0;
  // Measured fixed costs on the GPU: per product, and per layer of the ops between products (one token; a
  // prompt batch of kLayerOpsPromptTokens).
  double gpu_product_s = 0, gpu_layer_ops_s = 0, gpu_layer_ops_prompt_s = 0;
  double cpu_bw = 0, cpu_flops = 0;
  double cpu_attention_flops = 0;  // a prompt's attention on the CPU (PlanOptions::cpu_attention_efficiency)
  double h2d_pinned = 0, h2d_pageable = 0;
  double disk_bw = 0, disk_latency_s = 0;
  double handoff_s = 0;
  double overlap_loss = 0;
};

struct Problem {
  std::vector<Item> items;
  Machine machine;
  ResolvedBudgets budgets;
  uint64_t gpu_compute_bytes = 0;   // reserved on the GPU when anything computes there
  uint64_t host_compute_bytes = 0;  // always reserved in RAM
  // GPU staging for tensors computed on the GPU but held elsewhere: two slots (one copying, one
  // computing) of this many bytes; larger tensors are copied and multiplied in row chunks.
  uint64_t gpu_slot_bytes = 0;
  int n_layer = 0;
  int max_prefetch_depth = 2;
};

Machine machine_from_profile(const HardwareProfile& profile, const PlanOptions& options);

// Everything the planner and the reports need to know about one assignment's decode cost.
struct Evaluation {
  bool feasible = false;
  double seconds = 0;  // per decoded token
  // Memory, including staging, compute buffers and (for feasibility) nothing of the caches.
  uint64_t gpu_used = 0, host_used = 0, pinned_used = 0;
  uint64_t gpu_over = 0, ram_over = 0, pinned_over = 0;
  int prefetch_depth = 0;
  uint64_t slot_bytes = 0, pool_bytes = 0, gpu_staging_bytes = 0;
  bool pool_pinned = false;
  uint64_t ram_cache_bytes = 0, gpu_cache_bytes = 0;
  double ram_hit = 0, gpu_hit = 0;
  bool any_gpu_site = false;
  // The terms behind `seconds`.
  double gpu_bytes = 0, gpu_s = 0, cpu_bytes = 0, cpu_s = 0;
  double gpu_flops = 0, cpu_flops = 0;  // multiply-adds x2 per token on each site
  int handoffs = 0;
  double handoff_s = 0;
  double pcie_bytes = 0, pcie_s = 0, disk_bytes = 0, disk_s = 0;        // prefetched, overlapped
  double bus_bytes = 0, bus_s = 0;  // all traffic through host RAM (CPU reads, DMA in and out), overlapped
  double overlap_s = 0;             // the part of the overlap that prefetch does not hide
  double miss_disk_bytes = 0, miss_disk_s = 0, miss_pcie_bytes = 0, miss_pcie_s = 0;  // after routing, serial
};

// Infeasible assignments order after feasible ones, by how far over budget they are.
double objective(const Evaluation& e);

// Incremental cost state: set() updates the aggregates in O(1); evaluate() is O(layers).
class CostState {
 public:
  explicit CostState(const Problem& problem);
  // REQUIRES: option is allowed for the item.
  void set(size_t item, Option option);
  Option get(size_t item) const { return options_[item]; }
  const std::vector<Option>& assignment() const { return options_; }
  Evaluation evaluate() const;

 private:
  void apply(size_t item, int sign);
  int site_at(size_t item) const;

  const Problem& p_;
  std::vector<Option> options_;
  // Aggregates over items by their current option.
  double gpu_tier_ = 0, host_tier_ = 0, pinned_tier_ = 0;
  double gpu_bytes_ = 0, gpu_s_ = 0, cpu_bytes_ = 0, cpu_s_ = 0, gpu_flops_ = 0, cpu_flops_ = 0;
  double pcie_bytes_ = 0, pcie_s_ = 0, disk_bytes_ = 0, disk_s_ = 0;
  double exp_disk_size_ = 0;                               // disk-tier expert bytes (RAM-cacheable)
  double exp_disk_cpu_bytes_ = 0, exp_disk_cpu_s_ = 0;     // disk experts computed on the CPU
  double exp_disk_gpu_bytes_ = 0, exp_disk_gpu_s_ = 0;     // disk experts computed on the GPU
  double exp_pcie_bytes_ = 0, exp_pcie_s_ = 0;             // routed slices copied to the GPU
  double gpu_cacheable_ = 0;                               // GPU-site experts not held on the GPU
  int n_gpu_site_ = 0, n_disk_gpu_ = 0, n_disk_ = 0;
  int n_off_gpu_capable_ = 0;  // items that could compute on the GPU (prefill) but are not held there
  int handoffs_ = 0;
  std::vector<double> host_stage_;  // per layer (last slot: tensors outside the blocks)
};

Evaluation evaluate_assignment(const Problem& problem, std::span<const Option> assignment);

}  // namespace strata::planner
