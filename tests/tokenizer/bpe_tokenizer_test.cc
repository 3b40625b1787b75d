// tests/tokenizer/bpe_tokenizer_test.cc: byte-level BPE on tiny vocabularies: merge order, the byte alphabet,
// ignore_merges, special tokens, streaming decode, pre-tokenizer regexes, and one-line errors for bad data.
#include <random>

#include <gtest/gtest.h>

#include "tokenizer/bpe_fixtures.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace strata::tokenizer::test {
namespace {

std::vector<int32_t> raw_encode(const Tokenizer& t, std::string_view text) { return t.encode(text, EncodeOptions{}); }

std::vector<std::string> words(std::string_view pre, std::string_view text) {
  auto p = PreTokenizer::create(pre);
  EXPECT_TRUE(p.is_ok()) << p.status().message();
  std::vector<std::string_view> views;
  if (p.is_ok()) p->split(text, views);
  return {views.begin(), views.end()};
}

TEST(ByteAlphabet, MapsEveryByteAndBack) {
  const ByteAlphabet a;
  EXPECT_EQ(a.encode(' '), "Ġ");
  EXPECT_EQ(a.encode('\n'), "Ċ");
  EXPECT_EQ(a.encode('A'), "A");
  std::set<std::string> seen;
  for (int b = 0; b < 256; ++b) {
    seen.insert(std::string(a.encode(static_cast<uint8_t>(b))));
    EXPECT_EQ(a.decode_piece(a.encode(static_cast<uint8_t>(b))), std::string(1, static_cast<char>(b)));
  }
  EXPECT_EQ(seen.size(), 256u);
}

TEST(BpeTokenizer, MergesByRankNotByPosition) {
  TinyBpe v;
  const int32_t bc = v.merge("b", "c");  // rank 0 beats the leftmost pair "a b" (rank 1)
  v.merge("a", "b");
  auto t = v.must_build();
  ASSERT_TRUE(t);
  EXPECT_EQ(raw_encode(*t, "abc"), (std::vector<int32_t>{v.id("a"), bc}));
}

TEST(BpeTokenizer, EqualPairsMergeLeftmostFirstAndChain) {
  TinyBpe v;
  const int32_t aa = v.merge("a", "a");
  const int32_t aaaa = v.merge("aa", "aa");
  auto t = v.must_build();
  ASSERT_TRUE(t);
  EXPECT_EQ(raw_encode(*t, "aaa"), (std::vector<int32_t>{aa, v.id("a")}));
  EXPECT_EQ(raw_encode(*t, "aaaaa"), (std::vector<int32_t>{aaaa, v.id("a")}));
}

TEST(BpeTokenizer, SpacesAreSpelledInTheByteAlphabetAndWordsNeverMerge) {
  TinyBpe v;
  const int32_t sw = v.merge("Ġ", "w");
  v.merge("o", "Ġ");  // would join across the word boundary; the pre-tokenizer keeps it from applying
  auto t = v.must_build();
  ASSERT_TRUE(t);
  EXPECT_EQ(raw_encode(*t, "o w"), (std::vector<int32_t>{v.id("o"), sw}));
}

TEST(BpeTokenizer, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  for (const std::string pre : {"llama-bpe", "gpt-2"}) {
    TinyBpe v(pre);
    const int32_t ab = v.merge("a", "b");
    const int32_t abc = v.add("abc");  // no merge builds it
    auto t = v.must_build();
    ASSERT_TRUE(t);
    const auto want = pre == "gpt-2" ? std::vector<int32_t>{ab, v.id("c")} : std::vector<int32_t>{abc};
    EXPECT_EQ(raw_encode(*t, "abc"), want) << pre;
  }
}

TEST(BpeTokenizer, SpecialTokensLongestMatchAndRawText) {
  TinyBpe v;
  const int32_t end = v.add("<|end|>", TokenType::Control);
  const int32_t end_text = v.add("<|end|>text", TokenType::Control);
  const int32_t think = v.add("<think>", TokenType::UserDefined);
  auto t = v.must_build();
  ASSERT_TRUE(t);
  EncodeOptions special{.add_bos = false, .add_eos = false, .parse_special = true};
  EXPECT_EQ(t->encode("<|end|>texts", special).front(), end_text);
  EXPECT_EQ(t->encode("x<|end|>", special).back(), end);
  // Raw: control-token text is plain text (and decodes back to itself); user-defined tokens still match.
  const std::vector<int32_t> raw = raw_encode(*t, "<|end|><think>");
  EXPECT_EQ(raw.back(), think);
  EXPECT_EQ(std::count(raw.begin(), raw.end(), end), 0);
  EXPECT_EQ(detokenize(*t, raw), "<|end|><think>");
  EXPECT_EQ(detokenize(*t, std::vector<int32_t>{end}), "");
  EXPECT_EQ(detokenize(*t, std::vector<int32_t>{end}, DetokenizeOptions{.render_special = true}), "<|end|>");
}

TEST(BpeTokenizer, StreamingDecodeNeverSplitsACharacter) {
  TinyBpe v;
  auto t = v.must_build();
  ASSERT_TRUE(t);
  const std::string text = "é€😀";  // 2, 3 and 4 bytes, one byte token each
  const std::vector<int32_t> ids = raw_encode(*t, text);
  ASSERT_EQ(ids.size(), 9u);
  StreamingDetokenizer d(*t);
  std::vector<std::string> chunks;
  for (int32_t id : ids) chunks.push_back(d.push(id));
  EXPECT_EQ(chunks, (std::vector<std::string>{"", "é", "", "", "€", "", "", "", "😀"}));
  EXPECT_EQ(d.flush(), "");
}

TEST(BpeTokenizer, BytesWithoutATokenBecomeUnknownOrNothing) {
  // Real vocabularies leave out bytes that well-formed UTF-8 never holds; the encoder must not crash on them.
  gguf::Array texts{gguf::ValueType::STRING, {}}, types{gguf::ValueType::INT32, {}};
  for (const char* s : {"a", "b", "<unk>"}) texts.items.push_back(gguf::Value::of_string(s));
  for (int t : {1, 1, 2}) types.items.push_back(gguf::Value::of_i32(t));
  TinyBpe v;
  v.set(std::string(kKeyTokens), gguf::Value::array(texts)).set(std::string(kKeyTokenType), gguf::Value::array(types));
  v.set(std::string(kKeyMerges), gguf::Value::array(gguf::Array{gguf::ValueType::STRING, {}}));
  auto t = v.must_build();
  ASSERT_TRUE(t);
  EXPECT_EQ(raw_encode(*t, "a\xFF" "b"), (std::vector<int32_t>{0, 1}));
  v.set(std::string(kKeyUnknownId), gguf::Value::of_u32(2));
  auto with_unk = v.must_build();
  ASSERT_TRUE(with_unk);
  EXPECT_EQ(raw_encode(*with_unk, "a\xFF" "b"), (std::vector<int32_t>{0, 2, 1}));
}

TEST(BpeTokenizer, AnyBytesEncodeAndDecodeBackExactly) {
  TinyBpe v("llama-bpe");
  v.merge("Ġ", "t");
  v.merge("h", "e");
  auto t = v.must_build();
  ASSERT_TRUE(t);
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    std::string s(rng() % 40, '\0');
    for (char& c : s) c = static_cast<char>(i % 2 ? rng() % 256 : " \n\tthe\xC3\xA9'1"[rng() % 11]);
    std::string bytes;
    for (int32_t id : raw_encode(*t, s)) bytes += t->token_to_piece(id);
    EXPECT_EQ(bytes, s);
  }
}

