// model/synth_presets.cc: the shapes of real models for `strata synth --preset` (from their published configs:
// layers, widths, heads, experts, vocabulary, RoPE), so planning and streaming can be tried at full size.
#include "model/synth.h"

#include <fmt/format.h>

namespace strata::model {

namespace {

struct Preset {
  std::string_view name;
  SynthSpec spec;
};

SynthSpec llama3(int64_t layers, int64_t dim, int64_t ff, int64_t heads) {
  SynthSpec s;
  s.arch = "llama";
  s.layers = layers;
  s.dim = dim;
  s.ff = ff;
  s.heads = heads;
  s.kv_heads = 8;
  s.vocab = 128256;
  s.ctx = 131072;
  s.rope_base = 500000.0f;
  s.rope_freqs = true;
  s.vocab_family = "llama3";
  return s;
}

SynthSpec qwen3moe(int64_t layers, int64_t dim, int64_t heads, int64_t ff, int64_t ff_expert) {
  SynthSpec s;
  s.arch = "qwen3moe";
  s.layers = layers;
  s.dim = dim;
  s.ff = ff;
  s.ff_expert = ff_expert;
  s.heads = heads;
  s.kv_heads = 4;
  s.head_dim = 128;
  s.experts = 128;
  s.experts_used = 8;
  s.norm_topk = 1;
  s.vocab = 151936;
  s.ctx = 40960;
  s.rope_base = 1000000.0f;
  s.rms_eps = 1e-6f;
  s.vocab_family = "qwen";
  return s;
}

SynthSpec gpt_oss(int64_t layers, int64_t experts) {
  SynthSpec s;
  s.arch = "gpt-oss";
  s.layers = layers;
  s.dim = 2880;
  s.ff = 2880;
  s.ff_expert = 2880;
  s.heads = 64;
  s.kv_heads = 8;
  s.head_dim = 64;
  s.experts = experts;
  s.experts_used = 4;
  s.window = 128;
  s.vocab = 201088;
  s.ctx = 131072;
  s.rope_base = 150000.0f;
  s.rope_scaling = "yarn";
  s.rope_scaling_factor = 32.0f;
  s.rope_n_ctx_orig = 4096;
  s.vocab_family = "gpt-oss";
  return s;
}

SynthSpec mixtral() {
  SynthSpec s;
  s.arch = "llama";
  s.layers = 32;
  s.dim = 4096;
  s.ff = 14336;
  s.heads = 32;
  s.kv_heads = 8;
  s.experts = 8;
  s.experts_used = 2;
  s.vocab = 32000;
  s.ctx = 32768;
  s.rope_base = 1000000.0f;
  return s;
}

const Preset kPresets[] = {
    {"llama3-8b", llama3(32, 4096, 14336, 32)},
    {"llama3-70b", llama3(80, 8192, 28672, 64)},
    {"qwen3-30b-a3b", qwen3moe(48, 2048, 32, 6144, 768)},
    {"qwen3-235b-a22b", qwen3moe(94, 4096, 64, 12288, 1536)},
    {"gpt-oss-20b", gpt_oss(24, 32)},
    {"gpt-oss-120b", gpt_oss(36, 128)},
    {"mixtral-8x7b", mixtral()},
};

}  // namespace

Result<SynthSpec> synth_preset(std::string_view name) {
  std::string names;
  for (const Preset& p : kPresets) {
    if (p.name == name) return p.spec;
    names += names.empty() ? "" : ", ";
    names += p.name;
  }
  return error("unknown preset '{}' (presets: {})", name, names);
}

}  // namespace strata::model
