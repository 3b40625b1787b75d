// arch/hparams.cc: GGUF metadata → HParams, with range checks that name the key and the value.
#include "arch/hparams.h"

#include <algorithm>

#include <fmt/format.h>

namespace strata::arch {

namespace {

constexpr int64_t kBig = int64_t{1} << 24;
// Keys read by both read_hparams and read_headline.
constexpr std::string_view kContextLength = "context_length";
constexpr std::string_view kEmbeddingLength = "embedding_length";

class Reader {
 public:
  Reader(const gguf::GgufFile& f, std::string_view arch) : f_(f), prefix_(std::string(arch) + ".") {}

  std::string key(std::string_view suffix) const { return prefix_ + std::string(suffix); }

  Result<int64_t> required(std::string_view suffix, int64_t lo, int64_t hi) const {
    STRATA_ASSIGN_OR_RETURN(auto v, f_.get_int(key(suffix)));
    if (!v) return error("missing metadata key '{}'", key(suffix));
    return in_range(suffix, *v, lo, hi);
  }
  Result<int64_t> optional(std::string_view suffix, int64_t dflt, int64_t lo, int64_t hi) const {
    STRATA_ASSIGN_OR_RETURN(auto v, f_.get_int(key(suffix)));
    if (!v) return dflt;
    return in_range(suffix, *v, lo, hi);
  }
  Result<float> number(std::string_view suffix, float dflt) const {
    STRATA_ASSIGN_OR_RETURN(auto v, f_.get_number(key(suffix)));
    return v ? static_cast<float>(*v) : dflt;
  }
  // One value per layer: a scalar applies to every layer; an array must have n_layer entries.
  Result<std::vector<int64_t>> per_layer(std::string_view suffix, int64_t dflt, int64_t n_layer, int64_t lo,
                                         int64_t hi) const {
    const gguf::Value* v = f_.find(key(suffix));
    if (!v || !v->is_array()) {
      STRATA_ASSIGN_OR_RETURN(int64_t one, optional(suffix, dflt, lo, hi));
      return std::vector<int64_t>(static_cast<size_t>(n_layer), one);
    }
    const auto& items = v->as_array()->items;
    if (static_cast<int64_t>(items.size()) != n_layer)
      return error("metadata '{}' has {} entries but block_count is {}", key(suffix), items.size(), n_layer);
    std::vector<int64_t> out;
    for (const gguf::Value& item : items) {
      auto i = item.as_int();
      if (!i) return error("metadata '{}' should hold integers", key(suffix));
      STRATA_ASSIGN_OR_RETURN(int64_t checked, in_range(suffix, *i, lo, hi));
      out.push_back(checked);
    }
    return out;
  }

 private:
  Result<int64_t> in_range(std::string_view suffix, int64_t v, int64_t lo, int64_t hi) const {
    if (v < lo || v > hi) return error("metadata '{}' = {} is out of range [{}, {}]", key(suffix), v, lo, hi);
    return v;
  }

