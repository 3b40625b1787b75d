// tests/model/arch_forward_test.cc: every architecture row's forward pass on the CPU backend against a slow
// reference written here from the model cards (plain loops over the dequantized weights, doubles): QKV and
// output biases, NeoX RoPE, YaRN / linear scaling and frequency factors, per-head QK norm, a head size unlike
// dim / heads, attention sinks and sliding windows, expert widths, both top-k weightings, expert biases and
// the clamped SwiGLU. It shares nothing with the engine but the F16 KV-cache contract.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <numbers>

#include <gtest/gtest.h>

#include "core/fp16.h"
#include "gguf/gguf_file.h"
#include "kernels/cpu/backend_cpu.h"
#include "model/buffer_weights.h"
#include "model/forward.h"
#include "model/synth.h"
#include "support/test_support.h"
#include "tensor/dtype.h"

namespace strata::model {
namespace {

using Vec = std::vector<double>;

double f16(double x) { return fp16_to_f32(f32_to_fp16(static_cast<float>(x))); }

// The model card, one token at a time.
class CardReference {
 public:
  CardReference(const gguf::GgufFile& f, const std::vector<uint8_t>& bytes, const HParams& hp)
      : f_(f), bytes_(bytes), hp_(hp) {}

  bool has(const std::string& name) const { return f_.find_tensor(name) != nullptr; }
  Vec tensor(const std::string& name) const {
    const gguf::TensorInfo* t = f_.find_tensor(name);
    EXPECT_NE(t, nullptr) << name;
    if (!t) return {};
    std::vector<float> tmp(t->n_elements());
    dtype_traits(static_cast<DType>(t->type_id)).dequantize_row(bytes_.data() + t->file_offset, tmp.data(), t->n_elements());
    return {tmp.begin(), tmp.end()};
  }
  // y = W x (+ b) for W stored as rows of length x.size(), starting at row `first`.
  static Vec linear(const Vec& w, const Vec& x, size_t rows, size_t first = 0, const Vec* b = nullptr, size_t b_first = 0) {
    Vec y(rows, 0.0);
    for (size_t r = 0; r < rows; ++r) {
      for (size_t i = 0; i < x.size(); ++i) y[r] += w[(first + r) * x.size() + i] * x[i];
      if (b) y[r] += (*b)[b_first + r];
    }
    return y;
  }
  Vec rmsnorm(const Vec& x, const Vec& w, size_t w_off = 0) const {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double s = 1.0 / std::sqrt(ss / x.size() + hp_.rms_eps);
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * w[w_off + i];
    return y;
  }

  // RoPE as the cards and the GGUF scaling keys describe it (the YaRN ramp of the "YaRN" paper, with the
  // reference engine's defaults: beta_fast 32, beta_slow 1, magnitude 1 + 0.1 ln(factor)).
  void rope(Vec& v, int64_t n_heads, int64_t pos, const Vec& factors) const {
    const int64_t hd = hp_.head_dim, n_rot = hp_.n_rot, half = n_rot / 2;
    const double base = hp_.rope_freq_base, s = hp_.rope_scaling_factor;
    const double orig = hp_.rope_scaling_n_ctx_orig > 0 ? hp_.rope_scaling_n_ctx_orig : hp_.n_ctx_train;
    for (int64_t h = 0; h < n_heads; ++h)
      for (int64_t i = 0; i < half; ++i) {
        double theta = pos / std::pow(base, 2.0 * i / n_rot);
        if (!factors.empty()) theta /= factors[i];
        double mag = 1.0;
        if (hp_.rope_scaling == arch::RopeScaling::Linear) theta /= s;
        if (hp_.rope_scaling == arch::RopeScaling::Yarn) {
          auto dim_of = [&](double rotations) {
            return n_rot * std::log(orig / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base));
          };
          const double lo = std::max(0.0, std::floor(dim_of(32))), hi = std::min<double>(n_rot - 1, std::ceil(dim_of(1)));
          const double ramp = 1.0 - std::clamp((i - lo) / std::max(0.001, hi - lo), 0.0, 1.0);  // 1: extrapolate
          theta = theta / s * (1 - ramp) + theta * ramp;
          mag = 1.0 + 0.1 * std::log(s);
        }
        const bool neox = hp_.arch->rope_layout == kernels::RopeLayout::Halves;
        double& a = v[h * hd + (neox ? i : 2 * i)];
        double& b = v[h * hd + (neox ? i + half : 2 * i + 1)];
        const double x0 = a, x1 = b;
        a = (x0 * std::cos(theta) - x1 * std::sin(theta)) * mag;
        b = (x0 * std::sin(theta) + x1 * std::cos(theta)) * mag;
      }
  }

