// hw/measure_host.cc: CPU identity and FMA rate, RAM size and cgroup limit, memory read bandwidth.
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <fstream>
#include <set>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "core/aligned_buffer.h"
#include "core/thread_pool.h"
#include "hw/cpu_features.h"
#include "hw/measure_internal.h"

namespace strata::planner::detail {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Reads a cgroup file holding a byte count; "max" and absurd values mean "no limit".
std::optional<uint64_t> read_cgroup_bytes(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  if (!(in >> s) || s == "max") return std::nullopt;
  uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || v >= (uint64_t{1} << 60)) return std::nullopt;
  return v;
}

}  // namespace

CpuInfo read_cpu_info() {
  CpuInfo info;
  cpu_set_t set;
  CPU_ZERO(&set);
  info.n_logical = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : ThreadPool::hardware_threads();
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  std::string physical_id, part;
  int processors = 0;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = trim(line.substr(0, colon));
    std::string value = trim(line.substr(colon + 1));
    if (key == "processor") ++processors;
    else if (key == "model name" && info.model.empty()) info.model = value;
    else if (key == "CPU part" && part.empty()) part = value;
    else if (key == "physical id") physical_id = value;
    else if (key == "core id") cores.insert({physical_id, value});
  }
  info.isa = hw::cpu_feature_names(hw::cpu_features());  // the one probe, as the kernels see the CPU
  if (info.model.empty()) {
    struct utsname u;
    info.model = uname(&u) == 0 ? std::string(u.machine) : "unknown";
    if (!part.empty()) info.model += " (part " + part + ")";
  }
  info.n_physical = cores.empty() ? std::max(processors, info.n_logical) : static_cast<int>(cores.size());
  info.n_physical = std::min(info.n_physical, std::max(1, info.n_logical));
  return info;
}

MemoryInfo read_memory_info() {
  MemoryInfo m;
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb) {
    std::getline(in, unit);
    if (key == "MemTotal:") m.total_bytes = kb * 1024;
    else if (key == "MemAvailable:") m.available_bytes = kb * 1024;
  }
  // The cgroup this process is in (v2: "0::/path"; v1: "N:memory:/path"); a limit on any ancestor counts.
  std::ifstream cg("/proc/self/cgroup");
  std::string line;
  while (std::getline(cg, line)) {
    std::string base, rel;
    if (line.rfind("0::", 0) == 0) {
      base = "/sys/fs/cgroup";
      rel = line.substr(3);
    } else if (size_t p = line.find(":memory:"); p != std::string::npos) {
      base = "/sys/fs/cgroup/memory";
      rel = line.substr(p + 8);
    } else {
      continue;
    }
    const bool v2 = base == "/sys/fs/cgroup";
    for (std::string dir = rel.empty() ? "/" : rel;;) {
      const std::string full = base + (dir == "/" ? "" : dir);
      auto limit = read_cgroup_bytes(full + (v2 ? "/memory.max" : "/memory.limit_in_bytes"));
      if (limit && (!m.cgroup_limit_bytes || *limit < *m.cgroup_limit_bytes)) {
        m.cgroup_limit_bytes = limit;
        auto used = read_cgroup_bytes(full + (v2 ? "/memory.current" : "/memory.usage_in_bytes"));
        const uint64_t room = used && *used < *limit ? *limit - *used : 0;
        m.available_bytes = std::min(m.available_bytes, room);
      }
      const size_t slash = dir.rfind('/');
      if (dir == "/" || slash == std::string::npos) break;
      dir = slash == 0 ? "/" : dir.substr(0, slash);
    }
  }
  return m;
}

