// bench/kernel_bench.cc: CPU matmul throughput per weight type against the machine's measured read bandwidth.
// Decode (n_tok = 1) on 4096 x 14336 and 14336 x 4096, reported as GB/s of weight bytes read and as a
// fraction (of_read_bw) of a STREAM-like multi-threaded read loop run in the same process, interleaved with
// the kernel's iterations; plus prompt batches, whose tok/s compares with decode's.
// Weights cycle through enough copies to exceed the last-level cache, so every product reads DRAM as a
// real model does. Flags (before Google Benchmark's own): --threads=N (default: all hardware threads),
// --isa=portable|avx2|avx512 (default: the best this CPU has), --working-set-mib=N.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/aligned_buffer.h"
#include "core/thread_pool.h"
#include "kernels/cpu/type_kernels.h"
#include "kernels/ops.h"

namespace strata::bench {

namespace {

using kernels::CpuIsa;

// Run-wide settings, parsed once in main (the benchmark is an edge: it may read flags).
struct Settings {
  int threads = ThreadPool::hardware_threads();
  CpuIsa isa = kernels::best_cpu_isa();
  size_t working_set_bytes = 0;  // 0: max(1 GiB, 2 x last-level cache)
  double read_gbps = 0.0;        // measured once before the benchmarks run
};
Settings& settings() {
  static Settings s;
  return s;
}
ThreadPool& pool() {
  static ThreadPool p(settings().threads);
  return p;
}

size_t default_working_set() {
  long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  const size_t cache = l3 > 0 ? static_cast<size_t>(l3) : size_t{32} << 20;
  return std::max<size_t>(size_t{1} << 30, 2 * cache);
}

// ---- read bandwidth -----------------------------------------------------------------------------------

#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t read_slice(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  uint64_t out[4];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), s);
  return out[0] + out[1] + out[2] + out[3];
}
uint64_t read_slice_dispatch(const uint8_t* p, size_t n) {
  if (hw::cpu_features().avx2) return read_slice(p, n);
  uint64_t s = 0;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    s += v;
  }
  return s;
}
#else
uint64_t read_slice_dispatch(const uint8_t* p, size_t n) {
  uint64_t s0 = 0, s1 = 0;
  for (size_t i = 0; i + 16 <= n; i += 16) {
    uint64_t a, b;
    std::memcpy(&a, p + i, 8);
    std::memcpy(&b, p + i + 8, 8);
    s0 += a;
    s1 += b;
  }
  return s0 + s1;
}
#endif

