// planner/plan_picture.h: a plan summed per tier and role group (the figures behind its picture), and the picture
// itself as SVG: one stacked bar per tier (GPU, pinned, RAM, disk), segments by role, budgets marked.
// `inspect --plan --svg` and the server's /strata page draw plans with this one writer.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "planner/plan.h"

namespace strata::planner {

// What a bar segment stands for. Weights by role; the KV cache beside them.
enum class RoleGroup { Embedding, Attention, Ffn, Experts, Output, Small, KvCache };
inline constexpr int kNumRoleGroups = 7;
inline constexpr int kNumTiers = 4;
std::string_view role_group_name(RoleGroup g);  // "embedding", "attention", "ffn", "experts", "output", "small", "kv cache"
RoleGroup role_group(Role r);

struct TierBar {
  Tier tier = Tier::Ram;
  std::array<uint64_t, kNumRoleGroups> bytes{};  // by RoleGroup
  uint64_t weight_bytes = 0;                     // every group but the KV cache: equals the plan's tensors on this tier
  uint64_t budget_bytes = 0;                     // 0: none (disk; pinned shares the RAM budget)
  uint64_t total_bytes() const { return weight_bytes + bytes[static_cast<int>(RoleGroup::KvCache)]; }
};

struct PlanPicture {
  std::array<TierBar, kNumTiers> tiers;  // Gpu, PinnedRam, Ram, Disk
};

PlanPicture summarize_plan(const Plan& plan);

// Text for an SVG document: & < > " as entities (shared by every picture the planner draws).
std::string xml_escape(std::string_view s);

// A self-contained SVG document (no scripts, no external references). `title` heads it (e.g. the model's
// name). Each tier's bar carries data-tier, data-weight-bytes and data-kv-bytes for checking.
std::string plan_svg(const Plan& plan, std::string_view title);

}  // namespace strata::planner