  double activation(double g, double u) const {
    if (hp_.arch->activation == arch::Activation::SwiGluClamped) {
      g = std::min(g, 7.0);
      u = std::clamp(u, -7.0, 7.0);
      return g / (1 + std::exp(-1.702 * g)) * (u + 1);
    }
    return g / (1 + std::exp(-g)) * u;
  }

  std::vector<Vec> run(const std::vector<int32_t>& tokens) {
    const int64_t d = hp_.n_embd, hd = hp_.head_dim, L = hp_.n_layer, nh = hp_.n_head, nkv = hp_.n_head_kv;
    const Vec embd = tensor("token_embd.weight");
    const Vec out_w = has("output.weight") ? tensor("output.weight") : embd;
    const Vec factors = has("rope_freqs.weight") ? tensor("rope_freqs.weight") : Vec();
    std::vector<std::vector<Vec>> kc(L), vc(L);
    std::vector<Vec> logits;
    for (size_t pos = 0; pos < tokens.size(); ++pos) {
      Vec x(embd.begin() + tokens[pos] * d, embd.begin() + (tokens[pos] + 1) * d);
      for (int64_t l = 0; l < L; ++l) {
        auto name = [l](const char* s, const char* what = "weight") {
          return "blk." + std::to_string(l) + "." + s + "." + what;
        };
        auto maybe = [&](const std::string& n) { return has(n) ? tensor(n) : Vec(); };
        auto biased = [&](const char* w, const Vec& in, size_t rows) {
          const Vec b = maybe(name(w, "bias"));
          return linear(tensor(name(w)), in, rows, 0, b.empty() ? nullptr : &b);
        };
        Vec xb = rmsnorm(x, tensor(name("attn_norm")));
        Vec q = biased("attn_q", xb, nh * hd), k = biased("attn_k", xb, nkv * hd), v = biased("attn_v", xb, nkv * hd);
        if (has(name("attn_q_norm"))) {
          const Vec qn = tensor(name("attn_q_norm")), kn = tensor(name("attn_k_norm"));
          auto per_head = [&](Vec& a, int64_t heads, const Vec& w) {
            for (int64_t h = 0; h < heads; ++h) {
              Vec head(a.begin() + h * hd, a.begin() + (h + 1) * hd);
              head = rmsnorm(head, w);
              std::copy(head.begin(), head.end(), a.begin() + h * hd);
            }
          };
          per_head(q, nh, qn);
          per_head(k, nkv, kn);
        }
        rope(q, nh, pos, factors);
        rope(k, nkv, pos, factors);
        for (auto* a : {&q, &k, &v})
          for (auto& e : *a) e = f16(e);
        kc[l].push_back(k);
        vc[l].push_back(v);
        const Vec sinks = maybe(name("attn_sinks"));
        const int64_t window = hp_.layers[l].sliding_window;
        const size_t first = window > 0 && static_cast<int64_t>(pos) + 1 > window ? pos + 1 - window : 0;
        Vec att(nh * hd, 0.0);
        for (int64_t h = 0; h < nh; ++h) {
          const int64_t kvh = h / (nh / nkv);
          Vec s;
          for (size_t t = first; t <= pos; ++t) {
            double acc = 0;
            for (int64_t i = 0; i < hd; ++i) acc += q[h * hd + i] * kc[l][t][kvh * hd + i];
            s.push_back(acc / std::sqrt(static_cast<double>(hd)));
          }
          double mx = *std::max_element(s.begin(), s.end());
          if (!sinks.empty()) mx = std::max(mx, sinks[h]);
          double sum = sinks.empty() ? 0.0 : std::exp(sinks[h] - mx);  // the sink: a logit with no value
          for (auto& e : s) sum += e = std::exp(e - mx);
          for (size_t t = first; t <= pos; ++t)
            for (int64_t i = 0; i < hd; ++i) att[h * hd + i] += f16(s[t - first] / sum) * vc[l][t][kvh * hd + i];
        }
        const Vec o = biased("attn_output", att, d);
        for (int64_t i = 0; i < d; ++i) x[i] += o[i];
        xb = rmsnorm(x, tensor(name(std::string(hp_.arch->ffn_norm).c_str())));
        Vec ffn(d, 0.0);
        if (hp_.is_moe()) {
          const int64_t E = hp_.n_expert, K = hp_.n_expert_used, ff = hp_.n_ff_expert;
          const Vec r = biased("ffn_gate_inp", xb, E);
          std::vector<size_t> idx(E);
          for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
          std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return r[a] > r[b]; });
          // Weights: softmax over all experts, top k, renormalised when norm_topk (= softmax of the k).
          const double mx = r[idx[0]];
          double all = 0, chosen = 0;
          for (int64_t e = 0; e < E; ++e) all += std::exp(r[e] - mx);
          for (int64_t j = 0; j < K; ++j) chosen += std::exp(r[idx[j]] - mx);
          const Vec g = tensor(name("ffn_gate_exps")), u = tensor(name("ffn_up_exps")), dn = tensor(name("ffn_down_exps"));
          const Vec gb = maybe(name("ffn_gate_exps", "bias")), ub = maybe(name("ffn_up_exps", "bias")),
                    db = maybe(name("ffn_down_exps", "bias"));
          for (int64_t j = 0; j < K; ++j) {
            const size_t e = idx[j];
            const double w = std::exp(r[e] - mx) / (hp_.norm_topk ? chosen : all);
            Vec gv = linear(g, xb, ff, e * ff, gb.empty() ? nullptr : &gb, e * ff);
            const Vec uv = linear(u, xb, ff, e * ff, ub.empty() ? nullptr : &ub, e * ff);
            for (int64_t i = 0; i < ff; ++i) gv[i] = activation(gv[i], uv[i]);
            const Vec y = linear(dn, gv, d, e * d, db.empty() ? nullptr : &db, e * d);
            for (int64_t i = 0; i < d; ++i) ffn[i] += w * y[i];
          }
        } else {
          Vec gv = linear(tensor(name("ffn_gate")), xb, hp_.n_ff);
          const Vec uv = linear(tensor(name("ffn_up")), xb, hp_.n_ff);
          for (int64_t i = 0; i < hp_.n_ff; ++i) gv[i] = activation(gv[i], uv[i]);
          ffn = linear(tensor(name("ffn_down")), gv, d);
        }
        for (int64_t i = 0; i < d; ++i) x[i] += ffn[i];
      }
      logits.push_back(linear(out_w, rmsnorm(x, tensor("output_norm.weight")), hp_.n_vocab));
    }
    return logits;
  }

 private:
  const gguf::GgufFile& f_;
  const std::vector<uint8_t>& bytes_;
  const HParams& hp_;
};

