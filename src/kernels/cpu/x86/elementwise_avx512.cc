// kernels/cpu/x86/elementwise_avx512.cc: the small row ops at 16 lanes (AVX-512 F).
#include <cmath>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/x86/elementwise_impl.h"

namespace strata::kernels {

namespace {

// The squares summed in double as the portable level does, eight lanes by four chains.
double sum_squares(const float* x, int64_t n) {
  __m512d acc[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int c = 0; c < 4; ++c) {
      const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8 * c));
      acc[c] = _mm512_fmadd_pd(v, v, acc[c]);
    }
  double ss = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(acc[0], acc[1]), _mm512_add_pd(acc[2], acc[3])));
  for (; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  return ss;
}

void rms_norm_avx512(const float* x, const float* weight, int64_t n, float eps, float* out) {
  const float scale = static_cast<float>(1.0 / std::sqrt(sum_squares(x, n) / static_cast<double>(n) + eps));
  scale_rows_vec<Vec16>(x, weight, n, scale, out);
}

}  // namespace

ElementwiseKernels elementwise_kernels_avx512() {
  return {swiglu_vec<Vec16>, rms_norm_avx512, to_f16_vec<Vec16>, round_f16_vec<Vec16>, axpy_vec<Vec16>};
}

}  // namespace strata::kernels
