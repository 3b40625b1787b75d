// kernels/backend.h: the compute backend interface: buffers, one in-order stream, events, copies, and the ops
// of the forward pass on float activations resident on the backend's device.
//
// Vocabulary (after ggml-backend): a Backend is one device and one in-order stream on it. Every op and copy
// is *enqueued*: it may still be running when the call returns, and it runs after everything enqueued on
// the same backend before it. Events order work across backends and against the host. The CPU backend runs
// each op to completion inside the call (its events are complete when recorded); an asynchronous backend
// (CUDA) returns at once, so a caller must not touch a buffer an op reads or writes until an event recorded
// behind that op has completed (Event::synchronize, or Backend::wait for another backend's stream).
//
// Shapes: activations are row-major float matrices ActView [rows, cols] (one row per token). Weights are
// TensorViews in ggml order: ne[0] is the row length (the input width k of a matmul), ne[1] the output rows.
// Host-side index arrays (token ids, expert rows) are std::spans read when the op is enqueued, so the
// caller may reuse them as soon as the call returns.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "tensor/tensor.h"

namespace strata::kernels {

// ---------------------------------------------------------------------------------------------------------
// Memory

// What a buffer holds; a backend may place each use differently (the CUDA backend: Staging is page-locked
// host memory that its copies read at full PCIe speed; the others are device memory).
enum class BufferUse { Weights, Activations, KvCache, Staging };
std::string_view buffer_use_name(BufferUse use);

// Memory allocated by a backend and freed by destroying this owner. Never shared; views into it are
// TensorView / ActView / KvLayer, which must not outlive it.
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual uint8_t* data() = 0;  // device address (host-addressable only when device().is_host())
  virtual uint64_t size_bytes() const = 0;
  virtual BufferUse use() const = 0;
  virtual Device device() const = 0;
};

// A float activation matrix [rows, cols] on `device`, row stride == cols. Non-owning.
struct ActView {
  Device device;
  float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;

  int64_t n_elements() const { return rows * cols; }
  float* row(int64_t r) const { return data + r * cols; }
  // Rows [r0, r0 + n) of this matrix.
  ActView rows_from(int64_t r0, int64_t n) const { return {device, data + r0 * cols, n, cols}; }
  // The same bytes seen as [rows', cols'] (REQUIRES: same element count).
  ActView reshaped(int64_t new_rows, int64_t new_cols) const { return {device, data, new_rows, new_cols}; }
};

// One layer's slice of the attention cache, in the memory of the backend that computes that layer's
// attention: K and V each [rows(), kv_dim] F16, position p of KV head h at [row_of(p) * kv_dim + h * head_dim].
// A sliding-window layer may hold a ring of fewer rows than positions.
struct KvLayer {
  Device device;
  uint16_t* k = nullptr;
  uint16_t* v = nullptr;
  int64_t n_ctx = 0;    // positions the layer addresses
  int64_t kv_dim = 0;
  int64_t n_slots = 0;  // rows held (0: n_ctx); fewer than n_ctx make a ring: position p in row p % rows()

  int64_t rows() const { return n_slots > 0 ? n_slots : n_ctx; }
  int64_t row_of(int64_t pos) const { return pos % rows(); }
  // Whether a pass of n tokens leaves every query its whole window: writing positions pos0..pos0+n-1
  // overwrites pos0-rows..pos0+n-1-rows, all older than the first query's window when rows >= window + n - 1.
  bool holds_pass(int64_t n, int64_t window) const {
    return rows() >= n_ctx || (window > 0 && rows() >= window + n - 1);
  }
};

// ---------------------------------------------------------------------------------------------------------
// Ordering

// A point in one backend's stream. Recorded by Backend::record; complete once everything enqueued on that
// backend before the record has finished. Thread-safe to query and wait on from any thread.
class Event {
 public:
  virtual ~Event() = default;
  virtual bool query() const = 0;    // complete?
  virtual void synchronize() = 0;    // blocks the calling host thread until complete
};
using EventPtr = std::shared_ptr<Event>;

// An event that is complete from the start (what the CPU backend records; what resident weights return).
EventPtr completed_event();

// ---------------------------------------------------------------------------------------------------------
// Op parameters

