// tests/gguf/gguf_test_util.h: GGUF test fixtures: a tiny type table, a reference encoder independent of
// gguf::Writer that records where every count/length/offset field sits, value comparison, seed files.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/gguf_file.h"
#include "gguf/value.h"
#include "gguf/writer.h"

namespace strata::gguf::test {

// tests/gguf links strata_gguf only, so it carries the three type layouts it needs (ids are ggml's).
constexpr uint32_t kF32 = 0, kF16 = 1, kQ8_0 = 8;

inline TypeLookup test_types() {
  return [](uint32_t id) -> std::optional<TypeLayout> {
    switch (id) {
      case kF32: return TypeLayout{1, 4, "F32"};
      case kF16: return TypeLayout{1, 2, "F16"};
      case kQ8_0: return TypeLayout{32, 34, "Q8_0"};
      default: return std::nullopt;
    }
  };
}

inline uint64_t tensor_bytes(const std::vector<int64_t>& dims, uint32_t type_id) {
  auto layout = *test_types()(type_id);
  uint64_t n = 1;
  for (int64_t d : dims) n *= static_cast<uint64_t>(d);
  return n / layout.block_elems * layout.block_bytes;
}

inline uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

struct TensorSpec {
  std::string name;
  std::vector<int64_t> dims;
  uint32_t type_id = kF32;
  std::vector<uint8_t> data;  // exactly tensor_bytes(dims, type_id)
};

// The content of a file, encoded twice: by gguf::Writer and by encode_reference(); the bytes must agree.
struct FileSpec {
  uint64_t alignment = kDefaultAlignment;  // metadata must carry general.alignment when this is not 32
  std::vector<std::pair<std::string, Value>> metadata;
  std::vector<TensorSpec> tensors;
};

// A tensor whose bytes are a recognisable pattern (so tests can find them at file_offset).
inline TensorSpec make_tensor(std::string name, std::vector<int64_t> dims, uint32_t type_id, uint8_t salt) {
  TensorSpec t{std::move(name), std::move(dims), type_id, {}};
  t.data.resize(tensor_bytes(t.dims, type_id));
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = static_cast<uint8_t>(i * 31 + salt);
  return t;
}

inline Writer make_writer(const FileSpec& spec) {
  Writer w(spec.alignment);
  for (const auto& [k, v] : spec.metadata) w.set(k, v);
  for (const auto& t : spec.tensors) w.add_tensor_bytes(t.name, t.dims, t.type_id, t.data);
  return w;
}

// Little-endian byte assembly for hand-made (often malformed) files. Remembers where each u32/u64 went so
// the mutation tests can aim at real fields.
class RawGguf {
 public:
  RawGguf& u8(uint8_t v) { return put(v); }
  RawGguf& u32(uint32_t v) { u32_fields.push_back(bytes.size()); return put(v); }
  RawGguf& u64(uint64_t v) { u64_fields.push_back(bytes.size()); return put(v); }
  template <typename T>
  RawGguf& put(T v) {
    size_t at = bytes.size();
    bytes.resize(at + sizeof(T));
    std::memcpy(bytes.data() + at, &v, sizeof(T));
    return *this;
  }
  RawGguf& raw(std::string_view s) {
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  RawGguf& str(std::string_view s) { return u64(s.size()).raw(s); }
  RawGguf& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    return u32(kMagic).u32(version).u64(n_tensors).u64(n_kv);
  }
  // A key with a u32 value (the most common shape in hand-made files).
  RawGguf& kv_u32(std::string_view key, uint32_t v) { return str(key).u32(4).u32(v); }
  RawGguf& tensor_info(std::string_view name, const std::vector<uint64_t>& dims, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) u64(d);
    return u32(type).u64(offset);
  }
  RawGguf& pad_to(uint64_t alignment) {
    bytes.resize(align_up(bytes.size(), alignment), 0);
    return *this;
  }
  RawGguf& zeros(size_t n) {
    bytes.resize(bytes.size() + n, 0);
    return *this;
  }

