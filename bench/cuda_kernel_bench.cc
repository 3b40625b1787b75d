// bench/cuda_kernel_bench.cc: the CUDA kernel microbenchmark (calm's accounting): each weight type's decode
// mat-vec as bytes moved / time against the device's measured copy bandwidth, and the prompt GEMM's TFLOP/s
// and its error against the mat-vec path. Timed with events, warmed up, weights rotated through copies
// larger than L2 together, median of repeats. Prints one table; exits 0 with a note when no GPU is present.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/cuda_bench_util.h"
#include "kernels/cuda/cublas_gemm.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/launchers.h"
#include "tensor/dtype.h"

namespace strata::cuda {
namespace {

// Float weights from random bits would hold NaN and Inf: clear each element's top exponent bit (|x| < 2).
void fill_weights(DeviceBuffer& b, DType type, uint64_t seed) {
  fill_bench_random(b, seed);
  uint64_t mask = 0;
  if (type == DType::F32) mask = 0x4000000040000000ull;
  if (type == DType::F16) mask = 0x4000400040004000ull;
  if (type == DType::BF16) mask = 0x4000400040004000ull;
  if (mask == 0) return;
  std::vector<uint64_t> host(b.size_bytes() / 8);
  STRATA_CUDA_CHECK(cudaMemcpy(host.data(), b.data(), host.size() * 8, cudaMemcpyDeviceToHost));
  for (auto& v : host) v &= ~mask;
  STRATA_CUDA_CHECK(cudaMemcpy(b.data(), host.data(), host.size() * 8, cudaMemcpyHostToDevice));
}

double copy_bandwidth_gbs(cudaStream_t s) {
  const size_t bytes = size_t{1} << 30;
  DeviceBuffer a(bytes), b(bytes);
  fill_bench_random(a, 1);
  const double ms = bench_median_ms(9, 5, s, [&](int) {
    STRATA_CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, s));
  });
  return 2.0 * bytes / (ms * 1e-3) / 1e9;  // read + write
}

// q8: through 8-bit activations (quantize_q8 then matvec_q8, both timed: the backend quantizes each input once).
// tc: the same on the integer tensor cores.
void bench_matvec(DType type, double bound_gbs, cudaStream_t s, int64_t n_tok, bool q8 = false, bool tc = false) {
  const auto& t = dtype_traits(type);
  for (const BenchShape& sh : kBenchShapes) {
    const size_t wbytes = t.row_bytes(sh.k) * sh.rows;
    const int copies = static_cast<int>(std::max<size_t>(3, (size_t{512} << 20) / wbytes + 1));
    std::vector<DeviceBuffer> w;
    for (int c = 0; c < copies; ++c) {
      w.emplace_back(wbytes);
      fill_weights(w.back(), type, 7 + c);
    }
    DeviceBuffer x(n_tok * sh.k * 4), y(n_tok * sh.rows * 4);
    fill_weights(x, DType::F32, 3);
    DeviceBuffer xq(static_cast<uint64_t>(q8_workspace_bytes(sh.k, n_tok)));
    auto body = [&](int i) {
      if (q8) {
        quantize_q8(x.as<float>(), n_tok, sh.k, xq.data(), s);
        matvec_q8(type, w[i % copies].data(), sh.k, sh.rows, xq.data(), n_tok, nullptr, y.as<float>(), s,
                  tc ? Q8Kernel::TensorCores : Q8Kernel::Dp4a);
      } else {
        matvec(type, w[i % copies].data(), sh.k, sh.rows, x.as<float>(), n_tok, nullptr, y.as<float>(), s);
      }
    };
    bench_median_ms(1, copies, s, body);  // warm-up
    const double ms = bench_median_ms(15, copies * 4, s, body);
    const double bytes = static_cast<double>(wbytes) + 4.0 * n_tok * (sh.k + sh.rows);
    const double gbs = bytes / (ms * 1e-3) / 1e9;
    std::printf("%s %-6s %-20s tok=%lld %9.1f us %8.1f GB/s  %5.1f%% of copy bandwidth\n",
                q8 ? (tc ? "mv-tc " : "mv-q8 ") : "matvec", std::string(t.name).c_str(), sh.name, static_cast<long long>(n_tok),
                ms * 1e3, gbs,
                100.0 * gbs / bound_gbs);
  }
}

