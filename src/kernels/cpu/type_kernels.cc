// kernels/cpu/type_kernels.cc: the CPU kernel table (one row per type, merged from the ISA files' columns) and the
// matmul driver that runs it.
#include "kernels/cpu/type_kernels.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

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
  const CpuMatmul one{&kernels, w, x, n_tok, y};
  matmul_many_with(std::span(&one, 1), isa, pool);
}

void matmul_many_with(std::span<const CpuMatmul> items, CpuIsa isa, ThreadPool& pool) {
  STRATA_CHECK(cpu_supports(isa));
  // What each product needs in the row loop, prepared once.
  struct Prepared {
    DotFn dot = nullptr;
    const uint8_t* act = nullptr;  // its activations: the caller's floats, or their quantized copy
    size_t stride = 0;             // bytes per token of act
    int64_t tile = 1, token_block = 1;
    size_t chunk_rows = 1;
    size_t first_chunk = 0;  // this product's chunks are [first_chunk, next product's first_chunk)
  };
  std::vector<Prepared> prep(items.size());
  // Activations are quantized once per distinct input: an expert's gate and up share theirs.
  struct QuantRow {
    const float* src;
    uint8_t* dst;
    ActFormat act;
    int64_t k;
  };
  std::vector<QuantRow> quant_rows;
  size_t quant_bytes = 0, total_rows = 0;
  std::vector<size_t> quant_offset(items.size(), SIZE_MAX);  // into `quantized`, per product that owns one
  std::vector<size_t> shares(items.size(), SIZE_MAX);        // the earlier product whose activations it reuses
  for (size_t i = 0; i < items.size(); ++i) {
    const CpuMatmul& m = items[i];
    STRATA_CHECK(m.kernels != nullptr && m.w.type == m.kernels->type);
    STRATA_CHECK(m.w.ne[0] % dtype_traits(m.w.type).block_elems == 0);
    Prepared& p = prep[i];
    p.dot = m.kernels->dot_for(isa);
    p.stride = act_row_bytes(m.kernels->act, m.w.ne[0]);
    p.act = reinterpret_cast<const uint8_t*>(m.x);
    if (m.n_tok > 0 && m.w.n_rows() > 0) total_rows += static_cast<size_t>(m.w.n_rows());
    if (m.kernels->act == ActFormat::F32 || m.n_tok <= 0) continue;
    for (size_t j = 0; j < i && shares[i] == SIZE_MAX; ++j)
      if (quant_offset[j] != SIZE_MAX && items[j].x == m.x && items[j].n_tok == m.n_tok &&
          items[j].kernels->act == m.kernels->act && items[j].w.ne[0] == m.w.ne[0])
        shares[i] = j;
    if (shares[i] != SIZE_MAX) continue;
    quant_offset[i] = quant_bytes;
    quant_bytes += p.stride * static_cast<size_t>(m.n_tok);
    quant_bytes = (quant_bytes + 63) / 64 * 64;
  }
  AlignedBuffer quantized;
  if (quant_bytes > 0) {
    quantized.reset(quant_bytes, 64);
    size_t floats = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (quant_offset[i] == SIZE_MAX) continue;
      const CpuMatmul& m = items[i];
      uint8_t* dst = quantized.data() + quant_offset[i];
      for (int64_t t = 0; t < m.n_tok; ++t)
        quant_rows.push_back({m.x + t * m.w.ne[0], dst + static_cast<size_t>(t) * prep[i].stride, m.kernels->act, m.w.ne[0]});
      floats += static_cast<size_t>(m.n_tok * m.w.ne[0]);
    }
    auto quantize = [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) quantize_act_row(quant_rows[r].act, isa, quant_rows[r].src, quant_rows[r].dst, quant_rows[r].k);
    };
    // A decode step's few rows quantize faster here than a dispatch to the pool takes.
    constexpr size_t kInlineQuantizeFloats = 1 << 15;
    if (quant_rows.size() == 1 || floats <= kInlineQuantizeFloats)
      quantize(0, quant_rows.size());
    else
      pool.parallel_for(quant_rows.size(), 1, quantize);
    for (size_t i = 0; i < items.size(); ++i) {
      if (quant_offset[i] != SIZE_MAX) prep[i].act = quantized.data() + quant_offset[i];
      else if (shares[i] != SIZE_MAX) prep[i].act = prep[shares[i]].act;
    }
  }

  // Rows go out in chunks from one shared counter over every product, rather than one fixed share per thread:
  // under memory load some cores stream slower than others, and fixed shares leave the fast ones idle at the end.
  size_t n_chunks = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const CpuMatmul& m = items[i];
    Prepared& p = prep[i];
    p.first_chunk = n_chunks;
    const int64_t rows = m.w.n_rows();
    if (m.n_tok <= 0 || rows <= 0) continue;
    p.tile = m.kernels->kernel_isa(isa) == CpuIsa::Avx512 ? kDotTokensAvx512 : kDotTokensOther;
    p.token_block = std::max<int64_t>(p.tile, static_cast<int64_t>(kTokenBlockBytes / p.stride) / p.tile * p.tile);
    p.chunk_rows = std::clamp<size_t>(std::min<size_t>(kChunkBytes / std::max<uint64_t>(m.w.row_bytes(), 1),
                                                       total_rows / (4 * static_cast<size_t>(pool.size()))),
                                      1, static_cast<size_t>(rows));
    n_chunks += (static_cast<size_t>(rows) + p.chunk_rows - 1) / p.chunk_rows;
  }
  if (n_chunks == 0) return;
  std::atomic<size_t> next_chunk{0};
  pool.run_on_all([&](int) {
    float out[kMaxDotTokens];
    size_t i = 0;  // chunks are taken in increasing order: the product only moves forward
    for (;;) {
      const size_t c = next_chunk.fetch_add(1, std::memory_order_relaxed);
      if (c >= n_chunks) break;
      while (i + 1 < items.size() && prep[i + 1].first_chunk <= c) ++i;
      const CpuMatmul& m = items[i];
      const Prepared& p = prep[i];
      const int64_t rows = m.w.n_rows();
      const uint64_t row_bytes = m.w.row_bytes();
      const size_t r0 = (c - p.first_chunk) * p.chunk_rows;
      const size_t r1 = std::min<size_t>(static_cast<size_t>(rows), r0 + p.chunk_rows);
      const uint8_t* chunk_end = m.w.row(static_cast<int64_t>(r1));
      for (int64_t tb = 0; tb < m.n_tok; tb += p.token_block) {
        const int64_t tb_end = std::min(m.n_tok, tb + p.token_block);
        for (size_t r = r0; r < r1; ++r) {
          const uint8_t* row = m.w.row(static_cast<int64_t>(r));
          // Ask now for the bytes this row's successors need (never past this chunk, another thread's).
          const uint64_t left = static_cast<uint64_t>(chunk_end - row);
          for (uint64_t o = 0; o < row_bytes; o += 64) {
            if (kPrefetchNearBytes + o < left) __builtin_prefetch(row + kPrefetchNearBytes + o, 0, 3);
            if (kPrefetchFarBytes + o < left) __builtin_prefetch(row + kPrefetchFarBytes + o, 0, 1);
          }
          for (int64_t t = tb; t < tb_end; t += p.tile) {
            const int n = static_cast<int>(std::min<int64_t>(p.tile, tb_end - t));
            p.dot(row, p.act + static_cast<size_t>(t) * p.stride, p.stride, n, m.w.ne[0], out);
            for (int j = 0; j < n; ++j) m.y[(t + j) * rows + static_cast<int64_t>(r)] = out[j];
          }
        }
      }
    }
  });
}

}  // namespace strata::kernels
