// gguf/value.h: one GGUF metadata value (scalar, string, or possibly nested array) and its type tags.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace strata::gguf {

// Type tags exactly as stored in the file.
enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
std::string_view value_type_name(ValueType t);
bool is_valid_value_type(uint32_t t);

class Value;
struct Array {
  ValueType elem_type = ValueType::UINT8;
  std::vector<Value> items;
  // Elements the file holds but a parse with ParseLimits::max_kept_array_items only counted (items is
  // then empty): readers that need the contents parse without that limit.
  uint64_t n_skipped = 0;
  uint64_t size() const { return items.size() + n_skipped; }
};

class Value {
 public:
  Value() = default;
  static Value u64(ValueType t, uint64_t v) { Value x; x.type_ = t; x.data_ = v; return x; }
  static Value i64(ValueType t, int64_t v) { Value x; x.type_ = t; x.data_ = v; return x; }
  static Value f64(ValueType t, double v) { Value x; x.type_ = t; x.data_ = v; return x; }
  static Value boolean(bool v) { Value x; x.type_ = ValueType::BOOL; x.data_ = v; return x; }
  static Value string(std::string v) { Value x; x.type_ = ValueType::STRING; x.data_ = std::move(v); return x; }
  static Value array(Array a) {
    Value x; x.type_ = ValueType::ARRAY; x.data_ = std::make_shared<const Array>(std::move(a)); return x;
  }
  // Convenience constructors for writers.
  static Value of_u32(uint32_t v) { return u64(ValueType::UINT32, v); }
  static Value of_i32(int32_t v) { return i64(ValueType::INT32, v); }
  static Value of_f32(float v) { return f64(ValueType::FLOAT32, v); }
  static Value of_string(std::string v) { return string(std::move(v)); }

  ValueType type() const { return type_; }
  bool is_integer() const { return std::holds_alternative<uint64_t>(data_) || std::holds_alternative<int64_t>(data_); }
  bool is_float() const { return std::holds_alternative<double>(data_); }
  bool is_string() const { return type_ == ValueType::STRING; }
  bool is_array() const { return type_ == ValueType::ARRAY; }

  // Integer value as int64 if it is any integer type that fits.
  std::optional<int64_t> as_int() const;
  // Integer value as uint64 if it is any integer type and not negative (covers all of u64).
  std::optional<uint64_t> as_uint() const;
  // Any numeric value (integers widen) as double.
  std::optional<double> as_number() const;
  std::optional<bool> as_bool() const;
  const std::string* as_string() const { return std::get_if<std::string>(&data_); }
  const Array* as_array() const {
    auto p = std::get_if<std::shared_ptr<const Array>>(&data_);
    return p ? p->get() : nullptr;
  }

  // A short human rendering (arrays summarised) for `strata inspect`.
  std::string to_display(size_t max_items = 8) const;

 private:
  ValueType type_ = ValueType::UINT8;
  std::variant<uint64_t, int64_t, double, bool, std::string, std::shared_ptr<const Array>> data_ = uint64_t{0};
};

}  // namespace strata::gguf
