// bench/cuda_bench_util.h: what the CUDA microbenchmarks share: event timing (median of repeats), random
// device buffers, and the model shapes they time (Llama-3-8B's k/v, q/o, up/gate and down products).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device.h"

namespace strata::cuda {

template <typename F>
inline double bench_median_ms(int reps, int inner, cudaStream_t s, F&& body) {
  Event start(true), stop(true);
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    start.record(s);
    for (int i = 0; i < inner; ++i) body(i);
    stop.record(s);
    stop.synchronize();
    ms.push_back(Event::elapsed_ms(start, stop) / inner);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

inline void fill_bench_random(DeviceBuffer& b, uint64_t seed) {
  std::vector<uint64_t> host(b.size_bytes() / 8 + 1);
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (auto& v : host) {  // splitmix64: never zeros (zeros can time faster than real data)
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    v = z ^ (z >> 31);
  }
  STRATA_CUDA_CHECK(cudaMemcpy(b.data(), host.data(), b.size_bytes(), cudaMemcpyHostToDevice));
}

struct BenchShape {
  const char* name;
  int64_t rows, k;
};
inline constexpr BenchShape kBenchShapes[] = {{"attn_k 1024x4096", 1024, 4096},
                                              {"attn_q 4096x4096", 4096, 4096},
                                              {"ffn_up 14336x4096", 14336, 4096},
                                              {"ffn_down 4096x14336", 4096, 14336}};

// Times the 8-bit-activation mat-vec in each shape it can be launched in (cuda_matvec_variants.cu).
void bench_matvec_variants(double bound_gbs, cudaStream_t s);

}  // namespace strata::cuda
