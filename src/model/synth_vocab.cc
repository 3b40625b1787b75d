// model/synth_vocab.cc: the synthetic vocabularies: SentencePiece pieces, and byte-level BPE tables built merge
// by merge so that every merge names two tokens present before it.
#include "model/synth_vocab.h"

#include <algorithm>
#include <unordered_set>

#include <fmt/format.h>

namespace strata::model {

namespace {

enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// clang-format off
const BpeFamily kFamilies[] = {
  {"llama3", "llama-bpe",
   {{0, "<|begin_of_text|>"}, {1, "<|end_of_text|>"}, {2, "<|reserved_special_token_0|>"},
    {3, "<|reserved_special_token_1|>"}, {4, "<|finetune_right_pad_id|>"}, {5, "<|reserved_special_token_2|>"},
    {6, "<|start_header_id|>"}, {7, "<|end_header_id|>"}, {8, "<|eom_id|>"}, {9, "<|eot_id|>"}, {10, "<|python_tag|>"}},
   0, 9, true, 128000},
  {"qwen", "qwen2",
   {{0, "<|endoftext|>"}, {1, "<|im_start|>"}, {2, "<|im_end|>"}, {3, "<|object_ref_start|>"},
    {4, "<|object_ref_end|>"}, {5, "<|box_start|>"}, {6, "<|box_end|>"}, {7, "<|quad_start|>"}, {8, "<|quad_end|>"},
    {9, "<|vision_start|>"}, {10, "<|vision_end|>"}, {11, "<|vision_pad|>"}, {12, "<|image_pad|>"},
    {13, "<|video_pad|>"}, {14, "<tool_call>"}, {15, "</tool_call>"}, {16, "<|fim_prefix|>"}, {17, "<|fim_middle|>"},
    {18, "<|fim_suffix|>"}, {19, "<|fim_pad|>"}, {20, "<|repo_name|>"}, {21, "<|file_sep|>"},
    {22, "<tool_response>"}, {23, "</tool_response>"}, {24, "<think>"}, {25, "</think>"}},
   0, 2, false, 151643},
  {"gpt-oss", "gpt-4o",
   {{0, "<|startoftext|>"}, {1, "<|endoftext|>"}, {2, "<|reserved_200000|>"}, {3, "<|reserved_200001|>"},
    {4, "<|return|>"}, {5, "<|constrain|>"}, {6, "<|reserved_200004|>"}, {7, "<|channel|>"}, {8, "<|start|>"},
    {9, "<|end|>"}, {10, "<|message|>"}, {11, "<|reserved_200009|>"}, {12, "<|reserved_200010|>"},
    {13, "<|reserved_200011|>"}, {14, "<|call|>"}},
   0, 4, false, 199998},
};
// clang-format on

// Common English words: the first merges, as a trained table's would be.
constexpr std::string_view kWords[] = {
    "the", "and", "of", "to", "in", "is", "it", "that", "was", "for", "on", "with", "as", "he", "she", "they",
    "be", "at", "by", "this", "had", "not", "are", "but", "from", "or", "have", "an", "what", "were", "we",
    "when", "your", "can", "said", "there", "use", "each", "which", "do", "how", "their", "if", "will", "up",
    "other", "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make", "like",
    "him", "into", "time", "has", "look", "two", "more", "write", "go", "see", "number", "no", "way", "could",
    "people", "my", "than", "first", "water", "been", "call", "who", "its", "now", "find", "long", "down",
    "day", "did", "get", "come", "made", "may", "part", "once", "upon", "little", "girl", "boy", "happy",
    "hello", "world", "model", "token", "text", "code", "user", "system", "assistant", "think", "answer",
};

gguf::Value array_of(gguf::ValueType t, std::vector<gguf::Value> items) {
  gguf::Array a;
  a.elem_type = t;
  a.items = std::move(items);
  return gguf::Value::array(std::move(a));
}

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// GPT-2's byte alphabet: printable Latin-1 bytes stand for themselves, the others for U+0100 onwards.
std::vector<std::string> byte_symbols() {
  std::vector<std::string> sym(256);
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    sym[b] = utf8(printable ? b : next++);
  }
  return sym;
}

}  // namespace

const BpeFamily* find_bpe_family(std::string_view name) {
  for (const BpeFamily& f : kFamilies)
    if (f.name == name) return &f;
  return nullptr;
}

void set_spm_vocab(gguf::Writer& w, int64_t n) {
  std::vector<gguf::Value> tokens, scores, types;
  auto add = [&](std::string piece, float score, int32_t type) {
    tokens.push_back(gguf::Value::of_string(std::move(piece)));
    scores.push_back(gguf::Value::of_f32(score));
    types.push_back(gguf::Value::of_i32(type));
  };
  add("<unk>", 0, kUnknown);
  add("<s>", 0, kControl);
  add("</s>", 0, kControl);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), 0, kByte);
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
  for (size_t i = 0; static_cast<int64_t>(tokens.size()) < n; ++i) add(pieces[i], score -= 0.01f, kNormal);
  w.set("tokenizer.ggml.model", gguf::Value::of_string("llama"));
  w.set("tokenizer.ggml.tokens", array_of(gguf::ValueType::STRING, std::move(tokens)));
  w.set("tokenizer.ggml.scores", array_of(gguf::ValueType::FLOAT32, std::move(scores)));
  w.set("tokenizer.ggml.token_type", array_of(gguf::ValueType::INT32, std::move(types)));
  w.set("tokenizer.ggml.bos_token_id", gguf::Value::of_u32(1));
  w.set("tokenizer.ggml.eos_token_id", gguf::Value::of_u32(2));
  w.set("tokenizer.ggml.unknown_token_id", gguf::Value::of_u32(0));
}

