// tensor/codecs.h: the scalar dequantize/quantize functions the DType table points at, one pair per type.
#pragma once

#include <cstdint>

namespace strata {

void dequantize_row_f32(const void* src, float* dst, int64_t n);
void quantize_row_f32(const float* src, void* dst, int64_t n);
void dequantize_row_f16(const void* src, float* dst, int64_t n);
void quantize_row_f16(const float* src, void* dst, int64_t n);
void dequantize_row_bf16(const void* src, float* dst, int64_t n);
void quantize_row_bf16(const float* src, void* dst, int64_t n);

}  // namespace strata
