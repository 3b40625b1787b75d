// cli/plan_print.cc: renders a Plan as text or JSON. Formatting only: every figure comes from the planner.
#include "cli/plan_print.h"

#include <map>
#include <vector>

#include <fmt/format.h>

#include "core/units.h"

namespace strata::cli {

using planner::Plan;
using planner::Prediction;
using planner::Role;
using planner::TensorPlacement;

namespace {

std::string gb(double bytes) { return fmt::format("{:.2f} GB", bytes / 1e9); }

// "gpu:gpu", "ram:cpu", "ram:cpu,gpu" (decode on the CPU, prefill on the GPU), "disk:gpu".
std::string placement_code(planner::Tier tier, planner::Site decode, planner::Site prefill) {
  std::string s = fmt::format("{}:{}", planner::tier_name(tier), planner::site_name(decode));
  if (prefill != decode) s += fmt::format(",{}", planner::site_name(prefill));
  return s;
}

std::string short_role(Role r) {
  switch (r) {
    case Role::AttnQ: return "q";
    case Role::AttnK: return "k";
    case Role::AttnV: return "v";
    case Role::AttnQkv: return "qkv";
    case Role::AttnOutput: return "o";
    case Role::FfnGate: return "gate";
    case Role::FfnUp: return "up";
    case Role::FfnDown: return "down";
    case Role::Router: return "router";
    case Role::ExpertGate: return "gate_exps";
    case Role::ExpertUp: return "up_exps";
    case Role::ExpertDown: return "down_exps";
    default: return std::string(planner::role_name(r));
  }
}

// One layer's placement as text: consecutive matrices with the same placement share it.
std::string layer_signature(const std::vector<const TensorPlacement*>& tensors, planner::Tier kv) {
  std::vector<std::pair<std::string, std::string>> cells;  // (names, placement)
  for (const TensorPlacement* t : tensors) {
    if (planner::is_resident_only_role(t->role) && t->role != Role::Router) continue;  // norms: see reasons
    const std::string code = placement_code(t->tier, t->decode_site, t->prefill_site);
    if (!cells.empty() && cells.back().second == code) cells.back().first += " " + short_role(t->role);
    else cells.emplace_back(short_role(t->role), code);
  }
  std::string out;
  for (const auto& [names, code] : cells) out += fmt::format("{} {}  ", names, code);
  out += fmt::format("kv {}", planner::tier_name(kv));
  return out;
}

void print_prediction(std::string& out, const char* what, const Prediction& p, const char* per) {
  out += fmt::format("{}: {:.2f} tok/s ({:.2f} ms per {}), bound by {}\n", what, p.tokens_per_s, p.seconds * 1e3, per,
                     p.bound);
  for (const auto& t : p.terms) {
    if (t.resource == "handoffs")
      out += fmt::format("  {:<28} {:>6.0f} switches           {:>9.2f} ms  {}\n", t.resource, t.bytes, t.seconds * 1e3,
                         planner::term_kind_name(t.kind));
    else if (t.resource.ends_with("arithmetic"))
      out += fmt::format("  {:<28} {:>7.2f} TFLOP / {:>6.1f} TFLOP/s = {:>9.2f} ms  {}\n", t.resource, t.flops / 1e12,
                         t.flops / t.seconds / 1e12, t.seconds * 1e3, planner::term_kind_name(t.kind));
    else if (t.bytes <= 0)
      out += fmt::format("  {:<28} {:>33.2f} ms  {}\n", t.resource, t.seconds * 1e3, planner::term_kind_name(t.kind));
    else
      out += fmt::format("  {:<28} {:>10} / {:>7.1f} GB/s = {:>9.2f} ms  {}\n", t.resource,
                         gb(t.bytes), t.bytes_per_s / 1e9, t.seconds * 1e3, planner::term_kind_name(t.kind));
  }
  out += fmt::format("  time = {}\n", p.formula);
}

nlohmann::json prediction_json(const Prediction& p) {
  nlohmann::json terms = nlohmann::json::array();
  for (const auto& t : p.terms)
    terms.push_back({{"resource", t.resource},
                     {"bytes", t.bytes},
                     {"bytes_per_s", t.bytes_per_s},
                     {"flops", t.flops},
                     {"seconds", t.seconds},
                     {"kind", planner::term_kind_name(t.kind)}});
  return {{"tokens_per_s", p.tokens_per_s}, {"seconds", p.seconds}, {"bound", p.bound},
          {"formula", p.formula},           {"terms", terms}};
}

}  // namespace

std::string format_plan_text(const Plan& plan) {
  const auto& b = plan.budgets;
  const auto& m = plan.memory;
  std::string out;
  out += fmt::format("plan: {} ({} layers), mode {}{}\n", plan.arch, plan.n_layer, planner::mode_name(plan.mode),
                     plan.mode_forced ? " (forced)" : "");
  out += fmt::format("budgets: GPU {}, {} {}{}, context {}\n", format_bytes(b.gpu_bytes),
                     b.unified ? "unified pool" : "RAM", format_bytes(b.ram_bytes),
                     b.pinned_bytes ? fmt::format(" (pinned at most {})", format_bytes(b.pinned_bytes)) : "", b.ctx);
  out += fmt::format("GPU memory: {} = weights {} + KV {} + compute {} + staging {} + expert cache {}\n",
                     format_bytes(m.gpu_total()), format_bytes(m.gpu_weights), format_bytes(m.gpu_kv),
                     format_bytes(m.gpu_compute), format_bytes(m.gpu_staging), format_bytes(m.gpu_expert_cache));
  out += fmt::format("RAM:        {} = weights {} + KV {} + compute {} + staging pool {} + expert cache {}; pinned {}\n",
                     format_bytes(m.ram_total()), format_bytes(m.ram_weights), format_bytes(m.ram_kv),
                     format_bytes(m.ram_compute), format_bytes(m.staging_pool), format_bytes(m.ram_expert_cache),
                     format_bytes(m.pinned));
  if (plan.staging.n_slots > 0)
    out += fmt::format("staging: {} slots x {}{}, prefetch depth {}, reads of {} at queue depth {}\n", plan.staging.n_slots,
                       format_bytes(plan.staging.slot_bytes), plan.staging.pinned ? " (pinned)" : "", plan.prefetch_depth,
                       format_bytes(plan.staging.io_block_bytes), plan.staging.io_queue_depth);
  if (plan.expert_cache.slice_bytes > 0)
    out += fmt::format("expert cache: slices of {}; RAM {} ({:.0f}% hits), GPU {} ({:.0f}% hits)\n",
                       format_bytes(plan.expert_cache.slice_bytes), format_bytes(plan.expert_cache.ram_bytes),
                       100 * plan.expert_cache.ram_hit_rate, format_bytes(plan.expert_cache.gpu_bytes),
                       100 * plan.expert_cache.gpu_hit_rate);
  print_prediction(out, "decode", plan.decode, "token");
  print_prediction(out, fmt::format("prefill (batches of {})", plan.prefill_batch).c_str(), plan.prefill, "batch");

  // Placement table: tier:decode-site[,prefill-site]; identical consecutive layers folded into a range.
  out += "placement (tier:decode[,prefill]):\n";
  std::vector<std::vector<const TensorPlacement*>> layers(std::max(0, plan.n_layer));
  std::vector<const TensorPlacement*> globals;
  for (const auto& t : plan.tensors) {
    if (t.layer >= 0 && t.layer < plan.n_layer) layers[t.layer].push_back(&t);
    else globals.push_back(&t);
  }
  for (const TensorPlacement* t : globals)
    out += fmt::format("  {:<12} {}\n", t->name, placement_code(t->tier, t->decode_site, t->prefill_site));
  for (int l = 0; l < plan.n_layer;) {
    const std::string sig = layer_signature(layers[l], plan.kv_tiers[l]);
    int end = l;
    while (end + 1 < plan.n_layer && layer_signature(layers[end + 1], plan.kv_tiers[end + 1]) == sig) ++end;
    const std::string range = end > l ? fmt::format("blk.{}-{}", l, end) : fmt::format("blk.{}", l);
    out += fmt::format("  {:<12} {}\n", range, sig);
    l = end + 1;
  }
  out += "reasons:\n";
  for (const auto& r : plan.reasons) out += "  - " + r + "\n";
  return out;
}

nlohmann::json plan_to_json(const Plan& plan) {
  const auto& b = plan.budgets;
  const auto& m = plan.memory;
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : plan.tensors)
    tensors.push_back({{"name", t.name},
                       {"role", planner::role_name(t.role)},
                       {"layer", t.layer},
                       {"size_bytes", t.size_bytes},
                       {"tier", planner::tier_name(t.tier)},
                       {"decode_site", planner::site_name(t.decode_site)},
                       {"prefill_site", planner::site_name(t.prefill_site)}});
  nlohmann::json kv_tiers = nlohmann::json::array();
  for (auto t : plan.kv_tiers) kv_tiers.push_back(planner::tier_name(t));
  return {
      {"mode", planner::mode_name(plan.mode)},
      {"mode_forced", plan.mode_forced},
      {"arch", plan.arch},
      {"n_layer", plan.n_layer},
      {"budgets",
       {{"gpu_bytes", b.gpu_bytes}, {"ram_bytes", b.ram_bytes}, {"pinned_bytes", b.pinned_bytes},
        {"ctx", b.ctx}, {"unified", b.unified}, {"gpu_source", b.gpu_source}, {"ram_source", b.ram_source}}},
      {"memory",
       {{"gpu_weights", m.gpu_weights}, {"gpu_kv", m.gpu_kv}, {"gpu_compute", m.gpu_compute},
        {"gpu_staging", m.gpu_staging}, {"gpu_expert_cache", m.gpu_expert_cache}, {"gpu_total", m.gpu_total()},
        {"ram_weights", m.ram_weights}, {"ram_kv", m.ram_kv}, {"ram_compute", m.ram_compute},
        {"staging_pool", m.staging_pool}, {"ram_expert_cache", m.ram_expert_cache}, {"ram_total", m.ram_total()},
        {"pinned", m.pinned}}},
      {"staging",
       {{"n_slots", plan.staging.n_slots}, {"slot_bytes", plan.staging.slot_bytes}, {"pinned", plan.staging.pinned},
        {"io_block_bytes", plan.staging.io_block_bytes}, {"io_queue_depth", plan.staging.io_queue_depth}}},
      {"prefetch_depth", plan.prefetch_depth},
      {"expert_cache",
       {{"slice_bytes", plan.expert_cache.slice_bytes}, {"ram_bytes", plan.expert_cache.ram_bytes},
        {"gpu_bytes", plan.expert_cache.gpu_bytes}, {"ram_hit_rate", plan.expert_cache.ram_hit_rate},
        {"gpu_hit_rate", plan.expert_cache.gpu_hit_rate}}},
      {"kv", {{"bytes", plan.kv_bytes}, {"tiers", kv_tiers}}},
      {"decode", prediction_json(plan.decode)},
      {"prefill", [&] {
         nlohmann::json j = prediction_json(plan.prefill);
         j["batch"] = plan.prefill_batch;
         return j;
       }()},
      {"tensors", tensors},
      {"reasons", plan.reasons},
  };
}

}  // namespace strata::cli