// Which elements a RoPE rotation pairs within a head: (2i, 2i+1) (GGUF "normal", llama with permuted q/k)
// or (i, i + n_rot/2) (NeoX: Qwen, Phi, Gemma, ...).
enum class RopeLayout { Interleaved, Halves };
// How positions beyond the training context are stretched (from the GGUF rope.scaling.* keys).
enum class RopeScaling { None, Linear, Yarn, Llama3 };

struct RopeParams {
  RopeLayout layout = RopeLayout::Interleaved;
  int64_t n_rot = 0;  // rotated dims per head (<= head_dim; the rest pass through)
  float freq_base = 10000.0f;
  // Per-pair divisors of the frequency ([n_rot / 2] F32, "rope_freqs.weight"); data == nullptr: none.
  TensorView freq_factors;
  RopeScaling scaling = RopeScaling::None;
  float factor = 1.0f;          // Linear: theta / factor; Yarn and Llama3: the context extension ratio
  int64_t n_ctx_orig = 0;       // training context before extension (Yarn, Llama3)
  float yarn_ext_factor = 0.0f, yarn_attn_factor = 1.0f, yarn_beta_fast = 32.0f, yarn_beta_slow = 1.0f;
  float llama3_low_freq_factor = 1.0f, llama3_high_freq_factor = 4.0f;
};

struct AttentionParams {
  int64_t n_head = 0, n_head_kv = 0, head_dim = 0;  // n_head % n_head_kv == 0 (grouped-query attention)
  float scale = 0.0f;                               // usually 1 / sqrt(head_dim)
  int64_t window = 0;                               // sliding window in positions; 0: the whole causal past
  // Per-head attention sinks ([n_head] F32, added as one extra logit to each softmax); data == nullptr: none.
  TensorView sinks;
};

// A device backend's products of at most this many rows run its decode kernels, whose sums for a row do not
// depend on the rows beside it (more rows: its prompt GEMM, batch-invariant only where asked to be).
inline constexpr int64_t kDecodeProductRows = 8;

// A recorded decode step's inputs (Backend::begin_capture, replay): sequence i's token and position.
struct StepInputs {
  std::span<const int32_t> tokens;
  std::span<const int64_t> pos;
};

// One sequence of a batched attention (Backend::attention_batch).
struct AttentionSeq {
  const KvLayer* cache = nullptr;
  int64_t pos0 = 0;  // position of its first row
  int64_t row0 = 0;  // its first row in q, k, v and out
  int64_t n = 0;     // its rows
};

// silu(gate) * up; gelu_tanh(gate) * up; gpt-oss's clamped variant: with g = min(gate, limit) and
// u = clamp(up, -limit, limit), g * sigmoid(alpha * g) * (u + 1) (alpha and limit below, as the reference engine).
enum class GluKind { SwiGlu, GeGlu, SwiGluClamped };
inline constexpr float kSwiGluClampedAlpha = 1.702f;
inline constexpr float kSwiGluClampedLimit = 7.0f;

// How a MoE router turns logits into expert weights.
enum class RouterGating {
  SoftmaxSelected,  // softmax over the k selected logits (Mixtral; Qwen-MoE with norm_topk_prob)
  SoftmaxAll,       // softmax over all experts, then keep the k largest (then renormalised if norm_topk)
};
struct RouteParams {
  int64_t n_expert_used = 0;  // k
  RouterGating gating = RouterGating::SoftmaxSelected;
  bool norm_topk = false;     // SoftmaxAll only: divide the k kept weights by their sum
};

// One MoE layer's stacked expert weights, every expert whole, for Backend::moe_decode.
struct MoeWeights {
  TensorView gate, up;  // [d, n_ff, n_expert]
  TensorView down;      // [n_ff, d, n_expert]
  GluKind glu = GluKind::SwiGlu;
};

// One product of Backend::matmul_many: y = w x (+ bias), as matmul(w, x, y, bias).
struct MatmulItem {
  TensorView w;
  ActView x;
  ActView y;
  TensorView bias;  // data == nullptr: none
};

