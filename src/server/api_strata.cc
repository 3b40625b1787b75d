// server/api_strata.cc: strata's own view of the server: the loaded models' plans and live figures for
// /api/strata/stats, and the page at /strata that draws them (strata_page.cc).
#include <filesystem>

#include "planner/plan_picture.h"
#include "server/api.h"
#include "server/strata_page.h"

namespace strata::server {

namespace {

Json or_null(bool present, double value) { return present ? Json(value) : Json(nullptr); }

Json plan_json(const planner::Plan& plan, const std::string& svg) {
  const planner::PlanPicture pic = planner::summarize_plan(plan);
  Json tiers = Json::array();
  for (const planner::TierBar& b : pic.tiers) {
    Json groups = Json::object();
    for (int g = 0; g < planner::kNumRoleGroups; ++g)
      if (b.bytes[g]) groups[std::string(planner::role_group_name(static_cast<planner::RoleGroup>(g)))] = b.bytes[g];
    tiers.push_back({{"tier", planner::tier_name(b.tier)},
                     {"weight_bytes", b.weight_bytes},
                     {"kv_bytes", b.bytes[static_cast<int>(planner::RoleGroup::KvCache)]},
                     {"budget_bytes", b.budget_bytes},
                     {"groups", groups}});
  }
  return {{"mode", planner::mode_name(plan.mode)},
          {"n_layer", plan.n_layer},
          {"budgets", {{"gpu_bytes", plan.budgets.gpu_bytes}, {"ram_bytes", plan.budgets.ram_bytes},
                       {"pinned_bytes", plan.budgets.pinned_bytes}, {"ctx", plan.budgets.ctx}}},
          {"memory", {{"gpu_bytes", plan.memory.gpu_total()}, {"ram_bytes", plan.memory.ram_total()}}},
          {"tiers", tiers},
          {"svg", svg}};
}

Json model_json(const engine::Scheduler::Live& l) {
  const engine::Runner::LiveFigures& f = l.figures;
  const planner::Plan* plan = f.plan.get();
  const bool moe = plan && plan->expert_cache.slice_bytes > 0;
  const auto* st = f.stream ? &*f.stream : nullptr;
  Json m = {
      {"name", l.state.model_name.empty() ? std::filesystem::path(l.gguf_path).stem().string() : l.state.model_name},
      {"path", l.gguf_path},
      {"context_length", l.state.n_ctx},
      {"busy", l.state.busy},
      {"queued", l.state.queued},
      {"sequences_in_flight", l.state.sequences},
      {"num_parallel", l.state.n_parallel},
      {"prefix_cache", {{"prompt_tokens", f.prompt_tokens_total}, {"reused_tokens", f.prompt_tokens_reused},
                        {"kv_prefix_copies", f.kv_prefix_copies}}},
      {"batched_steps", f.batched_steps},
      {"steps", f.steps},
      {"generating", f.generating},
      {"generations", f.n_generations},
      {"pieces_generated", f.pieces_generated},
      {"decode", {{"tokens_per_s", f.decode_tokens_per_s},
                  {"predicted_tokens_per_s", or_null(plan, plan ? plan->decode.tokens_per_s : 0)},
                  {"bound", plan ? Json(plan->decode.bound) : Json(nullptr)}}},
      {"prefill", {{"tokens_per_s", f.prefill_tokens_per_s},
                   {"predicted_tokens_per_s", or_null(plan, plan ? plan->prefill.tokens_per_s : 0)},
                   {"bound", plan ? Json(plan->prefill.bound) : Json(nullptr)}}},
      {"plan", plan ? plan_json(*plan, f.plan_svg ? *f.plan_svg : std::string()) : Json(nullptr)},
      {"moe", moe},
      // This build computes on the CPU: the GPU expert cache and PCIe traffic have no live figures yet.
      {"expert_cache",
       {{"ram", {{"hit_rate", or_null(st && st->expert_hits + st->expert_misses > 0, st ? st->expert_hit_rate() : 0)},
                 {"hits", st ? st->expert_hits : 0},
                 {"misses", st ? st->expert_misses : 0},
                 {"predicted", or_null(moe, moe ? plan->expert_cache.ram_hit_rate : 0)}}},
        {"gpu", {{"hit_rate", nullptr}, {"predicted", or_null(moe, moe ? plan->expert_cache.gpu_hit_rate : 0)}}}}},
      {"disk", st ? Json{{"bytes_read", st->bytes_read},
                         {"gb_per_s", st->disk_gb_per_s()},
                         {"reader", st->reader},
                         {"io_wait_seconds", st->io_wait_seconds}}
                  : Json(nullptr)},
      {"pcie", nullptr},
      {"memory", {{"resident_bytes", l.state.resident_bytes},
                  {"budget_bytes", or_null(plan, plan ? static_cast<double>(plan->budgets.ram_bytes) : 0)},
                  {"planned_bytes", or_null(plan, plan ? static_cast<double>(plan->memory.ram_total()) : 0)}}},
  };
  return m;
}

}  // namespace

Json Api::loaded_models_stats() {
  Json models = Json::array();
  for (const engine::Scheduler::Live& l : scheduler_.live()) models.push_back(model_json(l));
  return models;
}

void Api::strata_page(http::HttpExchange& ex) {
  ex.add_header("Cache-Control", "no-store");
  ex.respond(200, "text/html; charset=utf-8", std::string(kStrataPageHtml));
}

}  // namespace strata::server