  // The value's payload, as GGUF stores it after the type tag.
  RawGguf& value(const Value& v) {
    switch (v.type()) {
      case ValueType::UINT8: return put<uint8_t>(static_cast<uint8_t>(*v.as_uint()));
      case ValueType::INT8: return put<int8_t>(static_cast<int8_t>(*v.as_int()));
      case ValueType::UINT16: return put<uint16_t>(static_cast<uint16_t>(*v.as_uint()));
      case ValueType::INT16: return put<int16_t>(static_cast<int16_t>(*v.as_int()));
      case ValueType::UINT32: return u32(static_cast<uint32_t>(*v.as_uint()));
      case ValueType::INT32: return put<int32_t>(static_cast<int32_t>(*v.as_int()));
      case ValueType::UINT64: return u64(*v.as_uint());
      case ValueType::INT64: return put<int64_t>(*v.as_int());
      case ValueType::FLOAT32: return put<float>(static_cast<float>(*v.as_number()));
      case ValueType::FLOAT64: return put<double>(*v.as_number());
      case ValueType::BOOL: return put<uint8_t>(*v.as_bool() ? 1 : 0);
      case ValueType::STRING: return str(*v.as_string());
      case ValueType::ARRAY: {
        const Array* a = v.as_array();
        u32(static_cast<uint32_t>(a->elem_type)).u64(a->items.size());
        for (const Value& item : a->items) value(item);
        return *this;
      }
    }
    return *this;
  }

  std::vector<uint8_t> bytes;
  std::vector<size_t> u32_fields, u64_fields;
};

// The GGUF v3 encoding of a spec, written from the format description rather than from the writer's code.
inline RawGguf encode_reference(const FileSpec& spec) {
  RawGguf r;
  r.header(3, spec.tensors.size(), spec.metadata.size());
  for (const auto& [k, v] : spec.metadata) r.str(k).u32(static_cast<uint32_t>(v.type())).value(v);
  uint64_t offset = 0;
  for (const auto& t : spec.tensors) {
    std::vector<uint64_t> dims(t.dims.begin(), t.dims.end());
    r.tensor_info(t.name, dims, t.type_id, offset);
    offset = align_up(offset + t.data.size(), spec.alignment);
  }
  r.pad_to(spec.alignment);
  const size_t data_start = r.bytes.size();
  offset = 0;
  for (const auto& t : spec.tensors) {
    r.bytes.resize(data_start + offset, 0);
    r.bytes.insert(r.bytes.end(), t.data.begin(), t.data.end());
    offset = align_up(offset + t.data.size(), spec.alignment);
  }
  return r;
}

// Deep equality of two values: same tag, same payload (floats bit for bit, so NaN equals itself).
inline ::testing::AssertionResult same_value(const Value& a, const Value& b, const std::string& where = "value") {
  if (a.type() != b.type())
    return ::testing::AssertionFailure() << where << ": type " << value_type_name(a.type()) << " vs "
                                         << value_type_name(b.type());
  switch (a.type()) {
    case ValueType::FLOAT32:
    case ValueType::FLOAT64: {
      double x = *a.as_number(), y = *b.as_number();
      if (std::memcmp(&x, &y, sizeof x) != 0)
        return ::testing::AssertionFailure() << where << ": " << x << " vs " << y;
      break;
    }
    case ValueType::ARRAY: {
      const Array *x = a.as_array(), *y = b.as_array();
      if (x->elem_type != y->elem_type || x->items.size() != y->items.size())
        return ::testing::AssertionFailure() << where << ": array " << a.to_display() << " vs " << b.to_display();
      for (size_t i = 0; i < x->items.size(); ++i) {
        auto r = same_value(x->items[i], y->items[i], where + "[" + std::to_string(i) + "]");
        if (!r) return r;
      }
      break;
    }
    case ValueType::STRING:
      if (*a.as_string() != *b.as_string())
        return ::testing::AssertionFailure() << where << ": " << a.to_display() << " vs " << b.to_display();
      break;
    case ValueType::BOOL:
      if (*a.as_bool() != *b.as_bool()) return ::testing::AssertionFailure() << where << ": bool differs";
      break;
    default:  // integers: as_uint covers u64, as_int covers negatives
      if (a.as_uint() != b.as_uint() || a.as_int() != b.as_int())
        return ::testing::AssertionFailure() << where << ": " << a.to_display() << " vs " << b.to_display();
  }
  return ::testing::AssertionSuccess();
}

