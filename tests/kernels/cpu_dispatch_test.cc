// tests/kernels/cpu_dispatch_test.cc: CPU feature detection agrees with the kernel's view (/proc/cpuinfo),
// the ISA levels are ordered, the kernel table has a row for every quantized type, and every SIMD
// activation quantizer writes the same bytes as the portable one.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/type_kernels.h"

namespace strata::kernels {
namespace {

std::set<std::string> proc_cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w;
    while (words >> w) flags.insert(w);
    break;
  }
  return flags;
}

TEST(CpuDispatch, FeaturesMatchProcCpuinfo) {
#if defined(__x86_64__) && defined(__linux__)
  const auto flags = proc_cpuinfo_flags();
  ASSERT_FALSE(flags.empty()) << "no flags line in /proc/cpuinfo";
  const hw::CpuFeatures& f = hw::cpu_features();
  // The kernel lists a flag only when it also enabled the register state, as our XGETBV check demands.
  EXPECT_EQ(f.avx2, flags.count("avx2") == 1);
  EXPECT_EQ(f.fma, flags.count("fma") == 1);
  EXPECT_EQ(f.f16c, flags.count("f16c") == 1);
  EXPECT_EQ(f.avx512f, flags.count("avx512f") == 1);
  EXPECT_EQ(f.avx512bw, flags.count("avx512bw") == 1);
  EXPECT_EQ(f.avx512vl, flags.count("avx512vl") == 1);
  EXPECT_EQ(f.avx512vnni, flags.count("avx512_vnni") == 1);
  EXPECT_EQ(f.avx512bf16, flags.count("avx512_bf16") == 1);
#else
  GTEST_SKIP() << "x86-64 Linux only";
#endif
}

TEST(CpuDispatch, IsaLevelsAreOrdered) {
  EXPECT_TRUE(cpu_supports(CpuIsa::Portable));
  const CpuIsa best = best_cpu_isa();
  EXPECT_TRUE(cpu_supports(best));
  for (int l = 0; l <= static_cast<int>(best); ++l) EXPECT_TRUE(cpu_supports(static_cast<CpuIsa>(l)));
  for (int l = static_cast<int>(best) + 1; l < kNumCpuIsas; ++l) EXPECT_FALSE(cpu_supports(static_cast<CpuIsa>(l)));
  if (cpu_supports(CpuIsa::Avx512)) {
    EXPECT_TRUE(cpu_supports(CpuIsa::Avx2));
  }
}

TEST(CpuDispatch, TableCoversEveryWeightType) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                  DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS,
                  DType::MXFP4}) {
    const CpuTypeKernels* k = find_cpu_kernels(t);
    ASSERT_NE(k, nullptr) << dtype_traits(t).name;
    EXPECT_NE(k->dot[0], nullptr) << "every type needs its portable kernel";
    // The fallback never climbs above the asked level.
    for (int l = 0; l < kNumCpuIsas; ++l) EXPECT_LE(static_cast<int>(k->kernel_isa(static_cast<CpuIsa>(l))), l);
#if defined(__x86_64__)
    EXPECT_NE(k->dot[static_cast<int>(CpuIsa::Avx2)], nullptr) << dtype_traits(t).name << " lacks an AVX2 kernel";
#endif
  }
}

TEST(CpuDispatch, SimdActivationQuantizersMatchPortableBytes) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const int64_t k = 1024;
  std::vector<float> x(k);
  for (auto& v : x) v = normal(rng);
  // Edge blocks: all zeros, one tiny value, exact halves that must round to even.
  for (int j = 0; j < 32; ++j) x[j] = 0.0f;
  x[40] = 1e-30f;
  for (int j = 256; j < 288; ++j) x[j] = j == 256 ? 127.0f : (j % 2 ? 0.5f : -1.5f);  // amax 127: codes = x
  for (ActFormat format : {ActFormat::Q8x32, ActFormat::Q8K}) {
    const size_t bytes = act_row_bytes(format, k);
    std::vector<uint8_t> portable(bytes), fast(bytes);
    quantize_act_row(format, CpuIsa::Portable, x.data(), portable.data(), k);
    for (int l = 1; l < kNumCpuIsas; ++l) {
      if (!cpu_supports(static_cast<CpuIsa>(l))) continue;
      std::fill(fast.begin(), fast.end(), 0xcd);
      quantize_act_row(format, static_cast<CpuIsa>(l), x.data(), fast.data(), k);
      EXPECT_EQ(std::memcmp(portable.data(), fast.data(), bytes), 0)
          << "format " << static_cast<int>(format) << " isa " << l;
    }
  }
  // The group sums are what the K-quant kernels rely on for offsets: check them from the codes.
  std::vector<BlockQ8_K> q(k / kQKK);
  quantize_act_row(ActFormat::Q8K, best_cpu_isa(), x.data(), q.data(), k);
  for (const auto& b : q)
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b.qs[16 * g + l];
      EXPECT_EQ(b.bsums[g], sum);
    }
}

}  // namespace
}  // namespace strata::kernels
