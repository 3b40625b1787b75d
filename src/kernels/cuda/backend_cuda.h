// kernels/cuda/backend_cuda.h: the CUDA backend: one GPU and one non-blocking stream; device memory from
// cudaMalloc (staging buffers page-locked host memory); every op enqueued on the stream (kernels/cuda/*.cu).
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cuda/cublas_gemm.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/launchers.h"

namespace strata::kernels {

class CudaBackend final : public Backend {
 public:
  // batch_invariant: BackendOptions::batch_invariant.
  explicit CudaBackend(int device_index, bool batch_invariant = false);
  ~CudaBackend() override;

  std::string_view name() const override { return name_; }
  Device device() const override { return device_; }
  std::string describe() const override;

  std::unique_ptr<Buffer> alloc(uint64_t size_bytes, BufferUse use) override;

  EventPtr record() override;
  void wait(const Event& e) override;
  void synchronize() override;
  void copy(const void* src, Device src_device, void* dst, Device dst_device, uint64_t bytes) override;
  bool pin_host(void* p, uint64_t bytes) override;
  void moe_decode(ActView logits, const RouteParams& p, const MoeWeights& w, ActView x, ActView out) override;
  bool moe_decode_on_device() const override { return true; }
  void unpin_host(void* p) override;
  using Backend::copy;

  void get_rows(const TensorView& table, std::span<const int32_t> ids, ActView out) override;
  void rms_norm(ActView x, const TensorView& weight, float eps, ActView out) override;
  void matmul(const TensorView& w, ActView x, ActView y, const TensorView& bias = {}) override;
  void rope(ActView x, int64_t n_head, int64_t head_dim, int64_t pos0, const RopeParams& p) override;
  void attention(const AttentionParams& p, ActView q, ActView k, ActView v, const KvLayer& cache, int64_t pos0,
                 ActView out) override;
  bool supports(const AttentionParams& p) const override;
  void attention_batch(const AttentionParams& p, const RopeParams* rope, ActView q, ActView k, ActView v,
                       std::span<const AttentionSeq> seqs, ActView out) override;
  void glu(GluKind kind, ActView gate, ActView up, ActView out) override;
  void add(ActView x, ActView y) override;
  void add_rms_norm(ActView x, ActView y, const TensorView& weight, float eps, ActView out) override;
  void fill(ActView x, float value) override;
  void moe_route(ActView logits, const RouteParams& p, std::span<int32_t> ids, std::span<float> weights) override;
  void gather_rows(ActView src, std::span<const int32_t> rows, ActView dst) override;
  void scatter_add(ActView src, std::span<const int32_t> rows, std::span<const float> scale, ActView dst) override;
  bool begin_capture(uint64_t key, const StepInputs& in) override;
  bool end_capture(bool keep) override;
  bool replay(uint64_t key, const StepInputs& in) override;

 private:
  // A grow-only device buffer for one call site. Reuse is safe without events: every use is on this
  // backend's one stream, so a later op's writes queue behind the earlier op's reads.
  // While a step is being recorded, a buffer that grows is kept alive in `retired` (eager work queued before
  // the recording may still read it) instead of being freed, which would synchronize inside the capture.
  struct Scratch {
    cuda::DeviceBuffer buf;
    void* get(uint64_t bytes, std::vector<cuda::DeviceBuffer>* retired = nullptr);
  };
  // One recorded decode step of n_seq sequences (a CUDA graph, instantiated), valid for positions below
  // valid_until (the attention grid was sized for them). consts: device arrays its kernels read that never
  // change between replays (a batch's per-sequence cache descriptors), written once while recording.
  struct StepGraph {
    uint64_t key = 0;
    size_t n_seq = 1;
    int64_t valid_until = 0;
    cudaGraphExec_t exec = nullptr;
    std::vector<cuda::DeviceBuffer> consts;
    uint64_t last_used = 0;
    const float* xq_of = nullptr;  // the 8-bit input cache's state after the step (what a replay leaves)
    int64_t xq_rows = 0, xq_cols = 0;
    ~StepGraph();
  };
  // The recording in progress.
  struct Capture {
    bool on = false;
    bool broken = false;  // an op needed the host (an upload, a sync, an event): the recording cannot replay
    const char* why = "";
    uint64_t key = 0;
    std::vector<int64_t> pos;     // each sequence's position at the recording
    std::vector<int32_t> tokens;  // and its token
    int64_t valid_until = 0;
    std::vector<cuda::DeviceBuffer> consts;  // the StepGraph's, while recording
  };
  // Recordings kept: a server's batch changes composition as requests join and leave.
  static constexpr int kMaxStepGraphs = 8;
  // Sequences a recorded step may have (the step inputs' capacity).
  static constexpr int64_t kMaxStepSeqs = 64;
  // Positions a recorded step's attention grid covers beyond the recording position (a new recording each
  // this many positions: the splits past the current position cost a little each).
  static constexpr int64_t kStepGraphPositions = 1024;
  // Each pair's angle rate for one RoPE configuration (every scaling scheme is linear in the position).
  struct RopeTable {
    RopeParams params;  // the key; freq_factors compared by address (a weight's bytes do not change)
    float mscale = 1.0f;
    cuda::DeviceBuffer inv_freq;  // [n_rot / 2] doubles
  };

