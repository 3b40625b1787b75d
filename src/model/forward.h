// model/forward.h: the forward pass of every architecture row over a batch of tokens, reading weights through the sources
// and running each op on the backend its placement names.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "core/status.h"
#include "kernels/backend.h"
#include "model/activations.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/placement.h"
#include "model/weight_source.h"

namespace strata::model {

// One sequence of a batched pass: its new tokens, its own cache (they go at positions cache.n_filled() ...),
// and where its logits go ([n_vocab] for its last token, or [tokens.size(), n_vocab] when all_logits).
struct SeqInput {
  std::span<const int32_t> tokens;
  KvCache* cache = nullptr;
  std::span<float> logits;
  bool all_logits = false;
};

class Forward {
 public:
  // `experts` may be null for dense models. Every op on `backend`.
  Forward(const Model& model, WeightSource& weights, ExpertSource* experts, kernels::Backend& backend);
  // Each op on placement's site for its tensor and phase (decode: one token; prefill: a batch).
  Forward(const Model& model, WeightSource& weights, ExpertSource* experts, Placement placement);

  // Evaluates `tokens` at positions cache.n_filled() ... and appends their K/V to the cache.
  // logits: [n_vocab] for the last token, or [tokens.size(), n_vocab] when all_logits.
  Status eval(std::span<const int32_t> tokens, KvCache& cache, std::span<float> logits, bool all_logits);
  // Several sequences in one pass: every weight product runs once over all their tokens (one read of each
  // weight serves every sequence, which is what a streamed tier needs), while RoPE, the KV store and
  // attention run per sequence against its own cache at its own position. Each sequence's logits are the
  // ones eval() would give it alone, up to the order of float sums. The caches must be distinct.
  // The phase is decode when every sequence brings one token (the decode placement), else prefill; a decode
  // pass replays a recorded step where it can (the same sequences as the step that recorded it).
  Status eval_batch(std::span<const SeqInput> seqs);

  // The final normalised hidden state of the last evaluated token ([n_embd]) of the last sequence, for embeddings.
  std::span<const float> last_hidden() const { return last_hidden_; }
  const Placement& placement() const { return placement_; }
  const HandoffCounters& handoffs() const { return acts_.counters(); }
  // Decode steps run by replaying a recorded step (CUDA graphs), not op by op.
  uint64_t replayed_steps() const { return replayed_; }
  void disable_step_recording() { graphs_off_ = true; }

 private:
  // Where each sequence's rows sit in this pass's activations, and how many logit rows it wants.
  struct Segment {
    int64_t row0 = 0, n = 0, pos0 = 0;
    KvCache* cache = nullptr;
    int64_t n_out = 1;
  };
  Status check_input(const SeqInput& s) const;
  // Consecutive rows of a pass that one product call takes: a run of sequences of at most
  // kernels::kDecodeProductRows rows each, packed up to that many rows, or a run of longer ones.
  struct RowGroup {
    int64_t row0 = 0, n = 0;
  };
  void plan_row_groups();
  // Every op of one pass over segments_, from the embedding to the logits (into `logits` on the host, else
  // Act::Logits).
  Status pass(std::span<const int32_t> tokens, std::span<float> logits);
  // A decode step of segments_ (tokens: one a sequence) by replaying its recording (recording it first when
  // there is none): false when the step must run op by op (no single recording backend, the step turned out
  // not to be recordable, or its sequences have not yet run a step op by op).
  bool replay_step(std::span<const int32_t> tokens);
  // for_site >= 0: the weight of a product on that backend (a source may upload it there); -1: as it is.
  Result<WeightRef> acquire(TensorId id, int for_site = -1);
  Status attention_block(int64_t layer, int64_t n_tok);
  Status dense_ffn(int64_t layer, int64_t n_tok);
  Status moe_ffn(int64_t layer, int64_t n_tok);
  Status expert_group(int64_t layer, int64_t n_tok, std::span<const int32_t> experts, const std::array<int, 3>& sites);
  int held_site(int64_t layer, std::span<const int32_t> selected, const std::array<int, 3>& sites);
  Result<bool> moe_decode_on_device(int64_t layer, int64_t n_tok);
  // One weight op: acquire, wait for its bytes, enqueue, give the bytes back behind the op.
  Status matmul(TensorId id, Act x, Act y, int64_t n_tok, TensorId bias = kNoTensor);
  // Several products of one input, y_i = w_i x (+ bias_i): one matmul_many where every weight is on one host
  // site (one pool dispatch for q, k and v instead of three), else one matmul each.
  struct Product {
    TensorId w;
    Act y;
    TensorId bias = kNoTensor;
  };
  Status products(Act x, std::initializer_list<Product> ps, int64_t n_tok);
  Status head_norm(TensorId id, Act a, int64_t n_heads, int64_t n_tok);
  Status load_rope_factors();
  Status norm(TensorId id, Act x, Act out, int64_t n_tok);
  // x += y on backend b, deferred so that the next norm of x on the same backend runs it in one op
  // (Backend::add_rms_norm); flush_residual runs a deferred add by itself (before anything else reads x).
  void residual(Act y, int b, int64_t n_tok);
  Status flush_residual();
  Status to_host(Act a, int64_t row0, int64_t rows, float* dst);
  int site(TensorId id) const { return placement_.site(id, decode_); }
  kernels::Backend& on(int b) const { return *placement_.backends[static_cast<size_t>(b)]; }

