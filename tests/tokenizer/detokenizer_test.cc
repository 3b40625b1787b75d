// tests/tokenizer/detokenizer_test.cc: pieces and streaming detokenization: llama.cpp's reference text,
// UTF-8 hold-back across byte tokens, U+FFFD for ill-formed bytes, special tokens, leading-space strip.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"

namespace strata::tokenizer {
namespace {

using test::TinyVocab;

constexpr std::string_view kFffd = "\xEF\xBF\xBD";

TEST(Detokenizer, GreedyTextMatchesLlamaCppReference) {
  auto tok = test::stories_tokenizer();
  ASSERT_TRUE(tok);
  for (const auto& c : test::read_reference()) {
    StreamingDetokenizer detok(*tok);
    std::string text;
    for (int32_t id : c.greedy) text += detok.push(id);
    text += detok.flush();
    EXPECT_EQ(text, c.greedy_text) << "prompt: " << c.prompt;
  }
}

// A small vocabulary with byte tokens, whose ids are byte0 + b.
struct ByteVocab {
  std::unique_ptr<Tokenizer> tok;
  int32_t byte0 = 0;
  int32_t hello = 0;  // "▁hello"
  int32_t world = 0;  // "▁world"
  int32_t ctl = 0;    // "<|ctl|>", control
  int32_t user = 0;   // "<|u|>", user-defined
};

ByteVocab byte_vocab(bool add_space_prefix = true) {
  TinyVocab v;
  v.add_specials();
  ByteVocab b;
  b.byte0 = v.add_byte_tokens();
  b.hello = v.add("▁hello", -1);
  b.world = v.add("▁world", -1);
  b.ctl = v.add("<|ctl|>", 0, TokenType::Control);
  b.user = v.add("<|u|>▁x", 0, TokenType::UserDefined);
  v.set(std::string(kKeyAddSpacePrefix), gguf::Value::boolean(add_space_prefix));
  b.tok = v.must_build();
  return b;
}

TEST(Detokenizer, PiecesByTokenType) {
  ByteVocab b = byte_vocab();
  ASSERT_TRUE(b.tok);
  const Tokenizer& t = *b.tok;
  EXPECT_EQ(t.token_to_piece(b.hello), " hello");
  EXPECT_EQ(t.token_to_piece(b.byte0 + 'A'), "A");
  EXPECT_EQ(t.token_to_piece(b.byte0 + 0xFF), "\xFF");
  EXPECT_EQ(t.token_to_piece(b.user), "<|u|>▁x");  // user-defined text is verbatim
  EXPECT_EQ(t.token_to_piece(1), "");
  EXPECT_EQ(t.token_to_piece(1, /*render_special=*/true), "<s>");
  EXPECT_EQ(t.token_to_piece(b.ctl), "");
  EXPECT_EQ(t.token_to_piece(b.ctl, true), "<|ctl|>");
  EXPECT_EQ(t.token_to_piece(0), "");
  EXPECT_EQ(t.token_to_piece(0, true), "<unk>");
}

TEST(Detokenizer, EmojiSplitAcrossByteTokensIsNeverEmittedPartially) {
  ByteVocab b = byte_vocab();
  ASSERT_TRUE(b.tok);
  StreamingDetokenizer detok(*b.tok);
  const std::string emoji = "\xF0\x9F\x98\x80";  // U+1F600
  EXPECT_EQ(detok.push(b.hello), " hello");
  for (size_t i = 0; i + 1 < emoji.size(); ++i) {
    EXPECT_EQ(detok.push(b.byte0 + static_cast<uint8_t>(emoji[i])), "") << "byte " << i;
    EXPECT_EQ(detok.pending_bytes(), i + 1);
  }
  EXPECT_EQ(detok.push(b.byte0 + static_cast<uint8_t>(emoji.back())), emoji);
  EXPECT_EQ(detok.pending_bytes(), 0u);
  // A control token in the middle of a character neither shows nor breaks it.
  EXPECT_EQ(detok.push(b.byte0 + 0xC3), "");
  EXPECT_EQ(detok.push(b.ctl), "");
  EXPECT_EQ(detok.push(b.byte0 + 0xA9), "é");
  EXPECT_EQ(detok.flush(), "");
}

TEST(Detokenizer, TruncatedCharacterBecomesReplacementAtFlush) {
  ByteVocab b = byte_vocab();
  ASSERT_TRUE(b.tok);
  StreamingDetokenizer detok(*b.tok);
  EXPECT_EQ(detok.push(b.byte0 + 0xF0), "");
  EXPECT_EQ(detok.push(b.byte0 + 0x9F), "");
  EXPECT_EQ(detok.flush(), kFffd);
  // flush() resets the stream.
  EXPECT_EQ(detok.push(b.byte0 + 'A'), "A");
}

TEST(Detokenizer, IllFormedBytesBecomeReplacementAtOnce) {
  ByteVocab b = byte_vocab();
  ASSERT_TRUE(b.tok);
  StreamingDetokenizer detok(*b.tok);
  // FF can never start a character: no need to wait.
  EXPECT_EQ(detok.push(b.byte0 + 0xFF), kFffd);
  // A lead byte followed by a word: the lead byte alone is replaced, the word survives.
  EXPECT_EQ(detok.push(b.byte0 + 0xE2), "");
  EXPECT_EQ(detok.push(b.hello), std::string(kFffd) + " hello");
  // Encoded surrogate ED A0 80: each byte is its own ill-formed subpart (Unicode's recommended practice).
  std::string out;
  for (uint8_t byte : {0xED, 0xA0, 0x80}) out += detok.push(b.byte0 + byte);
  EXPECT_EQ(out, std::string(kFffd) + std::string(kFffd) + std::string(kFffd));
  // Overlong C0 AF ('/' in two bytes).
  out = detok.push(b.byte0 + 0xC0);
  out += detok.push(b.byte0 + 0xAF);
  EXPECT_EQ(out, std::string(kFffd) + std::string(kFffd));
  EXPECT_EQ(detok.flush(), "");
}

TEST(Detokenizer, RenderSpecialWritesControlText) {
  ByteVocab b = byte_vocab();
  ASSERT_TRUE(b.tok);
  const std::vector<int32_t> ids = {1, b.hello, b.ctl, b.world, 2};
  EXPECT_EQ(detokenize(*b.tok, ids), " hello world");
  EXPECT_EQ(detokenize(*b.tok, ids, {.render_special = true}), "<s> hello<|ctl|> world</s>");
}

TEST(Detokenizer, StripsOnlyTheFirstLeadingSpace) {
  ByteVocab b = byte_vocab();
  ASSERT_TRUE(b.tok);
  const std::vector<int32_t> ids = {1, b.hello, b.world};
  EXPECT_EQ(detokenize(*b.tok, ids), " hello world");
  EXPECT_EQ(detokenize(*b.tok, ids, {.strip_leading_space = true}), "hello world");
  // Two leading spaces in the text: only the prefix's is removed.
  const std::vector<int32_t> two = {b.byte0 + ' ', b.hello};
  EXPECT_EQ(detokenize(*b.tok, two, {.strip_leading_space = true}), " hello");
  // Without add_space_prefix the tokenizer added no space, so there is none to strip.
  ByteVocab plain = byte_vocab(/*add_space_prefix=*/false);
  ASSERT_TRUE(plain.tok);
  EXPECT_EQ(detokenize(*plain.tok, std::vector<int32_t>{plain.hello}, {.strip_leading_space = true}), " hello");
}

}  // namespace
}  // namespace strata::tokenizer
