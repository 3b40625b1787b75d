// model/synth.cc: the synthetic model writer: vocabulary, metadata, and weights generated row by row in parallel.
#include "model/synth.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include <fmt/format.h>

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

// A vocabulary SentencePiece-style: <unk> <s> </s>, 256 byte tokens, then pieces built from characters.
struct SynthVocab {
  std::vector<gguf::Value> tokens, scores, types;
};
SynthVocab make_vocab(int64_t n) {
  SynthVocab v;
  auto add = [&](std::string piece, float score, int32_t type) {
    v.tokens.push_back(gguf::Value::of_string(std::move(piece)));
    v.scores.push_back(gguf::Value::of_f32(score));
    v.types.push_back(gguf::Value::of_i32(type));
  };
  add("<unk>", 0, 2);
  add("<s>", 0, 3);
  add("</s>", 0, 3);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), 0, 6);
  const std::string space = "\xe2\x96\x81";  // U+2581, SentencePiece's space
  std::vector<std::string> chars;
  for (char c = 'a'; c <= 'z'; ++c) chars.emplace_back(1, c);
  for (char c = 'A'; c <= 'Z'; ++c) chars.emplace_back(1, c);
  for (char c = '0'; c <= '9'; ++c) chars.emplace_back(1, c);
  for (char c : std::string(".,!?'\"-:;()")) chars.emplace_back(1, c);
  std::vector<std::string> pieces;
  pieces.push_back(space);
  for (const auto& c : chars) pieces.push_back(c);
  for (const auto& c : chars) pieces.push_back(space + c);
  for (size_t i = 0; i < 26 && pieces.size() < static_cast<size_t>(n); ++i)
    for (size_t j = 0; j < 26; ++j) {
      pieces.push_back(chars[i] + chars[j]);
      pieces.push_back(space + chars[i] + chars[j]);
    }
  for (size_t i = 0; pieces.size() < static_cast<size_t>(n); ++i) pieces.push_back(fmt::format("{}tok{}", space, i));
  float score = -1.0f;
  for (size_t i = 0; static_cast<int64_t>(v.tokens.size()) < n; ++i) add(pieces[i], score -= 0.01f, 1);
  return v;
}

gguf::Value array_of(gguf::ValueType t, std::vector<gguf::Value> items) {
  gguf::Array a;
  a.elem_type = t;
  a.items = std::move(items);
  return gguf::Value::array(std::move(a));
}

// Weight type per tensor: a plain type everywhere, or a llama.cpp-style mix (_M: Q6_K for output, and for
// attn_v / ffn_down in the first and last eighth of the layers and every third layer between).
struct TypePolicy {
  const DTypeTraits* base = nullptr;
  const DTypeTraits* more = nullptr;  // mixes only
  DType pick(const std::string& role, int64_t layer, int64_t n_layer) const {
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

}  // namespace

Result<SynthSummary> write_synth_model(const SynthSpec& o, const std::string& path) {
  const int64_t kv_heads = o.kv_heads > 0 ? o.kv_heads : o.heads;
  const int64_t ff = o.ff > 0 ? o.ff : ((o.dim * 8 / 3 + 31) / 32 * 32);
  if (o.layers < 1 || o.dim < 2 || o.heads < 1 || ff < 1) return error("layers, dim, heads and ff must be positive");
  if (o.dim % o.heads != 0) return error("dim {} is not a multiple of heads {}", o.dim, o.heads);
  if (o.heads % kv_heads != 0) return error("heads {} is not a multiple of kv-heads {}", o.heads, kv_heads);
  if ((o.dim / o.heads) % 2 != 0) return error("head dimension (dim / heads) must be even for RoPE");
  if (o.vocab < 300) return error("vocab must be at least 300 (3 special + 256 byte tokens + pieces)");
  if (o.experts < 0 || (o.experts > 0 && (o.experts_used < 1 || o.experts_used > o.experts)))
    return error("experts-used must be between 1 and experts");
  auto policy = make_policy(o.type);
  if (!policy) return policy.status();

  const int64_t head_dim = o.dim / o.heads;
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::of_string("llama"));
  w.set("general.name", gguf::Value::of_string(fmt::format("strata-synth-{}", o.seed)));
  w.set("llama.block_count", gguf::Value::of_u32(static_cast<uint32_t>(o.layers)));
  w.set("llama.context_length", gguf::Value::of_u32(static_cast<uint32_t>(o.ctx)));
  w.set("llama.embedding_length", gguf::Value::of_u32(static_cast<uint32_t>(o.dim)));
  w.set("llama.feed_forward_length", gguf::Value::of_u32(static_cast<uint32_t>(ff)));
  w.set("llama.attention.head_count", gguf::Value::of_u32(static_cast<uint32_t>(o.heads)));
  w.set("llama.attention.head_count_kv", gguf::Value::of_u32(static_cast<uint32_t>(kv_heads)));
  w.set("llama.rope.dimension_count", gguf::Value::of_u32(static_cast<uint32_t>(head_dim)));
  w.set("llama.rope.freq_base", gguf::Value::of_f32(o.rope_base));
  w.set("llama.attention.layer_norm_rms_epsilon", gguf::Value::of_f32(1e-5f));
  if (o.experts > 0) {
    w.set("llama.expert_count", gguf::Value::of_u32(static_cast<uint32_t>(o.experts)));
    w.set("llama.expert_used_count", gguf::Value::of_u32(static_cast<uint32_t>(o.experts_used)));
  }
  SynthVocab vocab = make_vocab(o.vocab);
  w.set("tokenizer.ggml.model", gguf::Value::of_string("llama"));
  w.set("tokenizer.ggml.tokens", array_of(gguf::ValueType::STRING, std::move(vocab.tokens)));
  w.set("tokenizer.ggml.scores", array_of(gguf::ValueType::FLOAT32, std::move(vocab.scores)));
  w.set("tokenizer.ggml.token_type", array_of(gguf::ValueType::INT32, std::move(vocab.types)));
  w.set("tokenizer.ggml.bos_token_id", gguf::Value::of_u32(1));
  w.set("tokenizer.ggml.eos_token_id", gguf::Value::of_u32(2));
  w.set("tokenizer.ggml.unknown_token_id", gguf::Value::of_u32(0));