  const Model& m_;
  const HParams& hp_;
  WeightSource& weights_;
  ExpertSource* experts_;
  Placement placement_;
  Activations acts_;
  bool decode_ = false;  // this pass's phase
  // Recorded decode steps: the one backend every decode op and the KV cache live on when it can record
  // (-1: none); off for good once a step could not be recorded (batch_graphs_off_: a step of several
  // sequences). A step is recorded only after one of the same key ran op by op (scratch and tables sized),
  // and not when a weight came with an owner or a ready event (unsafe_).
  int graph_site_ = -1;
  bool graphs_off_ = false, batch_graphs_off_ = false;
  bool unsafe_ = false;
  uint64_t last_eager_key_ = 0, replayed_ = 0;
  std::vector<int64_t> step_pos_;  // each sequence's position in the step being replayed
  bool rope_loaded_ = false;
  kernels::RopeParams rope_;           // every layer's; freq_factors point into rope_factors_
  std::vector<float> rope_factors_;
  kernels::GluKind glu_;
  kernels::RouteParams route_;
  std::array<WeightRef, 3> exp_bias_;  // this MoE layer's expert biases (gate, up, down), when the row has them
  // Host-side routing, reused across layers: the router's choices and the tokens grouped per expert.
  std::vector<int32_t> route_ids_, rows_;
  std::vector<float> route_w_, scale_;
  std::vector<int32_t> selected_;              // a layer's routed experts, in the order their groups run
  std::vector<int64_t> expert_begin_, expert_rows_;  // per expert: its first row in rows_, and its row count
  std::vector<int64_t> expert_next_;                 // per expert: scratch while rows_ is filled
  std::vector<WeightRef> held_;                 // an expert group's slices (gate, up, down per expert)
  std::vector<kernels::MatmulItem> items_;      // an expert group's products of one projection
  std::vector<float> last_hidden_;
  std::vector<Segment> segments_;      // this pass's sequences
  std::vector<RowGroup> row_groups_;   // its products' calls over all its rows (plan_row_groups)
  std::vector<RowGroup> out_groups_;   // and over its output rows (the lm head)
  int64_t acts_rows_ = 0;              // its rows
  std::vector<kernels::AttentionSeq> attn_seqs_;  // their caches at the layer being computed
  struct PendingResidual {
    Act y = Act::X;
    int site = -1;  // -1: none
    int64_t n = 0;
  } pending_;
  std::vector<int32_t> batch_tokens_;  // their tokens, concatenated (more than one sequence)
  std::vector<int32_t> gather_ids_;    // 0 .. n-1: rows of a gathered embedding view, one per token of the pass
  std::vector<float> batch_logits_;    // their logit rows before they go to each caller (more than one sequence)
};

}  // namespace strata::model