  const gguf::GgufFile& f_;
  std::string prefix_;
};

Result<RopeScaling> parse_scaling(const gguf::GgufFile& f, const std::string& key) {
  STRATA_ASSIGN_OR_RETURN(auto type, f.get_string(key));
  if (!type || *type == "none") return RopeScaling::None;
  if (*type == "linear") return RopeScaling::Linear;
  if (*type == "yarn") return RopeScaling::Yarn;
  if (*type == "llama3") return RopeScaling::Llama3;
  return error("metadata '{}' = '{}' is not one of none, linear, yarn, llama3", key, *type);
}

Status read_attention(const Reader& r, HParams& hp) {
  STRATA_ASSIGN_OR_RETURN(hp.n_head, r.required("attention.head_count", 1, 65536));
  STRATA_ASSIGN_OR_RETURN(auto kv, r.per_layer("attention.head_count_kv", hp.n_head, hp.n_layer, 1, hp.n_head));
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    if (hp.n_head % kv[l] != 0)
      return error("metadata '{}' = {} (layer {}) does not divide head_count {}", r.key("attention.head_count_kv"),
                   kv[l], l, hp.n_head);
    hp.layers[l].n_head_kv = kv[l];
    hp.n_head_kv = std::max(hp.n_head_kv, kv[l]);
  }
  const int64_t dflt_head_dim = hp.n_embd % hp.n_head == 0 ? hp.n_embd / hp.n_head : 0;
  STRATA_ASSIGN_OR_RETURN(hp.head_dim, r.optional("attention.key_length", dflt_head_dim, 1, 65536));
  if (hp.head_dim == 0)
    return error("metadata '{}' = {} is not a multiple of head_count {}", r.key("embedding_length"), hp.n_embd, hp.n_head);
  STRATA_ASSIGN_OR_RETURN(hp.head_dim_v, r.optional("attention.value_length", hp.head_dim, 1, 65536));
  STRATA_ASSIGN_OR_RETURN(int64_t window, r.optional("attention.sliding_window", 0, 0, int64_t{1} << 30));
  const int period = hp.arch->swa_period;
  if (period > 0 && window == 0)
    return error("missing metadata key '{}' ({} slides its attention window)", r.key("attention.sliding_window"),
                 hp.arch->name);
  for (int64_t l = 0; l < hp.n_layer; ++l)
    hp.layers[l].sliding_window = period > 0 && l % period != period - 1 ? window : 0;
  return Status::ok();
}

Status read_ffn(const Reader& r, const gguf::GgufFile& f, HParams& hp) {
  STRATA_ASSIGN_OR_RETURN(hp.n_expert, r.optional("expert_count", 0, 0, 4096));
  STRATA_ASSIGN_OR_RETURN(hp.n_expert_used, r.optional("expert_used_count", 0, 0, 4096));
  if (hp.n_expert > 0 && (hp.n_expert_used < 1 || hp.n_expert_used > hp.n_expert))
    return error("metadata '{}' = {} must be within 1..expert_count {}", r.key("expert_used_count"),
                 hp.n_expert_used, hp.n_expert);
  if (hp.n_expert == 0) hp.n_expert_used = 0;
  // A dense model needs its FFN width; an all-MoE model may give only the experts'.
  if (hp.is_moe()) {
    STRATA_ASSIGN_OR_RETURN(hp.n_ff, r.optional("feed_forward_length", 0, 0, kBig));
  } else {
    STRATA_ASSIGN_OR_RETURN(hp.n_ff, r.required("feed_forward_length", 1, kBig));
  }
  STRATA_ASSIGN_OR_RETURN(hp.n_ff_expert, r.optional("expert_feed_forward_length", hp.is_moe() ? hp.n_ff : 0, 0, kBig));
  hp.norm_topk = hp.arch->norm_topk_default;
  if (const gguf::Value* v = f.find(r.key("expert_weights_norm"))) {
    auto b = v->as_bool();
    if (!b) return error("metadata '{}' should be a bool", r.key("expert_weights_norm"));
    hp.norm_topk = *b;
  }
  return Status::ok();
}

Status read_rope(const Reader& r, const gguf::GgufFile& f, HParams& hp) {
  STRATA_ASSIGN_OR_RETURN(hp.n_rot, r.optional("rope.dimension_count", hp.head_dim, 2, hp.head_dim));
  if (hp.n_rot % 2) return error("metadata '{}' = {} is odd", r.key("rope.dimension_count"), hp.n_rot);
  STRATA_ASSIGN_OR_RETURN(hp.rope_freq_base, r.number("rope.freq_base", hp.arch->default_rope_freq_base));
  if (!(hp.rope_freq_base > 0)) return error("metadata '{}' = {} must be positive", r.key("rope.freq_base"), hp.rope_freq_base);
  STRATA_ASSIGN_OR_RETURN(hp.rope_scaling, parse_scaling(f, r.key("rope.scaling.type")));
  STRATA_ASSIGN_OR_RETURN(hp.rope_scaling_factor, r.number("rope.scaling.factor", 1.0f));
  if (!(hp.rope_scaling_factor > 0))
    return error("metadata '{}' = {} must be positive", r.key("rope.scaling.factor"), hp.rope_scaling_factor);
  // The reference engine reads a missing type as linear: a bare factor stretches positions linearly.
  STRATA_ASSIGN_OR_RETURN(auto type, f.get_string(r.key("rope.scaling.type")));
  if (!type && hp.rope_scaling_factor != 1.0f) hp.rope_scaling = RopeScaling::Linear;
  if (hp.rope_scaling == RopeScaling::None) hp.rope_scaling_factor = 1.0f;
  STRATA_ASSIGN_OR_RETURN(hp.rope_scaling_n_ctx_orig, r.optional("rope.scaling.original_context_length", 0, 0, int64_t{1} << 30));
  STRATA_ASSIGN_OR_RETURN(hp.rope_attn_factor, r.number("rope.scaling.attn_factor", 1.0f));
  STRATA_ASSIGN_OR_RETURN(hp.yarn_beta_fast, r.number("rope.scaling.yarn_beta_fast", 32.0f));
  STRATA_ASSIGN_OR_RETURN(hp.yarn_beta_slow, r.number("rope.scaling.yarn_beta_slow", 1.0f));
  if (!(hp.rope_attn_factor > 0) || !(hp.yarn_beta_fast > 0) || !(hp.yarn_beta_slow > 0))
    return error("metadata '{}', yarn_beta_fast and yarn_beta_slow must be positive (got {}, {}, {})",
                 r.key("rope.scaling.attn_factor"), hp.rope_attn_factor, hp.yarn_beta_fast, hp.yarn_beta_slow);
  return Status::ok();
}

}  // namespace

