// kernels/cpu/x86/elementwise_avx2.cc: the small row ops at 8 lanes (AVX2 + FMA, F16C for the rounding).
#include <cmath>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/x86/elementwise_impl.h"

namespace strata::kernels {

namespace {

// The squares summed in double as the portable level does, four lanes by four chains, so that a 2048-wide row
// is not one 2048-long chain of dependent adds.
double sum_squares(const float* x, int64_t n) {
  __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int c = 0; c < 4; ++c) {
      const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * c));
      acc[c] = _mm256_fmadd_pd(v, v, acc[c]);
    }
  const __m256d s = _mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3]));
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, s);
  double ss = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  return ss;
}

void rms_norm_avx2(const float* x, const float* weight, int64_t n, float eps, float* out) {
  const float scale = static_cast<float>(1.0 / std::sqrt(sum_squares(x, n) / static_cast<double>(n) + eps));
  scale_rows_vec<Vec8>(x, weight, n, scale, out);
}

}  // namespace

ElementwiseKernels elementwise_kernels_avx2() {
  return {swiglu_vec<Vec8>, rms_norm_avx2, to_f16_vec<Vec8>, round_f16_vec<Vec8>, axpy_vec<Vec8>};
}

}  // namespace strata::kernels
