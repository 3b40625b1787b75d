// gguf/value.cc: metadata value accessors and display.
#include "gguf/value.h"

#include <fmt/format.h>

namespace strata::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "u8";
    case ValueType::INT8: return "i8";
    case ValueType::UINT16: return "u16";
    case ValueType::INT16: return "i16";
    case ValueType::UINT32: return "u32";
    case ValueType::INT32: return "i32";
    case ValueType::FLOAT32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "u64";
    case ValueType::INT64: return "i64";
    case ValueType::FLOAT64: return "f64";
  }
  return "?";
}

bool is_valid_value_type(uint32_t t) { return t <= 12; }

std::optional<int64_t> Value::as_int() const {
  if (auto p = std::get_if<uint64_t>(&data_)) {
    if (*p > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(*p);
  }
  if (auto p = std::get_if<int64_t>(&data_)) return *p;
  return std::nullopt;
}

std::optional<uint64_t> Value::as_uint() const {
  if (auto p = std::get_if<uint64_t>(&data_)) return *p;
  if (auto p = std::get_if<int64_t>(&data_)) {
    if (*p < 0) return std::nullopt;
    return static_cast<uint64_t>(*p);
  }
  return std::nullopt;
}

std::optional<double> Value::as_number() const {
  if (auto p = std::get_if<uint64_t>(&data_)) return static_cast<double>(*p);
  if (auto p = std::get_if<int64_t>(&data_)) return static_cast<double>(*p);
  if (auto p = std::get_if<double>(&data_)) return *p;
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
  if (auto p = std::get_if<bool>(&data_)) return *p;
  return std::nullopt;
}

std::string Value::to_display(size_t max_items) const {
  if (auto p = std::get_if<uint64_t>(&data_)) return fmt::format("{}", *p);
  if (auto p = std::get_if<int64_t>(&data_)) return fmt::format("{}", *p);
  if (auto p = std::get_if<double>(&data_)) return fmt::format("{}", *p);
  if (auto p = std::get_if<bool>(&data_)) return *p ? "true" : "false";
  if (auto p = std::get_if<std::string>(&data_)) {
    std::string s = *p;
    if (s.size() > 80) s = s.substr(0, 77) + "...";
    std::string out = "\"";
    for (char c : s) {
      if (c == '\n') out += "\\n";
      else if (c == '"') out += "\\\"";
      else out += c;
    }
    return out + "\"";
  }
  const Array* a = as_array();
  std::string out = fmt::format("[{} x {}: ", a->items.size(), value_type_name(a->elem_type));
  for (size_t i = 0; i < a->items.size() && i < max_items; ++i) {
    if (i) out += ", ";
    out += a->items[i].to_display(2);
  }
  if (a->items.size() > max_items) out += ", ...";
  return out + "]";
}

}  // namespace strata::gguf
