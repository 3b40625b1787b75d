// planner/plan_picture.cc: summing a plan per tier and role group, and drawing it as SVG bars.
#include "planner/plan_picture.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/units.h"

namespace strata::planner {

namespace {

constexpr std::array<Tier, kNumTiers> kTiers = {Tier::Gpu, Tier::PinnedRam, Tier::Ram, Tier::Disk};
// One colour per role group (colour-blind-safe palette), KV cache last.
constexpr std::array<std::string_view, kNumRoleGroups> kColors = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                                                                  "#b07aa1", "#9c9c9c", "#edc948"};

int tier_index(Tier t) {
  for (int i = 0; i < kNumTiers; ++i)
    if (kTiers[i] == t) return i;
  return 2;
}


std::string tier_label(Tier t) {
  switch (t) {
    case Tier::Gpu: return "GPU";
    case Tier::PinnedRam: return "pinned RAM";
    case Tier::Ram: return "RAM";
    case Tier::Disk: return "disk";
  }
  return "?";
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string_view role_group_name(RoleGroup g) {
  static constexpr std::array<std::string_view, kNumRoleGroups> kNames = {
      "embedding", "attention", "ffn", "experts", "output", "norms and router", "kv cache"};
  return kNames[static_cast<int>(g)];
}

RoleGroup role_group(Role r) {
  if (r == Role::Embedding) return RoleGroup::Embedding;
  if (r == Role::Output) return RoleGroup::Output;
  if (is_expert_role(r)) return RoleGroup::Experts;
  if (is_dense_ffn_role(r)) return RoleGroup::Ffn;
  if (is_attention_role(r)) return RoleGroup::Attention;
  if (r == Role::Other) return RoleGroup::Ffn;  // an unrecognised matrix is planned like a dense weight
  return RoleGroup::Small;
}

PlanPicture summarize_plan(const Plan& plan) {
  PlanPicture pic;
  for (int i = 0; i < kNumTiers; ++i) pic.tiers[i].tier = kTiers[i];
  for (const TensorPlacement& t : plan.tensors) {
    TierBar& bar = pic.tiers[tier_index(t.tier)];
    bar.bytes[static_cast<int>(role_group(t.role))] += t.size_bytes;
    bar.weight_bytes += t.size_bytes;
  }
  // The KV cache is split evenly over layers; the remainder goes with the last layer's tier.
  const size_t n = plan.kv_tiers.size();
  for (size_t l = 0; l < n; ++l) {
    uint64_t share = plan.kv_bytes / n + (l + 1 == n ? plan.kv_bytes % n : 0);
    pic.tiers[tier_index(plan.kv_tiers[l])].bytes[static_cast<int>(RoleGroup::KvCache)] += share;
  }
  pic.tiers[0].budget_bytes = plan.budgets.gpu_bytes;
  pic.tiers[2].budget_bytes = plan.budgets.ram_bytes;
  pic.tiers[1].budget_bytes = plan.budgets.pinned_bytes;
  return pic;
}

std::string plan_svg(const Plan& plan, std::string_view title) {
  const PlanPicture pic = summarize_plan(plan);
  constexpr int kWidth = 760, kLabelW = 92, kValueW = 150, kRowH = 40, kBarH = 24, kTop = 58;
  const int bar_w = kWidth - kLabelW - kValueW - 16;
  // The scale fits the largest bar and the budgets, unless a budget dwarfs the model (a small model on a
  // big machine): then the bars keep the width and that budget is only named beside its bar.
  uint64_t largest = 1, scale = 1;
  for (const TierBar& b : pic.tiers) largest = std::max(largest, b.total_bytes());
  for (const TierBar& b : pic.tiers) scale = std::max({scale, b.total_bytes(), std::min(b.budget_bytes, 4 * largest)});
  const int legend_y = kTop + kNumTiers * kRowH + 12;
  const int height = legend_y + 48;
  std::string s = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\" class=\"strata-plan\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"#ffffff\"/>\n",
      kWidth, height);
  s += fmt::format("<text x=\"8\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{}</text>\n", xml_escape(title));
  s += fmt::format(
      "<text x=\"8\" y=\"40\" fill=\"#444\">{} · {} layers · mode {} · decode {:.2f} tok/s predicted (bound by {}) · "
      "context {}</text>\n",
      xml_escape(plan.arch), plan.n_layer, mode_name(plan.mode), plan.decode.tokens_per_s, xml_escape(plan.decode.bound),
      plan.budgets.ctx);
  for (int i = 0; i < kNumTiers; ++i) {
    const TierBar& b = pic.tiers[i];
    const int y = kTop + i * kRowH;
    const uint64_t kv = b.bytes[static_cast<int>(RoleGroup::KvCache)];
    s += fmt::format("<g class=\"tier\" data-tier=\"{}\" data-weight-bytes=\"{}\" data-kv-bytes=\"{}\" "
                     "data-budget-bytes=\"{}\">\n",
                     tier_name(b.tier), b.weight_bytes, kv, b.budget_bytes);
    s += fmt::format("<text x=\"8\" y=\"{}\" font-weight=\"bold\">{}</text>\n", y + kBarH / 2 + 4, tier_label(b.tier));
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f3f3f3\" stroke=\"#ddd\"/>\n", kLabelW, y,
                     bar_w, kBarH);
    double x = kLabelW;
    for (int g = 0; g < kNumRoleGroups; ++g) {
      if (b.bytes[g] == 0) continue;
      const double w = static_cast<double>(b.bytes[g]) / scale * bar_w;
      s += fmt::format("<rect x=\"{:.2f}\" y=\"{}\" width=\"{:.2f}\" height=\"{}\" fill=\"{}\" data-group=\"{}\" "
                       "data-bytes=\"{}\"><title>{}: {}</title></rect>\n",
                       x, y, w, kBarH, kColors[g], role_group_name(static_cast<RoleGroup>(g)), b.bytes[g],
                       role_group_name(static_cast<RoleGroup>(g)), format_bytes(b.bytes[g]));
      x += w;
    }
    if (b.budget_bytes > 0 && b.budget_bytes <= scale) {
      const double bx = kLabelW + static_cast<double>(b.budget_bytes) / scale * bar_w;
      s += fmt::format("<line x1=\"{0:.2f}\" x2=\"{0:.2f}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#222\" stroke-width=\"2\" "
                       "stroke-dasharray=\"4 3\"><title>budget {3}</title></line>\n",
                       bx, y - 4, y + kBarH + 4, format_bytes(b.budget_bytes));
    }
    std::string value = b.total_bytes() ? format_bytes(b.total_bytes()) : "empty";
    if (b.budget_bytes > 0) value += " of " + format_bytes(b.budget_bytes);
    s += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"#222\">{}</text>\n</g>\n", kLabelW + bar_w + 8, y + kBarH / 2 + 4,
                     xml_escape(value));
  }
  int lx = 8;
  for (int g = 0; g < kNumRoleGroups; ++g) {
    const std::string_view name = role_group_name(static_cast<RoleGroup>(g));
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>\n",
                     lx, legend_y, kColors[g], lx + 16, legend_y + 10, name);
    lx += 30 + static_cast<int>(name.size()) * 7;
  }
  s += fmt::format("<line x1=\"8\" x2=\"30\" y1=\"{0}\" y2=\"{0}\" stroke=\"#222\" stroke-width=\"2\" "
                   "stroke-dasharray=\"4 3\"/><text x=\"36\" y=\"{1}\">budget (pinned RAM is part of RAM's)</text>\n",
                   legend_y + 32, legend_y + 36);
  s += "</svg>\n";
  return s;
}

}  // namespace strata::planner
