// server/request_options.cc: option keys, their types and defaults; Go-style duration strings.
#include "server/request_options.h"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <string_view>

#include "core/log.h"

namespace strata::server {

namespace {

// Keys Ollama accepts but strata's CPU engine has no use for (runner, GPU and retired sampler
// options): taken without complaint so clients that always send them keep working.
constexpr std::string_view kIgnoredKeys[] = {
    "num_keep", "typical_p", "presence_penalty", "frequency_penalty", "num_batch", "num_gpu", "main_gpu",
    "num_thread", "use_mmap", "draft_num_predict", "mirostat", "mirostat_tau", "mirostat_eta", "tfs_z",
    "penalize_newline", "numa", "low_vram", "f16_kv", "logits_all", "vocab_only", "use_mlock",
    "embedding_only", "num_gqa", "rope_frequency_base", "rope_frequency_scale"};

Status type_error(std::string_view key, std::string_view type) {
  return error("option \"{}\" must be of type {}", key, type);
}

Result<int64_t> as_int(std::string_view key, const Json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_unsigned()) return static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), INT64_MAX));
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > 9e18) return error("option \"{}\" is out of range", key);
    return static_cast<int64_t>(d);  // 4096.0 → 4096, as Ollama truncates
  }
  return type_error(key, "int");
}

Result<double> as_float(std::string_view key, const Json& v) {
  if (!v.is_number()) return type_error(key, "float32");
  double d = v.get<double>();
  // Past float's range the cast to the sampler's float would be undefined.
  if (!std::isfinite(d) || std::fabs(d) > FLT_MAX) return error("option \"{}\" is out of range", key);
  return d;
}

int32_t clamp_i32(int64_t v) { return static_cast<int32_t>(std::clamp<int64_t>(v, INT32_MIN, INT32_MAX)); }

}  // namespace

RunOptions ollama_defaults() {
  RunOptions o;
  o.sampling.temperature = 0.8f;
  o.sampling.top_k = 40;
  o.sampling.top_p = 0.9f;
  o.sampling.min_p = 0.0f;
  o.sampling.repeat_penalty = 1.0f;
  o.sampling.repeat_last_n = 64;
  return o;
}

RunOptions openai_defaults() {
  RunOptions o = ollama_defaults();
  o.sampling.temperature = 1.0f;
  o.sampling.top_p = 1.0f;
  return o;
}

Status apply_options(const Json& options, RunOptions& out) {
  if (options.is_null()) return Status::ok();
  if (!options.is_object()) return error("invalid type for field \"options\": expected object, got {}", json_type_name(options));
  for (const auto& [key, v] : options.items()) {
    if (v.is_null()) continue;
    if (key == "num_ctx") {
      STRATA_ASSIGN_OR_RETURN(int64_t n, as_int(key, v));
      out.num_ctx = std::max<int64_t>(n, 0);
    } else if (key == "num_predict") {
      STRATA_ASSIGN_OR_RETURN(int64_t n, as_int(key, v));
      out.num_predict = clamp_i32(n);
    } else if (key == "seed") {
      STRATA_ASSIGN_OR_RETURN(out.seed, as_int(key, v));
    } else if (key == "temperature") {
      STRATA_ASSIGN_OR_RETURN(double d, as_float(key, v));
      out.sampling.temperature = static_cast<float>(d);
    } else if (key == "top_k") {
      STRATA_ASSIGN_OR_RETURN(int64_t n, as_int(key, v));
      out.sampling.top_k = clamp_i32(n);
    } else if (key == "top_p") {
      STRATA_ASSIGN_OR_RETURN(double d, as_float(key, v));
      out.sampling.top_p = static_cast<float>(d);
    } else if (key == "min_p") {
      STRATA_ASSIGN_OR_RETURN(double d, as_float(key, v));
      out.sampling.min_p = static_cast<float>(d);
    } else if (key == "repeat_penalty") {
      STRATA_ASSIGN_OR_RETURN(double d, as_float(key, v));
      out.sampling.repeat_penalty = static_cast<float>(d);
    } else if (key == "repeat_last_n") {
      STRATA_ASSIGN_OR_RETURN(int64_t n, as_int(key, v));
      out.sampling.repeat_last_n = clamp_i32(n);  // -1 (= num_ctx) is resolved when the context is known
    } else if (key == "stop") {
      if (!v.is_array()) return type_error(key, "array");
      out.stop.clear();
      for (const auto& s : v) {
        if (!s.is_string()) return type_error(key, "array of strings");
        if (!s.get_ref<const std::string&>().empty()) out.stop.push_back(s.get<std::string>());
      }
    } else if (std::find(std::begin(kIgnoredKeys), std::end(kIgnoredKeys), key) == std::end(kIgnoredKeys)) {
      // Unknown keys are ignored too (Ollama logs "invalid option provided"); only worth a debug line.
      log(LogLevel::Debug, "strata serve: ignoring unknown option \"{}\"", key);
    }
  }
  return Status::ok();
}

