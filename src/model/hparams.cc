// model/hparams.cc: the architecture table and metadata → HParams with validation.
#include "model/hparams.h"

#include <fmt/format.h>

namespace strata::model {

namespace {
// clang-format off
const ArchInfo kArchs[] = {
  // name     rope layout                          freq base  rms eps
  {"llama",   kernels::RopeLayout::Interleaved,    10000.0f,  1e-5f},
};
// clang-format on

Result<int64_t> required_int(const gguf::GgufFile& f, const std::string& key, int64_t lo, int64_t hi) {
  STRATA_ASSIGN_OR_RETURN(auto v, f.get_int(key));
  if (!v) return error("missing metadata key '{}'", key);
  if (*v < lo || *v > hi) return error("metadata '{}' = {} is out of range [{}, {}]", key, *v, lo, hi);
  return *v;
}

Result<int64_t> optional_int(const gguf::GgufFile& f, const std::string& key, int64_t dflt, int64_t lo, int64_t hi) {
  STRATA_ASSIGN_OR_RETURN(auto v, f.get_int(key));
  if (!v) return dflt;
  if (*v < lo || *v > hi) return error("metadata '{}' = {} is out of range [{}, {}]", key, *v, lo, hi);
  return *v;
}
}  // namespace

const ArchInfo* find_arch(std::string_view name) {
  for (const auto& a : kArchs)
    if (a.name == name) return &a;
  return nullptr;
}

Result<HParams> read_hparams(const gguf::GgufFile& f) {
  STRATA_ASSIGN_OR_RETURN(auto arch_name, f.get_string("general.architecture"));
  if (!arch_name) return error("missing metadata key 'general.architecture'");
  HParams hp;
  hp.arch = find_arch(*arch_name);
  if (!hp.arch) return error("unsupported architecture '{}' (supported: llama)", *arch_name);
  const std::string p = std::string(hp.arch->name) + ".";
  constexpr int64_t kBig = int64_t{1} << 24;
  STRATA_ASSIGN_OR_RETURN(hp.n_layer, required_int(f, p + "block_count", 1, 4096));
  STRATA_ASSIGN_OR_RETURN(hp.n_embd, required_int(f, p + "embedding_length", 1, kBig));
  STRATA_ASSIGN_OR_RETURN(hp.n_ff, required_int(f, p + "feed_forward_length", 1, kBig));
  STRATA_ASSIGN_OR_RETURN(hp.n_head, required_int(f, p + "attention.head_count", 1, 65536));
  STRATA_ASSIGN_OR_RETURN(hp.n_head_kv, optional_int(f, p + "attention.head_count_kv", hp.n_head, 1, hp.n_head));
  if (hp.n_head % hp.n_head_kv != 0)
    return error("attention.head_count {} is not a multiple of head_count_kv {}", hp.n_head, hp.n_head_kv);
  int64_t dflt_head_dim = hp.n_embd % hp.n_head == 0 ? hp.n_embd / hp.n_head : 0;
  STRATA_ASSIGN_OR_RETURN(hp.head_dim, optional_int(f, p + "attention.key_length", dflt_head_dim, 1, 65536));
  if (hp.head_dim == 0) return error("embedding_length {} is not a multiple of head_count {}", hp.n_embd, hp.n_head);
  STRATA_ASSIGN_OR_RETURN(hp.n_rot, optional_int(f, p + "rope.dimension_count", hp.head_dim, 2, hp.head_dim));
  if (hp.n_rot % 2) return error("rope.dimension_count {} is odd", hp.n_rot);
  STRATA_ASSIGN_OR_RETURN(hp.n_ctx_train, optional_int(f, p + "context_length", 4096, 1, int64_t{1} << 30));
  STRATA_ASSIGN_OR_RETURN(hp.n_expert, optional_int(f, p + "expert_count", 0, 0, 4096));
  STRATA_ASSIGN_OR_RETURN(hp.n_expert_used, optional_int(f, p + "expert_used_count", 0, 0, 4096));
  if (hp.n_expert > 0 && (hp.n_expert_used < 1 || hp.n_expert_used > hp.n_expert))
    return error("expert_used_count {} must be 1..expert_count {}", hp.n_expert_used, hp.n_expert);
  if (hp.n_expert == 0) hp.n_expert_used = 0;

  STRATA_ASSIGN_OR_RETURN(auto base, f.get_number(p + "rope.freq_base"));
  hp.rope_freq_base = base ? static_cast<float>(*base) : hp.arch->default_rope_freq_base;
  if (!(hp.rope_freq_base > 0)) return error("rope.freq_base {} must be positive", hp.rope_freq_base);
  STRATA_ASSIGN_OR_RETURN(auto eps, f.get_number(p + "attention.layer_norm_rms_epsilon"));
  hp.rms_eps = eps ? static_cast<float>(*eps) : hp.arch->default_rms_eps;
  if (!(hp.rms_eps > 0) || hp.rms_eps > 1) return error("attention.layer_norm_rms_epsilon {} is out of range", hp.rms_eps);

  const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd) return error("missing tensor 'token_embd.weight'");
  if (embd->dims.size() != 2 || embd->dims[0] != hp.n_embd)
    return error("tensor 'token_embd.weight' should be [{}, n_vocab]", hp.n_embd);
  hp.n_vocab = embd->dims[1];
  return hp;
}

}  // namespace strata::model
