// hw/profile_json.cc: HardwareProfile ⇄ JSON, for the profile cache and `--profile FILE`.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hw/hardware_profile.h"

namespace strata::planner {

using nlohmann::json;

double StorageInfo::best_bytes_per_s() const {
  return sustained_bytes_per_s > 0 ? sustained_bytes_per_s : best_sample().bytes_per_s;
}

ReadSample StorageInfo::best_sample() const {
  ReadSample best;
  for (const auto& s : sequential)
    if (s.bytes_per_s > best.bytes_per_s) best = s;
  return best;
}

void to_json(json& j, const HardwareProfile& p) {
  j = json::object();
  j["format_version"] = p.format_version;
  j["fingerprint"] = p.fingerprint;
  j["measured_at"] = p.measured_at;
  j["measure_seconds"] = p.measure_seconds;
  j["cpu"] = {{"model", p.cpu.model},           {"logical_cores", p.cpu.n_logical},
              {"physical_cores", p.cpu.n_physical}, {"isa", p.cpu.isa},
              {"fma_gflops", p.cpu.fma_gflops}};
  json mem = {{"total_bytes", p.memory.total_bytes},
              {"available_bytes", p.memory.available_bytes},
              {"read_bytes_per_s", p.memory.read_bytes_per_s},
              {"read_threads", p.memory.read_threads}};
  mem["cgroup_limit_bytes"] = p.memory.cgroup_limit_bytes ? json(*p.memory.cgroup_limit_bytes) : json(nullptr);
  j["memory"] = mem;
  json gpus = json::array();
  for (const auto& g : p.gpus) {
    gpus.push_back({{"index", g.index},
                    {"name", g.name},
                    {"compute_capability", std::to_string(g.cc_major) + "." + std::to_string(g.cc_minor)},
                    {"sm_count", g.n_sm},
                    {"integrated", g.integrated},
                    {"total_bytes", g.total_bytes},
                    {"free_bytes", g.free_bytes},
                    {"device_read_bytes_per_s", g.device_read_bytes_per_s},
                    {"h2d_pinned_bytes_per_s", g.h2d_pinned_bytes_per_s},
                    {"h2d_pageable_bytes_per_s", g.h2d_pageable_bytes_per_s},
                    {"d2h_pinned_bytes_per_s", g.d2h_pinned_bytes_per_s},
                    {"d2h_pageable_bytes_per_s", g.d2h_pageable_bytes_per_s},
                    {"fp32_tflops_estimate", g.fp32_tflops_estimate},
                    {"matvec_bytes_per_s", g.matvec_bytes_per_s},
                    {"gemm_flops_per_s", g.gemm_flops_per_s},
                    {"product_fixed_seconds", g.product_fixed_seconds},
                    {"layer_ops_seconds", g.layer_ops_seconds},
                    {"layer_ops_prompt_seconds", g.layer_ops_prompt_seconds}});
  }
  j["gpus"] = gpus;
  j["gpu_note"] = p.gpu_note;
  if (p.storage) {
    const StorageInfo& s = *p.storage;
    json seq = json::array();
    for (const auto& r : s.sequential)
      seq.push_back({{"block_bytes", r.block_bytes}, {"queue_depth", r.queue_depth}, {"bytes_per_s", r.bytes_per_s}});
    j["storage"] = {{"path", s.path},         {"device", s.device},
                    {"filesystem", s.filesystem}, {"direct_io", s.direct_io}, {"reader", s.reader},
                    {"sequential", seq},      {"sustained_bytes_per_s", s.sustained_bytes_per_s},
                    {"random_read_latency_us", s.random_read_latency_us}};
  } else {
    j["storage"] = nullptr;
  }
  j["unified_memory"] = p.unified_memory;
  j["unified_gpu_limit_bytes"] = p.unified_gpu_limit_bytes;
}

namespace {

// Reads j[key] into out when present; a value of the wrong type is an error naming the key path.
template <typename T>
Status read_field(const json& j, const char* key, T& out, const std::string& where) {
  if (!j.is_object()) return error("profile: '{}' should be an object", where);
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::ok();
  try {
    out = it->get<T>();
  } catch (const json::exception&) {
    return error("profile: '{}{}' has the wrong type ({})", where.empty() ? "" : where + ".", key, it->type_name());
  }
  return Status::ok();
}

}  // namespace

Result<HardwareProfile> profile_from_json(const json& j) {
  HardwareProfile p;
  if (!j.is_object()) return error("profile: the document should be a JSON object");
  STRATA_RETURN_IF_ERROR(read_field(j, "format_version", p.format_version, ""));
  if (p.format_version > kProfileFormatVersion)
    return error("profile: format_version {} is newer than this build understands ({})", p.format_version,
                 kProfileFormatVersion);
  STRATA_RETURN_IF_ERROR(read_field(j, "fingerprint", p.fingerprint, ""));
  STRATA_RETURN_IF_ERROR(read_field(j, "measured_at", p.measured_at, ""));
  STRATA_RETURN_IF_ERROR(read_field(j, "measure_seconds", p.measure_seconds, ""));
  if (auto c = j.find("cpu"); c != j.end() && !c->is_null()) {
    STRATA_RETURN_IF_ERROR(read_field(*c, "model", p.cpu.model, "cpu"));
    STRATA_RETURN_IF_ERROR(read_field(*c, "logical_cores", p.cpu.n_logical, "cpu"));
    STRATA_RETURN_IF_ERROR(read_field(*c, "physical_cores", p.cpu.n_physical, "cpu"));
    STRATA_RETURN_IF_ERROR(read_field(*c, "isa", p.cpu.isa, "cpu"));
    STRATA_RETURN_IF_ERROR(read_field(*c, "fma_gflops", p.cpu.fma_gflops, "cpu"));
  }
  if (auto m = j.find("memory"); m != j.end() && !m->is_null()) {
    STRATA_RETURN_IF_ERROR(read_field(*m, "total_bytes", p.memory.total_bytes, "memory"));
    STRATA_RETURN_IF_ERROR(read_field(*m, "available_bytes", p.memory.available_bytes, "memory"));
    STRATA_RETURN_IF_ERROR(read_field(*m, "read_bytes_per_s", p.memory.read_bytes_per_s, "memory"));
    STRATA_RETURN_IF_ERROR(read_field(*m, "read_threads", p.memory.read_threads, "memory"));
    uint64_t limit = 0;
    if (auto l = m->find("cgroup_limit_bytes"); l != m->end() && !l->is_null()) {
      STRATA_RETURN_IF_ERROR(read_field(*m, "cgroup_limit_bytes", limit, "memory"));
      p.memory.cgroup_limit_bytes = limit;
    }
  }
  if (auto g = j.find("gpus"); g != j.end() && !g->is_null()) {
    if (!g->is_array()) return error("profile: 'gpus' should be an array");
    for (size_t i = 0; i < g->size(); ++i) {
      const json& e = (*g)[i];
      const std::string where = "gpus[" + std::to_string(i) + "]";
      GpuInfo gi;
      gi.index = static_cast<int>(i);
      std::string cc;
      STRATA_RETURN_IF_ERROR(read_field(e, "index", gi.index, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "name", gi.name, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "compute_capability", cc, where));
      if (!cc.empty() && std::sscanf(cc.c_str(), "%d.%d", &gi.cc_major, &gi.cc_minor) != 2)
        return error("profile: '{}.compute_capability' should look like \"9.0\", is \"{}\"", where, cc);
      STRATA_RETURN_IF_ERROR(read_field(e, "sm_count", gi.n_sm, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "integrated", gi.integrated, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "total_bytes", gi.total_bytes, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "free_bytes", gi.free_bytes, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "device_read_bytes_per_s", gi.device_read_bytes_per_s, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "h2d_pinned_bytes_per_s", gi.h2d_pinned_bytes_per_s, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "h2d_pageable_bytes_per_s", gi.h2d_pageable_bytes_per_s, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "d2h_pinned_bytes_per_s", gi.d2h_pinned_bytes_per_s, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "d2h_pageable_bytes_per_s", gi.d2h_pageable_bytes_per_s, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "fp32_tflops_estimate", gi.fp32_tflops_estimate, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "matvec_bytes_per_s", gi.matvec_bytes_per_s, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "gemm_flops_per_s", gi.gemm_flops_per_s, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "product_fixed_seconds", gi.product_fixed_seconds, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "layer_ops_seconds", gi.layer_ops_seconds, where));
      STRATA_RETURN_IF_ERROR(read_field(e, "layer_ops_prompt_seconds", gi.layer_ops_prompt_seconds, where));
      p.gpus.push_back(std::move(gi));
    }
  }
  STRATA_RETURN_IF_ERROR(read_field(j, "gpu_note", p.gpu_note, ""));
  if (auto s = j.find("storage"); s != j.end() && !s->is_null()) {
    StorageInfo st;
    STRATA_RETURN_IF_ERROR(read_field(*s, "path", st.path, "storage"));
    STRATA_RETURN_IF_ERROR(read_field(*s, "device", st.device, "storage"));
    STRATA_RETURN_IF_ERROR(read_field(*s, "filesystem", st.filesystem, "storage"));
    STRATA_RETURN_IF_ERROR(read_field(*s, "direct_io", st.direct_io, "storage"));
    STRATA_RETURN_IF_ERROR(read_field(*s, "reader", st.reader, "storage"));
    STRATA_RETURN_IF_ERROR(read_field(*s, "random_read_latency_us", st.random_read_latency_us, "storage"));
    STRATA_RETURN_IF_ERROR(read_field(*s, "sustained_bytes_per_s", st.sustained_bytes_per_s, "storage"));
    if (auto q = s->find("sequential"); q != s->end() && !q->is_null()) {
      if (!q->is_array()) return error("profile: 'storage.sequential' should be an array");
      for (const json& e : *q) {
        ReadSample r;
        STRATA_RETURN_IF_ERROR(read_field(e, "block_bytes", r.block_bytes, "storage.sequential"));
        STRATA_RETURN_IF_ERROR(read_field(e, "queue_depth", r.queue_depth, "storage.sequential"));
        STRATA_RETURN_IF_ERROR(read_field(e, "bytes_per_s", r.bytes_per_s, "storage.sequential"));
        st.sequential.push_back(r);
      }
    }
    p.storage = std::move(st);
  }
  STRATA_RETURN_IF_ERROR(read_field(j, "unified_memory", p.unified_memory, ""));
  STRATA_RETURN_IF_ERROR(read_field(j, "unified_gpu_limit_bytes", p.unified_gpu_limit_bytes, ""));
  return p;
}

Result<HardwareProfile> read_profile_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return error("cannot open profile '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return error("profile '{}' is not valid JSON", path);
  auto r = profile_from_json(j);
  if (!r) return r.status().with_context(path);
  return r;
}

Status write_profile_file(const std::string& path, const HardwareProfile& p) {
  std::error_code ec;
  std::filesystem::path target(path);
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), ec);
  if (ec) return error("cannot create directory for '{}': {}", path, ec.message());
  // Write beside the target and rename, so a crash never leaves a truncated cache file.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return error("cannot write profile '{}'", tmp);
    json j;
    to_json(j, p);
    out << j.dump(2) << "\n";
    if (!out) return error("writing profile '{}' failed", tmp);
  }
  std::filesystem::rename(tmp, target, ec);
  if (ec) return error("cannot rename '{}' to '{}': {}", tmp, path, ec.message());
  return Status::ok();
}

}  // namespace strata::planner
