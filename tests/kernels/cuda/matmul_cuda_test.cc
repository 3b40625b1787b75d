// tests/kernels/cuda/matmul_cuda_test.cc: the CUDA weight products (mat-vec for 1..8 tokens, the tensor-core
// GEMM, MoE expert mat-vecs, embedding gather) for every weight type against a double-precision product
// over the type's scalar dequantizer (the codecs are the oracle). Fresh random data each run, seed printed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cuda/launchers.h"
#include "tensor/dtype.h"
#include "tests/kernels/cuda/cuda_test_util.h"

namespace strata::cuda {
namespace {

using testing::fresh_seed;
using testing::gaussian;
using testing::poisoned_floats;
using testing::rel_error;
using testing::to_device;
using testing::to_host;

const DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,   DType::Q5_0,
                        DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K,   DType::Q5_K,
                        DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS, DType::MXFP4};

// Mat-vec keeps float weights and activations (only the summation order differs from the double oracle);
// the GEMM rounds both operands to F16 (11-bit significands): about 3e-4 normwise on Gaussian data.
constexpr double kMatvecBound = 2e-5;
constexpr double kGemmBound = 2e-3;

struct Weights {
  std::vector<uint8_t> bytes;
  std::vector<float> dequant;  // [rows, k], the oracle's view
};

Weights make_weights(DType type, int64_t k, int64_t rows, std::mt19937& rng) {
  const auto& t = dtype_traits(type);
  const auto f = gaussian(static_cast<size_t>(k * rows), rng);
  Weights w;
  w.bytes.resize(t.row_bytes(k) * rows);
  w.dequant.resize(static_cast<size_t>(k * rows));
  for (int64_t r = 0; r < rows; ++r) {
    t.quantize_row(f.data() + r * k, w.bytes.data() + r * t.row_bytes(k), k);
    t.dequantize_row(w.bytes.data() + r * t.row_bytes(k), w.dequant.data() + r * k, k);
  }
  return w;
}

std::vector<double> oracle(const Weights& w, int64_t k, int64_t rows, const std::vector<float>& x, int64_t n_tok,
                           const std::vector<float>* bias) {
  std::vector<double> y(static_cast<size_t>(n_tok * rows));
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double s = bias ? (*bias)[r] : 0.0;
      for (int64_t i = 0; i < k; ++i) s += static_cast<double>(w.dequant[r * k + i]) * x[t * k + i];
      y[t * rows + r] = s;
    }
  return y;
}

enum class Path { Matvec, Gemm, MatvecQ8, MatvecQ8Tc };
// 8-bit activations: the CPU backend's bound for its quantized products (tests/kernels/backend_ops_test.cc).
constexpr double kMatvecQ8Bound = 1.2e-2;

