// tensor/dtype.cc: the DType table itself. Adding a type adds one row here and one codec file.
#include "tensor/dtype.h"

#include <array>
#include <cctype>

#include "core/check.h"
#include "tensor/codecs.h"

namespace strata {

namespace {

// clang-format off
const DTypeTraits kTable[] = {
  {DType::F32,  "F32",  1, 4, dequantize_row_f32,  quantize_row_f32},
  {DType::F16,  "F16",  1, 2, dequantize_row_f16,  quantize_row_f16},
  {DType::BF16, "BF16", 1, 2, dequantize_row_bf16, quantize_row_bf16},
};
// clang-format on

}  // namespace

std::span<const DTypeTraits> all_dtypes() { return kTable; }

const DTypeTraits* find_dtype(uint32_t id) {
  for (const auto& t : kTable)
    if (static_cast<uint32_t>(t.type) == id) return &t;
  return nullptr;
}

const DTypeTraits& dtype_traits(DType type) {
  const DTypeTraits* t = find_dtype(static_cast<uint32_t>(type));
  STRATA_CHECK_MSG(t != nullptr, "dtype not in table");
  return *t;
}

const DTypeTraits* find_dtype_by_name(std::string_view name) {
  for (const auto& t : kTable) {
    if (t.name.size() != name.size()) continue;
    bool eq = true;
    for (size_t i = 0; i < name.size(); ++i)
      if (std::toupper(static_cast<unsigned char>(name[i])) != t.name[i]) eq = false;
    if (eq) return &t;
  }
  return nullptr;
}

gguf::TypeLookup gguf_type_lookup() {
  return [](uint32_t id) -> std::optional<gguf::TypeLayout> {
    const DTypeTraits* t = find_dtype(id);
    if (!t) return std::nullopt;
    return gguf::TypeLayout{t->block_elems, t->block_bytes, t->name};
  };
}

}  // namespace strata