double measure_memory_read_bandwidth(uint64_t bytes, int n_threads, double seconds) {
  n_threads = std::max(1, n_threads);
  const size_t n_words = std::max<uint64_t>(bytes / 8, 1 << 20) / (8 * n_threads) * (8 * n_threads);
  AlignedBuffer buffer(n_words * 8);
  auto* words = reinterpret_cast<uint64_t*>(buffer.data());
  ThreadPool pool(n_threads);
  const size_t chunk = n_words / n_threads;
  // First touch from the thread that later reads, so pages land on that thread's memory node.
  pool.run_on_all([&](int t) {
    for (size_t i = chunk * t; i < chunk * (t + 1); ++i) words[i] = i * 0x9E3779B97F4A7C15ull;
  });
  std::atomic<uint64_t> sink{0};
  double best = 0;
  auto t_start = Clock::now();
  for (int pass = 0; pass < 50 && (pass < 3 || seconds_since(t_start) < seconds); ++pass) {
    auto t0 = Clock::now();
    pool.run_on_all([&](int t) {
      const uint64_t* p = words + chunk * t;
      uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (size_t i = 0; i < chunk; i += 4) {
        a0 += p[i];
        a1 += p[i + 1];
        a2 += p[i + 2];
        a3 += p[i + 3];
      }
      sink.fetch_add(a0 ^ a1 ^ a2 ^ a3, std::memory_order_relaxed);
    });
    const double dt = seconds_since(t0);
    if (dt > 0) best = std::max(best, static_cast<double>(n_words * 8) / dt);
  }
  return best;
}

namespace {

// Independent multiply-add chains, enough of them to cover FMA latency x throughput on current cores.
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f"))) double fma_chains_avx512(int64_t iters) {
  __m512 a[12];
  for (auto& x : a) x = _mm512_set1_ps(1.0f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (auto& x : a) x = _mm512_fmadd_ps(x, m, c);
  float out[16];
  __m512 s = a[0];
  for (int k = 1; k < 12; ++k) s = _mm512_add_ps(s, a[k]);
  _mm512_storeu_ps(out, s);
  return out[0] > 1e30f ? 0.0 : static_cast<double>(iters) * 12 * 16 * 2;
}
__attribute__((target("avx2,fma"))) double fma_chains_avx2(int64_t iters) {
  __m256 a[12];
  for (auto& x : a) x = _mm256_set1_ps(1.0f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (auto& x : a) x = _mm256_fmadd_ps(x, m, c);
  float out[8];
  __m256 s = a[0];
  for (int k = 1; k < 12; ++k) s = _mm256_add_ps(s, a[k]);
  _mm256_storeu_ps(out, s);
  return out[0] > 1e30f ? 0.0 : static_cast<double>(iters) * 12 * 8 * 2;
}
#endif

// Portable fallback: 4-wide vectors, a multiply and an add per lane (2 flops).
double fma_chains_generic(int64_t iters) {
  typedef float V4 __attribute__((vector_size(16)));
  V4 a[12];
  for (auto& x : a) x = V4{1, 1, 1, 1};
  const V4 m = {0.999999f, 0.999999f, 0.999999f, 0.999999f}, c = {1e-7f, 1e-7f, 1e-7f, 1e-7f};
  for (int64_t i = 0; i < iters; ++i)
    for (auto& x : a) x = x * m + c;
  V4 s = a[0];
  for (int k = 1; k < 12; ++k) s += a[k];
  return s[0] > 1e30f ? 0.0 : static_cast<double>(iters) * 12 * 4 * 2;
}

double fma_chains(int64_t iters) {
#if defined(__x86_64__) || defined(__i386__)
  const hw::CpuFeatures& f = hw::cpu_features();
  if (f.avx512f) return fma_chains_avx512(iters);
  if (f.avx2 && f.fma) return fma_chains_avx2(iters);
#endif
  return fma_chains_generic(iters);
}

}  // namespace

double measure_fma_gflops(int n_threads, double seconds) {
  n_threads = std::max(1, n_threads);
  // Calibrate on one thread: iterations for about a tenth of the time budget.
  int64_t iters = 1 << 14;
  volatile double sink = 0;  // the loop is pure: an unused result would let the compiler drop it
  for (;;) {
    auto t0 = Clock::now();
    sink = sink + fma_chains(iters);
    if (seconds_since(t0) > seconds / 6 || iters > (int64_t{1} << 34)) break;
    iters *= 2;
  }
  ThreadPool pool(n_threads);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::atomic<uint64_t> flops{0};
    auto t0 = Clock::now();
    pool.run_on_all([&](int) { flops.fetch_add(static_cast<uint64_t>(fma_chains(iters)), std::memory_order_relaxed); });
    const double dt = seconds_since(t0);
    if (dt > 0) best = std::max(best, static_cast<double>(flops.load()) / dt / 1e9);
  }
  return best;
}

}  // namespace strata::planner::detail
