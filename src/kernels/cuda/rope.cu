// kernels/cuda/rope.cu: rotary position embedding in both pair layouts (kernel, then launcher). The angle is
// pos * inv_freq[i] in double (long contexts), inv_freq carrying frequency factors and scaling.
#include <cuda_runtime.h>

#include "core/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launchers.h"

namespace strata::cuda {

namespace {

// grid: (n_head, n_tok); thread i rotates pair i of its head. Token t at toks[t].pos (pos_dev[t] when given),
// or pos0 + t (*pos_dev + t).
__global__ void rope_kernel(float* x, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos_arg,
                            const int64_t* __restrict__ pos_dev, const KvTok* __restrict__ toks,
                            const double* __restrict__ inv_freq, float mscale, bool halves) {
  const int64_t t = blockIdx.y, h = blockIdx.x;
  const int64_t pos = toks ? (pos_dev ? pos_dev[t] : toks[t].pos) : (pos_dev ? *pos_dev : pos_arg) + t;
  float* v = x + (t * n_head + h) * head_dim;
  const int64_t half = n_rot / 2;
  for (int64_t i = threadIdx.x; i < half; i += blockDim.x) {
    double s, c;
    sincos(static_cast<double>(pos) * inv_freq[i], &s, &c);
    const float cf = static_cast<float>(c) * mscale, sf = static_cast<float>(s) * mscale;
    const int64_t a = halves ? i : 2 * i, b = halves ? i + half : 2 * i + 1;
    const float x0 = v[a], x1 = v[b];
    v[a] = x0 * cf - x1 * sf;
    v[b] = x0 * sf + x1 * cf;
  }
}

}  // namespace

void rope(float* x, int64_t n_tok, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos0,
          const double* inv_freq, float mscale, bool halves, cudaStream_t stream, const int64_t* pos_dev,
          const KvTok* toks) {
  STRATA_CHECK(x != nullptr && inv_freq != nullptr && n_rot > 0 && n_rot % 2 == 0 && n_rot <= head_dim);
  STRATA_CHECK(n_head > 0 && n_head <= 65535 && n_tok >= 0 && n_tok <= 65535 && pos0 >= 0);
  if (n_tok == 0) return;
  const int threads = n_rot / 2 < 128 ? static_cast<int>((n_rot / 2 + 31) / 32 * 32) : 128;
  rope_kernel<<<dim3(static_cast<unsigned>(n_head), static_cast<unsigned>(n_tok)), threads, 0, stream>>>(
      x, n_head, head_dim, n_rot, pos0, pos_dev, toks, inv_freq, mscale, halves);
  STRATA_CUDA_CHECK_LAUNCH();
}

}  // namespace strata::cuda
