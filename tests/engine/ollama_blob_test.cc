// tests/engine/ollama_blob_test.cc: files shaped like Ollama's published blobs, made by the project's GGUF
// writer, load as their llama.cpp equivalents once arch::translate_ollama_file has run: the same tensors
// bound with the same shapes and types, the same hyperparameters, the same binding verdict, and the
// tokenizer and EOS a llama.cpp file would give. Files that are already llama.cpp's are left untouched.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "arch/hparams.h"
#include "arch/ollama_compat.h"
#include "arch/tensors.h"
#include "gguf/writer.h"
#include "model/model.h"
#include "tensor/dtype.h"
#include "tokenizer/bpe_fixtures.h"
#include "tokenizer/bpe_tokenizer.h"

namespace strata {
namespace {

gguf::GgufFile parse(const gguf::Writer& w) {
  auto bytes = w.to_bytes();
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().message();
  auto f = gguf::parse_memory(bytes.value(), gguf_type_lookup());
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  return std::move(f).value();
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// --- gpt-oss: llama.cpp's spelling, and Ollama's early `gptoss` blob of the same model ---

void put_gptoss_keys(gguf::Writer& w, const std::string& arch, bool ollama) {
  const std::string p = arch + ".";
  auto u32 = [&](const std::string& k, uint32_t v) { w.set(p + k, gguf::Value::of_u32(v)); };
  w.set("general.architecture", gguf::Value::of_string(arch));
  u32("block_count", 2);
  u32("context_length", 256);
  u32("embedding_length", 64);
  u32("feed_forward_length", 64);
  u32("expert_count", 4);
  u32("expert_used_count", 2);
  u32("attention.head_count", 4);
  u32("attention.head_count_kv", 2);
  u32("attention.key_length", 16);
  u32("attention.value_length", 16);
  u32("attention.sliding_window", 16);
  u32("rope.scaling.original_context_length", 64);
  w.set(p + "rope.freq_base", gguf::Value::of_f32(150000.0f));
  w.set(p + "rope.scaling.factor", gguf::Value::of_f32(32.0f));
  w.set(p + "attention.layer_norm_rms_epsilon", gguf::Value::of_f32(1e-5f));
  // Ollama's early converter wrote neither the expert width nor the scaling type, and no pre-tokenizer.
  if (!ollama) {
    u32("expert_feed_forward_length", 64);
    w.set(p + "rope.scaling.type", gguf::Value::of_string("yarn"));
    w.set("tokenizer.ggml.pre", gguf::Value::of_string("gpt-4o"));
  }
}

// The tensors of the llama.cpp file, from the architecture's own enumeration (MXFP4 experts, F32 the rest).
std::vector<arch::TensorSpec> gptoss_specs() {
  gguf::Writer w;
  put_gptoss_keys(w, "gpt-oss", false);
  w.add_tensor_bytes("token_embd.weight", {64, 320}, static_cast<uint32_t>(DType::F32),
                     std::vector<uint8_t>(64 * 320 * 4));
  auto hp = arch::read_hparams(parse(w));
  EXPECT_TRUE(hp.is_ok()) << hp.status().message();
  std::vector<arch::TensorSpec> out;
  for (arch::TensorSpec& s : arch::list_tensors(hp.value()))
    if (s.required || s.kind == arch::Kind::output) out.push_back(std::move(s));
  return out;
}

// Ollama's names for llama.cpp's (facts of its early gpt-oss converter).
std::string ollama_name(const std::string& name) {
  std::string n = replace_all(name, ".attn_output.", ".attn_out.");
  n = replace_all(n, ".post_attention_norm.", ".ffn_norm.");
  if (n.ends_with(".attn_sinks.weight")) n.resize(n.size() - std::string_view(".weight").size());
  return n;
}

gguf::GgufFile gptoss_file(bool ollama) {
  gguf::Writer w;
  put_gptoss_keys(w, ollama ? "gptoss" : "gpt-oss", ollama);
  for (const arch::TensorSpec& s : gptoss_specs()) {
    const bool experts = s.name.find("_exps.weight") != std::string::npos;
    const DTypeTraits& t = dtype_traits(experts ? DType::MXFP4 : DType::F32);
    int64_t rows = 1;
    for (size_t d = 1; d < s.shape.size(); ++d) rows *= s.shape[d];
    w.add_tensor_bytes(ollama ? ollama_name(s.name) : s.name, s.shape, static_cast<uint32_t>(t.type),
                       std::vector<uint8_t>(t.row_bytes(s.shape[0]) * rows));
  }
  return parse(w);
}

TEST(OllamaBlob, GptossBindsAsGptOss) {
  gguf::GgufFile want = gptoss_file(false), got = gptoss_file(true);
  EXPECT_TRUE(arch::translate_ollama_file(want).empty()) << "a llama.cpp file must be left alone";
  ASSERT_FALSE(arch::read_hparams(got).is_ok()) << "untranslated, `gptoss` is no architecture strata knows";
  const std::vector<std::string> lines = arch::translate_ollama_file(got);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("'gptoss' -> 'gpt-oss'"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("tensors renamed"), std::string::npos) << lines[0];

  auto hw = arch::read_hparams(want), hg = arch::read_hparams(got);
  ASSERT_TRUE(hw.is_ok()) << hw.status().message();
  ASSERT_TRUE(hg.is_ok()) << hg.status().message();
  EXPECT_EQ(hg->arch, hw->arch);
  EXPECT_EQ(hg->n_layer, hw->n_layer);
  EXPECT_EQ(hg->n_expert, hw->n_expert);
  EXPECT_EQ(hg->n_expert_used, hw->n_expert_used);
  EXPECT_EQ(hg->n_ff_expert, hw->n_ff_expert);
  EXPECT_EQ(hg->head_dim, hw->head_dim);
  EXPECT_EQ(hg->rope_scaling, hw->rope_scaling);
  EXPECT_EQ(hg->rope_scaling_factor, hw->rope_scaling_factor);
  for (size_t l = 0; l < hw->layers.size(); ++l) EXPECT_EQ(hg->layers[l].sliding_window, hw->layers[l].sliding_window);
  EXPECT_EQ(got.find("tokenizer.ggml.pre")->as_string() ? *got.find("tokenizer.ggml.pre")->as_string() : "", "gpt-4o");

  // Every tensor the enumeration names is present under the same name, shape and type.
  int n = 0;
  for (const arch::TensorSpec& s : arch::list_tensors(hw.value())) {
    const gguf::TensorInfo* a = want.find_tensor(s.name);
    const gguf::TensorInfo* b = got.find_tensor(s.name);
    ASSERT_EQ(a == nullptr, b == nullptr) << s.name;
    if (!a) continue;
    EXPECT_EQ(a->dims, b->dims) << s.name;
    EXPECT_EQ(a->type_id, b->type_id) << s.name;
    ++n;
  }
  EXPECT_GT(n, 20);
  // Binding reaches the same verdict (acceptance, or this build's refusal of the forward pass) on both.
  auto mw = model::bind_model(want), mg = model::bind_model(got);
  ASSERT_EQ(mw.is_ok(), mg.is_ok()) << (mw.is_ok() ? mg.status().message() : mw.status().message());
  if (!mw.is_ok()) {
    // A refusal of the forward pass comes after every tensor was found and checked.
    EXPECT_NE(mw.status().message().find("does not compute"), std::string::npos) << mw.status().message();
    EXPECT_EQ(mg.status().message(), mw.status().message());
  } else {
    ASSERT_EQ(mg->bound.size(), mw->bound.size());
    for (size_t i = 0; i < mw->bound.size(); ++i) EXPECT_EQ(mg->bound[i].spec.name, mw->bound[i].spec.name);
  }
}

// --- Llama 3: a vocabulary without `pre` whose EOS is <|end_of_text|> ---

constexpr int32_t kBeginOfText = 128000, kEndOfText = 128001, kStartHeader = 128006, kEotId = 128009;

tokenizer::test::TinyBpe llama3_vocab() {
  tokenizer::test::TinyBpe v("llama-bpe");
  v.merge("a", "b");
  for (int32_t id = 257; id < kBeginOfText; ++id) v.add("<filler_" + std::to_string(id) + ">");
  const char* specials[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                            "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
                            "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>"};
  for (const char* s : specials) v.add(s, tokenizer::TokenType::Control);
  EXPECT_EQ(v.id("<|eot_id|>"), kEotId);
  EXPECT_EQ(v.id("<|start_header_id|>"), kStartHeader);
  v.set("tokenizer.ggml.bos_token_id", gguf::Value::of_u32(kBeginOfText));
  v.set("general.architecture", gguf::Value::of_string("llama"));
  return v;
}

gguf::GgufFile file_of(const tokenizer::test::TinyBpe& v) {
  auto bytes = v.bytes();
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().message();
  auto f = gguf::parse_memory(bytes.value(), gguf_type_lookup());
  EXPECT_TRUE(f.is_ok()) << f.status().message();
  return std::move(f).value();
}

std::string pre_name(const tokenizer::Tokenizer& t) {
  const auto* bpe = dynamic_cast<const tokenizer::BpeTokenizer*>(&t);
  return bpe ? bpe->pre_tokenizer().name() : "(not byte-level BPE)";
}

TEST(OllamaBlob, Llama3VocabGetsPreAndEot) {
  tokenizer::test::TinyBpe blob = llama3_vocab();
  blob.omit("tokenizer.ggml.pre").set("tokenizer.ggml.eos_token_id", gguf::Value::of_u32(kEndOfText));
  gguf::GgufFile f = file_of(blob);
  const std::vector<std::string> lines = arch::translate_ollama_file(f);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("llama-bpe"), std::string::npos) << lines[0];
  auto t = tokenizer::make_tokenizer(f);
  ASSERT_TRUE(t.is_ok()) << t.status().message();
  EXPECT_EQ(pre_name(**t), "llama-bpe");
  EXPECT_EQ((*t)->vocab().eos_id(), kEotId);
  EXPECT_EQ(f.get_int("tokenizer.ggml.eot_token_id").value(), kEotId);
  const gguf::Array* ids = f.find("tokenizer.ggml.eos_token_ids")->as_array();
  ASSERT_NE(ids, nullptr);
  ASSERT_EQ(ids->items.size(), 1u);
  EXPECT_EQ(ids->items[0].as_int(), kEotId);

  // The same vocabulary as llama.cpp writes it tokenizes the same and is not touched.
  tokenizer::test::TinyBpe ref = llama3_vocab();
  ref.set("tokenizer.ggml.eos_token_id", gguf::Value::of_u32(kEotId));
  gguf::GgufFile rf = file_of(ref);
  EXPECT_TRUE(arch::translate_ollama_file(rf).empty());
  auto rt = tokenizer::make_tokenizer(rf);
  ASSERT_TRUE(rt.is_ok()) << rt.status().message();
  EXPECT_EQ(pre_name(**rt), pre_name(**t));
  tokenizer::EncodeOptions plain{.add_bos = true, .add_eos = false, .parse_special = true};
  EXPECT_EQ((*t)->encode("ab<|eot_id|> cab", plain), (*rt)->encode("ab<|eot_id|> cab", plain));
}

TEST(OllamaBlob, Llama3MarkersRequired) {
  // Without <|eot_id|> at 128009 the file is not a Llama 3 vocabulary: a missing pre stays missing.
  tokenizer::test::TinyBpe plain("llama-bpe");
  plain.omit("tokenizer.ggml.pre").set("general.architecture", gguf::Value::of_string("llama"));
  gguf::GgufFile f = file_of(plain);
  EXPECT_TRUE(arch::translate_ollama_file(f).empty());
  EXPECT_EQ(f.find("tokenizer.ggml.pre"), nullptr);
}

TEST(OllamaBlob, VisionTensorsSkipped) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::of_string("llama"));
  for (const char* name : {"token_embd.weight", "v.blk.0.attn_q.weight", "mm.0.weight", "v.patch_embd.weight"})
    w.add_tensor_bytes(name, {32}, static_cast<uint32_t>(DType::F32), std::vector<uint8_t>(128));
  gguf::GgufFile f = parse(w);
  const std::vector<std::string> lines = arch::translate_ollama_file(f);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("3 vision/projector tensors skipped"), std::string::npos) << lines[0];
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors[0].name, "token_embd.weight");
  EXPECT_NE(f.find_tensor("token_embd.weight"), nullptr);
  EXPECT_EQ(f.find_tensor("mm.0.weight"), nullptr);
}

}  // namespace
}  // namespace strata
