// arch/hparams.h: the hyperparameters of a model, read once from GGUF metadata, with per-layer values where
// layers differ.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "arch/arch.h"
#include "core/status.h"
#include "gguf/gguf_file.h"

namespace strata::arch {

// rope.scaling.type: how positions are stretched past the trained context (the kernels' enum).
using kernels::RopeScaling;

// The most tokens one forward pass appends to a cache with sliding-window rings (a longer batch goes in
// passes of this many): each such layer keeps window + kMaxPassTokens - 1 positions, which leaves every
// query of a pass its whole window.
inline constexpr int64_t kMaxPassTokens = 512;

// What may differ from one layer to the next.
struct LayerParams {
  int64_t n_head_kv = 0;       // attention.head_count_kv, which may be an array with one entry per layer
  int64_t sliding_window = 0;  // 0: full causal attention; else attend to the last this-many positions
};

struct HParams {
  const Arch* arch = nullptr;
  int64_t n_layer = 0;
  int64_t n_embd = 0;
  int64_t n_ff = 0;          // dense FFN width (feed_forward_length; 0 when every layer is MoE and it is absent)
  int64_t n_ff_expert = 0;   // one expert's FFN width: expert_feed_forward_length, else feed_forward_length
  int64_t n_head = 0;
  int64_t n_head_kv = 0;     // the largest over the layers
  int64_t head_dim = 0;      // attention.key_length, else n_embd / n_head
  int64_t head_dim_v = 0;    // attention.value_length, else head_dim
  int64_t n_rot = 0;         // rope.dimension_count (defaults to head_dim)
  int64_t n_vocab = 0;       // token_embd's shape, else the tokenizer's token count
  int64_t n_ctx_train = 0;   // context_length (4096 when absent)
  int64_t n_expert = 0;      // 0 for dense models
  int64_t n_expert_used = 0;
  bool norm_topk = false;    // expert_weights_norm, else the row's default
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  RopeScaling rope_scaling = RopeScaling::None;
  float rope_scaling_factor = 1.0f;
  int64_t rope_scaling_n_ctx_orig = 0;  // rope.scaling.original_context_length (0 when absent)
  float rope_attn_factor = 1.0f;        // rope.scaling.attn_factor: YaRN's magnitude multiplier
  float yarn_beta_fast = 32.0f, yarn_beta_slow = 1.0f;  // rope.scaling.yarn_beta_fast / _slow
  bool tied_output = false;  // the file has no output.weight
  std::vector<LayerParams> layers;  // n_layer entries

  bool is_moe() const { return n_expert > 0; }
  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }  // the widest layer's
  int64_t k_dim(int64_t layer) const { return layers[layer].n_head_kv * head_dim; }
  int64_t v_dim(int64_t layer) const { return layers[layer].n_head_kv * head_dim_v; }
  // KV cache positions layer `layer` holds for an n_ctx context when a pass appends at most max_pass
  // tokens: a sliding-window layer a ring of window + max_pass - 1 (never more than n_ctx), a full layer n_ctx.
  int64_t kv_rows(int64_t layer, int64_t n_ctx, int64_t max_pass = kMaxPassTokens) const {
    const size_t i = static_cast<size_t>(layer);
    const int64_t w = i < layers.size() ? layers[i].sliding_window : 0;
    return w > 0 && w + max_pass - 1 < n_ctx ? w + max_pass - 1 : n_ctx;
  }
  // The sum of kv_rows over the layers: the cache's K (or V) rows, kv_dim() halves each.
  int64_t kv_rows_total(int64_t n_ctx, int64_t max_pass = kMaxPassTokens) const {
    int64_t n = 0;
    for (int64_t l = 0; l < n_layer; ++l) n += kv_rows(l, n_ctx, max_pass);
    return n;
  }
  std::string_view arch_name() const { return arch ? arch->name : std::string_view("?"); }
};

// The RoPE parameters every layer uses (freq_factors left empty: the forward pass binds rope_freqs.weight).
// Scaling follows the reference engine: YaRN extrapolates fully (ext factor 1) with the original context
// defaulting to context_length; a factor without a type is linear.
kernels::RopeParams rope_params(const HParams& hp);

// Reads and validates the hyperparameters of `file`'s architecture from `<arch>.*` metadata (and n_vocab from
// token_embd's shape). Every error names the metadata key and the bad value. Keys that only some models need
// (feed_forward_length of an all-MoE model) are left 0 here; binding a model checks what it needs.
Result<HParams> read_hparams(const gguf::GgufFile& file);

// The figures a model listing shows (/api/tags, /api/show), read without validating the rest, so files strata
// cannot run (another architecture, a header-only test file) still list: general.architecture and
// <arch>.context_length / embedding_length, 0 when absent. A value of the wrong type is still an error.
struct Headline {
  std::string arch;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
};
Result<Headline> read_headline(const gguf::GgufFile& file);

}  // namespace strata::arch
