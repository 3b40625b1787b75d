// tests/jinja/jinja_lexer_test.cc: token streams, whitespace control (-, +, trim_blocks,
// lstrip_blocks), literals, bracket balancing inside tags, newline handling, and positioned errors.
#include <gtest/gtest.h>

#include "jinja/lexer.h"

namespace strata::jinja {
namespace {

std::vector<Token> lex(std::string_view source, LexerOptions options = {}) {
  Result<std::vector<Token>> tokens = tokenize(source, options);
  EXPECT_TRUE(tokens.is_ok()) << source << ": " << tokens.status().message();
  return tokens.is_ok() ? *tokens : std::vector<Token>{};
}

// The template text the lexer keeps (all Data tokens joined with '|').
std::string data_of(std::string_view source, LexerOptions options = {}) {
  std::string out;
  for (const Token& t : lex(source, options)) {
    if (t.kind != TokenKind::Data) continue;
    if (!out.empty()) out += '|';
    out += t.text;
  }
  return out;
}

LexerOptions hf() {
  LexerOptions o;
  o.trim_blocks = true;
  o.lstrip_blocks = true;
  return o;
}

TEST(JinjaLexer, SplitsDataAndTags) {
  const std::vector<Token> t = lex("Hi {{ name|upper }}{% if x %}!{% endif %}");
  const std::vector<TokenKind> kinds = {
      TokenKind::Data,        TokenKind::VariableBegin, TokenKind::Name, TokenKind::Operator, TokenKind::Name,
      TokenKind::VariableEnd, TokenKind::BlockBegin,    TokenKind::Name, TokenKind::Name,     TokenKind::BlockEnd,
      TokenKind::Data,        TokenKind::BlockBegin,    TokenKind::Name, TokenKind::BlockEnd, TokenKind::End};
  ASSERT_EQ(t.size(), kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) EXPECT_EQ(t[i].kind, kinds[i]) << "token " << i;
  EXPECT_EQ(t[0].text, "Hi ");
  EXPECT_EQ(t[2].text, "name");
  EXPECT_EQ(t[3].text, "|");
  EXPECT_EQ(t[10].text, "!");
}

TEST(JinjaLexer, MinusStripsAllWhitespaceOnItsSide) {
  EXPECT_EQ(data_of("a \n\t {%- if x -%} \n b{%- endif %}"), "a|b");
  EXPECT_EQ(data_of("a  {{- x -}}  b"), "a|b");
  EXPECT_EQ(data_of("a \n {#- note -#}\n b"), "a|b");
  // Unicode whitespace counts too, as Python's str.rstrip() does.
  EXPECT_EQ(data_of("a\u3000{{- x }}"), "a");
}

TEST(JinjaLexer, TrimBlocksEatsOneNewlineAfterBlockAndCommentTags) {
  EXPECT_EQ(data_of("{% if x %}\n\nA{# c #}\nB{{ v }}\nC", hf()), "\nA|B|\nC");
  EXPECT_EQ(data_of("{% if x %}\nA", LexerOptions{}), "\nA");
  EXPECT_EQ(data_of("{% if x +%}\nA", hf()), "\nA");  // + keeps it
}

TEST(JinjaLexer, LstripBlocksOnlyWhenTheTagStartsTheLine) {
  EXPECT_EQ(data_of("x\n    {% if a %}y", hf()), "x\n|y");
  EXPECT_EQ(data_of("x  {% if a %}y", hf()), "x  |y");           // text before the tag on its line
  EXPECT_EQ(data_of("x\n    {{ a }}", hf()), "x\n    ");         // never before {{
  EXPECT_EQ(data_of("x\n    {%+ if a %}y", hf()), "x\n    |y");  // + turns it off
  EXPECT_EQ(data_of("  {% if a %}\n  y", hf()), "  y");          // the template's first line counts
  EXPECT_EQ(data_of("{% if a %}\n  {% if b %}z", hf()), "z");    // after a trimmed newline, too
}

TEST(JinjaLexer, RawBlocksAndCommentsProduceNoTags) {
  const std::vector<Token> t = lex("{% raw %}{{ not a tag }}{% endraw %}{# {{ nor this }} #}");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].kind, TokenKind::Data);
  EXPECT_EQ(t[0].text, "{{ not a tag }}");
}

