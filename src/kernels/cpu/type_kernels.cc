// kernels/cpu/type_kernels.cc: the CPU kernel table (one row per type, merged from the ISA files' columns) and the
// matmul driver that runs it.
#include "kernels/cpu/type_kernels.h"

#include <algorithm>
#include <atomic>

#include "core/aligned_buffer.h"
#include "core/check.h"

namespace strata::kernels {

namespace {

// Every column fragment this build compiled; a new ISA file adds its line here.
const DotColumn* const kColumns[] = {
    &kDotColumnPortableFloat, &kDotColumnPortableLegacy, &kDotColumnPortableK,
#if defined(__x86_64__)
    &kDotColumnAvx2Float,     &kDotColumnAvx2Legacy,     &kDotColumnAvx2K,
    &kDotColumnAvx512Float,   &kDotColumnAvx512Quant,
#endif
};

constexpr int kNumDTypes = 64;  // GGUF type ids are below this

// The merged table, indexed by DType; a row exists where a portable kernel does (every level falls back to it).
struct Table {
  CpuTypeKernels rows[kNumDTypes];
  bool present[kNumDTypes] = {};
};

Table merge_columns() {
  Table t{};
  for (const DotColumn* c : kColumns)
    for (size_t i = 0; i < c->n_entries; ++i) {
      const DotEntry& e = c->entries[i];
      const int d = static_cast<int>(e.type);
      STRATA_CHECK(d >= 0 && d < kNumDTypes);
      CpuTypeKernels& row = t.rows[d];
      if (c->isa == CpuIsa::Portable) {
        t.present[d] = true;
        row.type = e.type;
        row.act = e.act;
      }
      STRATA_CHECK_MSG(row.dot[static_cast<int>(c->isa)] == nullptr, "two kernels for one type and level");
      row.dot[static_cast<int>(c->isa)] = e.fn;
    }
  // Every level's kernel must take the activations of its type's portable kernel.
  for (const DotColumn* c : kColumns)
    for (size_t i = 0; i < c->n_entries; ++i)
      STRATA_CHECK_MSG(t.present[static_cast<int>(c->entries[i].type)] &&
                           t.rows[static_cast<int>(c->entries[i].type)].act == c->entries[i].act,
                       "a kernel column disagrees with its type's portable kernel");
  return t;
}

const Table& table() {
  static const Table t = merge_columns();
  return t;
}

// Activations of this many bytes per token block stay in L2 while every row of a thread's share streams
// past them once; bigger prompts re-read the weights once per block instead of thrashing the cache.
constexpr size_t kTokenBlockBytes = 512 * 1024;
// Rows are handed out in chunks of about this many weight bytes (fewer when that would leave threads idle).
constexpr size_t kChunkBytes = 128 * 1024;
// Software prefetch of the weight stream: into L1 4 KiB ahead and into L2 16 KiB ahead. The hardware
// prefetcher alone keeps too few lines in flight once every core streams; on a 16-core Xeon this lifts
// Q4_K decode from ~60% to ~90% of the machine's read bandwidth (docs/kernels.md has the measurements).
constexpr uint64_t kPrefetchNearBytes = 4096;
constexpr uint64_t kPrefetchFarBytes = 16384;

}  // namespace

DotFn CpuTypeKernels::dot_for(CpuIsa isa) const { return dot[static_cast<int>(kernel_isa(isa))]; }

CpuIsa CpuTypeKernels::kernel_isa(CpuIsa isa) const {
  for (int level = static_cast<int>(isa); level > 0; --level)
    if (dot[level] != nullptr) return static_cast<CpuIsa>(level);
  return CpuIsa::Portable;
}

const CpuTypeKernels* find_cpu_kernels(DType type) {
  const int d = static_cast<int>(type);
  if (d < 0 || d >= kNumDTypes || !table().present[d]) return nullptr;
  return &table().rows[d];
}

void matmul_with(const CpuTypeKernels& kernels, CpuIsa isa, const TensorView& w, const float* x, int64_t n_tok,
                 float* y, ThreadPool& pool) {
  STRATA_CHECK(w.type == kernels.type);
  STRATA_CHECK(cpu_supports(isa));
  const int64_t k = w.ne[0];
  const int64_t rows = w.n_rows();
  STRATA_CHECK(k % dtype_traits(w.type).block_elems == 0);
  if (n_tok <= 0 || rows <= 0) return;
  const DotFn dot = kernels.dot_for(isa);

  // Activations: the caller's floats as they are, or quantized once here for every row to share.
  const uint8_t* act = reinterpret_cast<const uint8_t*>(x);
  const size_t stride = act_row_bytes(kernels.act, k);
  AlignedBuffer quantized;
  if (kernels.act != ActFormat::F32) {
    quantized.reset(stride * static_cast<size_t>(n_tok), 64);
    auto quantize_tokens = [&](size_t t0, size_t t1) {
      for (size_t t = t0; t < t1; ++t) quantize_act_row(kernels.act, isa, x + t * k, quantized.data() + t * stride, k);
    };
    if (n_tok == 1)
      quantize_tokens(0, 1);
    else
      pool.parallel_for(static_cast<size_t>(n_tok), 1, quantize_tokens);
    act = quantized.data();
  }

  const int64_t tile = kernels.kernel_isa(isa) == CpuIsa::Avx512 ? kDotTokensAvx512 : kDotTokensOther;
  const int64_t token_block = std::max<int64_t>(tile, static_cast<int64_t>(kTokenBlockBytes / stride) / tile * tile);
  // Rows go out in chunks from a shared counter rather than one fixed share per thread: under memory
  // load some cores stream slower than others, and fixed shares leave the fast ones idle at the end.
  const uint64_t row_bytes = w.row_bytes();
  const size_t chunk_rows = std::clamp<size_t>(
      std::min<size_t>(kChunkBytes / std::max<uint64_t>(row_bytes, 1), static_cast<size_t>(rows) / (4 * pool.size())),
      1, static_cast<size_t>(rows));
  std::atomic<size_t> next_row{0};
  pool.run_on_all([&](int) {
    float out[kMaxDotTokens];
    for (;;) {
      const size_t r0 = next_row.fetch_add(chunk_rows, std::memory_order_relaxed);
      if (r0 >= static_cast<size_t>(rows)) break;
      const size_t r1 = std::min<size_t>(static_cast<size_t>(rows), r0 + chunk_rows);
      const uint8_t* chunk_end = w.row(static_cast<int64_t>(r1));
      for (int64_t tb = 0; tb < n_tok; tb += token_block) {
        const int64_t tb_end = std::min(n_tok, tb + token_block);
        for (size_t r = r0; r < r1; ++r) {
          const uint8_t* row = w.row(static_cast<int64_t>(r));
          // Ask now for the bytes this row's successors need (never past this chunk, another thread's).
          const uint64_t left = static_cast<uint64_t>(chunk_end - row);
          for (uint64_t o = 0; o < row_bytes; o += 64) {
            if (kPrefetchNearBytes + o < left) __builtin_prefetch(row + kPrefetchNearBytes + o, 0, 3);
            if (kPrefetchFarBytes + o < left) __builtin_prefetch(row + kPrefetchFarBytes + o, 0, 1);
          }
          for (int64_t t = tb; t < tb_end; t += tile) {
            const int n = static_cast<int>(std::min<int64_t>(tile, tb_end - t));
            dot(row, act + static_cast<size_t>(t) * stride, stride, n, k, out);
            for (int i = 0; i < n; ++i) y[(t + i) * rows + static_cast<int64_t>(r)] = out[i];
          }
        }
      }
    }
  });
}

}  // namespace strata::kernels