void check_product(DType type, int64_t k, int64_t rows, int64_t n_tok, Path path, bool with_bias) {
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  const Weights w = make_weights(type, k, rows, rng);
  const auto x = gaussian(static_cast<size_t>(n_tok * k), rng);
  const auto bias = gaussian(static_cast<size_t>(rows), rng);
  auto dw = to_device(w.bytes);
  auto dx = to_device(x);
  auto db = to_device(bias);
  auto dy = poisoned_floats(static_cast<size_t>(n_tok * rows));
  const float* bias_ptr = with_bias ? db.as<float>() : nullptr;
  if (path == Path::Matvec) {
    matvec(type, dw.data(), k, rows, dx.as<float>(), n_tok, bias_ptr, dy.as<float>(), nullptr);
  } else if (path == Path::MatvecQ8 || path == Path::MatvecQ8Tc) {
    DeviceBuffer ws(static_cast<uint64_t>(q8_workspace_bytes(k, n_tok)));
    quantize_q8(dx.as<float>(), n_tok, k, ws.data(), nullptr);
    matvec_q8(type, dw.data(), k, rows, ws.data(), n_tok, bias_ptr, dy.as<float>(), nullptr,
              path == Path::MatvecQ8 ? Q8Kernel::Dp4a : Q8Kernel::TensorCores);
  } else {
    gemm(type, dw.data(), k, rows, dx.as<float>(), n_tok, bias_ptr, dy.as<float>(), nullptr);
  }
  const auto y = to_host<float>(dy, static_cast<size_t>(n_tok * rows));
  const double err = rel_error(y, oracle(w, k, rows, x, n_tok, with_bias ? &bias : nullptr));
  const double bound = path == Path::Matvec ? kMatvecBound : (path == Path::Gemm ? kGemmBound : kMatvecQ8Bound);
  const char* name = path == Path::Matvec ? "matvec" : (path == Path::Gemm ? "gemm  " : (path == Path::MatvecQ8 ? "mv-q8 " : "mv-tc "));
  EXPECT_LE(err, bound) << dtype_traits(type).name << " " << name << " k=" << k << " rows=" << rows
                        << " n_tok=" << n_tok << " seed=" << seed;
  if (n_tok == 1 || n_tok == 70)
    std::printf("  %-6s %s k=%lld rows=%lld n_tok=%lld: rel error %.2e (bound %.0e)\n",
                std::string(dtype_traits(type).name).c_str(), name,
                static_cast<long long>(k), static_cast<long long>(rows), static_cast<long long>(n_tok), err, bound);
}

TEST(CudaMatmul, EveryTypeMatvecOneToEightTokens) {
  STRATA_REQUIRE_GPU();
  for (DType type : kTypes) {
    ASSERT_TRUE(supports_weight_type(type)) << dtype_traits(type).name;
    for (int64_t n_tok = 1; n_tok <= kMatvecMaxTokens; ++n_tok)
      check_product(type, 768, 67, n_tok, Path::Matvec, n_tok % 2 == 0);
    check_product(type, 2816, 33, 1, Path::Matvec, false);  // rows longer than two chunks per lane
  }
}

// Every type with an integer form through `path`, 1-8 tokens; then partial spans of a warp's chunks, ragged
// last row groups (16 rows a tensor-core block; 2 or 4 rows a warp of the staged dp4a batch kernel, 4 above
// 2048 rows), a model's widest rows and an odd number of chunks. Returns how many types ran.
int check_q8_types(Path path) {
  int n_types = 0;
  for (DType type : kTypes) {
    if (!has_matvec_q8(type)) continue;
    ++n_types;
    for (int64_t n_tok = 1; n_tok <= kMatvecMaxTokens; ++n_tok)
      check_product(type, 768, 67, n_tok, path, n_tok % 2 == 0);
    check_product(type, 2816, 33, 1, path, false);
    check_product(type, 2816, 33, 3, path, true);
    check_product(type, 4096, 1000, 8, path, false);
    check_product(type, 512, 2053, 4, path, true);
    if (dtype_traits(type).block_elems == 32) check_product(type, 800, 19, 5, path, true);
  }
  return n_types;
}

TEST(CudaMatmul, Q8ActivationMatvecOneToEightTokens) {
  STRATA_REQUIRE_GPU();
  EXPECT_GE(check_q8_types(Path::MatvecQ8), 12);  // every quantized type of kTypes
}

// The tensor-core kernel (16 rows a block, its warps splitting the chunks).
TEST(CudaMatmul, Q8ActivationMatvecOnTensorCores) {
  STRATA_REQUIRE_GPU();
  EXPECT_GE(check_q8_types(Path::MatvecQ8Tc), 12);
}

