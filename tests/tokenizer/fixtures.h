// tests/tokenizer/fixtures.h: in-memory GGUF vocabularies for tokenizer tests (built with gguf::Writer),
// the shared stories260K model's header, and the llama.cpp reference outputs for it.
#pragma once

#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "gguf/writer.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace strata::tokenizer::test {

// Builds a "llama" vocabulary token by token; set()/omit() override or drop any key to make bad files.
class TinyVocab {
 public:
  int32_t add(std::string text, float score = 0.0f, TokenType type = TokenType::Normal) {
    texts_.push_back(std::move(text));
    scores_.push_back(score);
    types_.push_back(type);
    return static_cast<int32_t>(texts_.size()) - 1;
  }
  // <unk>=0, <s>=1, </s>=2, as SentencePiece lays them out.
  TinyVocab& add_specials() {
    add("<unk>", 0, TokenType::Unknown);
    add("<s>", 0, TokenType::Control);
    add("</s>", 0, TokenType::Control);
    return *this;
  }
  // <0x00>..<0xFF>; returns the id of <0x00>.
  int32_t add_byte_tokens() {
    const int32_t first = static_cast<int32_t>(texts_.size());
    for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), 0, TokenType::Byte);
    return first;
  }
  TinyVocab& set(std::string key, gguf::Value v) {
    overrides_.emplace_back(std::move(key), std::move(v));
    return *this;
  }
  TinyVocab& omit(std::string key) {
    omitted_.insert(std::move(key));
    return *this;
  }

  Result<gguf::GgufFile> file() const {
    gguf::Writer w;
    auto put = [&](const std::string& key, gguf::Value v) {
      if (!omitted_.count(key)) w.set(key, std::move(v));
    };
    put(std::string(kKeyModel), gguf::Value::of_string("llama"));
    gguf::Array texts{gguf::ValueType::STRING, {}}, scores{gguf::ValueType::FLOAT32, {}},
        types{gguf::ValueType::INT32, {}};
    for (size_t i = 0; i < texts_.size(); ++i) {
      texts.items.push_back(gguf::Value::of_string(texts_[i]));
      scores.items.push_back(gguf::Value::of_f32(scores_[i]));
      types.items.push_back(gguf::Value::of_i32(static_cast<int32_t>(types_[i])));
    }
    put(std::string(kKeyTokens), gguf::Value::array(std::move(texts)));
    put(std::string(kKeyScores), gguf::Value::array(std::move(scores)));
    put(std::string(kKeyTokenType), gguf::Value::array(std::move(types)));
    for (const auto& [key, value] : overrides_) put(key, value);
    STRATA_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, w.to_bytes());
    return gguf::parse_memory(bytes, [](uint32_t) { return std::optional<gguf::TypeLayout>{}; });
  }

  Result<std::unique_ptr<Tokenizer>> tokenizer() const {
    STRATA_ASSIGN_OR_RETURN(gguf::GgufFile f, file());
    return make_tokenizer(f);
  }

  // For tests that expect success: fails the test with the error message otherwise.
  std::unique_ptr<Tokenizer> must_build() const {
    auto t = tokenizer();
    EXPECT_TRUE(t.is_ok()) << t.status().message();
    return t.is_ok() ? std::move(t).value() : nullptr;
  }

 private:
  std::vector<std::string> texts_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  std::vector<std::pair<std::string, gguf::Value>> overrides_;
  std::set<std::string> omitted_;
};

inline gguf::Value string_array(std::vector<std::string> items) {
  gguf::Array a{gguf::ValueType::STRING, {}};
  for (auto& s : items) a.items.push_back(gguf::Value::of_string(std::move(s)));
  return gguf::Value::array(std::move(a));
}

// The stories260K header: its weights are all F32, the only tensor type this lookup knows.
inline Result<gguf::GgufFile> read_stories() {
  return gguf::read_file(testing::shared_path("models/stories260K.gguf"), [](uint32_t type_id) {
    return type_id == 0 ? std::optional<gguf::TypeLayout>(gguf::TypeLayout{1, 4, "F32"}) : std::nullopt;
  });
}

inline std::unique_ptr<Tokenizer> stories_tokenizer() {
  auto file = read_stories();
  EXPECT_TRUE(file.is_ok()) << file.status().message();
  if (!file.is_ok()) return nullptr;
  auto tok = make_tokenizer(*file);
  EXPECT_TRUE(tok.is_ok()) << tok.status().message();
  return tok.is_ok() ? std::move(tok).value() : nullptr;
}

// One prompt of reference/stories260K_greedy.json: llama.cpp's prompt tokens (BOS added) and its
// greedy continuation with the decoded text.
struct ReferenceCase {
  std::string prompt;
  std::vector<int32_t> tokens;
  std::vector<int32_t> greedy;
  std::string greedy_text;
};

inline std::vector<ReferenceCase> read_reference() {
  std::ifstream in(testing::shared_path("reference/stories260K_greedy.json"));
  EXPECT_TRUE(in.good()) << "cannot open the stories260K reference";
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "the stories260K reference is not valid JSON";
  std::vector<ReferenceCase> cases;
  if (j.is_discarded()) return cases;
  for (const auto& c : j.at("cases")) {
    const auto& r = c.at("result");
    cases.push_back({c.at("prompt").get<std::string>(), r.at("tokens").get<std::vector<int32_t>>(),
                     r.at("greedy").get<std::vector<int32_t>>(), r.at("greedy_text").get<std::string>()});
  }
  EXPECT_EQ(cases.size(), 4u);
  return cases;
}

}  // namespace strata::tokenizer::test