  ThreadPool pool(o.threads > 0 ? o.threads : ThreadPool::hardware_threads());
  uint64_t total_bytes = 0;
  // Adds one tensor; rows are generated and quantized in parallel when the file is written.
  auto add = [&](const std::string& name, std::vector<int64_t> dims, DType type, float mean, float std) {
    const DTypeTraits& tr = dtype_traits(type);
    int64_t rows = 1;
    for (size_t i = 1; i < dims.size(); ++i) rows *= dims[i];
    const int64_t k = dims[0];
    const uint64_t row_bytes = tr.row_bytes(k);
    const uint64_t size = row_bytes * rows;
    total_bytes += size;
    const uint64_t seed = o.seed * 0x9e3779b97f4a7c15ull ^ hash_name(name);
    w.add_tensor(name, dims, static_cast<uint32_t>(type), size, [&pool, &tr, k, rows, row_bytes, seed, mean, std](std::span<uint8_t> out) {
      pool.parallel_for(static_cast<size_t>(rows), 64, [&](size_t r0, size_t r1) {
        std::vector<float> buf(static_cast<size_t>(k));
        for (size_t r = r0; r < r1; ++r) {
          fill_normal(buf.data(), k, seed + r * 0x632be59bd9b4e019ull, mean, std);
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

  add("token_embd.weight", {o.dim, o.vocab}, wtype("token_embd", -1, o.dim), 0.0f, 1.0f);
  add("output_norm.weight", {o.dim}, DType::F32, 1.0f, 0.1f);
  if (!o.tied) add("output.weight", {o.dim, o.vocab}, wtype("output", -1, o.dim), 0.0f, s_in);
  for (int64_t l = 0; l < o.layers; ++l) {
    auto n = [l](const char* s) { return fmt::format("blk.{}.{}.weight", l, s); };
    add(n("attn_norm"), {o.dim}, DType::F32, 1.0f, 0.1f);
    add(n("attn_q"), {o.dim, o.dim}, wtype("attn_q", l, o.dim), 0.0f, s_in);
    add(n("attn_k"), {o.dim, kv_heads * head_dim}, wtype("attn_k", l, o.dim), 0.0f, s_in);
    add(n("attn_v"), {o.dim, kv_heads * head_dim}, wtype("attn_v", l, o.dim), 0.0f, s_in);
    add(n("attn_output"), {o.dim, o.dim}, wtype("attn_output", l, o.dim), 0.0f, s_in);
    add(n("ffn_norm"), {o.dim}, DType::F32, 1.0f, 0.1f);
    if (o.experts > 0) {
      add(n("ffn_gate_inp"), {o.dim, o.experts}, DType::F32, 0.0f, s_in * 4);
      add(n("ffn_gate_exps"), {o.dim, ff, o.experts}, wtype("ffn_gate_exps", l, o.dim), 0.0f, s_in);
      add(n("ffn_up_exps"), {o.dim, ff, o.experts}, wtype("ffn_up_exps", l, o.dim), 0.0f, s_in);
      add(n("ffn_down_exps"), {ff, o.dim, o.experts}, wtype("ffn_down_exps", l, ff), 0.0f, s_ff);
    } else {
      add(n("ffn_gate"), {o.dim, ff}, wtype("ffn_gate", l, o.dim), 0.0f, s_in);
      add(n("ffn_up"), {o.dim, ff}, wtype("ffn_up", l, o.dim), 0.0f, s_in);
      add(n("ffn_down"), {ff, o.dim}, wtype("ffn_down", l, ff), 0.0f, s_ff);
    }
  }
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
