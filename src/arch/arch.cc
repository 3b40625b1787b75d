// arch/arch.cc: the architecture rows. Adding an architecture starts (and often ends) here.
#include "arch/arch.h"

namespace strata::arch {

namespace {
using kernels::RopeLayout;
constexpr Biases kNoBias{};
constexpr Biases kQkvBias{.qkv = true};
constexpr Biases kAllBias{.qkv = true, .attn_out = true, .router = true, .experts = true};

// clang-format off
const Arch kArchs[] = {
  // name        rope layout              norm               activation                   biases    qk norm               sinks  swa  gating           topk   tied   freqs  ffn norm tensor         base       eps
  {"llama",     RopeLayout::Interleaved, NormKind::RmsNorm, Activation::SwiGlu,          kNoBias,  QkNorm::None,         false, 0,   Gating::Softmax, true,  true,  true,  "ffn_norm",            10000.0f,  1e-5f},
  {"qwen2",     RopeLayout::Halves,      NormKind::RmsNorm, Activation::SwiGlu,          kQkvBias, QkNorm::None,         false, 0,   Gating::Softmax, false, true,  false, "ffn_norm",            1000000.0f, 1e-6f},
  {"qwen3",     RopeLayout::Halves,      NormKind::RmsNorm, Activation::SwiGlu,          kNoBias,  QkNorm::PerHeadRms,   false, 0,   Gating::Softmax, false, true,  false, "ffn_norm",            1000000.0f, 1e-6f},
  {"qwen3moe",  RopeLayout::Halves,      NormKind::RmsNorm, Activation::SwiGlu,          kNoBias,  QkNorm::PerHeadRms,   false, 0,   Gating::Softmax, true,  true,  false, "ffn_norm",            1000000.0f, 1e-6f},
  {"gpt-oss",   RopeLayout::Halves,      NormKind::RmsNorm, Activation::SwiGluClamped,   kAllBias, QkNorm::None,         true,  2,   Gating::Softmax, true,  false, false, "post_attention_norm", 150000.0f, 1e-5f},
};
// clang-format on
}  // namespace

const Arch* find_arch(std::string_view name) {
  for (const Arch& a : kArchs)
    if (a.name == name) return &a;
  return nullptr;
}

std::string supported_arch_names() {
  std::string out;
  for (const Arch& a : kArchs) {
    if (!out.empty()) out += ", ";
    out += a.name;
  }
  return out;
}

Result<const Arch*> lookup_arch(std::string_view name) {
  if (const Arch* a = find_arch(name)) return a;
  return error("unsupported architecture '{}' (supported: {})", name, supported_arch_names());
}

}  // namespace strata::arch