double normalised_error(const std::vector<float>& got, const Vec& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num / den);
}

// Writes `spec`, binds it, and compares the engine (a batch of 5, then one token at a time, so windows slide
// across batch boundaries; with a full cache and with sliding-window rings) with the card reference at every
// position.
void check_card(const SynthSpec& spec, double tolerance = 2e-4) {
  const std::string path = testing::temp_dir() + "/" + spec.arch + ".gguf";
  auto s = write_synth_model(spec, path);
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  auto f = gguf::read_file(path, gguf_type_lookup());
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  auto m = bind_model(*f);
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  const std::vector<int32_t> tokens = {1, 300, 17, 299, 42, 301, 5, 330, 7, 260};
  CardReference ref(*f, bytes, m->hp);
  const auto want = ref.run(tokens);
  ThreadPool pool(2);
  kernels::CpuBackend backend(pool);
  BufferWeights w(*m, bytes);
  Forward fwd(*m, w, &w, backend);
  // A full cache, then (for sliding-window rows) the smallest ring a batch of 5 allows: window + 4 rows,
  // which the 10 tokens lap.
  for (int64_t max_pass : {int64_t{32}, int64_t{5}}) {
    KvCache cache(m->hp, 32, max_pass);
    const int64_t V = m->hp.n_vocab;
    std::vector<float> logits(tokens.size() * V);
    ASSERT_TRUE(fwd.eval(std::span(tokens).subspan(0, 5), cache, logits, true).is_ok());
    for (size_t p = 0; p < tokens.size(); ++p) {
      if (p >= 5) {
        ASSERT_TRUE(fwd.eval(std::span(tokens).subspan(p, 1), cache, logits, false).is_ok());
      }
      const std::vector<float> got(logits.begin() + (p < 5 ? p * V : 0), logits.begin() + (p < 5 ? p + 1 : 1) * V);
      EXPECT_LT(normalised_error(got, want[p]), tolerance)
          << spec.arch << " position " << p << " ring rows " << cache.layer(0).rows();
    }
  }
}

