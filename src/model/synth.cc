// model/synth.cc: the synthetic model writer: metadata of any architecture row, and weights generated row by row
// in parallel.
#include "model/synth.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "arch/tensors.h"
#include "model/synth_skew.h"
#include "model/synth_vocab.h"
#include "core/thread_pool.h"
#include "gguf/writer.h"
#include "tensor/dtype.h"

namespace strata::model {

namespace {

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t hash_name(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return h;
}

// Fills a row with N(mean, std) values from a counter-based stream, so rows can be made in parallel.
void fill_normal(float* out, int64_t n, uint64_t seed, float mean, float std) {
  uint64_t s = seed;
  for (int64_t i = 0; i < n; i += 2) {
    const double u1 = (static_cast<double>(splitmix64(s) >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(splitmix64(s) >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    out[i] = static_cast<float>(mean + std * r * std::cos(2 * M_PI * u2));
    if (i + 1 < n) out[i + 1] = static_cast<float>(mean + std * r * std::sin(2 * M_PI * u2));
  }
}

// Weight type per tensor: a plain type everywhere, or a llama.cpp-style mix (_M: Q6_K for output, and for
// attn_v / ffn_down in the first and last eighth of the layers and every third layer between; MXFP4_MOE, as
// gpt-oss ships: MXFP4 expert tensors, Q8_0 for the rest).
struct TypePolicy {
  const DTypeTraits* base = nullptr;
  const DTypeTraits* more = nullptr;     // _M mixes only
  const DTypeTraits* experts = nullptr;  // MXFP4_MOE only
  DType pick(const std::string& role, int64_t layer, int64_t n_layer) const {
    if (experts) return role.ends_with("_exps") ? experts->type : base->type;
    if (!more) return base->type;
    if (role == "output") return more->type;
    if (role == "attn_v" || role == "ffn_down" || role == "ffn_down_exps") {
      const bool use_more = layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
      if (use_more) return more->type;
    }
    return base->type;
  }
};

Result<TypePolicy> make_policy(const std::string& name) {
  TypePolicy p;
  std::string up = name;
  for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (up == "Q4_K_M" || up == "Q5_K_M") {
    p.base = find_dtype_by_name(up.substr(0, 4));
    p.more = find_dtype_by_name("Q6_K");
    if (!p.base || !p.more) return error("mix {} needs {} and Q6_K, which this build does not support", name, up.substr(0, 4));
    return p;
  }
  if (up == "MXFP4_MOE") {
    p.base = find_dtype_by_name("Q8_0");
    p.experts = find_dtype_by_name("MXFP4");
    if (!p.base || !p.experts) return error("mix {} needs Q8_0 and MXFP4, which this build does not support", name);
    return p;
  }
  p.base = find_dtype_by_name(up);
  if (!p.base) return error("unknown weight type '{}'", name);
  if (!p.base->quantize_row) return error("weight type {} has no quantizer", name);
  return p;
}

// Falls back to a type whose blocks divide the row (as quantizers do for odd shapes): Q8_0, then F16.
DType fit_type(DType want, int64_t row) {
  if (row % dtype_traits(want).block_elems == 0) return want;
  if (find_dtype(static_cast<uint32_t>(DType::Q8_0)) && row % 32 == 0) return DType::Q8_0;
  return DType::F16;
}

// The hyperparameters the file will declare, so the tensor list comes from the architecture enumeration.
arch::HParams synth_hparams(const SynthSpec& o, int64_t ff, int64_t kv_heads) {
  arch::HParams hp;
  hp.arch = arch::find_arch(o.arch);
  hp.n_layer = o.layers;
  hp.n_embd = o.dim;
  hp.n_ff = ff;
  hp.n_head = o.heads;
  hp.n_head_kv = kv_heads;
  hp.head_dim = hp.head_dim_v = o.head_dim > 0 ? o.head_dim : o.dim / o.heads;
  hp.n_rot = hp.head_dim;
  hp.n_vocab = o.vocab;
  hp.n_ctx_train = o.ctx;
  hp.n_expert = o.experts;
  hp.n_expert_used = o.experts > 0 ? o.experts_used : 0;
  hp.n_ff_expert = o.experts > 0 ? (o.ff_expert > 0 ? o.ff_expert : ff) : 0;
  hp.rope_freq_base = o.rope_base;
  hp.tied_output = o.tied;
  const int period = hp.arch->swa_period;
  const int64_t window = o.window > 0 ? o.window : 128;
  for (int64_t l = 0; l < o.layers; ++l)
    hp.layers.push_back(arch::LayerParams{kv_heads, period > 0 && l % period != period - 1 ? window : 0});
  return hp;
}

// Llama 3.1's per-pair frequency divisors (what converters store as rope_freqs.weight): long wavelengths
// divided by 8, short ones kept, the band between blended; for an 8192-token original context.
std::vector<float> llama3_freq_factors(int64_t n_rot, float base) {
  constexpr double kFactor = 8, kLow = 1, kHigh = 4, kOrig = 8192;
  std::vector<float> out;
  for (int64_t i = 0; i < n_rot / 2; ++i) {
    const double wavelen = 2 * M_PI / std::pow(static_cast<double>(base), -2.0 * i / n_rot);
    if (wavelen < kOrig / kHigh) {
      out.push_back(1.0f);
    } else if (wavelen > kOrig / kLow) {
      out.push_back(static_cast<float>(kFactor));
    } else {
      const double smooth = (kOrig / wavelen - kLow) / (kHigh - kLow);
      out.push_back(static_cast<float>(1.0 / ((1 - smooth) / kFactor + smooth)));
    }
  }
  return out;
}

// The <arch>.* keys a reference engine needs for this row, beyond the llama set.
void set_arch_keys(gguf::Writer& w, const SynthSpec& o, const arch::HParams& hp, const std::string& a) {
  auto u32 = [](int64_t v) { return gguf::Value::of_u32(static_cast<uint32_t>(v)); };
  const bool llama = hp.arch->name == "llama";
  if (o.head_dim > 0 || !llama) {
    w.set(a + "attention.key_length", u32(hp.head_dim));
    w.set(a + "attention.value_length", u32(hp.head_dim_v));
  }
  if (hp.is_moe() && (o.ff_expert > 0 || !llama)) w.set(a + "expert_feed_forward_length", u32(hp.n_ff_expert));
  if (hp.is_moe() && o.norm_topk >= 0) w.set(a + "expert_weights_norm", gguf::Value::boolean(o.norm_topk > 0));
  if (hp.arch->swa_period > 0) w.set(a + "attention.sliding_window", u32(hp.layers[0].sliding_window));
  if (!o.rope_scaling.empty()) {
    w.set(a + "rope.scaling.type", gguf::Value::of_string(o.rope_scaling));
    w.set(a + "rope.scaling.factor", gguf::Value::of_f32(o.rope_scaling_factor));
    if (o.rope_n_ctx_orig > 0) w.set(a + "rope.scaling.original_context_length", u32(o.rope_n_ctx_orig));
  }
}

}  // namespace

Result<SynthSummary> write_synth_model(const SynthSpec& o, const std::string& path) {
  const int64_t kv_heads = o.kv_heads > 0 ? o.kv_heads : o.heads;
  const int64_t ff = o.ff > 0 ? o.ff : ((o.dim * 8 / 3 + 31) / 32 * 32);
  STRATA_ASSIGN_OR_RETURN(const arch::Arch* row, arch::lookup_arch(o.arch));
  (void)row;
  if (o.layers < 1 || o.dim < 2 || o.heads < 1 || ff < 1) return error("layers, dim, heads and ff must be positive");
  if (o.head_dim == 0 && o.dim % o.heads != 0) return error("dim {} is not a multiple of heads {}", o.dim, o.heads);
  if (o.heads % kv_heads != 0) return error("heads {} is not a multiple of kv-heads {}", o.heads, kv_heads);
  if ((o.head_dim > 0 ? o.head_dim : o.dim / o.heads) % 2 != 0) return error("the head dimension must be even for RoPE");
  if (o.vocab < 300) return error("vocab must be at least 300 (3 special + 256 byte tokens + pieces)");
  const BpeFamily* family = nullptr;
  if (!o.vocab_family.empty() && !(family = find_bpe_family(o.vocab_family)))
    return error("unknown vocabulary family '{}' (llama3, qwen, gpt-oss)", o.vocab_family);
  if (o.experts < 0 || (o.experts > 0 && (o.experts_used < 1 || o.experts_used > o.experts)))
    return error("experts-used must be between 1 and experts");
  if (!(o.router_skew >= 0 && o.router_skew <= 8))
    return error("router-skew must be between 0 and 8, got {}", o.router_skew);
  if (o.router_skew > 0 && o.experts == 0) return error("router-skew needs a MoE model (--experts)");
  if (o.router_skew > 0 && o.dim <= o.experts)
    return error("router-skew needs dim {} above the {} experts (one routing channel each)", o.dim, o.experts);
  auto policy = make_policy(o.type);
  if (!policy) return policy.status();

  const arch::HParams hp = synth_hparams(o, ff, kv_heads);
  const std::string a = std::string(hp.arch->name) + ".";
  auto u32 = [](int64_t v) { return gguf::Value::of_u32(static_cast<uint32_t>(v)); };
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::of_string(std::string(hp.arch->name)));
  w.set("general.name", gguf::Value::of_string(fmt::format("strata-synth-{}", o.seed)));
  w.set(a + "block_count", u32(hp.n_layer));
  w.set(a + "context_length", u32(hp.n_ctx_train));
  w.set(a + "embedding_length", u32(hp.n_embd));
  w.set(a + "feed_forward_length", u32(hp.n_ff));
  w.set(a + "attention.head_count", u32(hp.n_head));
  w.set(a + "attention.head_count_kv", u32(hp.n_head_kv));
  w.set(a + "rope.dimension_count", u32(hp.n_rot));
  w.set(a + "rope.freq_base", gguf::Value::of_f32(hp.rope_freq_base));
  w.set(a + "attention.layer_norm_rms_epsilon", gguf::Value::of_f32(o.rms_eps > 0 ? o.rms_eps : hp.arch->default_rms_eps));
  if (hp.is_moe()) {
    w.set(a + "expert_count", u32(hp.n_expert));
    w.set(a + "expert_used_count", u32(hp.n_expert_used));
  }
  set_arch_keys(w, o, hp, a);
  if (family) {
    STRATA_RETURN_IF_ERROR(set_bpe_vocab(w, o.vocab, *family));
  } else {
    set_spm_vocab(w, o.vocab);
  }

  ThreadPool pool(o.threads > 0 ? o.threads : ThreadPool::hardware_threads());
  uint64_t total_bytes = 0;
  // Adds one tensor; rows are generated and quantized in parallel when the file is written.
  auto add = [&](const std::string& name, std::vector<int64_t> dims, DType type, float mean, float std,
                 RowEdit edit = nullptr) {
    const DTypeTraits& tr = dtype_traits(type);
    int64_t rows = 1;
    for (size_t i = 1; i < dims.size(); ++i) rows *= dims[i];
    const int64_t k = dims[0];
    const uint64_t row_bytes = tr.row_bytes(k);
    const uint64_t size = row_bytes * rows;
    total_bytes += size;
    const uint64_t seed = o.seed * 0x9e3779b97f4a7c15ull ^ hash_name(name);
    w.add_tensor(name, dims, static_cast<uint32_t>(type), size,
                 [&pool, &tr, k, rows, row_bytes, seed, mean, std, edit](std::span<uint8_t> out) {
      pool.parallel_for(static_cast<size_t>(rows), 64, [&](size_t r0, size_t r1) {
        std::vector<float> buf(static_cast<size_t>(k));
        for (size_t r = r0; r < r1; ++r) {
          fill_normal(buf.data(), k, seed + r * 0x632be59bd9b4e019ull, mean, std);
          if (edit) edit(static_cast<int64_t>(r), buf);
          tr.quantize_row(buf.data(), out.data() + r * row_bytes, k);
        }
      });
      return Status::ok();
    });
  };
  const auto& pol = policy.value();
  auto wtype = [&](const std::string& role, int64_t layer, int64_t row) { return fit_type(pol.pick(role, layer, o.layers), row); };
  const float s_in = 1.0f / std::sqrt(static_cast<float>(o.dim));
  const float s_ff = 1.0f / std::sqrt(static_cast<float>(ff));
  // Every required tensor of the enumeration, and the lm head unless tied; the globals first, then the blocks.
  auto write = [&](const arch::TensorSpec& t) {
    if (t.kind == arch::Kind::rope_freqs) {
      if (!o.rope_freqs) return;
      const std::vector<float> f = llama3_freq_factors(hp.n_rot, o.rope_base);
      std::vector<uint8_t> bytes(f.size() * sizeof(float));
      std::memcpy(bytes.data(), f.data(), bytes.size());
      total_bytes += bytes.size();
      return w.add_tensor_bytes(t.name, t.shape, static_cast<uint32_t>(DType::F32), std::move(bytes));
    }
    if (!t.required && !(t.kind == arch::Kind::output && !o.tied)) return;
    const std::string base = arch::parse_tensor_name(t.name).base;
    RowEdit edit = router_skew_edit(o.router_skew, o.seed, hp, t);
    switch (t.role) {
      case arch::Role::AttnNorm: case arch::Role::FfnNorm: case arch::Role::OutputNorm:
        return add(t.name, t.shape, DType::F32, 1.0f, 0.1f, edit);
      case arch::Role::Embedding: return add(t.name, t.shape, wtype(base, t.layer, t.shape[0]), 0.0f, 1.0f, edit);
      case arch::Role::Router: return add(t.name, t.shape, DType::F32, 0.0f, s_in * 4, edit);
      case arch::Role::Bias: return add(t.name, t.shape, DType::F32, 0.0f, 0.1f, edit);
      case arch::Role::FfnDown: case arch::Role::ExpertDown:
        return add(t.name, t.shape, wtype(base, t.layer, t.shape[0]), 0.0f, s_ff, edit);
      default: return add(t.name, t.shape, wtype(base, t.layer, t.shape[0]), 0.0f, s_in, edit);
    }
  };
  const std::vector<arch::TensorSpec> specs = arch::list_tensors(hp);
  for (const arch::TensorSpec& t : specs)
    if (t.layer < 0) write(t);
  for (const arch::TensorSpec& t : specs)
    if (t.layer >= 0) write(t);
  auto t0 = std::chrono::steady_clock::now();
  gguf::Writer::WriteOptions wo;
  wo.sparse = o.sparse;
  if (o.progress) {
    wo.progress = [&o](const Progress& p) {
      Progress q = p;
      q.stage = "synth";
      o.progress(q);
    };
  }
  STRATA_RETURN_IF_ERROR(w.write(path, wo));
  SynthSummary s;
  s.ff = ff;
  s.kv_heads = kv_heads;
  s.weight_bytes = total_bytes;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

}  // namespace strata::model
