// tests/tokenizer/vocab_test.cc: reading tokenizer metadata: defaults, special ids, and every malformed key.
#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"
#include "fixtures.h"

namespace strata::tokenizer {
namespace {

using test::TinyVocab;

TinyVocab valid_vocab() {
  TinyVocab v;
  v.add_specials();
  v.add_byte_tokens();
  v.add("▁a", -1.0f);
  v.add("b", -2.0f);
  return v;
}

// Builds the tokenizer and expects an error whose message contains every one of `needles`.
void expect_error(const TinyVocab& v, std::initializer_list<std::string_view> needles) {
  auto t = v.tokenizer();
  ASSERT_FALSE(t.is_ok()) << "expected an error mentioning " << *needles.begin();
  for (std::string_view needle : needles) {
    EXPECT_NE(t.status().message().find(needle), std::string::npos)
        << "error '" << t.status().message() << "' does not mention '" << needle << "'";
  }
}

TEST(Vocab, StoriesModelMetadata) {
  auto file = test::read_stories();
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  auto tok = make_tokenizer(*file);
  ASSERT_TRUE(tok.is_ok()) << tok.status().message();
  const Vocab& v = (*tok)->vocab();
  EXPECT_EQ((*tok)->model(), "llama");
  EXPECT_EQ(v.size(), 512);
  EXPECT_EQ(v.bos_id(), 1);
  EXPECT_EQ(v.eos_id(), 2);
  EXPECT_EQ(v.unknown_id(), 0);
  EXPECT_EQ(v.padding_id(), std::nullopt);  // stored as 4294967295, the converters' "none"
  EXPECT_TRUE(v.add_bos());                  // absent from the file: SentencePiece default
  EXPECT_TRUE(v.add_space_prefix());
  EXPECT_TRUE(v.has_all_byte_tokens());
  EXPECT_EQ(v.type(1), TokenType::Control);
  EXPECT_EQ(v.byte_token(0x0A), 13);
  EXPECT_EQ(v.byte_value(13), uint8_t{0x0A});
  EXPECT_EQ(v.byte_value(267), std::nullopt);
  EXPECT_EQ(v.find("▁to"), 267);
  EXPECT_FLOAT_EQ(v.score(267), -8.0f);
}

TEST(Vocab, DefaultsApplyOnlyWhenKeysAreAbsent) {
  TinyVocab v = valid_vocab();
  v.set(std::string(kKeyBosId), gguf::Value::of_i32(2))
      .set(std::string(kKeyEosId), gguf::Value::of_u32(1))
      .set(std::string(kKeyPaddingId), gguf::Value::of_i32(-1))
      .set(std::string(kKeyAddBos), gguf::Value::boolean(false))
      .set(std::string(kKeyAddSpacePrefix), gguf::Value::boolean(false));
  auto tok = v.must_build();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->vocab().bos_id(), 2);
  EXPECT_EQ(tok->vocab().eos_id(), 1);
  EXPECT_EQ(tok->vocab().padding_id(), std::nullopt);
  EXPECT_FALSE(tok->vocab().add_bos());
  EXPECT_FALSE(tok->vocab().add_space_prefix());
}

TEST(Vocab, RepeatedPieceResolvesToLastId) {
  TinyVocab v = valid_vocab();
  const int32_t second = v.add("▁a", -5.0f);
  auto tok = v.must_build();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->vocab().find("▁a"), second);
}

TEST(Vocab, UnsupportedModelIsNamed) {
  expect_error(valid_vocab().set(std::string(kKeyModel), gguf::Value::of_string("bert")), {"bert", kKeyModel, "gpt2"});
  expect_error(valid_vocab().omit(std::string(kKeyModel)), {kKeyModel, "missing"});
  expect_error(valid_vocab().set(std::string(kKeyModel), gguf::Value::of_i32(1)), {kKeyModel});
}