void bench_gemm(DType type, cudaStream_t s) {
  const auto& t = dtype_traits(type);
  const int64_t n_tok = 512;
  for (const BenchShape& sh : kBenchShapes) {
    DeviceBuffer w(t.row_bytes(sh.k) * sh.rows), x(n_tok * sh.k * 4), y(n_tok * sh.rows * 4),
        y_ref(n_tok * sh.rows * 4);
    // Real blocks (quantized Gaussian rows) on the first shape, so its error figure means something; the
    // host quantizers are too slow for the larger shapes, which are timed on random blocks (no error shown).
    const bool real = &sh == &kBenchShapes[1];
    if (!real) fill_weights(w, type, 9);
    if (real) {
      std::mt19937 rng(11);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::vector<float> row(sh.k);
      std::vector<uint8_t> host(w.size_bytes());
      for (int64_t r = 0; r < sh.rows; ++r) {
        for (auto& v : row) v = normal(rng);
        t.quantize_row(row.data(), host.data() + r * t.row_bytes(sh.k), sh.k);
      }
      STRATA_CUDA_CHECK(cudaMemcpy(w.data(), host.data(), host.size(), cudaMemcpyHostToDevice));
    }
    fill_weights(x, DType::F32, 5);
    auto body = [&](int) { gemm(type, w.data(), sh.k, sh.rows, x.as<float>(), n_tok, nullptr, y.as<float>(), s); };
    bench_median_ms(1, 2, s, body);
    const double ms = bench_median_ms(9, 3, s, body);
    for (int64_t t0 = 0; t0 < n_tok; t0 += kMatvecMaxTokens)  // the float path as the error reference
      matvec(type, w.data(), sh.k, sh.rows, x.as<float>() + t0 * sh.k, kMatvecMaxTokens, nullptr,
             y_ref.as<float>() + t0 * sh.rows, s);
    STRATA_CUDA_CHECK(cudaStreamSynchronize(s));
    std::vector<float> a(n_tok * sh.rows), b(n_tok * sh.rows);
    STRATA_CUDA_CHECK(cudaMemcpy(a.data(), y.data(), a.size() * 4, cudaMemcpyDeviceToHost));
    STRATA_CUDA_CHECK(cudaMemcpy(b.data(), y_ref.data(), b.size() * 4, cudaMemcpyDeviceToHost));
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * double(a[i] - b[i]), den += double(b[i]) * b[i];
    const double tflops = 2.0 * n_tok * sh.k * sh.rows / (ms * 1e-3) / 1e12;
    std::printf("gemm   %-6s %-20s tok=%lld %9.1f us %8.1f TFLOP/s", std::string(t.name).c_str(), sh.name,
                static_cast<long long>(n_tok), ms * 1e3, tflops);
    if (real) std::printf("  rel error vs mat-vec %.1e", std::sqrt(num / den));
    std::printf("\n");
    // The backend's prompt path: the weight dequantized to F16 (whole, here), x rounded, cuBLAS's GEMM.
    CublasGemm cublas(s);
    if (!cublas.ok()) continue;
    DeviceBuffer w16(sh.rows * sh.k * 2), x16(n_tok * sh.k * 2);
    auto body16 = [&](int) {
      float_to_half(x.as<float>(), n_tok * sh.k, x16.as<uint16_t>(), s);
      weight_to_f16(type, w.data(), sh.k, 0, sh.rows, w16.as<uint16_t>(), s);
      cublas.run(w16.as<uint16_t>(), sh.rows, sh.k, x16.as<uint16_t>(), n_tok, y.as<float>(), sh.rows);
    };
    bench_median_ms(1, 2, s, body16);
    const double ms16 = bench_median_ms(9, 3, s, body16);
    STRATA_CUDA_CHECK(cudaStreamSynchronize(s));
    STRATA_CUDA_CHECK(cudaMemcpy(a.data(), y.data(), a.size() * 4, cudaMemcpyDeviceToHost));
    num = 0;
    for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * double(a[i] - b[i]);
    std::printf("cublas %-6s %-20s tok=%lld %9.1f us %8.1f TFLOP/s (dequantize + GEMM)", std::string(t.name).c_str(),
                sh.name, static_cast<long long>(n_tok), ms16 * 1e3, 2.0 * n_tok * sh.k * sh.rows / (ms16 * 1e-3) / 1e12);
    if (real) std::printf("  rel error vs mat-vec %.1e", std::sqrt(num / den));
    std::printf("\n");
  }
}

}  // namespace
}  // namespace strata::cuda

int main(int argc, char** argv) {
  using namespace strata;
  if (cuda::device_count() == 0) {
    std::printf("cuda_kernel_bench: no CUDA GPU visible; nothing measured\n");
    return 0;
  }
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  // --shapes: only the prompt GEMM (own and cuBLAS) and the one-token mat-vec in each launch shape.
  const bool shapes_only = argc > 1 && std::strcmp(argv[1], "--shapes") == 0;
  std::printf("device: %s\n", cuda::describe_device().c_str());
  cuda::Stream stream;
  const double bw = cuda::copy_bandwidth_gbs(stream.get());
  std::printf("device-to-device copy: %.1f GB/s (read + write): the bound below\n", bw);
  if (shapes_only) {
    cuda::bench_gemm(DType::Q4_K, stream.get());
    cuda::bench_matvec_variants(bw, stream.get());
    return 0;
  }
  for (const auto& t : all_dtypes()) {
    if (!cuda::supports_weight_type(t.type)) continue;
    cuda::bench_matvec(t.type, bw, stream.get(), 1);
  }
  for (const auto& t : all_dtypes())
    if (cuda::has_matvec_q8(t.type)) cuda::bench_matvec(t.type, bw, stream.get(), 1, true);
  for (DType type : {DType::Q4_K, DType::Q8_0, DType::F16}) cuda::bench_matvec(type, bw, stream.get(), 8);
  for (DType type : {DType::Q4_K, DType::Q8_0}) cuda::bench_matvec(type, bw, stream.get(), 8, true);
  for (DType type : {DType::Q4_K, DType::Q6_K, DType::Q8_0})
    for (int64_t n : {1, 8}) cuda::bench_matvec(type, bw, stream.get(), n, true, true);
  cuda::bench_matvec_variants(bw, stream.get());
  for (DType type : {DType::Q4_K}) cuda::bench_gemm(type, stream.get());
  if (!quick)
    for (DType type : {DType::Q8_0, DType::F16, DType::Q6_K}) cuda::bench_gemm(type, stream.get());
  return 0;
}