Result<KeepAlive> parse_duration(std::string_view text) {
  std::string_view s = text;
  if (s.empty()) return error("time: invalid duration \"{}\"", text);
  bool negative = false;
  if (s.front() == '-' || s.front() == '+') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return KeepAlive(0);
  // A plain number (Ollama rejects it; clients send "300" often enough that strata takes it as seconds).
  double plain = 0;
  auto [pend, pec] = std::from_chars(s.data(), s.data() + s.size(), plain);
  if (pec == std::errc() && pend == s.data() + s.size()) {
    // Seconds as nanoseconds must fit an int64 (about 292 years).
    if (!std::isfinite(plain) || plain > 9e9) return error("time: invalid duration \"{}\"", text);
    return KeepAlive(static_cast<int64_t>((negative ? -plain : plain) * 1e9));
  }
  double total_ns = 0;
  while (!s.empty()) {
    if (s.front() == '-' || s.front() == '+') return error("time: invalid duration \"{}\"", text);
    double value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || !std::isfinite(value)) return error("time: invalid duration \"{}\"", text);
    s.remove_prefix(static_cast<size_t>(end - s.data()));
    size_t unit_len = 0;
    while (unit_len < s.size() && !(s[unit_len] >= '0' && s[unit_len] <= '9') && s[unit_len] != '.') ++unit_len;
    std::string_view unit = s.substr(0, unit_len);
    s.remove_prefix(unit_len);
    double scale;
    if (unit == "ns") scale = 1;
    else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs") scale = 1e3;
    else if (unit == "ms") scale = 1e6;
    else if (unit == "s") scale = 1e9;
    else if (unit == "m") scale = 60e9;
    else if (unit == "h") scale = 3600e9;
    else if (unit.empty()) return error("time: missing unit in duration \"{}\"", text);
    else return error("time: unknown unit \"{}\" in duration \"{}\"", unit, text);
    total_ns += value * scale;
    if (total_ns > 9e18) return error("time: invalid duration \"{}\"", text);
  }
  return KeepAlive(static_cast<int64_t>(negative ? -total_ns : total_ns));
}

Result<std::optional<KeepAlive>> parse_keep_alive(const Json& request) {
  if (!request.is_object()) return std::optional<KeepAlive>();
  auto it = request.find("keep_alive");
  if (it == request.end() || it->is_null()) return std::optional<KeepAlive>();
  if (it->is_number()) {
    double secs = it->get<double>();
    if (!std::isfinite(secs) || std::fabs(secs) > 9e9) return error("invalid keep_alive value");
    return std::optional<KeepAlive>(KeepAlive(static_cast<int64_t>(secs * 1e9)));
  }
  if (it->is_string()) {
    STRATA_ASSIGN_OR_RETURN(KeepAlive d, parse_duration(it->get<std::string>()));
    return std::optional<KeepAlive>(d);
  }
  return error("invalid type for field \"keep_alive\": expected number or duration string, got {}", json_type_name(*it));
}

}  // namespace strata::server