// ---------------------------------------------------------------------------------------------------------
// The backend

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;  // "cpu", "cuda0", ...
  virtual Device device() const = 0;
  // One line for logs and `bench`: threads, ISA level, or GPU name and memory.
  virtual std::string describe() const = 0;

  // --- memory (size 0 allowed; returns null only when the device is out of memory)
  virtual std::unique_ptr<Buffer> alloc(uint64_t size_bytes, BufferUse use) = 0;
  // Whether this backend's ops can read a weight view on `d` in place (the CPU reads any host memory).
  virtual bool can_read(Device d) const { return d == device(); }

  // --- ordering
  virtual EventPtr record() = 0;                 // an event behind everything enqueued so far
  virtual void wait(const Event& e) = 0;         // later work on this stream waits for e (any backend's)
  virtual void synchronize() = 0;                // host waits for everything enqueued so far

  // --- copies (enqueued on this stream; one side is this backend's device, the other host or this device)
  virtual void copy(const void* src, Device src_device, void* dst, Device dst_device, uint64_t bytes) = 0;
  // Page-locks host memory this backend will copy from again and again, so those copies run at the link's full
  // speed and asynchronously. A hint: false where the backend has no use for it or the system refuses (copies
  // work either way). REQUIRES: p and bytes page-aligned; unpin_host(p) before the memory is freed.
  virtual bool pin_host(void* /*p*/, uint64_t /*bytes*/) { return false; }
  virtual void unpin_host(void* /*p*/) {}
  void copy(ActView src, ActView dst);  // REQUIRES: equal shapes

  // --- ops. Activations (ActView) must be on device(); weights (TensorView) on a device can_read() accepts.
  // out may alias an input only where said.

  // out[t, :] = dequantize(table row ids[t]).  table: [n_embd, n_vocab] any DType; out: [ids.size(), n_embd].
  // REQUIRES: every id in [0, table.ne[1]).
  virtual void get_rows(const TensorView& table, std::span<const int32_t> ids, ActView out) = 0;

  // out[t, i] = x[t, i] / sqrt(mean_i(x[t, :]^2) + eps) * weight[i].  weight: [cols] any DType. out may be x.
  virtual void rms_norm(ActView x, const TensorView& weight, float eps, ActView out) = 0;

  // y[t, r] = sum_i w[r, i] * x[t, i] (+ bias[r]).  w: [k, rows] any DType; x: [n, k]; y: [n, rows];
  // bias: [rows] (data == nullptr: none). y must not alias x.
  virtual void matmul(const TensorView& w, ActView x, ActView y, const TensorView& bias = {}) = 0;
  // Several independent matmuls (a MoE layer's routed experts), each meeting matmul()'s contract; no item's y
  // overlaps another item's x or y. The default runs them in order; the CPU backend runs them as one dispatch.
  virtual void matmul_many(std::span<const MatmulItem> items);

  // Rotates each head of x [n, n_head * head_dim] in place, token t at position pos0 + t.
  virtual void rope(ActView x, int64_t n_head, int64_t head_dim, int64_t pos0, const RopeParams& p) = 0;

  // Causal grouped-query attention for n tokens at positions pos0 ... pos0 + n - 1:
  // first writes k, v [n, kv_dim] into the cache rows of positions pos0..pos0+n-1 (as F16), then for each
  // token t and head h
  //   out[t, h] = softmax_p(scale * q[t, h] . K[p, h / group]) . V[p, h / group]  over p in
  //   [max(0, pos0 + t + 1 - window), pos0 + t] (all p <= pos0 + t when window == 0).
  // q, out: [n, n_head * head_dim]; k, v: [n, n_head_kv * head_dim]. REQUIRES: pos0 + n <= cache.n_ctx,
  // cache.holds_pass(n, window); cache on device(). A backend that lacks windows or sinks refuses them with
  // STRATA_CHECK (see supports).
  virtual void attention(const AttentionParams& p, ActView q, ActView k, ActView v, const KvLayer& cache,
                         int64_t pos0, ActView out) = 0;
  virtual bool supports(const AttentionParams& p) const = 0;

  // Several sequences' attention in one call (continuous batching): sequence s owns rows [row0, row0 + n) of
  // q, k, v and out, its tokens sit at positions pos0 ... pos0 + n - 1 of its own cache, and each sequence
  // meets attention()'s contract. With rope, q (p.n_head heads) and k (p.n_head_kv heads) are first rotated in
  // place at each row's position, as rope() would. The sequences' caches are distinct. The default runs
  // rope() and attention() once per sequence; a GPU backend runs all of them in a few launches.
  virtual void attention_batch(const AttentionParams& p, const RopeParams* rope, ActView q, ActView k, ActView v,
                               std::span<const AttentionSeq> seqs, ActView out);

  // out = act(gate) * up elementwise; gate, up, out: [n, n_ff]. out may be gate.
  virtual void glu(GluKind kind, ActView gate, ActView up, ActView out) = 0;

  // x += y elementwise (the residual stream). Equal shapes.
  virtual void add(ActView x, ActView y) = 0;
  // add(x, y), then rms_norm(x, weight, eps, out): a block's residual and the next block's norm. out may be y
  // (not x). The default runs the two ops; a GPU backend runs one kernel.
  virtual void add_rms_norm(ActView x, ActView y, const TensorView& weight, float eps, ActView out) {
    add(x, y);
    rms_norm(x, weight, eps, out);
  }
  // x[:] = value (clears the accumulator that scatter_add adds the experts into).
  virtual void fill(ActView x, float value) = 0;

  // A MoE layer's FFN for a decode step's n tokens (one per sequence): routes logits [n, n_expert] as moe_route
  // does (token t's experts e_tj, weights w_tj), then
  //   out[t, :] = sum_j w_tj * down_{e_tj}(glu(gate_{e_tj}(x[t]), up_{e_tj}(x[t])))
  // x, out: [n, d]; out must not alias x. The default routes through the host (moe_route, a wait, then the
  // products of each chosen expert); a backend whose moe_decode_on_device() is true routes and indexes the
  // experts on the device, never waiting for the host, so a recorded decode step can hold it.
  virtual void moe_decode(ActView logits, const RouteParams& p, const MoeWeights& w, ActView x, ActView out);
  virtual bool moe_decode_on_device() const { return false; }

  // MoE routing: for each token t of logits [n, n_expert], the k chosen experts ids[t * k + j] (by
  // descending logit, ties to the lower id) and their weights[t * k + j]. ids and weights are HOST arrays
  // of n * k entries, filled when an event recorded after this call completes.
  virtual void moe_route(ActView logits, const RouteParams& p, std::span<int32_t> ids,
                         std::span<float> weights) = 0;

  // Expert gather: dst[i, :] = src[rows[i], :]. dst: [rows.size(), cols].
  virtual void gather_rows(ActView src, std::span<const int32_t> rows, ActView dst) = 0;
  // Expert scatter: dst[rows[i], :] += scale[i] * src[i, :], in order of i. src: [rows.size(), cols].
  virtual void scatter_add(ActView src, std::span<const int32_t> rows, std::span<const float> scale,
                           ActView dst) = 0;

  // --- recorded decode steps (CUDA graphs; a backend without them answers false everywhere)
  // A caller that issues the same ops for every decode step (one token a sequence, everything on this backend)
  // may record them once and replay them, so a step costs one launch instead of hundreds. A step's inputs are
  // each sequence's token and position (sequence i is row i of the pass). begin_capture(key, in): the ops
  // that follow are recorded, NOT run; rope and attention at in.pos and get_rows of in.tokens read both from
  // device memory that replay() rewrites. end_capture(keep): closes the recording and keeps it under `key`
  // when keep and nothing the backend saw makes it unsafe to replay; false means nothing ran and nothing was
  // kept: the caller issues the step's ops directly. replay(key, in): runs the recorded step at new positions
  // and tokens (as many sequences as recorded); false when none is kept for key that is valid at in.pos. Host
  // reads of the outputs still go through copy() and an event, after the replay.
  virtual bool begin_capture(uint64_t /*key*/, const StepInputs& /*in*/) { return false; }
  virtual bool end_capture(bool /*keep*/) { return false; }
  virtual bool replay(uint64_t /*key*/, const StepInputs& /*in*/) { return false; }
};

// ---------------------------------------------------------------------------------------------------------
// Registry: every backend compiled into this build, one row each (kernels/backend_registry.cc).

struct BackendOptions {
  int n_threads = 0;  // CPU: 0 means every hardware thread
  // Sequences share passes (several requests decoding together): a token's products must not depend on the
  // other tokens of its pass, so that each sequence gets the outputs it gets alone. A GPU's prompt GEMM then
  // runs in tiles of a fixed token count (its library picks kernels by shape), at some cost to prompt speed.
  bool batch_invariant = false;
};

struct BackendKind {
  std::string_view name;       // "cpu", "cuda"
  DeviceKind kind;
  int (*device_count)();       // devices of this kind present now (0: none, e.g. no GPU or no driver)
  std::unique_ptr<Backend> (*make)(int index, const BackendOptions& options);
};

std::span<const BackendKind* const> registered_backends();
const BackendKind* find_backend(DeviceKind kind);  // null when this build has none of that kind

}  // namespace strata::kernels