// Whether each token's outputs have the same bits in a batch of kMatvecMaxTokens as alone through `path`
// (Matvec for float weights, else the 8-bit kernels). Returns the first token that differs, or -1.
int64_t first_token_unlike_alone(DType type, int64_t k, int64_t rows, Path path) {
  std::mt19937 rng(fresh_seed());
  const Weights w = make_weights(type, k, rows, rng);
  const auto x = gaussian(static_cast<size_t>(kMatvecMaxTokens * k), rng);
  const auto bias = gaussian(static_cast<size_t>(rows), rng);
  auto dw = to_device(w.bytes);
  auto dx = to_device(x);
  auto db = to_device(bias);
  auto product = [&](int64_t t0, int64_t n) {
    auto dy = poisoned_floats(static_cast<size_t>(n * rows));
    if (path == Path::Matvec) {
      matvec(type, dw.data(), k, rows, dx.as<float>() + t0 * k, n, db.as<float>(), dy.as<float>(), nullptr);
    } else {
      DeviceBuffer ws(static_cast<uint64_t>(q8_workspace_bytes(k, n)));
      quantize_q8(dx.as<float>() + t0 * k, n, k, ws.data(), nullptr);
      matvec_q8(type, dw.data(), k, rows, ws.data(), n, db.as<float>(), dy.as<float>(), nullptr,
                path == Path::MatvecQ8 ? Q8Kernel::Dp4a : Q8Kernel::TensorCores);
    }
    return to_host<float>(dy, static_cast<size_t>(n * rows));
  };
  for (int64_t n = 2; n <= kMatvecMaxTokens; n += kMatvecMaxTokens - 2) {  // 2 and 8 tokens
    const auto batch = product(0, n);
    for (int64_t t = 0; t < n; ++t) {
      const auto one = product(t, 1);
      if (std::memcmp(one.data(), batch.data() + t * rows, static_cast<size_t>(rows) * sizeof(float)) != 0) return t;
    }
  }
  return -1;
}

// A token's outputs do not depend on the tokens beside it: the same bits at every batch size, whichever
// kernel shape each count takes (what lets a batched decode step give each sequence the tokens it gets
// alone). Shapes: the one-token launcher's choices (few rows, many, long rows) and the batch launcher's (2 or
// 4 rows a warp).
TEST(CudaMatmul, ProductsOfATokenAreTheSameAtEveryBatchSize) {
  STRATA_REQUIRE_GPU();
  const int64_t shapes[][2] = {{1024, 512}, {4096, 2304}, {1024, 8200}, {8192, 2056}};
  for (DType type : kTypes) {
    const Path path = has_matvec_q8(type) ? Path::MatvecQ8 : Path::Matvec;
    for (const auto& s : shapes) {
      if (path == Path::Matvec && s[1] > 4096) continue;  // one kernel shape at every size
      if (s[0] % dtype_traits(type).block_elems != 0) continue;
      EXPECT_EQ(first_token_unlike_alone(type, s[0], s[1], path), -1)
          << dtype_traits(type).name << " k=" << s[0] << " rows=" << s[1] << ": this token's outputs differ";
    }
  }
}

TEST(CudaMatmul, TensorCoreProductsOfATokenAreTheSameAtEveryBatchSize) {
  STRATA_REQUIRE_GPU();
  EXPECT_EQ(first_token_unlike_alone(DType::Q4_K, 4096, 300, Path::MatvecQ8Tc), -1);
}

// A NaN in x reaches every output it feeds (the 8-bit scale of its block turns NaN), never dropped.
TEST(CudaMatmul, Q8ActivationMatvecPropagatesNaN) {
  STRATA_REQUIRE_GPU();
  std::mt19937 rng(fresh_seed());
  const int64_t k = 512, rows = 16;
  const Weights w = make_weights(DType::Q4_K, k, rows, rng);
  auto x = gaussian(static_cast<size_t>(k), rng);
  x[77] = NAN;
  auto dw = to_device(w.bytes);
  auto dx = to_device(x);
  auto dy = poisoned_floats(static_cast<size_t>(rows));
  STRATA_CUDA_CHECK(cudaMemset(dy.data(), 0, rows * sizeof(float)));
  DeviceBuffer ws(static_cast<uint64_t>(q8_workspace_bytes(k, 1)));
  quantize_q8(dx.as<float>(), 1, k, ws.data(), nullptr);
  matvec_q8(DType::Q4_K, dw.data(), k, rows, ws.data(), 1, nullptr, dy.as<float>(), nullptr);
  for (float v : to_host<float>(dy, static_cast<size_t>(rows))) EXPECT_TRUE(std::isnan(v));
}