Result<HParams> read_hparams(const gguf::GgufFile& f) {
  STRATA_ASSIGN_OR_RETURN(auto arch_name, f.get_string("general.architecture"));
  if (!arch_name) return error("missing metadata key 'general.architecture'");
  HParams hp;
  STRATA_ASSIGN_OR_RETURN(hp.arch, lookup_arch(*arch_name));
  const Reader r(f, hp.arch->name);
  STRATA_ASSIGN_OR_RETURN(hp.n_layer, r.required("block_count", 1, 4096));
  hp.layers.resize(static_cast<size_t>(hp.n_layer));
  STRATA_ASSIGN_OR_RETURN(hp.n_embd, r.required(kEmbeddingLength, 1, kBig));
  STRATA_RETURN_IF_ERROR(read_attention(r, hp));
  STRATA_RETURN_IF_ERROR(read_ffn(r, f, hp));
  STRATA_RETURN_IF_ERROR(read_rope(r, f, hp));
  STRATA_ASSIGN_OR_RETURN(hp.n_ctx_train, r.optional(kContextLength, 4096, 1, int64_t{1} << 30));
  STRATA_ASSIGN_OR_RETURN(hp.rms_eps, r.number("attention.layer_norm_rms_epsilon", hp.arch->default_rms_eps));
  if (!(hp.rms_eps > 0) || hp.rms_eps > 1)
    return error("metadata '{}' = {} is out of range (0, 1]", r.key("attention.layer_norm_rms_epsilon"), hp.rms_eps);

  if (const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight"); embd && embd->dims.size() == 2) {
    hp.n_vocab = embd->dims[1];
  } else if (const gguf::Value* tokens = f.find("tokenizer.ggml.tokens"); tokens && tokens->as_array()) {
    hp.n_vocab = static_cast<int64_t>(tokens->as_array()->items.size());
  }
  hp.tied_output = f.find_tensor("output.weight") == nullptr;
  return hp;
}

kernels::RopeParams rope_params(const HParams& hp) {
  kernels::RopeParams p;
  p.layout = hp.arch->rope_layout;
  p.n_rot = hp.n_rot;
  p.freq_base = hp.rope_freq_base;
  p.scaling = hp.rope_scaling;
  p.factor = hp.rope_scaling_factor;
  p.n_ctx_orig = hp.rope_scaling_n_ctx_orig > 0 ? hp.rope_scaling_n_ctx_orig : hp.n_ctx_train;
  if (hp.rope_scaling == RopeScaling::Yarn) p.yarn_ext_factor = 1.0f;
  p.yarn_attn_factor = hp.rope_attn_factor;
  p.yarn_beta_fast = hp.yarn_beta_fast;
  p.yarn_beta_slow = hp.yarn_beta_slow;
  return p;
}

Result<Headline> read_headline(const gguf::GgufFile& f) {
  Headline h;
  STRATA_ASSIGN_OR_RETURN(auto arch_name, f.get_string("general.architecture"));
  h.arch = arch_name.value_or("");
  STRATA_ASSIGN_OR_RETURN(auto ctx, f.get_int(fmt::format("{}.{}", h.arch, kContextLength)));
  h.n_ctx_train = ctx.value_or(0);
  STRATA_ASSIGN_OR_RETURN(auto embd, f.get_int(fmt::format("{}.{}", h.arch, kEmbeddingLength)));
  h.n_embd = embd.value_or(0);
  return h;
}

}  // namespace strata::arch
