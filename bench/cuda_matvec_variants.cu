// bench/cuda_matvec_variants.cu: the 8-bit-activation mat-vec in each (rows a warp, chunks a lane in flight)
// shape, timed on real model shapes with weights rotated past L2, so the launcher's choice is measured.
// Each variant's output is compared with the launcher's choice (a wrong variant shows as a large difference).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "bench/cuda_bench_util.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/matvec_q8.cuh"
#include "kernels/cuda/quant_decode_k.cuh"

namespace strata::cuda {
namespace {

using Launch = void (*)(const void*, int64_t, int64_t, const void*, const float*, float*, cudaStream_t);

struct Variant {
  const char* name;
  Launch fn;
};
template <typename D>
constexpr Variant kVariants[] = {
    {"launcher's choice", &launch_matvec_q8_one<D>},          {"R2 U1", &launch_matvec_q8_shape<D, 1, 2, 1>},
    {"R1 U1", &launch_matvec_q8_shape<D, 1, 1, 1>},
    {"R1 U2", &launch_matvec_q8_shape<D, 1, 1, 2>},           {"R2 U2", &launch_matvec_q8_shape<D, 1, 2, 2>},
    {"R4 U1", &launch_matvec_q8_shape<D, 1, 4, 1>},           {"R1 U4", &launch_matvec_q8_shape<D, 1, 1, 4>},
    {"R2 U4", &launch_matvec_q8_shape<D, 1, 2, 4>},           {"staged R1 U4", &launch_matvec_q8_staged<D, 1, 1, 4>},
    {"staged R2 U2", &launch_matvec_q8_staged<D, 1, 2, 2>},   {"staged R2 U4", &launch_matvec_q8_staged<D, 1, 2, 4>},
    {"staged R4 U1", &launch_matvec_q8_staged<D, 1, 4, 1>},   {"staged R4 U2", &launch_matvec_q8_staged<D, 1, 4, 2>},
    // the batch kernel (integer tensor cores, 16 rows a block) at one token: W warps splitting the chunks
    {"mma W8 U2", &launch_matvec_q8_mma<D, 1, 8, 2>},         {"mma W4 U2", &launch_matvec_q8_mma<D, 1, 4, 2>},
    {"mma W4 U4", &launch_matvec_q8_mma<D, 1, 4, 4>},         {"mma W16 U1", &launch_matvec_q8_mma<D, 1, 16, 1>},
};

// Eight tokens (a batched decode step): the launcher's choice against wider row groups, which load each
// token's x chunk once for more rows.
template <typename D>
void launch_q8_eight(const void* w, int64_t k, int64_t rows, const void* xq8, const float* bias, float* y,
                     cudaStream_t s) {
  launch_matvec_q8<D>(w, k, rows, xq8, 8, bias, y, s);
}
template <typename D>
constexpr Variant kVariants8[] = {
    {"8 tok launcher", &launch_q8_eight<D>},                  {"8 tok R2 U1", &launch_matvec_q8_shape<D, 8, 2, 1>},
    {"8 tok R1 U1", &launch_matvec_q8_shape<D, 8, 1, 1>},     {"8 tok R4 U1", &launch_matvec_q8_shape<D, 8, 4, 1>},
    {"8 tok R4 U2", &launch_matvec_q8_shape<D, 8, 4, 2>},     {"8 tok R8 U1", &launch_matvec_q8_shape<D, 8, 8, 1>},
    {"8 tok st R2 U2", &launch_matvec_q8_staged<D, 8, 2, 2>}, {"8 tok st R4 U1", &launch_matvec_q8_staged<D, 8, 4, 1>},
    {"8 tok st R4 U2", &launch_matvec_q8_staged<D, 8, 4, 2>}, {"8 tok st R8 U1", &launch_matvec_q8_staged<D, 8, 8, 1>},
};

template <typename D, int kTok, const auto& variants>
void run_type(const char* type_name, double bound_gbs, cudaStream_t s) {
  for (const BenchShape& sh : kBenchShapes) {
    const size_t wbytes = static_cast<size_t>(sh.k / D::kBlockElems * D::kBlockBytes) * sh.rows;
    const int copies = static_cast<int>(std::max<size_t>(3, (size_t{512} << 20) / wbytes + 1));
    std::vector<DeviceBuffer> w;
    for (int c = 0; c < copies; ++c) {
      w.emplace_back(wbytes);
      fill_bench_random(w.back(), 7 + c);
    }
    DeviceBuffer x(sh.k * 4 * kTok), y(sh.rows * 4 * kTok);
    std::vector<float> xs(static_cast<size_t>(sh.k * kTok));
    for (size_t i = 0; i < xs.size(); ++i) xs[i] = std::sin(0.37f * static_cast<float>(i));  // finite x
    STRATA_CUDA_CHECK(cudaMemcpy(x.data(), xs.data(), xs.size() * 4, cudaMemcpyHostToDevice));
    DeviceBuffer xq(static_cast<uint64_t>(q8_workspace_bytes(sh.k, kTok)));
    quantize_q8(x.as<float>(), kTok, sh.k, xq.data(), s);
    std::vector<float> ref(static_cast<size_t>(sh.rows * kTok)), got(ref.size());
    for (const auto& v : variants) {
      auto body = [&](int i) { v.fn(w[i % copies].data(), sh.k, sh.rows, xq.data(), nullptr, y.as<float>(), s); };
      bench_median_ms(1, copies, s, body);
      const double ms = bench_median_ms(15, copies * 4, s, body);
      v.fn(w[0].data(), sh.k, sh.rows, xq.data(), nullptr, y.as<float>(), s);
      STRATA_CUDA_CHECK(cudaStreamSynchronize(s));
      STRATA_CUDA_CHECK(cudaMemcpy(got.data(), y.data(), got.size() * 4, cudaMemcpyDeviceToHost));
      if (&v == &variants[0]) ref = got;
      double num = 0, den = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        if (!std::isfinite(ref[i]) || !std::isfinite(got[i])) continue;  // random scale bits: Inf rows
        num += (got[i] - ref[i]) * double(got[i] - ref[i]), den += double(ref[i]) * ref[i];
      }
      const double gbs = wbytes / (ms * 1e-3) / 1e9;
      std::printf("variant %-6s %-20s %-16s %8.1f us %8.1f GB/s %5.1f%%  diff %.1e\n", type_name, sh.name, v.name,
                  ms * 1e3, gbs, 100.0 * gbs / bound_gbs, den > 0 ? std::sqrt(num / den) : 0.0);
    }
  }
}

}  // namespace

void bench_matvec_variants(double bound_gbs, cudaStream_t s) {
  run_type<DecodeQ4_K, 1, kVariants<DecodeQ4_K>>("Q4_K", bound_gbs, s);
  run_type<DecodeQ6_K, 1, kVariants<DecodeQ6_K>>("Q6_K", bound_gbs, s);
  run_type<DecodeQ8_0, 1, kVariants<DecodeQ8_0>>("Q8_0", bound_gbs, s);
  run_type<DecodeQ4_K, 8, kVariants8<DecodeQ4_K>>("Q4_K", bound_gbs, s);
  run_type<DecodeQ6_K, 8, kVariants8<DecodeQ6_K>>("Q6_K", bound_gbs, s);
}

}  // namespace strata::cuda
