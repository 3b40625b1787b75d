// kernels/cuda/launchers.h: the host entry points of the CUDA kernels, one section per op family (each
// family is one .cu file, kernels then launchers). Every pointer is device memory unless named host_;
// every launcher takes the stream it enqueues on, checks its shapes (STRATA_CHECK: a wrong shape is a
// programming error upstream) and checks the launch with file and line. Nothing here synchronizes.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/dtype_id.h"

namespace strata::cuda {

// ---- weight products (matvec.cu, gemm.cu; per-type rows in type_table_*.cu) ----------------------------
// Whether the CUDA kernels decode `type` (every type of the DType table except the activation type Q8_K).
bool supports_weight_type(DType type);
// y[t, r] = sum_i W[r, i] x[t, i] (+ bias[r]).  W: [rows, k] rows of `type`; x: [n_tok, k]; y: [n_tok, rows];
// bias may be null. n_tok <= kMatvecMaxTokens runs the fused dequantize-and-dot mat-vec, reading each weight
// once for all tokens; more tokens run the tensor-core GEMM (tiles dequantized to F16). k % 32 == 0.
inline constexpr int kMatvecMaxTokens = 8;
void matmul(DType type, const void* w, int64_t k, int64_t rows, const float* x, int64_t n_tok, const float* bias,
            float* y, cudaStream_t stream);
// Forced paths, for the parity tests and the microbenchmark.
void matvec(DType type, const void* w, int64_t k, int64_t rows, const float* x, int64_t n_tok, const float* bias,
            float* y, cudaStream_t stream);
void gemm(DType type, const void* w, int64_t k, int64_t rows, const float* x, int64_t n_tok, const float* bias,
          float* y, cudaStream_t stream);
// MoE decode: for slot s, y[s] = W[expert_ids[s]] x[s * x_stride_tok ...]; W stacked [n_expert][rows, k].
// The expert index is read on the device: no host round trip. x_stride 0 shares one input across slots.
void matvec_experts(DType type, const void* w, int64_t k, int64_t rows, int64_t n_expert, const int32_t* expert_ids,
                    int64_t n_slots, const float* x, int64_t x_stride, float* y, cudaStream_t stream);
// 8-bit activations (matvec_q8.cuh): quantize_q8 writes x [n_tok, k] into a workspace of
// q8_workspace_bytes(k, n_tok) (int8 per element, a scale and two half sums per 32); matvec_q8 then takes
// it in place of x for a type with has_matvec_q8, dotting integers with dp4a. Error: that of 8-bit x,
// about 0.4% per 32-block (the CPU backend's quantized products see the same).
int64_t q8_workspace_bytes(int64_t k, int64_t n_tok);
void quantize_q8(const float* x, int64_t n_tok, int64_t k, void* workspace, cudaStream_t stream);
// rms_norm and glu (below) that also quantize their output into such a workspace (n % 32 == 0); the float
// output is the same as theirs.
void rms_norm_q8(const float* x, const float* weight, int64_t n_rows, int64_t n, float eps, float* out,
                 void* workspace, cudaStream_t stream);
// x += y, then rms_norm_q8 of the updated x (the residual add and the next block's norm in one kernel).
// out may be y (every read of y precedes the block's barrier), not x.
void add_rms_norm_q8(float* x, const float* y, const float* weight, int64_t n_rows, int64_t n, float eps, float* out,
                     void* workspace, cudaStream_t stream);
void glu_q8(const float* gate, const float* up, int64_t n_tok, int64_t n, bool use_gelu, float* out, void* workspace,
            cudaStream_t stream);
bool has_matvec_q8(DType type);
// Which kernel multiplies the integers: dp4a (four products an instruction, per token), or the integer
// tensor cores (mma m16n8k16: 16 rows by up to 8 tokens an instruction, each token's x read once per 16
// rows). Auto: dp4a for one token; for 2-8 tokens kBatchOnTensorCores decides.
enum class Q8Kernel { Auto, Dp4a, TensorCores };
// Off: the tensor-core kernel passes its parity cases on the H100 but is slower than dp4a there at 1 and 8
// tokens (Q4_K 14336x4096, 8 tokens: 77 us against 45; docs/performance.md, 2026-12-07).
inline constexpr bool kBatchOnTensorCores = false;
void matvec_q8(DType type, const void* w, int64_t k, int64_t rows, const void* xq8, int64_t n_tok, const float* bias,
               float* y, cudaStream_t stream, Q8Kernel kernel = Q8Kernel::Auto);
// out[i, :] = dequantized row ids[i] of table [n_rows, k] (embedding gather); ids are checked on the device
// (an id out of range writes NaN rather than reading outside the table).
void get_rows(DType type, const void* table, int64_t k, int64_t n_rows, const int32_t* ids, int64_t n_ids, float* out,
              cudaStream_t stream);
// Rows [r0, r0 + n) of w [rows, k] of `type` dequantized to F16 [n, k] in `out` (16-byte aligned): the weight
// operand of the prompt products' cuBLAS GEMM (kernels/cuda/cublas_gemm.h).
void weight_to_f16(DType type, const void* w, int64_t k, int64_t r0, int64_t n, uint16_t* out, cudaStream_t stream);

// ---- norms and elementwise (norm.cu) -------------------------------------------------------------------
// out[t, i] = x[t, i] / sqrt(mean_i(x[t]^2) + eps) * weight[i]; out may alias x. weight may be null (no scale).
void rms_norm(const float* x, const float* weight, int64_t n_rows, int64_t n, float eps, float* out,
              cudaStream_t stream);
// x += y, then rms_norm of the updated x into out (which may be y, not x).
void add_rms_norm(float* x, const float* y, const float* weight, int64_t n_rows, int64_t n, float eps, float* out,
                  cudaStream_t stream);
// y[i] += x[i]
void add_inplace(float* y, const float* x, int64_t n, cudaStream_t stream);
// out[t, i] = silu(gate[t, i]) * up[t, i]  (gelu when use_gelu); out may alias gate.
// The gated activations (kernels::GluKind): SiluClamped is gpt-oss's, with its alpha and limit.
enum class Glu { Silu, Gelu, SiluClamped };
void glu(const float* gate, const float* up, int64_t n, Glu kind, float alpha, float limit, float* out,
         cudaStream_t stream);
// x[i] = value
void fill(float* x, int64_t n, float value, cudaStream_t stream);
// dst[i] = float(src[i]), src F16 bits (or BF16 when bf16): norm scales and biases of any length.
void half_to_float(const uint16_t* src, int64_t n, bool bf16, float* dst, cudaStream_t stream);
// dst[i] = F16 bits of src[i] (round to nearest even): the activations of the cuBLAS prompt products.
void float_to_half(const float* src, int64_t n, uint16_t* dst, cudaStream_t stream);
// y[t, r] += bias[r] for y [n_tok, rows].
void add_bias_rows(float* y, const float* bias, int64_t n_tok, int64_t rows, cudaStream_t stream);

// One token of a batched attention (several sequences, each with its own cache): its cache and position.
struct KvTok {
  uint16_t* k;
  uint16_t* v;
  int64_t n_rows;  // the cache's rows (position p in row p % n_rows)
  int64_t pos;     // the token's position
};

// ---- RoPE (rope.cu) ------------------------------------------------------------------------------------
// Rotates the first n_rot dims of each head of x [n_tok, n_head * head_dim] in place, token t at position
// pos0 + t, pair i by angle (pos * inv_freq[i]) in double and magnitude mscale. inv_freq: device [n_rot / 2]
// doubles, the per-pair rate with every scaling scheme folded in (host-computed from kernels/rope_angles.h).
// halves: pairs (i, i + n_rot / 2) (NeoX), else (2i, 2i + 1). pos_dev (a recorded decode step): the position
// is read from device memory when the kernel runs, and pos0 is ignored. toks (device [n_tok]): token t at
// toks[t].pos instead, or at pos_dev[t] when pos_dev is given too (a recorded step of several sequences).
void rope(float* x, int64_t n_tok, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos0,
          const double* inv_freq, float mscale, bool halves, cudaStream_t stream, const int64_t* pos_dev = nullptr,
          const KvTok* toks = nullptr);

// ---- attention (attention.cu) --------------------------------------------------------------------------
// Causal GQA attention over an F16 KV cache (kv_dim = n_kv_head * head_dim halves per row; position p in row
// p % n_rows: a sliding-window ring needs n_rows >= window + n_tok - 1, a full cache n_rows >= pos0 + n_tok).
// q, out: [n_tok, n_head * head_dim] floats; token t sits at position pos0 + t and sees positions
// [max(0, pos0 + t + 1 - window), pos0 + t] (window 0: all). sinks: device [n_head] extra logits, or null.
// Any even head_dim up to kAttentionMaxHeadDim.
// Flash-decoding: each (token, head) splits its positions over blocks of kAttentionSplit, and a second
// kernel merges the partial softmaxes. workspace: attention_workspace_floats(...) floats.
// pos_dev (a recorded decode step): pos0 is read from device memory when the kernels run, and the grid and
// workspace cover positions below pos_bound (REQUIRES: *pos_dev + n_tok <= pos_bound at run time); the
// splits past the run-time position find no positions and the merge skips them.
// toks (a batch of sequences): token t reads and writes toks[t]'s cache at toks[t].pos (k_cache, v_cache,
// n_rows and pos0 are ignored), or at pos_dev[t] when pos_dev is given too (a recorded step of several
// sequences: the descriptors stay, the positions move); pos_bound bounds every token's position + 1.
inline constexpr int64_t kAttentionSplit = 64;
inline constexpr int64_t kAttentionMaxHeadDim = 256;
int64_t attention_workspace_floats(int64_t n_tok, int64_t n_head, int64_t head_dim, int64_t max_positions);
void attention_f16(const float* q, const uint16_t* k_cache, const uint16_t* v_cache, int64_t kv_dim, int64_t n_rows,
                   int64_t n_tok, int64_t n_head, int64_t n_kv_head, int64_t head_dim, int64_t pos0, int64_t window,
                   float scale, const float* sinks, float* workspace, float* out, cudaStream_t stream,
                   const int64_t* pos_dev = nullptr, int64_t pos_bound = 0, const KvTok* toks = nullptr);
// Writes k and v rows ([n_tok, kv_dim] floats) into the cache rows of positions pos0.. (p % n_rows) as F16
// (pos_dev, toks: as above).
void kv_store_f16(const float* k, const float* v, int64_t n_tok, int64_t kv_dim, int64_t n_rows, int64_t pos0,
                  uint16_t* k_cache, uint16_t* v_cache, cudaStream_t stream, const int64_t* pos_dev = nullptr,
                  const KvTok* toks = nullptr);
// rope() of q [n_tok, n_head * head_dim] and of k [n_tok, n_head_kv * head_dim] (both in place), then
// kv_store_f16 of k and v, in one launch (the inputs of a pass's attention).
void rope_kv_store_f16(float* q, float* k, const float* v, int64_t n_tok, int64_t n_head, int64_t n_head_kv,
                       int64_t head_dim, int64_t n_rot, const double* inv_freq, float mscale, bool halves,
                       int64_t n_rows, int64_t pos0, uint16_t* k_cache, uint16_t* v_cache, cudaStream_t stream,
                       const int64_t* pos_dev = nullptr, const KvTok* toks = nullptr);

// ---- MoE routing and expert rows (moe.cu) -------------------------------------------------------------
// Per token t of logits [n_tok, n_expert]: the n_used largest (descending, ties to the lower id) into
// ids[t * n_used + j], and weights: softmax over the chosen logits (softmax_all false), or softmax over all
// experts then the chosen kept (divided by their sum when norm_topk). n_expert <= kMoeMaxExperts.
inline constexpr int64_t kMoeMaxExperts = 1024;
void moe_route(const float* logits, int64_t n_tok, int64_t n_expert, int64_t n_used, bool softmax_all, bool norm_topk,
               int32_t* ids, float* weights, cudaStream_t stream);
// dst[i, :] = src[rows[i], :]   (rows: device [n] int32)
void gather_rows(const float* src, int64_t cols, const int32_t* rows, int64_t n, float* dst, cudaStream_t stream);
// dst[rows[i], :] += scale[i] * src[i, :], in order of i (one thread per column walks i: no races).
void scatter_add(const float* src, int64_t cols, const int32_t* rows, const float* scale, int64_t n, float* dst,
                 cudaStream_t stream);

}  // namespace strata::cuda