TEST(Vocab, TokensMissingOrMalformed) {
  expect_error(valid_vocab().omit(std::string(kKeyTokens)), {kKeyTokens, "missing"});
  expect_error(valid_vocab().set(std::string(kKeyTokens), gguf::Value::of_string("a")), {kKeyTokens, "array"});
  gguf::Array ints{gguf::ValueType::INT32, {gguf::Value::of_i32(1)}};
  expect_error(valid_vocab().set(std::string(kKeyTokens), gguf::Value::array(ints)), {kKeyTokens, "strings"});
  TinyVocab empty;
  expect_error(empty, {kKeyTokens, "empty"});
}

TEST(Vocab, ArrayLengthsMustAgree) {
  gguf::Array scores{gguf::ValueType::FLOAT32, {gguf::Value::of_f32(0)}};
  expect_error(valid_vocab().set(std::string(kKeyScores), gguf::Value::array(scores)), {kKeyScores, "1 entries"});
  gguf::Array types{gguf::ValueType::INT32, {gguf::Value::of_i32(1), gguf::Value::of_i32(1)}};
  expect_error(valid_vocab().set(std::string(kKeyTokenType), gguf::Value::array(types)), {kKeyTokenType, "2 entries"});
  expect_error(valid_vocab().omit(std::string(kKeyScores)), {kKeyScores, "missing"});
  expect_error(valid_vocab().omit(std::string(kKeyTokenType)), {kKeyTokenType, "missing"});
}

TEST(Vocab, ElementValuesAreChecked) {
  TinyVocab bad_type = valid_vocab();
  bad_type.add("c", 0, static_cast<TokenType>(9));
  expect_error(bad_type, {kKeyTokenType, "[261]", "9"});

  TinyVocab nan_score = valid_vocab();
  nan_score.add("c", std::numeric_limits<float>::quiet_NaN());
  expect_error(nan_score, {kKeyScores, "[261]"});

  TinyVocab bad_byte = valid_vocab();
  bad_byte.add("<0xZZ>", 0, TokenType::Byte);
  expect_error(bad_byte, {kKeyTokens, "[261]", "<0xZZ>"});

  expect_error(valid_vocab().set(std::string(kKeyTokenType), test::string_array(std::vector<std::string>(261, "1"))),
               {kKeyTokenType, "integers"});
}

TEST(Vocab, SpecialIdsAreValidated) {
  expect_error(valid_vocab().set(std::string(kKeyBosId), gguf::Value::of_u32(261)), {kKeyBosId, "261"});
  expect_error(valid_vocab().set(std::string(kKeyEosId), gguf::Value::of_i32(-7)), {kKeyEosId, "-7"});
  expect_error(valid_vocab().set(std::string(kKeyUnknownId), gguf::Value::of_string("0")), {kKeyUnknownId});
  expect_error(valid_vocab().set(std::string(kKeyPaddingId), gguf::Value::of_f32(1.0f)), {kKeyPaddingId});
}

TEST(Vocab, FlagsAreChecked) {
  expect_error(valid_vocab().set(std::string(kKeyAddBos), gguf::Value::of_i32(1)), {kKeyAddBos, "bool"});
  expect_error(valid_vocab().set(std::string(kKeyAddSpacePrefix), gguf::Value::of_string("yes")),
               {kKeyAddSpacePrefix});
  // Asking for a BOS the vocabulary does not have is a contradiction in the file.
  expect_error(valid_vocab()
                   .set(std::string(kKeyBosId), gguf::Value::of_i32(-1))
                   .set(std::string(kKeyAddBos), gguf::Value::boolean(true)),
               {kKeyAddBos, kKeyBosId});
}

TEST(Vocab, NeedsUnknownOrByteTokens) {
  TinyVocab v;
  v.add("<s>", 0, TokenType::Control);
  v.add("a");
  v.set(std::string(kKeyBosId), gguf::Value::of_i32(0)).set(std::string(kKeyEosId), gguf::Value::of_i32(-1));
  v.set(std::string(kKeyUnknownId), gguf::Value::of_i32(-1));
  expect_error(v, {kKeyUnknownId, "byte"});
}

}  // namespace
}  // namespace strata::tokenizer
