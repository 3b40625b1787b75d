// kernels/cpu/act_quant.cc: the portable activation quantizers and the per-ISA dispatch of quantize_act_row.
#include "kernels/cpu/act_quant.h"

#include <cmath>

#include "core/check.h"
#include "tensor/codecs.h"

namespace strata::kernels {

size_t act_row_bytes(ActFormat format, int64_t k) {
  switch (format) {
    case ActFormat::F32:
      return static_cast<size_t>(k) * sizeof(float);
    case ActFormat::Q8x32:
      return static_cast<size_t>(k / kQK32) * sizeof(ActBlock32);
    case ActFormat::Q8K:
      return static_cast<size_t>(k / kQKK) * sizeof(BlockQ8_K);
  }
  return 0;
}

void quantize_act32_portable(const float* x, ActBlock32* out, int64_t k) {
  for (int64_t ib = 0; ib < k / kQK32; ++ib, x += kQK32) {
    float amax = 0.0f;
    for (int j = 0; j < kQK32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    out[ib].d = amax / 127.0f;
    int32_t sum = 0;
    for (int j = 0; j < kQK32; ++j) {
      // |x * id| <= 127 up to one rounding, which nearbyint cannot carry past 127.
      const auto q = static_cast<int32_t>(std::nearbyint(x[j] * id));
      out[ib].qs[j] = static_cast<int8_t>(q);
      sum += q;
    }
    out[ib].sum = sum;
  }
}

void quantize_act_q8k_portable(const float* x, BlockQ8_K* out, int64_t k) {
  // The tensor layer's Q8_K quantizer is this definition (it is also the Q8_K row of the dtype table).
  quantize_row_q8_k(x, out, k);
}

void quantize_act_row(ActFormat format, CpuIsa isa, const float* x, void* out, int64_t k) {
  STRATA_CHECK(format != ActFormat::F32);
#if defined(__x86_64__)
  if (isa != CpuIsa::Portable) {
    if (format == ActFormat::Q8x32)
      quantize_act32_avx2(x, static_cast<ActBlock32*>(out), k);
    else
      quantize_act_q8k_avx2(x, static_cast<BlockQ8_K*>(out), k);
    return;
  }
#endif
  if (format == ActFormat::Q8x32)
    quantize_act32_portable(x, static_cast<ActBlock32*>(out), k);
  else
    quantize_act_q8k_portable(x, static_cast<BlockQ8_K*>(out), k);
}

}  // namespace strata::kernels
