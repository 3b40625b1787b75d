// tests/tokenizer/tokenizer_test.cc: SentencePiece-style encoding against llama.cpp's reference and on
// tiny vocabularies: merge order, space prefix, byte fallback, UNK, special tokens, long inputs.
#include <chrono>
#include <random>

#include <gtest/gtest.h>

#include "fixtures.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace strata::tokenizer {
namespace {

using test::TinyVocab;
using Ids = std::vector<int32_t>;

TEST(SpmTokenizer, EncodesLikeLlamaCppReference) {
  auto tok = test::stories_tokenizer();
  ASSERT_TRUE(tok);
  const auto cases = test::read_reference();
  for (const auto& c : cases) {
    EXPECT_EQ(tok->encode(c.prompt, /*add_bos=*/true), c.tokens) << "prompt: " << c.prompt;
  }
}

TEST(SpmTokenizer, PromptRoundTripsThroughDetokenizer) {
  auto tok = test::stories_tokenizer();
  ASSERT_TRUE(tok);
  for (const auto& c : test::read_reference()) {
    EXPECT_EQ(detokenize(*tok, c.tokens, {.strip_leading_space = true}), c.prompt);
  }
}

// Any well-formed text, including characters the 512-token vocabulary lacks (byte fallback), must
// come back unchanged.
TEST(SpmTokenizer, RandomTextRoundTrips) {
  auto tok = test::stories_tokenizer();
  ASSERT_TRUE(tok);
  const std::vector<std::string> alphabet = {"a", "e", "t", "h", "o", " ", " ", "  ", ".", ",", "\n", "\t", "Q",
                                             "z", "é", "ß", "日本", "😀", "<s>", "'", "\""};
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    std::string text;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    const Ids ids = tok->encode(text, /*add_bos=*/true);
    EXPECT_EQ(detokenize(*tok, ids, {.strip_leading_space = true}), text) << "trial " << trial;
  }
}

// Arbitrary bytes: every byte survives encoding (byte fallback), so decoding gives the input back with
// only its ill-formed bytes replaced; a literal ▁ reads back as the space it stands for.
TEST(SpmTokenizer, RandomBytesSurviveEncoding) {
  auto tok = test::stories_tokenizer();
  ASSERT_TRUE(tok);
  std::mt19937 rng(99);
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : 0x20 + rng() % 0x60);
    std::string expected;
    append_valid_utf8(bytes, /*at_end=*/true, expected);
    for (size_t at; (at = expected.find("\xE2\x96\x81")) != std::string::npos;) expected.replace(at, 3, " ");
    const Ids ids = tok->encode(bytes, EncodeOptions{.add_bos = true});
    for (int32_t id : ids) ASSERT_TRUE(tok->vocab().is_valid(id));
    EXPECT_EQ(detokenize(*tok, ids, {.strip_leading_space = true}), expected) << "trial " << trial;
  }
}

TEST(SpmTokenizer, LongInputIsFast) {
  auto tok = test::stories_tokenizer();
  ASSERT_TRUE(tok);
  std::string text;
  while (text.size() < (1u << 18)) text += "Once upon a time, there was a little girl named Lily. She loved to play. ";
  std::string no_spaces(1u << 16, 'e');  // one long run: the worst case for pairwise merging
  const auto start = std::chrono::steady_clock::now();
  const Ids ids = tok->encode(text, false);
  const Ids run = tok->encode(no_spaces, false);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // A quadratic merge would take tens of seconds here; the heap-based one takes tens of milliseconds.
  EXPECT_LT(seconds, 5.0);
  EXPECT_EQ(detokenize(*tok, ids, {.strip_leading_space = true}), text);
  EXPECT_EQ(detokenize(*tok, run, {.strip_leading_space = true}), no_spaces);
}

TEST(SpmTokenizer, MergesHighestScoreFirst) {
  for (bool ab_wins : {true, false}) {
    TinyVocab v;
    v.add_specials();
    v.add_byte_tokens();
    const int32_t a = v.add("a", -5), b = v.add("b", -5), c = v.add("c", -5);
    const int32_t ab = v.add("ab", ab_wins ? -1.0f : -2.0f);
    const int32_t bc = v.add("bc", ab_wins ? -2.0f : -1.0f);
    v.set(std::string(kKeyAddSpacePrefix), gguf::Value::boolean(false));
    auto tok = v.must_build();
    ASSERT_TRUE(tok);
    EXPECT_EQ(tok->encode("abc", false), ab_wins ? (Ids{ab, c}) : (Ids{a, bc}));
    EXPECT_EQ(tok->encode("cab", false), (Ids{c, ab}));
    (void)b;
  }
}

TEST(SpmTokenizer, EqualScoresMergeLeftmostFirst) {
  TinyVocab v;
  v.add_specials();
  v.add_byte_tokens();
  const int32_t a = v.add("a", -5);
  const int32_t aa = v.add("aa", -1);
  v.set(std::string(kKeyAddSpacePrefix), gguf::Value::boolean(false));
  auto tok = v.must_build();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("aaa", false), (Ids{aa, a}));
  EXPECT_EQ(tok->encode("aaaaa", false), (Ids{aa, aa, a}));
}