TEST(PreTokenizer, Llama3Splits) {
  EXPECT_EQ(words("llama-bpe", "I'm 12345 tokens!!\n\n  x"),
            (std::vector<std::string>{"I", "'m", " ", "123", "45", " tokens", "!!\n\n", " ", " x"}));
  EXPECT_EQ(words("qwen2", "ab 12"), (std::vector<std::string>{"ab", " ", "1", "2"}));
}

TEST(PreTokenizer, WhitespaceIsUnicodeWhiteSpaceWithoutU180E) {
  // U+180E is a format character to Oniguruma and Rust's regex; PCRE2's UCP \s would take it.
  EXPECT_EQ(words("gpt-2", "a\xE1\xA0\x8E b"), (std::vector<std::string>{"a", "\xE1\xA0\x8E", " b"}));
  EXPECT_EQ(words("gpt-2", "a\xE2\x80\x89\xE2\x80\x89" "b"),
            (std::vector<std::string>{"a", "\xE2\x80\x89", "\xE2\x80\x89", "b"}));
}

TEST(PreTokenizer, O200kCaseRunsAndContractions) {
  EXPECT_EQ(words("gpt-4o", "HelloWORLD don't 1234"),
            (std::vector<std::string>{"Hello", "WORLD", " don't", " ", "123", "4"}));
}

