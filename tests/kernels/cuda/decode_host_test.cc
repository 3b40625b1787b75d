// tests/kernels/cuda/decode_host_test.cc: the CUDA kernels' per-type decoders, compiled for the host (each
// type row's decode_chunk_on_host), against each type's scalar dequantizer (the codecs). Runs wherever the
// CUDA backend builds, GPU or not (CI too), so a wrong bit offset shows before any device run.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cuda/type_table.h"
#include "tensor/dtype.h"

namespace strata::cuda {
namespace {

TEST(CudaDecodeOnHost, EveryTypeMatchesItsCodec) {
  const uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int n_types = 0;
  for (const DTypeTraits& t : all_dtypes()) {
    const TypeKernels* row = find_type_kernels(t.type);
    if (t.type == DType::Q8_K) {
      EXPECT_EQ(row, nullptr) << "Q8_K is an activation type, never a weight";
      continue;
    }
    ASSERT_NE(row, nullptr) << "no CUDA row for " << t.name;
    ++n_types;
    EXPECT_EQ(row->block_elems, static_cast<int>(t.block_elems)) << t.name;
    EXPECT_EQ(row->block_bytes, static_cast<int>(t.block_bytes)) << t.name;
    const int64_t k = 1024;
    std::vector<float> src(k), want(k);
    for (auto& v : src) v = normal(rng);
    std::vector<uint64_t> storage(t.row_bytes(k) / 8 + 2);  // 16-byte aligned like a cudaMalloc'd row
    auto* bytes = reinterpret_cast<uint8_t*>(storage.data());
    t.quantize_row(src.data(), bytes, k);
    t.dequantize_row(bytes, want.data(), k);
    for (int64_t j = 0; j < k / 32; ++j) {
      float got[32];
      row->decode_chunk_on_host(bytes, j, got);
      for (int i = 0; i < 32; ++i)
        ASSERT_NEAR(got[i], want[j * 32 + i], 1e-6 * (1.0 + std::fabs(want[j * 32 + i])))
            << t.name << " chunk " << j << " element " << i << " seed=" << seed;
      if (!row->decode_chunk_int_on_host) continue;
      row->decode_chunk_int_on_host(bytes, j, got);  // the integer form (a * q + m) of the 8-bit mat-vec
      for (int i = 0; i < 32; ++i)
        ASSERT_NEAR(got[i], want[j * 32 + i], 1e-6 * (1.0 + std::fabs(want[j * 32 + i])))
            << t.name << " integer form, chunk " << j << " element " << i << " seed=" << seed;
    }
  }
  EXPECT_EQ(n_types, 16);
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::IQ4_NL, DType::Q2_K,
                  DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS})
    EXPECT_NE(find_type_kernels(t)->matvec_q8, nullptr) << dtype_traits(t).name << " lost its integer form";
}

}  // namespace
}  // namespace strata::cuda