Status set_bpe_vocab(gguf::Writer& w, int64_t n, const BpeFamily& family) {
  int64_t n_listed = 0;
  for (const auto& s : family.specials) n_listed = std::max(n_listed, s.offset + 1);
  const int64_t first_special = std::min(family.n_regular_real, n - n_listed);
  if (first_special < 256 + 64)
    return error("vocab {} is too small for a byte-level BPE table of {} ({} special tokens)", n, family.name, n_listed);

  const std::vector<std::string> bytes = byte_symbols();
  std::vector<std::string> tokens(bytes.begin(), bytes.end());
  std::vector<std::string> merges;
  std::unordered_set<std::string> have(tokens.begin(), tokens.end());
  auto merge = [&](const std::string& a, const std::string& b) {
    if (static_cast<int64_t>(tokens.size()) >= first_special) return;
    std::string ab = a + b;
    if (!have.insert(ab).second) return;
    merges.push_back(a + " " + b);
    tokens.push_back(std::move(ab));
  };
  const std::string space = bytes[' '];  // "Ġ"
  // Words, with and without their leading space, one merge per added character.
  for (std::string_view word : kWords)
    for (const std::string& lead : {space, std::string()}) {
      std::string cur = lead.empty() ? std::string(1, word[0]) : lead;
      for (size_t i = lead.empty() ? 1 : 0; i < word.size(); ++i) {
        const std::string c(1, word[i]);
        merge(cur, c);
        cur += c;
      }
    }
  // Then every extension of a token by one letter, level by level, until the table is full.
  std::vector<std::string> alphabet;
  for (char c = 'a'; c <= 'z'; ++c) alphabet.emplace_back(1, c);
  for (char c = 'A'; c <= 'Z'; ++c) alphabet.emplace_back(1, c);
  std::vector<std::string> level = alphabet;
  level.push_back(space);
  while (static_cast<int64_t>(tokens.size()) < first_special) {
    std::vector<std::string> next;
    for (const std::string& a : level)
      for (const std::string& c : alphabet) {
        const size_t before = tokens.size();
        merge(a, c);
        if (tokens.size() > before) next.push_back(tokens.back());
        if (static_cast<int64_t>(tokens.size()) >= first_special) break;
      }
    if (next.empty()) return error("cannot build {} BPE tokens", first_special);
    level = std::move(next);
  }

  std::vector<int32_t> types(tokens.size(), kNormal);
  std::vector<std::string> specials(static_cast<size_t>(n - first_special));
  std::vector<int32_t> special_types(specials.size(), kControl);
  for (const auto& s : family.specials) {
    specials[static_cast<size_t>(s.offset)] = std::string(s.text);
    if (!s.text.starts_with("<|")) special_types[static_cast<size_t>(s.offset)] = kUserDefined;
  }
  for (size_t i = 0; i < specials.size(); ++i)
    if (specials[i].empty()) {
      const int64_t id = first_special + static_cast<int64_t>(i);
      specials[i] = family.name == "qwen" ? fmt::format("[PAD{}]", id) : fmt::format("<|reserved_{}|>", id);
      if (family.name == "qwen") special_types[i] = kUnused;
    }
  tokens.insert(tokens.end(), specials.begin(), specials.end());
  types.insert(types.end(), special_types.begin(), special_types.end());

  std::vector<gguf::Value> tv, yv, mv;
  for (auto& t : tokens) tv.push_back(gguf::Value::of_string(std::move(t)));
  for (int32_t t : types) yv.push_back(gguf::Value::of_i32(t));
  for (auto& m : merges) mv.push_back(gguf::Value::of_string(std::move(m)));
  w.set("tokenizer.ggml.model", gguf::Value::of_string("gpt2"));
  w.set("tokenizer.ggml.pre", gguf::Value::of_string(std::string(family.pre)));
  w.set("tokenizer.ggml.tokens", array_of(gguf::ValueType::STRING, std::move(tv)));
  w.set("tokenizer.ggml.token_type", array_of(gguf::ValueType::INT32, std::move(yv)));
  w.set("tokenizer.ggml.merges", array_of(gguf::ValueType::STRING, std::move(mv)));
  if (family.bos_offset >= 0)
    w.set("tokenizer.ggml.bos_token_id", gguf::Value::of_u32(static_cast<uint32_t>(first_special + family.bos_offset)));
  w.set("tokenizer.ggml.eos_token_id", gguf::Value::of_u32(static_cast<uint32_t>(first_special + family.eos_offset)));
  w.set("tokenizer.ggml.add_bos_token", gguf::Value::boolean(family.add_bos));
  return Status::ok();
}

}  // namespace strata::model
