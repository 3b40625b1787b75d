// kernels/cpu/cpu_isa.cc: the kernel ISA levels over the CPU features (hw/cpu_features.h).
#include "kernels/cpu/cpu_isa.h"

namespace strata::kernels {

using hw::CpuFeatures;
using hw::cpu_features;

bool cpu_supports(CpuIsa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case CpuIsa::Portable:
      return true;
    case CpuIsa::Avx2:
      return f.avx2 && f.fma && f.f16c;
    case CpuIsa::Avx512:
      return f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni;
  }
  return false;
}

CpuIsa best_cpu_isa() {
  static const CpuIsa best = cpu_supports(CpuIsa::Avx512) ? CpuIsa::Avx512
                             : cpu_supports(CpuIsa::Avx2) ? CpuIsa::Avx2
                                                          : CpuIsa::Portable;
  return best;
}

std::string_view cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Portable:
      return "portable";
    case CpuIsa::Avx2:
      return "avx2";
    case CpuIsa::Avx512:
      return "avx512";
  }
  return "?";
}

}  // namespace strata::kernels