  void check_mine(const ActView& a) const;
  void check_weight(const TensorView& w) const;
  void prompt_product(const TensorView& w, ActView x, ActView y, const float* bias);
  // attention() of one sequence, with q and k rotated first when rope is given (one launch with the stores).
  void attention_one(const AttentionParams& p, const RopeParams* rope, ActView q, ActView k, ActView v,
                     const KvLayer& cache, int64_t pos0, ActView out);
  // The launches both share: RoPE + KV stores (or the stores), then split and merge in token groups, against
  // one cache (cache, pos0, pos_dev) or each token's own (toks, a device array; cache null).
  void attention_kernels(const AttentionParams& p, const RopeParams* rope, ActView q, ActView k, ActView v,
                         const KvLayer* cache, int64_t pos0, const int64_t* pos_dev, int64_t pos_bound,
                         const cuda::KvTok* toks, ActView out);
  // The dequantized F16 slice of a prompt product's weight is at most this large (the planner reserves it).
  static constexpr int64_t kF16SliceBytes = int64_t{64} << 20;
  // Batch-invariant prompts: the GEMM's token tile, and a slice small enough to stay in L2 while its tiles
  // read it again.
  static constexpr int64_t kInvariantTokens = 128;
  static constexpr int64_t kInvariantSliceBytes = int64_t{16} << 20;
  // A device float copy of a small weight (norm scale, bias, sinks) of any type, or its own pointer for F32.
  const float* floats_of(const TensorView& w, int64_t n, Scratch& s);
  // Host int32/float arrays uploaded into scratch (staged by the runtime before the call returns).
  template <typename T>
  T* upload(std::span<const T> host, Scratch& s);
  // While recording: a device copy of an array the recorded kernels read at every replay and that does not
  // change between them, kept with the recording (written through consts_stream_, outside the recording).
  template <typename T>
  const T* upload_constant(std::span<const T> host);
  const double* rope_table(const RopeParams& p, float& mscale);
  void* scratch(Scratch& s, uint64_t bytes) { return s.get(bytes, cap_.on ? &retired_ : nullptr); }
  // Marks the recording unusable when `host_needed` (an op that reads or writes host memory, or waits).
  // `why` (a literal) names the first such op, for the message when the recording is refused.
  bool capture_breaks(bool host_needed, const char* why) {
    if (cap_.on && host_needed && !cap_.broken) cap_.broken = true, cap_.why = why;
    return cap_.on && host_needed;
  }
  // The step inputs on the device: [kMaxStepSeqs] positions (int64), then [kMaxStepSeqs] tokens (int32).
  const int64_t* step_pos() const { return static_cast<const int64_t*>(step_dev_.data()); }
  const int32_t* step_token() const { return reinterpret_cast<const int32_t*>(step_pos() + kMaxStepSeqs); }
  static constexpr uint64_t kStepInputBytes = kMaxStepSeqs * (sizeof(int64_t) + sizeof(int32_t));
  // Whether an op of one token at pos0 is the recorded step's only sequence (what rope and attention of one
  // sequence can read from the step inputs).
  bool recording_one_at(int64_t rows, int64_t pos0) const {
    return rows == 1 && cap_.pos.size() == 1 && cap_.pos[0] == pos0;
  }
  // The quantized copy of a matmul input (xq_) is valid while nothing writes device memory: every op that
  // writes calls forget_q8 (or, for a product's output, wrote(), which forgets only on overlap).
  void forget_q8() { xq_of_ = nullptr; }
  void wrote(const ActView& out);
  // Whether an op's output is worth quantizing as it is written (a decode-sized input of the next products).
  bool q8_feeds_products(const ActView& out) const;
  // xq_ sized for `a`, and marked as holding it (the caller enqueues the quantization next).
  void* q8_workspace(const ActView& a);

  bool batch_invariant_;
  int index_;
  Device device_;
  std::string name_;
  cuda::Stream stream_;
  // Scratch per call site; guarded by the single-caller rule (one thread issues a backend's ops at a time).
  Scratch ids_, norm_w_, bias_, sinks_, attn_ws_, attn_toks_, route_ids_, route_w_, rows_, scale_, factors_host_;
  Scratch moe_ids_, moe_w_, moe_rows_, moe_x_, moe_g_, moe_u_, moe_y_;  // moe_decode's routing, inputs, outputs
  std::vector<int32_t> moe_slot_rows_;  // moe_decode's token per slot, on the host, for several tokens
  std::vector<cuda::KvTok> toks_host_;  // attention_batch's per-row descriptors before their upload
  std::vector<std::unique_ptr<RopeTable>> rope_tables_;
  Scratch x16_, w16_;               // a prompt product's F16 activations and weight slice
  Scratch y_tail_;                  // batch-invariant prompts: the padded last token tile's outputs
  cuda::CublasGemm gemm_;           // its GEMM (ok() false without cuBLAS: the own kernel runs)
  Scratch xq_;                      // 8-bit activations of the last matmul input (cuda::quantize_q8)
  const float* xq_of_ = nullptr;    // whose: null when stale
  int64_t xq_rows_ = 0, xq_cols_ = 0;
  // Recorded decode steps; guarded by the single-caller rule like the scratch.
  Capture cap_;
  std::vector<cuda::DeviceBuffer> retired_;              // scratch outgrown during a recording
  cuda::PinnedBuffer step_host_;                         // the step inputs (step_pos), written per replay
  cuda::DeviceBuffer step_dev_;                          // its device copy, the recorded step's first node
  cuda::Event step_inputs_free_;                         // recorded behind each replay's read of step_host_
  cuda::Stream consts_stream_;                           // upload_constant's copies, outside the recording
  std::vector<std::unique_ptr<StepGraph>> graphs_;
  uint64_t graph_clock_ = 0;
};

}  // namespace strata::kernels
