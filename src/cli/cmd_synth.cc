// cli/cmd_synth.cc: `strata synth`: writes a synthetic model (random weights) and says what it wrote.
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
#include "core/units.h"
#include "model/synth.h"

namespace strata::cli {

int run_synth(const SynthOptions& o) {
  model::SynthSpec s;
  if (!o.preset.empty()) {
    // A preset is the whole shape; weight type, seed, sparseness and threads still come from the flags.
    auto p = model::synth_preset(o.preset);
    if (!p) return fail(p.status().message());
    s = *p;
  } else {
    s.arch = o.arch;
    s.layers = o.layers;
    s.dim = o.dim;
    s.ff = o.ff;
    s.heads = o.heads;
    s.kv_heads = o.kv_heads;
    s.vocab = o.vocab;
    s.experts = o.experts;
    s.experts_used = o.experts_used;
    s.ctx = o.ctx;
    s.rope_base = o.rope_base;
    s.head_dim = o.head_dim;
    s.ff_expert = o.ff_expert;
    s.window = o.window;
    s.norm_topk = o.norm_topk;
    s.rope_scaling = o.rope_scaling;
    s.rope_scaling_factor = o.rope_scaling_factor;
    s.rope_n_ctx_orig = o.rope_n_ctx_orig;
    s.rope_freqs = o.rope_freqs;
    s.vocab_family = o.vocab_family;
  }
  s.seed = o.seed;
  s.type = o.type;
  s.tied = o.tied;
  s.threads = o.threads;
  s.sparse = o.sparse;
  s.router_skew = o.router_skew;
  ProgressLine progress(o.progress);
  s.progress = progress.callback();
  auto r = model::write_synth_model(s, o.out);
  progress.finish_line();
  if (!r) return fail(r.status().message());
  std::string moe = s.experts > 0 ? fmt::format(", {} experts (top {})", s.experts, s.experts_used) : "";
  if (s.arch != "llama") moe += ", arch " + s.arch;
  if (s.router_skew > 0) moe += fmt::format(", router skew {}", s.router_skew);
  std::fprintf(stderr,
               "strata: wrote %s: %lld layers, dim %lld, ff %lld, %lld heads (%lld kv), vocab %lld%s, %s, %s of "
               "weights in %.1f s (%s)\n",
               o.out.c_str(), static_cast<long long>(s.layers), static_cast<long long>(s.dim),
               static_cast<long long>(r->ff), static_cast<long long>(s.heads), static_cast<long long>(r->kv_heads),
               static_cast<long long>(s.vocab), moe.c_str(), o.type.c_str(), format_bytes(r->weight_bytes).c_str(),
               r->seconds, o.sparse ? "sparse: no weights written, a hole of their size" : "random weights, not a trained model");
  return 0;
}

}  // namespace strata::cli
