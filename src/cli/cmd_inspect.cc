// cli/cmd_inspect.cc: `strata inspect`: metadata, tensor table and totals from the header alone.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "arch/ollama_compat.h"
#include "cli/cmd_profile.h"
#include "cli/commands.h"
#include "cli/plan_print.h"
#include "engine/backends.h"
#include "planner/plan_picture.h"
#include "planner/planner.h"
#include "planner/tensor_roles.h"
#include "core/units.h"
#include "gguf/gguf_file.h"
#include "tensor/dtype.h"

namespace strata::cli {

namespace {
nlohmann::json value_to_json(const gguf::Value& v, size_t max_items) {
  if (const auto* s = v.as_string()) return *s;
  if (auto b = v.as_bool()) return *b;
  if (v.is_float()) return *v.as_number();
  if (auto i = v.as_int()) return *i;
  if (const auto* a = v.as_array()) {
    nlohmann::json arr = nlohmann::json::array();
    for (size_t i = 0; i < a->items.size() && i < max_items; ++i) arr.push_back(value_to_json(a->items[i], max_items));
    return nlohmann::json{{"type", "array"}, {"elem_type", gguf::value_type_name(a->elem_type)},
                          {"count", a->items.size()}, {"head", arr}};
  }
  return *v.as_number();  // u64 beyond int64
}
}  // namespace

// `inspect --plan`: the placement for this model on this machine, from the header and the profile alone.
int print_plan(const InspectOptions& o, const gguf::GgufFile& g) {
  auto budgets = budgets_from_flags(o.plan_flags.gpu_mem, o.plan_flags.ram, o.plan_flags.ctx, o.plan_flags.mode);
  if (!budgets) return fail(budgets.status().message());
  auto roles = planner::classify_tensors(g);
  if (!roles) return fail(roles.status().with_context(o.model).message());
  auto profile = find_profile(o.model, o.plan_flags, /*required=*/true);
  if (!profile) return fail(profile.status().message());
  auto plan = planner::make_plan(*roles, **profile, *budgets);
  if (!plan) return fail(plan.status().with_context(o.model).message());
  if (!o.svg.empty()) {
    const std::string title = std::filesystem::path(o.model).filename().string();
    std::ofstream out(o.svg, std::ios::binary | std::ios::trunc);
    out << planner::plan_svg(*plan, title);
    out.close();
    if (!out) return fail(fmt::format("cannot write the SVG to '{}'", o.svg));
  }
  if (o.json) {
    nlohmann::json j = plan_to_json(*plan);
    j["header_bytes_read"] = g.header_bytes_read;
    std::printf("%s\n", j.dump(1).c_str());
  } else {
    std::printf("%s\n", format_plan_text(*plan).c_str());
    if (!(*profile)->gpus.empty() && engine::plan_uses_gpu(*plan))
      if (const std::string missing = engine::missing_gpu_backend(**profile); !missing.empty())
        std::printf("note: this is the planner's placement for this machine; %s, so `run`, `logits`, `bench` and\n"
                    "      `serve` plan again without the GPU\n", missing.c_str());
  }
  return 0;
}

int run_inspect(const InspectOptions& o) {
  auto f = gguf::read_file(o.model, gguf_type_lookup());
  if (!f) return fail(f.status().message());
  if (!o.svg.empty() && !o.plan) return fail("--svg draws the plan: add --plan");
  if (o.plan) {
    arch::translate_ollama_file(f.value());  // the plan is for the model as it will load; the listing shows the file
    return print_plan(o, f.value());
  }
  const gguf::GgufFile& g = f.value();
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_type;  // name → (count, bytes)
  for (const auto& t : g.tensors) {
    auto& e = by_type[std::string(find_dtype(t.type_id)->name)];
    e.first++;
    e.second += t.size_bytes;
  }
  uint64_t n_params = 0;
  for (const auto& t : g.tensors) n_params += static_cast<uint64_t>(t.n_elements());

  if (o.json) {
    nlohmann::json j;
    j["path"] = g.path;
    j["version"] = g.version;
    j["alignment"] = g.alignment;
    j["data_offset"] = g.data_offset;
    j["file_size"] = g.file_size;
    nlohmann::json md = nlohmann::json::object();
    for (const auto& [k, v] : g.metadata) md[k] = value_to_json(v, 16);
    j["metadata"] = md;
    nlohmann::json ts = nlohmann::json::array();
    for (const auto& t : g.tensors)
      ts.push_back({{"name", t.name}, {"type", find_dtype(t.type_id)->name}, {"shape", t.dims},
                    {"bytes", t.size_bytes}, {"offset", t.file_offset}});
    j["tensors"] = ts;
    nlohmann::json tot;
    tot["tensors"] = g.tensors.size();
    tot["parameters"] = n_params;
    tot["bytes"] = g.total_tensor_bytes();
    for (const auto& [name, e] : by_type) tot["by_type"][name] = {{"count", e.first}, {"bytes", e.second}};
    j["totals"] = tot;
    std::printf("%s\n", j.dump(1).c_str());
    return 0;
  }

  fmt::print("file: {}\nGGUF v{}, alignment {}, data at offset {}, {} ({} bytes)\n\n", g.path, g.version, g.alignment,
             g.data_offset, format_bytes(g.file_size), g.file_size);
  fmt::print("metadata ({} keys):\n", g.metadata.size());
  for (const auto& [k, v] : g.metadata) fmt::print("  {:<44} {}\n", k, v.to_display());
  fmt::print("\ntensors ({}):\n  {:<36} {:<6} {:<24} {:>14} {:>14}\n", g.tensors.size(), "name", "type", "shape",
             "bytes", "offset");
  for (const auto& t : g.tensors)
    fmt::print("  {:<36} {:<6} {:<24} {:>14} {:>14}\n", t.name, find_dtype(t.type_id)->name,
               fmt::format("{}", fmt::join(t.dims, " x ")), t.size_bytes, t.file_offset);
  const std::string params = n_params >= 1000000000ull ? fmt::format("{:.2f} B", n_params / 1e9)
                             : fmt::format("{:.2f} M", n_params / 1e6);
  fmt::print("\ntotals: {} tensors, {} parameters, {} of weights\n", g.tensors.size(), params,
             format_bytes(g.total_tensor_bytes()));
  for (const auto& [name, e] : by_type)
    fmt::print("  {:<6} {:>5} tensors {:>12}\n", name, e.first, format_bytes(e.second));
  return 0;
}

}  // namespace strata::cli