SynthSpec small(const char* arch) {
  SynthSpec s;
  s.arch = arch;
  s.layers = 2;
  s.dim = 64;
  s.heads = 4;
  s.kv_heads = 2;
  s.vocab = 400;
  s.seed = 5;
  return s;
}

TEST(ArchForward, Llama3FrequencyFactors) {
  SynthSpec s = small("llama");
  s.rope_base = 500000.0f;
  s.rope_freqs = true;
  check_card(s);
}

TEST(ArchForward, LlamaLinearRopeScaling) {
  SynthSpec s = small("llama");
  s.rope_scaling = "linear";
  s.rope_scaling_factor = 4.0f;
  check_card(s);
}

TEST(ArchForward, MistralNemoHeadSizeUnlikeDimOverHeads) {
  SynthSpec s = small("llama");
  s.head_dim = 32;  // 4 heads of 32 on a 64-wide stream, as Nemo's 32 heads of 128 on 5120
  check_card(s, 5e-4);  // wider heads: more F16 rounding of q and the probabilities (the cache contract)
}

TEST(ArchForward, Qwen2BiasesNeoxAndYarn) {
  SynthSpec s = small("qwen2");
  s.rope_base = 1000000.0f;
  s.rope_scaling = "yarn";
  s.rope_scaling_factor = 4.0f;
  s.rope_n_ctx_orig = 64;
  check_card(s);
}

TEST(ArchForward, Qwen3PerHeadQkNormAndKeyLength) {
  SynthSpec s = small("qwen3");
  s.head_dim = 24;
  check_card(s);
}

TEST(ArchForward, Qwen3MoeExpertWidthNormalisedTopK) {
  SynthSpec s = small("qwen3moe");
  s.head_dim = 32;
  s.experts = 16;
  s.experts_used = 4;
  s.ff = 96;
  s.ff_expert = 32;
  check_card(s);
}

TEST(ArchForward, Qwen3MoeUnnormalisedTopK) {
  SynthSpec s = small("qwen3moe");
  s.experts = 8;
  s.experts_used = 3;
  s.ff_expert = 48;
  s.norm_topk = 0;
  check_card(s);
}

TEST(ArchForward, GptOssSinksWindowsBiasesClampedSwiGlu) {
  SynthSpec s = small("gpt-oss");
  s.layers = 3;  // sliding, full, sliding
  s.head_dim = 32;
  s.experts = 8;
  s.experts_used = 2;
  s.ff_expert = 64;
  s.window = 3;
  s.rope_base = 150000.0f;
  s.rope_scaling = "yarn";
  s.rope_scaling_factor = 32.0f;
  s.rope_n_ctx_orig = 64;
  check_card(s);
}

TEST(ArchForward, GptOssQ8_0Experts) {
  SynthSpec s = small("gpt-oss");
  s.experts = 4;
  s.experts_used = 2;
  s.ff_expert = 64;
  s.window = 2;
  s.type = "Q8_0";
  // The engine's Q8_0 dot products quantize the activations to 8 bits too (as the reference engine does); the
  // card reference keeps them in double, so the bound is the quantization noise's.
  check_card(s, 3e-2);
}

TEST(ArchForward, GptOssF16Experts) {
  SynthSpec s = small("gpt-oss");
  s.experts = 4;
  s.experts_used = 2;
  s.ff_expert = 32;
  s.window = 4;
  s.type = "F16";
  check_card(s);
}

}  // namespace
}  // namespace strata::model
