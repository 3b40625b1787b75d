// hw/cpu_features.h: what this CPU can run, detected once per process: the one CPU-feature probe in strata.
#pragma once

#include <string>
#include <vector>

namespace strata::hw {

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

// The features that are set, spelled as /proc/cpuinfo does (avx2, fma, avx512_vnni, asimddp, ...).
std::vector<std::string> cpu_feature_names(const CpuFeatures& f);

}  // namespace strata::hw
