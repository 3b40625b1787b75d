// kernels/cpu/cpu_features.h: what this CPU can run (detected once per process) and the kernel ISA levels.
#pragma once

#include <string_view>

namespace strata::kernels {

struct CpuFeatures {
  // x86-64 (each also requires the OS to save the wider register state, checked through XGETBV).
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avx_vnni = false;
  // ARM64.
  bool neon = false;
  bool dotprod = false;
};

// Detected on first call (cpuid/xgetbv on x86-64, getauxval on ARM64), then cached.
const CpuFeatures& cpu_features();

// The kernel levels strata builds. Each level's kernels assume every feature listed here.
enum class CpuIsa {
  Portable = 0,  // plain C++: any CPU, the path that ARM64 builds use
  Avx2 = 1,      // AVX2 + FMA + F16C
  Avx512 = 2,    // Avx2 plus AVX-512 F, BW, VL, DQ and VNNI
};
constexpr int kNumCpuIsas = 3;

bool cpu_supports(CpuIsa isa);
// The highest level this CPU supports; fixed for the life of the process.
CpuIsa best_cpu_isa();
std::string_view cpu_isa_name(CpuIsa isa);

}  // namespace strata::kernels
