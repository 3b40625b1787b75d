// tensor/dtype.cc: the DType table itself. Adding a type adds one row here and one codec file.
#include "tensor/dtype.h"

#include <array>
#include <cctype>

#include "core/check.h"
#include "tensor/blocks.h"
#include "tensor/codecs.h"

namespace strata {

namespace {

// clang-format off
const DTypeTraits kTable[] = {
  {DType::F32,  "F32",  1, 4, dequantize_row_f32,  quantize_row_f32},
  {DType::F16,  "F16",  1, 2, dequantize_row_f16,  quantize_row_f16},
  {DType::BF16, "BF16", 1, 2, dequantize_row_bf16, quantize_row_bf16},
  {DType::Q4_0, "Q4_0", kQK32, sizeof(BlockQ4_0), dequantize_row_q4_0, quantize_row_q4_0},
  {DType::Q4_1, "Q4_1", kQK32, sizeof(BlockQ4_1), dequantize_row_q4_1, quantize_row_q4_1},
  {DType::Q5_0, "Q5_0", kQK32, sizeof(BlockQ5_0), dequantize_row_q5_0, quantize_row_q5_0},
  {DType::Q5_1, "Q5_1", kQK32, sizeof(BlockQ5_1), dequantize_row_q5_1, quantize_row_q5_1},
  {DType::Q8_0, "Q8_0", kQK32, sizeof(BlockQ8_0), dequantize_row_q8_0, quantize_row_q8_0},
  {DType::Q2_K, "Q2_K", kQKK, sizeof(BlockQ2_K), dequantize_row_q2_k, quantize_row_q2_k},
  {DType::Q3_K, "Q3_K", kQKK, sizeof(BlockQ3_K), dequantize_row_q3_k, quantize_row_q3_k},
  {DType::Q4_K, "Q4_K", kQKK, sizeof(BlockQ4_K), dequantize_row_q4_k, quantize_row_q4_k},
  {DType::Q5_K, "Q5_K", kQKK, sizeof(BlockQ5_K), dequantize_row_q5_k, quantize_row_q5_k},
  {DType::Q6_K, "Q6_K", kQKK, sizeof(BlockQ6_K), dequantize_row_q6_k, quantize_row_q6_k},
  {DType::Q8_K, "Q8_K", kQKK, sizeof(BlockQ8_K), dequantize_row_q8_k, quantize_row_q8_k},
  {DType::IQ4_NL, "IQ4_NL", kQK32, sizeof(BlockIQ4_NL), dequantize_row_iq4_nl, quantize_row_iq4_nl},
  {DType::IQ4_XS, "IQ4_XS", kQKK, sizeof(BlockIQ4_XS), dequantize_row_iq4_xs, quantize_row_iq4_xs},
  {DType::MXFP4, "MXFP4", kQK32, sizeof(BlockMXFP4), dequantize_row_mxfp4, quantize_row_mxfp4},
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