TEST(PreTokenizer, TekkenAndDeepseekV3Splits) {
  EXPECT_EQ(words("tekken", "HelloWORLD 1234 don't"),
            (std::vector<std::string>{"Hello", "WORLD", " ", "1", "2", "3", "4", " don", "'t"}));
  // deepseek-v3: digits in threes first, then CJK/kana runs, then the word regex on what is left.
  EXPECT_EQ(words("deepseek-v3", "abc123456 x日本語"),
            (std::vector<std::string>{"abc", "123", "456", " x", "日本語"}));
}

TEST(PreTokenizer, IllFormedBytesStandAlone) {
  EXPECT_EQ(words("llama-bpe", "ab\xFF" "cd"), (std::vector<std::string>{"ab", "\xFF", "cd"}));
}

TEST(PreTokenizer, EveryKnownNameCompiles) {
  for (std::string_view name : PreTokenizer::known_names()) {
    auto p = PreTokenizer::create(name);
    EXPECT_TRUE(p.is_ok()) << name << ": " << p.status().message();
  }
  for (const char* required : {"llama-bpe", "llama3", "qwen2", "tekken", "gpt-4o", "deepseek-v3", "deepseek-llm",
                               "deepseek-coder", "falcon", "starcoder", "refact", "mpt", "gpt-2", "default"}) {
    EXPECT_TRUE(PreTokenizer::create(required).is_ok()) << required;
  }
}

void expect_one_line_error(const TinyBpe& v, const std::string& needle) {
  auto t = v.tokenizer();
  ASSERT_FALSE(t.is_ok()) << "expected an error containing " << needle;
  const std::string& m = t.status().message();
  EXPECT_NE(m.find(needle), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(BpeTokenizerErrors, BadDataIsAOneLineErrorNamingIt) {
  expect_one_line_error(TinyBpe("nonsense-pre"), "unknown pre-tokenizer 'nonsense-pre'");
  expect_one_line_error(TinyBpe().set(std::string(kKeyModel), gguf::Value::of_string("wordpiece")), "'wordpiece'");
  {
    TinyBpe v;
    v.raw_merges().push_back("a zz");
    expect_one_line_error(v, "piece 'zz' is not a normal token");
  }
  {
    TinyBpe v;
    v.raw_merges().push_back("ab");
    expect_one_line_error(v, "not two pieces");
  }
  expect_one_line_error(TinyBpe().omit(std::string(kKeyMerges)), "tokenizer.ggml.merges' is missing");
  expect_one_line_error(TinyBpe()
                            .set(std::string(kKeyTokens), gguf::Value::array(gguf::Array{gguf::ValueType::STRING, {}}))
                            .set(std::string(kKeyTokenType), gguf::Value::array(gguf::Array{gguf::ValueType::INT32, {}})),
                        "is empty");
  expect_one_line_error(TinyBpe().set(std::string(kKeyPre), gguf::Value::of_u32(3)), "tokenizer.ggml.pre");
}

}  // namespace
}  // namespace strata::tokenizer::test