// Reads [offset, offset + bytes) of `buf` once with every thread; returns bytes per second. Two schedules:
// one contiguous share per thread (plain STREAM), or 128 KiB chunks from a shared counter with software
// prefetch 4 KiB ahead (what the matmul driver does). Reference figures take the better of the two, so a
// kernel's ratio is never flattered by a read loop that is slower than the memory.
double read_range(const AlignedBuffer& buf, size_t offset, size_t bytes, bool chunked) {
  const size_t n_threads = static_cast<size_t>(pool().size());
  std::vector<uint64_t> sink(n_threads * 8);
  constexpr size_t kChunk = 128 * 1024, kAhead = 4096;
  const size_t total = bytes / kChunk * kChunk;
  const uint8_t* base = buf.data() + offset;
  std::atomic<size_t> next{0};
  const auto t0 = std::chrono::steady_clock::now();
  pool().run_on_all([&](int t) {
    if (!chunked) {
      const size_t share = total / n_threads / 4096 * 4096;
      sink[t * 8] = read_slice_dispatch(base + share * t, share);
      return;
    }
    uint64_t s = 0;
    for (size_t off; (off = next.fetch_add(kChunk, std::memory_order_relaxed)) < total;) {
      for (size_t p = off + kAhead; p < off + kChunk; p += 64) __builtin_prefetch(base + p, 0, 3);
      s += read_slice_dispatch(base + off, kChunk);
    }
    sink[t * 8] = s;
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  benchmark::DoNotOptimize(sink.data());
  const size_t done = chunked ? total : total / n_threads / 4096 * 4096 * n_threads;
  return static_cast<double>(done) / seconds;
}

double read_once(const AlignedBuffer& buf, bool chunked) { return read_range(buf, 0, buf.size(), chunked); }

AlignedBuffer& read_buffer() {
  static AlignedBuffer buf = [] {
    AlignedBuffer b(settings().working_set_bytes);
    pool().run_on_all([&](int t) {  // first touch by the thread that will read it
      const size_t share = b.size() / pool().size();
      std::memset(b.data() + share * t, 1, share);
    });
    return b;
  }();
  return buf;
}

double measure_read_gbps() {
  double best = 0.0;
  for (int i = 0; i < 5; ++i) best = std::max({best, read_once(read_buffer(), false), read_once(read_buffer(), true)});
  return best / 1e9;
}

void BM_ReadBandwidth(benchmark::State& state, bool chunked) {
  double best = 0.0;
  for (auto _ : state) best = std::max(best, read_once(read_buffer(), chunked));
  state.counters["best_GB/s"] = best / 1e9;
  state.counters["threads"] = pool().size();
}

// ---- weights ------------------------------------------------------------------------------------------

// `copies` matrices of one type, each [k, rows], filled from one quantized random chunk repeated (only the
// bytes' count and placement matter for bandwidth; every copy is a distinct address range).
struct WeightSet {
  DType type;
  int64_t n_elements = 0;
  size_t matrix_bytes = 0;
  std::vector<AlignedBuffer> copies;
};

WeightSet make_weights(DType type, int64_t n_elements) {
  const auto& t = dtype_traits(type);
  WeightSet ws{type, n_elements, t.row_bytes(n_elements), {}};
  constexpr int64_t kChunk = 1 << 20;  // elements quantized for real, then tiled
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> f(kChunk);
  for (auto& v : f) v = normal(rng);
  std::vector<uint8_t> chunk(t.row_bytes(kChunk));
  t.quantize_row(f.data(), chunk.data(), kChunk);
  const size_t n_copies = std::max<size_t>(2, (settings().working_set_bytes + ws.matrix_bytes - 1) / ws.matrix_bytes);
  for (size_t c = 0; c < n_copies; ++c) {
    AlignedBuffer b(ws.matrix_bytes);
    for (size_t off = 0; off < ws.matrix_bytes; off += chunk.size())
      std::memcpy(b.data() + off, chunk.data(), std::min(chunk.size(), ws.matrix_bytes - off));
    ws.copies.push_back(std::move(b));
  }
  return ws;
}

// One weight set per type, built on first use and kept for both shapes.
WeightSet& weights_for(DType type) {
  static std::vector<std::unique_ptr<WeightSet>> cache;
  for (auto& w : cache)
    if (w->type == type) return *w;
  if (!cache.empty()) cache.clear();  // one type at a time keeps memory bounded
  cache.push_back(std::make_unique<WeightSet>(make_weights(type, int64_t{4096} * 14336)));
  return *cache.back();
}

// ---- matmul benchmarks --------------------------------------------------------------------------------

// Runs the matmul in the timed loop. With `interleave_read`, every iteration is followed (untimed) by a
// read of as many bytes from the read buffer, so the kernel's rate and the memory's rate are taken in the
// same moments: on a shared host the bandwidth left by neighbours drifts by 2x within a minute.
void run_matmul(benchmark::State& state, DType type, int64_t k, int64_t rows, int64_t n_tok, bool interleave_read) {
  WeightSet& ws = weights_for(type);
  const kernels::CpuTypeKernels* kern = kernels::find_cpu_kernels(type);
  if (kern == nullptr) {
    state.SkipWithError("no kernel row for this type");
    return;
  }
  std::vector<float> x(static_cast<size_t>(k * n_tok)), y(static_cast<size_t>(rows * n_tok));
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  TensorView w;
  w.type = type;
  w.ne = {k, rows, 1, 1};
  size_t next = 0, read_offset = 0;
  double kernel_seconds = 0.0, read_seconds = 0.0, read_bytes = 0.0;
  const AlignedBuffer& rbuf = read_buffer();
  for (auto _ : state) {
    w.data = ws.copies[next].data();
    next = (next + 1) % ws.copies.size();
    const auto t0 = std::chrono::steady_clock::now();
    kernels::matmul_with(*kern, settings().isa, w, x.data(), n_tok, y.data(), pool());
    benchmark::DoNotOptimize(y.data());
    kernel_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (interleave_read) {
      state.PauseTiming();
      const size_t bytes = std::min(ws.matrix_bytes, rbuf.size());
      if (read_offset + bytes > rbuf.size()) read_offset = 0;
      const double rate =
          std::max(read_range(rbuf, read_offset, bytes, true), read_range(rbuf, read_offset, bytes, false));
      read_offset += bytes;
      read_seconds += static_cast<double>(bytes) / rate;
      read_bytes += static_cast<double>(bytes);
      state.ResumeTiming();
    }
  }
  const double bytes = static_cast<double>(state.iterations()) * static_cast<double>(ws.matrix_bytes);
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsRate);
  state.counters["tok/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n_tok), benchmark::Counter::kIsRate);
  if (interleave_read && read_seconds > 0.0 && kernel_seconds > 0.0) {
    const double read_gbps = read_bytes / read_seconds / 1e9;
    state.counters["read_GB/s"] = read_gbps;
    state.counters["of_read_bw"] = (bytes / kernel_seconds / 1e9) / read_gbps;
  }
  state.SetLabel(std::string(kernels::cpu_isa_name(kern->kernel_isa(settings().isa))));
}

void BM_Decode(benchmark::State& state, DType type, int64_t k, int64_t rows) {
  run_matmul(state, type, k, rows, 1, true);
}

void BM_Batch(benchmark::State& state, DType type, int64_t k, int64_t rows) {
  run_matmul(state, type, k, rows, state.range(0), false);
}

void register_benchmarks() {
  benchmark::RegisterBenchmark("read_bandwidth/static_shares", BM_ReadBandwidth, false)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("read_bandwidth/chunks_prefetch", BM_ReadBandwidth, true)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  for (const auto& t : all_dtypes()) {
    if (kernels::find_cpu_kernels(t.type) == nullptr) continue;
    const std::string name(t.name);
    benchmark::RegisterBenchmark(("decode/" + name + "/k4096_rows14336").c_str(), BM_Decode, t.type, 4096, 14336)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("decode/" + name + "/k14336_rows4096").c_str(), BM_Decode, t.type, 14336, 4096)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  // Prompt batches: per-token cost against decode (the same 4096 x 14336 matrix, weights reused per tile).
  for (DType type : {DType::Q4_K, DType::Q6_K, DType::Q8_0, DType::F16, DType::Q5_K, DType::Q4_0}) {
    const std::string name(dtype_traits(type).name);
    benchmark::RegisterBenchmark(("batch/" + name + "/k4096_rows14336").c_str(), BM_Batch, type, 4096, 14336)
        ->Arg(32)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

bool parse_flag(const char* arg, const char* name, std::string& value) {
  const size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  value = arg + n + 1;
  return true;
}

}  // namespace

}  // namespace strata::bench

int main(int argc, char** argv) {
  using namespace strata;
  using namespace strata::bench;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string v;
    if (parse_flag(argv[i], "--threads", v)) {
      settings().threads = std::max(1, std::atoi(v.c_str()));
    } else if (parse_flag(argv[i], "--isa", v)) {
      bool found = false;
      for (int l = 0; l < kernels::kNumCpuIsas; ++l)
        if (kernels::cpu_isa_name(static_cast<kernels::CpuIsa>(l)) == v) {
          settings().isa = static_cast<kernels::CpuIsa>(l);
          found = true;
        }
      if (!found || !kernels::cpu_supports(settings().isa)) {
        std::fprintf(stderr, "strata_kernel_bench: --isa=%s is unknown or not supported by this CPU\n", v.c_str());
        return 2;
      }
    } else if (parse_flag(argv[i], "--working-set-mib", v)) {
      settings().working_set_bytes = static_cast<size_t>(std::atoll(v.c_str())) << 20;
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (settings().working_set_bytes == 0) settings().working_set_bytes = default_working_set();
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  settings().read_gbps = measure_read_gbps();
  std::printf("threads %d, isa %s, working set %zu MiB, measured read bandwidth %.2f GB/s\n", pool().size(),
              std::string(kernels::cpu_isa_name(settings().isa)).c_str(), settings().working_set_bytes >> 20,
              settings().read_gbps);
  register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
