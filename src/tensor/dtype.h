// tensor/dtype.h: the DType table: one row per weight type (GGUF id, block geometry, name, scalar codecs).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "core/status.h"
#include "gguf/gguf_file.h"
#include "tensor/dtype_id.h"

namespace strata {

// Scalar codecs: the test oracle for every fast kernel. n is a multiple of block_elems.
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);

struct DTypeTraits {
  DType type;
  std::string_view name;
  uint32_t block_elems;
  uint32_t block_bytes;
  DequantizeRowFn dequantize_row;
  QuantizeRowFn quantize_row;  // round-to-nearest; used by `strata synth --type` and tests

  uint64_t row_bytes(int64_t n_elems) const { return static_cast<uint64_t>(n_elems) / block_elems * block_bytes; }
};

// The row for a GGUF type id, or nullptr when strata does not support it.
const DTypeTraits* find_dtype(uint32_t gguf_type_id);
// The row for a supported type. REQUIRES: the type is in the table.
const DTypeTraits& dtype_traits(DType type);
// By name ("Q4_K", case-insensitive); nullptr when unknown.
const DTypeTraits* find_dtype_by_name(std::string_view name);
std::span<const DTypeTraits> all_dtypes();

// Adapts the table for the GGUF parser.
gguf::TypeLookup gguf_type_lookup();

}  // namespace strata
