// server/json_util.cc: typed field reads, serialisation and RFC 3339 timestamps.
#include "server/json_util.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

namespace strata::server {

namespace {

Status wrong_type(std::string_view key, std::string_view expected, const Json& v) {
  return error("invalid type for field \"{}\": expected {}, got {}", key, expected, json_type_name(v));
}

const Json* field(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string rfc3339(std::chrono::system_clock::time_point t, bool utc) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) frac += 1'000'000'000, --secs;
  std::tm tm{};
  if (utc) gmtime_r(&secs, &tm);
  else localtime_r(&secs, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}", tm.tm_year + 1900, tm.tm_mon + 1,
                                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  if (utc) return out + "Z";
  long off = tm.tm_gmtoff / 60;
  if (off == 0) return out + "Z";
  return out + fmt::format("{}{:02}:{:02}", off < 0 ? '-' : '+', std::labs(off) / 60, std::labs(off) % 60);
}

// The deepest nesting of [ and { outside strings. Checked before parsing: a body of a few MiB of
// '[' would otherwise build millions of nested values before the parser notices it never closes.
size_t nesting_depth(std::string_view text) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace

Result<Json> parse_json_body(std::string_view body) {
  if (nesting_depth(body) > kMaxJsonDepth) return error("invalid JSON: nested deeper than {} levels", kMaxJsonDepth);
  return parse_json_bounded(body);
}

std::string_view json_type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "object";
    case Json::value_t::array: return "array";
    case Json::value_t::string: return "string";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return "number";
    default: return "value";
  }
}

Result<std::optional<std::string>> get_string(const Json& obj, std::string_view key) {
  const Json* v = field(obj, key);
  if (!v) return std::optional<std::string>();
  if (!v->is_string()) return wrong_type(key, "string", *v);
  return std::optional<std::string>(v->get<std::string>());
}

Result<std::optional<bool>> get_bool(const Json& obj, std::string_view key) {
  const Json* v = field(obj, key);
  if (!v) return std::optional<bool>();
  if (!v->is_boolean()) return wrong_type(key, "boolean", *v);
  return std::optional<bool>(v->get<bool>());
}

Result<std::optional<int64_t>> get_int(const Json& obj, std::string_view key) {
  const Json* v = field(obj, key);
  if (!v) return std::optional<int64_t>();
  if (v->is_number_integer()) return std::optional<int64_t>(v->get<int64_t>());
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return error("field \"{}\" is out of range", key);
    return std::optional<int64_t>(static_cast<int64_t>(u));
  }
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (!std::isfinite(d) || std::fabs(d) > 9.0e18) return error("field \"{}\" is out of range", key);
    return std::optional<int64_t>(static_cast<int64_t>(d));  // truncated, as Ollama does for options
  }
  return wrong_type(key, "integer", *v);
}

Result<std::optional<double>> get_number(const Json& obj, std::string_view key) {
  const Json* v = field(obj, key);
  if (!v) return std::optional<double>();
  if (!v->is_number()) return wrong_type(key, "number", *v);
  return std::optional<double>(v->get<double>());
}

Result<std::optional<std::vector<std::string>>> get_string_or_list(const Json& obj, std::string_view key) {
  const Json* v = field(obj, key);
  if (!v) return std::optional<std::vector<std::string>>();
  std::vector<std::string> out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (const auto& item : *v) {
      if (!item.is_string()) return error("invalid type for '{}' field: expected strings, got {}", key, json_type_name(item));
      out.push_back(item.get<std::string>());
    }
  } else {
    return wrong_type(key, "string or array of strings", *v);
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

std::string dump_json(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string rfc3339_utc(std::chrono::system_clock::time_point t) { return rfc3339(t, true); }
std::string rfc3339_local(std::chrono::system_clock::time_point t) { return rfc3339(t, false); }

std::string str_of(const Json& obj, std::string_view key, std::string_view fallback) {
  if (!obj.is_object()) return std::string(fallback);
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

}  // namespace strata::server
