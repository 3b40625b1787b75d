// core/fp16.h: IEEE half and bfloat16 conversions (bit-exact, round-to-nearest-even).
#pragma once

#include <cstdint>
#include <cstring>

namespace strata {

inline float bits_to_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t f32_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float fp16_to_f32_slow(uint16_t h);
uint16_t f32_to_fp16(float f);

// Table-driven half→float: the hot path of F16 dequantization on machines without F16C.
extern const float* const kFp16Table;
inline float fp16_to_f32(uint16_t h) { return kFp16Table[h]; }

inline float bf16_to_f32(uint16_t b) { return bits_to_f32(static_cast<uint32_t>(b) << 16); }
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_to_bits(f);
  if ((u & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

}  // namespace strata