TEST(CudaMatmul, EveryTypeGemm) {
  STRATA_REQUIRE_GPU();
  for (DType type : kTypes) {
    check_product(type, 512, 130, 70, Path::Gemm, true);  // ragged row and token tiles
    check_product(type, 256 + 32 * (dtype_traits(type).block_elems == 256 ? 8 : 1), 64, 9, Path::Gemm, false);
  }
}

TEST(CudaMatmul, MatmulPicksThePathByTokenCount) {
  STRATA_REQUIRE_GPU();
  check_product(DType::Q4_K, 1024, 96, 8, Path::Matvec, false);
  check_product(DType::Q4_K, 1024, 96, 9, Path::Gemm, false);
}

TEST(CudaMatmul, ExpertMatvecReadsTheExpertIdOnTheDevice) {
  STRATA_REQUIRE_GPU();
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  const int64_t k = 512, rows = 40, n_expert = 5;
  for (DType type : {DType::Q4_K, DType::Q8_0, DType::F16, DType::Q6_K}) {
    const Weights w = make_weights(type, k, rows * n_expert, rng);
    const std::vector<int32_t> ids = {3, 0, 4, 3, -1};  // -1: a corrupt id poisons its slot, never reads out of range
    const auto x = gaussian(static_cast<size_t>(ids.size() * k), rng);
    auto dw = to_device(w.bytes);
    auto dids = to_device(ids);
    auto dx = to_device(x);
    auto dy = poisoned_floats(ids.size() * rows);
    matvec_experts(type, dw.data(), k, rows, n_expert, dids.as<int32_t>(), static_cast<int64_t>(ids.size()),
                   dx.as<float>(), k, dy.as<float>(), nullptr);
    const auto y = to_host<float>(dy, ids.size() * rows);
    for (size_t s = 0; s + 1 < ids.size(); ++s) {
      Weights e;
      e.dequant.assign(w.dequant.begin() + ids[s] * rows * k, w.dequant.begin() + (ids[s] + 1) * rows * k);
      const std::vector<float> xs(x.begin() + s * k, x.begin() + (s + 1) * k);
      const std::vector<float> ys(y.begin() + s * rows, y.begin() + (s + 1) * rows);
      EXPECT_LE(rel_error(ys, oracle(e, k, rows, xs, 1, nullptr)), kMatvecBound)
          << dtype_traits(type).name << " slot " << s << " seed=" << seed;
    }
    EXPECT_TRUE(std::isnan(y[(ids.size() - 1) * rows])) << "a bad expert id must poison its output";
  }
}

TEST(CudaMatmul, GetRowsEveryType) {
  STRATA_REQUIRE_GPU();
  const uint32_t seed = fresh_seed();
  std::mt19937 rng(seed);
  const int64_t k = 512, n_rows = 11;
  for (DType type : kTypes) {
    const Weights w = make_weights(type, k, n_rows, rng);
    const std::vector<int32_t> ids = {7, 0, 10, 7};
    auto dw = to_device(w.bytes);
    auto dids = to_device(ids);
    auto dout = poisoned_floats(ids.size() * k);
    get_rows(type, dw.data(), k, n_rows, dids.as<int32_t>(), static_cast<int64_t>(ids.size()), dout.as<float>(),
             nullptr);
    const auto out = to_host<float>(dout, ids.size() * k);
    for (size_t i = 0; i < ids.size(); ++i)
      for (int64_t c = 0; c < k; ++c)
        ASSERT_NEAR(out[i * k + c], w.dequant[ids[i] * k + c], 1e-5 * (1.0 + std::fabs(w.dequant[ids[i] * k + c])))
            << dtype_traits(type).name << " id " << ids[i];  // differs from the codec only by FMA rounding
  }
}

}  // namespace
}  // namespace strata::cuda