inline Value array_of(ValueType elem, std::vector<Value> items) { return Value::array({elem, std::move(items)}); }

// Metadata with every value type, including edge values, empty and nested arrays.
inline std::vector<std::pair<std::string, Value>> every_type_metadata() {
  using VT = ValueType;
  std::vector<std::pair<std::string, Value>> m = {
      {"t.u8", Value::u64(VT::UINT8, 255)},
      {"t.i8", Value::i64(VT::INT8, -128)},
      {"t.u16", Value::u64(VT::UINT16, 65535)},
      {"t.i16", Value::i64(VT::INT16, -32768)},
      {"t.u32", Value::u64(VT::UINT32, 0xFFFFFFFFu)},
      {"t.i32", Value::i64(VT::INT32, INT32_MIN)},
      {"t.u64", Value::u64(VT::UINT64, UINT64_MAX)},
      {"t.i64", Value::i64(VT::INT64, INT64_MIN)},
      {"t.f32", Value::f64(VT::FLOAT32, -1.5)},
      {"t.f64", Value::f64(VT::FLOAT64, 3.141592653589793)},
      {"t.bool_true", Value::boolean(true)},
      {"t.bool_false", Value::boolean(false)},
      {"t.string", Value::string("h\xC3\xA9llo\n\"w\"")},
      {"t.empty_string", Value::string("")},
      {"t.nul_string", Value::string(std::string("a\0b", 3))},
      {"t.arr_u8", array_of(VT::UINT8, {Value::u64(VT::UINT8, 0), Value::u64(VT::UINT8, 200)})},
      {"t.arr_i8", array_of(VT::INT8, {Value::i64(VT::INT8, -1), Value::i64(VT::INT8, 127)})},
      {"t.arr_u16", array_of(VT::UINT16, {Value::u64(VT::UINT16, 1), Value::u64(VT::UINT16, 65535)})},
      {"t.arr_i16", array_of(VT::INT16, {Value::i64(VT::INT16, -300)})},
      {"t.arr_u32", array_of(VT::UINT32, {Value::u64(VT::UINT32, 7), Value::u64(VT::UINT32, 1u << 31)})},
      {"t.arr_i32", array_of(VT::INT32, {Value::i64(VT::INT32, -7), Value::i64(VT::INT32, INT32_MAX)})},
      {"t.arr_u64", array_of(VT::UINT64, {Value::u64(VT::UINT64, uint64_t{1} << 63)})},
      {"t.arr_i64", array_of(VT::INT64, {Value::i64(VT::INT64, -5), Value::i64(VT::INT64, INT64_MAX)})},
      {"t.arr_f32", array_of(VT::FLOAT32, {Value::f64(VT::FLOAT32, 0.25), Value::f64(VT::FLOAT32, -0x1p100)})},
      {"t.arr_f64", array_of(VT::FLOAT64, {Value::f64(VT::FLOAT64, 1e-300)})},
      {"t.arr_bool", array_of(VT::BOOL, {Value::boolean(true), Value::boolean(false), Value::boolean(true)})},
      {"t.arr_string", array_of(VT::STRING, {Value::string("<s>"), Value::string(""), Value::string("\xE2\x96\x81the")})},
      {"t.arr_empty", array_of(VT::UINT32, {})},
  };
  Value inner_a = array_of(VT::INT32, {Value::i64(VT::INT32, 1), Value::i64(VT::INT32, 2)});
  Value inner_b = array_of(VT::INT32, {});
  m.emplace_back("t.arr_arr", array_of(VT::ARRAY, {inner_a, inner_b}));
  Value strings = array_of(VT::STRING, {Value::string("x"), Value::string("yz")});
  m.emplace_back("t.arr_arr_arr", array_of(VT::ARRAY, {array_of(VT::ARRAY, {strings, strings}), array_of(VT::ARRAY, {})}));
  return m;
}

}  // namespace strata::gguf::test
