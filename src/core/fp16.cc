// core/fp16.cc: half-precision conversion and its 64K-entry lookup table.
#include "core/fp16.h"

#include <cmath>
#include <vector>

namespace strata {

float fp16_to_f32_slow(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  if (exp == 0) {
    // zero or subnormal: mant * 2^-24
    float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return bits_to_f32(sign | 0x7f800000 | (mant << 13));
  return bits_to_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t f32_to_fp16(float f) {
  uint32_t x = f32_to_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  x &= 0x7fffffff;
  if (x > 0x7f800000) return static_cast<uint16_t>(sign | 0x7e00);  // NaN
  if (x >= 0x477ff000) return static_cast<uint16_t>(sign | 0x7c00);  // overflow → inf (incl. rounding up)
  if (x < 0x38800000) {
    // Subnormal half (or zero): round x * 2^24 to nearest even integer.
    float v = bits_to_f32(x) * 16777216.0f;  // exact scaling
    float r = std::nearbyint(v);              // default rounding mode is to-nearest-even
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(r));
  }
  // Normal: rebias exponent, round mantissa from 23 to 10 bits, nearest even.
  uint32_t m = x + 0xfff + ((x >> 13) & 1);
  return static_cast<uint16_t>(sign | ((m - 0x38000000) >> 13));
}

namespace {
const float* build_table() {
  static std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t i = 0; i < 65536; ++i) t[i] = fp16_to_f32_slow(static_cast<uint16_t>(i));
    return t;
  }();
  return table.data();
}
}  // namespace

const float* const kFp16Table = build_table();

}  // namespace strata
