// kernels/cpu/cpu_isa.h: the kernel ISA levels strata builds, and which of them this CPU runs (through
// hw/cpu_features.h, the one probe).
#pragma once

#include <string_view>

#include "hw/cpu_features.h"

namespace strata::kernels {

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
