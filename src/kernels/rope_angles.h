// kernels/rope_angles.h: the rotation angle of each RoPE pair under every scaling scheme, in double: shared by
// the CPU kernel and the reference twin, and the formula a device backend reproduces.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>

#include "kernels/backend.h"

namespace strata::kernels {

struct RopeAngle {
  double theta;
  double mscale;  // magnitude applied to cos and sin (YaRN's attention factor; 1 otherwise)
};

// Pair i (0 <= i < n_rot / 2) at position pos; ff: the pair's frequency factor (1 when the model has none).
inline RopeAngle rope_angle(const RopeParams& p, int64_t pos, int64_t i, double ff) {
  const double inv_freq = std::pow(static_cast<double>(p.freq_base), -2.0 * i / p.n_rot);
  double theta = static_cast<double>(pos) * inv_freq;
  if (ff != 1.0) theta /= ff;
  switch (p.scaling) {
    case RopeScaling::None: return {theta, 1.0};
    case RopeScaling::Linear: return {theta / p.factor, 1.0};
    case RopeScaling::Llama3: {
      // Long wavelengths are divided by the factor, short ones kept, the band between blended.
      const double wavelen = 2.0 * std::numbers::pi / (inv_freq / ff);
      const double orig = static_cast<double>(p.n_ctx_orig);
      const double low_wavelen = orig / p.llama3_low_freq_factor, high_wavelen = orig / p.llama3_high_freq_factor;
      if (wavelen < high_wavelen) return {theta, 1.0};
      if (wavelen > low_wavelen) return {theta / p.factor, 1.0};
      const double smooth =
          (orig / wavelen - p.llama3_low_freq_factor) / (p.llama3_high_freq_factor - p.llama3_low_freq_factor);
      return {(1.0 - smooth) * theta / p.factor + smooth * theta, 1.0};
    }
    case RopeScaling::Yarn: {
      // Dimensions whose wavelength fits the original context many times extrapolate, the rest interpolate
      // (theta / factor), with a linear ramp between the beta_fast and beta_slow rotation counts.
      auto corr_dim = [&](double n_rot_count) {
        return p.n_rot * std::log(static_cast<double>(p.n_ctx_orig) / (n_rot_count * 2.0 * std::numbers::pi)) /
               (2.0 * std::log(static_cast<double>(p.freq_base)));
      };
      const double lo = std::max(0.0, std::floor(corr_dim(p.yarn_beta_fast)));
      const double hi = std::min(static_cast<double>(p.n_rot - 1), std::ceil(corr_dim(p.yarn_beta_slow)));
      const double y = (static_cast<double>(i) - lo) / std::max(0.001, hi - lo);
      const double mix = (1.0 - std::clamp(y, 0.0, 1.0)) * p.yarn_ext_factor;
      const double interp = theta / p.factor;
      double mscale = p.yarn_attn_factor;
      if (p.yarn_ext_factor != 0.0f) mscale *= 1.0 + 0.1 * std::log(p.factor);
      return {interp * (1.0 - mix) + theta * mix, mscale};
    }
  }
  return {theta, 1.0};
}

}  // namespace strata::kernels
