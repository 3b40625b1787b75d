// tests/tokenizer/bpe_fixtures.h: tiny byte-level BPE vocabularies built with gguf::Writer: the 256
// characters of GPT-2's byte alphabet, then whatever merges and added tokens a test names.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/gguf_file.h"
#include "gguf/writer.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

namespace strata::tokenizer::test {

class TinyBpe {
 public:
  explicit TinyBpe(std::string pre = "gpt-2") : pre_(std::move(pre)) {
    const ByteAlphabet alphabet;
    for (int b = 0; b < 256; ++b) add(std::string(alphabet.encode(static_cast<uint8_t>(b))));
  }
  int32_t add(std::string text, TokenType type = TokenType::Normal) {
    texts_.push_back(std::move(text));
    types_.push_back(type);
    return static_cast<int32_t>(texts_.size()) - 1;
  }
  // Appends the merge "left right" (the next rank) and its result as a token; returns the result's id.
  int32_t merge(const std::string& left, const std::string& right) {
    merges_.push_back(left + " " + right);
    for (size_t i = 0; i < texts_.size(); ++i)
      if (texts_[i] == left + right) return static_cast<int32_t>(i);
    return add(left + right);
  }
  int32_t id(const std::string& text) const {
    for (size_t i = 0; i < texts_.size(); ++i)
      if (texts_[i] == text) return static_cast<int32_t>(i);
    ADD_FAILURE() << "no token '" << text << "'";
    return -1;
  }
  TinyBpe& set(std::string key, gguf::Value v) {
    overrides_.emplace_back(std::move(key), std::move(v));
    return *this;
  }
  TinyBpe& omit(std::string key) {
    omitted_.insert(std::move(key));
    return *this;
  }
  std::vector<std::string>& raw_merges() { return merges_; }

  Result<std::vector<uint8_t>> bytes() const {
    gguf::Writer w;
    auto put = [&](const std::string& key, gguf::Value v) {
      if (!omitted_.count(key)) w.set(key, std::move(v));
    };
    put(std::string(kKeyModel), gguf::Value::of_string("gpt2"));
    put(std::string(kKeyPre), gguf::Value::of_string(pre_));
    gguf::Array texts{gguf::ValueType::STRING, {}}, types{gguf::ValueType::INT32, {}}, merges{gguf::ValueType::STRING, {}};
    for (size_t i = 0; i < texts_.size(); ++i) {
      texts.items.push_back(gguf::Value::of_string(texts_[i]));
      types.items.push_back(gguf::Value::of_i32(static_cast<int32_t>(types_[i])));
    }
    for (const auto& m : merges_) merges.items.push_back(gguf::Value::of_string(m));
    put(std::string(kKeyTokens), gguf::Value::array(std::move(texts)));
    put(std::string(kKeyTokenType), gguf::Value::array(std::move(types)));
    put(std::string(kKeyMerges), gguf::Value::array(std::move(merges)));
    for (const auto& [key, value] : overrides_) put(key, value);
    return w.to_bytes();
  }
  Result<gguf::GgufFile> file() const {
    STRATA_ASSIGN_OR_RETURN(std::vector<uint8_t> b, bytes());
    return gguf::parse_memory(b, [](uint32_t) { return std::optional<gguf::TypeLayout>{}; });
  }
  Result<std::unique_ptr<Tokenizer>> tokenizer() const {
    STRATA_ASSIGN_OR_RETURN(gguf::GgufFile f, file());
    return make_tokenizer(f);
  }
  std::unique_ptr<Tokenizer> must_build() const {
    auto t = tokenizer();
    EXPECT_TRUE(t.is_ok()) << t.status().message();
    return t.is_ok() ? std::move(t).value() : nullptr;
  }

 private:
  std::string pre_;
  std::vector<std::string> texts_;
  std::vector<TokenType> types_;
  std::vector<std::string> merges_;
  std::vector<std::pair<std::string, gguf::Value>> overrides_;
  std::set<std::string> omitted_;
};

}  // namespace strata::tokenizer::test