TEST(JinjaLexer, Literals) {
  const std::vector<Token> t = lex("{{ 1_000 0x1F 0b101 0o17 1.5e3 2.5 .5 'a\\n\\x41\\u00e9' \"q\\\"\" }}");
  ASSERT_GE(t.size(), 11u);
  EXPECT_EQ(t[1].int_value, 1000);
  EXPECT_EQ(t[2].int_value, 31);
  EXPECT_EQ(t[3].int_value, 5);
  EXPECT_EQ(t[4].int_value, 15);
  EXPECT_EQ(t[5].kind, TokenKind::Float);
  EXPECT_DOUBLE_EQ(t[5].float_value, 1500.0);
  EXPECT_DOUBLE_EQ(t[6].float_value, 2.5);
  EXPECT_EQ(t[7].kind, TokenKind::Operator);  // ".5" is '.' then 5, as in jinja2
  EXPECT_EQ(t[9].text, "a\nA\xC3\xA9");
  EXPECT_EQ(t[10].text, "q\"");
}

TEST(JinjaLexer, TagEndsOnlyWhenBracketsBalance) {
  const std::vector<Token> t = lex("{{ {'a': {'b': 1}} }}tail");
  ASSERT_GE(t.size(), 3u);
  EXPECT_EQ(t[t.size() - 3].kind, TokenKind::VariableEnd);
  EXPECT_EQ(t[t.size() - 2].text, "tail");
}

TEST(JinjaLexer, NewlinesAreNormalizedAndOneTrailingNewlineDropped) {
  EXPECT_EQ(data_of("a\r\nb\rc\n"), "a\nb\nc");
  LexerOptions keep;
  keep.keep_trailing_newline = true;
  EXPECT_EQ(data_of("a\n", keep), "a\n");
  EXPECT_EQ(data_of("a\n\n"), "a\n");
}

TEST(JinjaLexer, TokensKnowTheirLineAndColumn) {
  const std::vector<Token> t = lex("line one\n  {{ value }}");
  ASSERT_GE(t.size(), 3u);
  EXPECT_EQ(t[1].kind, TokenKind::VariableBegin);
  EXPECT_EQ(t[1].line, 2);
  EXPECT_EQ(t[1].column, 3);
  EXPECT_EQ(t[2].line, 2);
  EXPECT_EQ(t[2].column, 6);
}

TEST(JinjaLexer, ErrorsNameLineAndColumn) {
  const struct {
    std::string_view source;
    std::string_view message;
  } cases[] = {
      {"ok\n{{ 'unterminated }}", "line 2, column 4: unexpected char '''"},
      {"{# never closed", "line 1, column 1: missing end of comment tag"},
      {"{% raw %} no end", "missing end of raw directive"},
      {"{{ a $ b }}", "line 1, column 6: unexpected char '$'"},
      {"{{ (a] }}", "unexpected ']', expected ')'"},
      {"{{ a) }}", "unexpected ')'"},
      {"{{ a", "unclosed variable tag"},
      {"{{ 99999999999999999999 }}", "integer literal too large"},
      {"{{ '\\x4' }}", "truncated"},
      {"{{ caf\xC3\xA9 }}", "non-ASCII"},
  };
  for (const auto& c : cases) {
    Result<std::vector<Token>> t = tokenize(c.source, {});
    ASSERT_FALSE(t.is_ok()) << c.source;
    EXPECT_NE(t.status().message().find(c.message), std::string::npos) << c.source << " -> " << t.status().message();
  }
}

}  // namespace
}  // namespace strata::jinja