TEST(SpmTokenizer, MergesChainIntoLongPieces) {
  TinyVocab v;
  v.add_specials();
  v.add_byte_tokens();
  const int32_t space = v.add("▁", -1);
  v.add("h", -1);
  v.add("i", -1);
  v.add("hi", -3);
  const int32_t space_hi = v.add("▁hi", -2);
  auto tok = v.must_build();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("hi", true), (Ids{1, space_hi}));
  // A leading space adds a second ▁; the prefix one stands alone.
  EXPECT_EQ(tok->encode(" hi", false), (Ids{space, space_hi}));
  EXPECT_EQ(tok->encode("hi hi", false), (Ids{space_hi, space_hi}));
  EXPECT_EQ(tok->encode("", true), (Ids{1}));
  EXPECT_EQ(tok->encode("", false), Ids{});
}

TEST(SpmTokenizer, SpacePrefixFollowsMetadata) {
  TinyVocab v;
  v.add_specials();
  v.add_byte_tokens();
  const int32_t space = v.add("▁", -1);
  const int32_t x = v.add("x", -1);
  v.set(std::string(kKeyAddSpacePrefix), gguf::Value::boolean(false));
  auto tok = v.must_build();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("x x", false), (Ids{x, space, x}));
}

TEST(SpmTokenizer, ByteFallbackForUncoveredCharacters) {
  TinyVocab v;
  v.add_specials();
  const int32_t byte0 = v.add_byte_tokens();
  const int32_t space_a = v.add("▁a", -1);
  auto tok = v.must_build();
  ASSERT_TRUE(tok);
  // "é" is C3 A9; the prefix ▁ has no piece of its own either, so its three bytes fall back too.
  EXPECT_EQ(tok->encode("aé", false), (Ids{space_a, byte0 + 0xC3, byte0 + 0xA9}));
  EXPECT_EQ(tok->encode("é", false), (Ids{byte0 + 0xE2, byte0 + 0x96, byte0 + 0x81, byte0 + 0xC3, byte0 + 0xA9}));
  // An ill-formed byte is kept as itself, not replaced.
  EXPECT_EQ(tok->encode("a\xFF", false), (Ids{space_a, byte0 + 0xFF}));
}

TEST(SpmTokenizer, UnknownTokenWithoutByteTokens) {
  TinyVocab v;
  v.add_specials();
  const int32_t space_a = v.add("▁a", -1);
  const int32_t b = v.add("b", -1);
  auto tok = v.must_build();
  ASSERT_TRUE(tok);
  // One UNK per uncovered character (é is two bytes, 😀 four).
  EXPECT_EQ(tok->encode("aébé😀", false), (Ids{space_a, 0, b, 0, 0}));
}

TinyVocab special_vocab() {
  TinyVocab v;
  v.add_specials();
  v.add_byte_tokens();
  v.add("▁a", -1);
  v.add("▁b", -1);
  v.add("<t>", 0, TokenType::Control);
  v.add("<tt>", 0, TokenType::Control);
  v.add("<|u|>", 0, TokenType::UserDefined);
  return v;
}

TEST(SpmTokenizer, ControlTokensOnlyWithParseSpecial) {
  TinyVocab v = special_vocab();
  auto tok = v.must_build();
  ASSERT_TRUE(tok);
  const int32_t a = *tok->vocab().find("▁a"), b = *tok->vocab().find("▁b");
  // Text after a special token starts a new segment and gets its own space prefix.
  EXPECT_EQ(tok->encode("a<s>b</s>", true, /*parse_special=*/true), (Ids{1, a, 1, b, 2}));
  const Ids plain = tok->encode("a<s>b</s>", true, /*parse_special=*/false);
  for (size_t i = 1; i < plain.size(); ++i) {
    EXPECT_NE(tok->vocab().type(plain[i]), TokenType::Control) << "control token forged from plain text at " << i;
  }
  EXPECT_EQ(detokenize(*tok, plain, {.strip_leading_space = true}), "a<s>b</s>");
  // The longest special token wins.
  const int32_t t = *tok->vocab().find("<t>"), tt = *tok->vocab().find("<tt>");
  EXPECT_EQ(tok->encode("<tt><t>", false, true), (Ids{tt, t}));
}

TEST(SpmTokenizer, UserDefinedTokensAlwaysRecognised) {
  TinyVocab v = special_vocab();
  auto tok = v.must_build();
  ASSERT_TRUE(tok);
  const int32_t u = *tok->vocab().find("<|u|>"), a = *tok->vocab().find("▁a");
  EXPECT_EQ(tok->encode("a<|u|>a", false, /*parse_special=*/false), (Ids{a, u, a}));
  EXPECT_EQ(tok->encode("<|u|>", false, false), (Ids{u}));
}

TEST(SpmTokenizer, EosOnRequest) {
  TinyVocab v = special_vocab();
  auto tok = v.must_build();
  ASSERT_TRUE(tok);
  const int32_t a = *tok->vocab().find("▁a");
  EXPECT_EQ(tok->encode("a", EncodeOptions{.add_bos = true, .add_eos = true}), (Ids{1, a, 2}));
  EXPECT_EQ(tok->encode("a", EncodeOptions{.add_bos = false, .add_eos = true}), (Ids{a, 2}));
}

}  // namespace
}  // namespace strata::tokenizer
