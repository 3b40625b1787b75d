// tests/kernels/matmul_parity_test.cc: every fast matmul kernel, at every ISA level this CPU supports, against
// matmul_reference on random data (fresh seed per run, printed on failure), and the ISA levels against each
// other. Shapes cover decode (n_tok = 1), a ragged batch (n_tok = 7), row lengths that are not powers of two,
// and a batch large enough to span several token blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/type_kernels.h"
#include "kernels/cpu/ops_cpu.h"
#include "kernels/reference/reference.h"

namespace strata::kernels {
namespace {

struct Case {
  DType type;
  double bound;  // max ||y - ref|| / ||ref||; the 8-bit activation quantization dominates (see docs/kernels.md)
};
// Float weights keep float activations (only summation order differs). Quantized weights see 8-bit
// activations: about 0.4% per 32-block, 0.6% per 256-block on Gaussian data; bounds leave ~2x headroom.
const Case kCases[] = {
    {DType::F32, 2e-6},      {DType::F16, 2e-6},    {DType::BF16, 2e-6},     {DType::Q4_0, 1.2e-2},
    {DType::Q4_1, 1.2e-2},   {DType::Q5_0, 1.2e-2}, {DType::Q5_1, 1.2e-2},   {DType::Q8_0, 1.2e-2},
    {DType::IQ4_NL, 1.2e-2}, {DType::Q2_K, 1.6e-2}, {DType::Q3_K, 1.6e-2},   {DType::Q4_K, 1.6e-2},
    {DType::Q5_K, 1.6e-2},   {DType::Q6_K, 1.6e-2}, {DType::IQ4_XS, 1.6e-2},
    {DType::MXFP4, 1.2e-2},
};

struct Shape {
  int64_t k, rows, n_tok;
};

uint32_t fresh_seed() { return std::random_device{}(); }

std::vector<float> gaussian(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

// Weights quantized from Gaussian floats by the type's own quantizer.
std::vector<uint8_t> make_weights(DType type, int64_t k, int64_t rows, std::mt19937& rng) {
  const auto& t = dtype_traits(type);
  const auto f = gaussian(static_cast<size_t>(k * rows), rng);
  std::vector<uint8_t> w(t.row_bytes(k) * rows);
  for (int64_t r = 0; r < rows; ++r) t.quantize_row(f.data() + r * k, w.data() + r * t.row_bytes(k), k);
  return w;
}

TensorView view(DType type, const std::vector<uint8_t>& w, int64_t k, int64_t rows) {
  TensorView v;
  v.type = type;
  v.ne = {k, rows, 1, 1};
  v.data = w.data();
  v.name = "test.weight";
  return v;
}

double rel_error(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    num += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    den += static_cast<double>(want[i]) * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

std::vector<Shape> shapes_for(DType type) {
  const int64_t block = dtype_traits(type).block_elems;
  // At least ~64 outputs per shape: the error ratio over fewer outputs varies too much from seed to seed.
  if (block == 1) return {{37, 64, 1}, {300, 13, 7}, {1024, 70, 1}, {515, 22, 4}};
  if (block == 32) return {{96, 64, 1}, {416, 13, 7}, {1024, 70, 1}, {160, 22, 3}};
  return {{256, 64, 1}, {768, 13, 7}, {1280, 70, 1}, {512, 17, 5}};
}

std::vector<CpuIsa> supported_isas() {
  std::vector<CpuIsa> isas;
  for (int i = 0; i < kNumCpuIsas; ++i)
    if (cpu_supports(static_cast<CpuIsa>(i))) isas.push_back(static_cast<CpuIsa>(i));
  return isas;
}

TEST(MatmulParity, EveryTypeEveryIsaAgainstReference) {
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  for (const Case& c : kCases) {
    const CpuTypeKernels* kern = find_cpu_kernels(c.type);
    ASSERT_NE(kern, nullptr) << dtype_traits(c.type).name << " has no row in the kernel table";
    for (const Shape& s : shapes_for(c.type)) {
      const auto w = make_weights(c.type, s.k, s.rows, rng);
      const auto x = gaussian(static_cast<size_t>(s.k * s.n_tok), rng);
      const TensorView tv = view(c.type, w, s.k, s.rows);
      std::vector<float> ref(static_cast<size_t>(s.rows * s.n_tok));
      reference::matmul(tv, x.data(), s.n_tok, ref.data());
      std::vector<float> portable;
      for (CpuIsa isa : supported_isas()) {
        std::vector<float> y(ref.size(), NAN);
        matmul_with(*kern, isa, tv, x.data(), s.n_tok, y.data(), pool);
        const std::string what = std::string(dtype_traits(c.type).name) + " isa " +
                                 std::string(cpu_isa_name(kern->kernel_isa(isa))) + " k " + std::to_string(s.k) +
                                 " rows " + std::to_string(s.rows) + " n_tok " + std::to_string(s.n_tok);
        for (float v : y) ASSERT_TRUE(std::isfinite(v)) << what << ": output not written or not finite";
        EXPECT_LE(rel_error(y, ref), c.bound) << what;
        // The ISA levels share activations and integer arithmetic; only float summation order differs.
        if (isa == CpuIsa::Portable) {
          portable = y;
        } else {
          EXPECT_LE(rel_error(y, portable), 2e-6) << what << " (against the portable kernel)";
        }
      }
    }
  }
}

TEST(MatmulParity, PublicEntryDispatchesEveryType) {
  // kernels::matmul picks the best level itself; Q8_K has no kernel row and takes the generic path.
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  for (const auto& t : all_dtypes()) {
    const int64_t k = 512, rows = 11, n_tok = 3;
    const auto w = make_weights(t.type, k, rows, rng);
    const auto x = gaussian(static_cast<size_t>(k * n_tok), rng);
    const TensorView tv = view(t.type, w, k, rows);
    std::vector<float> ref(rows * n_tok), y(rows * n_tok, NAN);
    reference::matmul(tv, x.data(), n_tok, ref.data());
    matmul(tv, x.data(), n_tok, y.data(), pool);
    EXPECT_LE(rel_error(y, ref), 2e-2) << t.name;
  }
}

TEST(MatmulParity, LargeBatchSpansTokenBlocks) {
  // 130 tokens of k = 4096 take more than one 512 KiB token block in every activation format.
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  const int64_t k = 4096, rows = 6, n_tok = 130;
  const auto x = gaussian(static_cast<size_t>(k * n_tok), rng);
  for (DType type : {DType::F16, DType::Q8_0, DType::Q4_K, DType::Q6_K}) {
    const auto w = make_weights(type, k, rows, rng);
    const TensorView tv = view(type, w, k, rows);
    std::vector<float> ref(rows * n_tok), y(rows * n_tok, NAN);
    reference::matmul(tv, x.data(), n_tok, ref.data());
    matmul_with(*find_cpu_kernels(type), best_cpu_isa(), tv, x.data(), n_tok, y.data(), pool);
    EXPECT_LE(rel_error(y, ref), 1.6e-2) << dtype_traits(type).name;
    // Quantized types: token by token the batch path equals single-token decode bit for bit (integer sums,
    // then the same per-block float order whatever the tile). Float types sum in another order per tile.
    if (type == DType::F16) continue;
    std::vector<float> one(rows);
    for (int64_t t : {int64_t{0}, int64_t{57}, n_tok - 1}) {
      matmul_with(*find_cpu_kernels(type), best_cpu_isa(), tv, x.data() + t * k, 1, one.data(), pool);
      for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(y[t * rows + r], one[r]) << dtype_traits(type).name;
    }
  }
}

TEST(MatmulParity, ManyProductsInOneDispatchEqualEachAlone) {
  // Every type, several products per call (shared and separate inputs, mixed types and shapes, a product of no
  // tokens), at every ISA level: each output bit-identical to its product run alone.
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  ThreadPool pool(3);
  for (CpuIsa isa : {CpuIsa::Portable, CpuIsa::Avx2, CpuIsa::Avx512}) {
    if (!cpu_supports(isa)) continue;
    for (const Case& c : kCases) {
      const CpuTypeKernels* kern = find_cpu_kernels(c.type);
      ASSERT_NE(kern, nullptr);
      const DType other = c.type == DType::Q6_K ? DType::Q4_K : DType::Q6_K;
      struct Product {
        DType type;
        int64_t k, rows, n_tok;
        int input;  // products with the same input read the same activations
      };
      const std::vector<Product> products = {{c.type, 512, 37, 1, 0}, {c.type, 512, 300, 1, 0}, {other, 512, 64, 1, 0},
                                             {c.type, 256, 5, 3, 1},  {c.type, 512, 9, 0, 2},   {c.type, 512, 130, 2, 3}};
      std::vector<std::vector<float>> inputs;
      for (int i = 0; i < 4; ++i) inputs.push_back(gaussian(512 * 3, rng));
      std::vector<std::vector<uint8_t>> weights;
      std::vector<std::vector<float>> alone, together;
      std::vector<CpuMatmul> items;
      for (const Product& p : products) {
        weights.push_back(make_weights(p.type, p.k, p.rows, rng));
        alone.emplace_back(static_cast<size_t>(p.rows * p.n_tok), NAN);
        together.emplace_back(static_cast<size_t>(p.rows * p.n_tok), NAN);
      }
      for (size_t i = 0; i < products.size(); ++i) {
        const Product& p = products[i];
        const TensorView tv = view(p.type, weights[i], p.k, p.rows);
        matmul_with(*find_cpu_kernels(p.type), isa, tv, inputs[p.input].data(), p.n_tok, alone[i].data(), pool);
        items.push_back({find_cpu_kernels(p.type), tv, inputs[p.input].data(), p.n_tok, together[i].data()});
      }
      matmul_many_with(items, isa, pool);
      for (size_t i = 0; i < products.size(); ++i)
        for (size_t j = 0; j < alone[i].size(); ++j)
          ASSERT_EQ(together[i][j], alone[i][j]) << dtype_traits(c.type).name << " isa " << static_cast<int>(isa)
                                                 << " product " << i << " value " << j;
    }
  }
}

TEST(MatmulParity, SingleThreadAndManyRows) {
  // More rows than threads times the grain, one thread: the split must still cover every row exactly once.
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  ThreadPool one(1), three(3);
  const int64_t k = 256, rows = 301, n_tok = 2;
  for (DType type : {DType::Q4_K, DType::Q8_0, DType::F16}) {
    const auto w = make_weights(type, k, rows, rng);
    const auto x = gaussian(static_cast<size_t>(k * n_tok), rng);
    const TensorView tv = view(type, w, k, rows);
    std::vector<float> a(rows * n_tok, NAN), b(rows * n_tok, NAN);
    matmul(tv, x.data(), n_tok, a.data(), one);
    matmul(tv, x.data(), n_tok, b.data(), three);
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << dtype_traits(type).name << " element " << i;
  }
}

}  // namespace
}  // namespace strata::kernels
