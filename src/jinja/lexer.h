// jinja/lexer.h: splits a template into data and tag tokens as jinja2's lexer does, including
// whitespace control ({%- -%} {%+ +%}), trim_blocks, lstrip_blocks, comments and {% raw %} blocks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace strata::jinja {

enum class TokenKind : uint8_t {
  Data,           // literal template text, whitespace control already applied
  VariableBegin,  // {{
  VariableEnd,    // }}
  BlockBegin,     // {%
  BlockEnd,       // %}
  Name,
  String,    // text holds the unescaped value
  Integer,   // int_value
  Float,     // float_value
  Operator,  // text holds the operator: + - * / // % ** ~ == != < <= > >= = . : | , ; ( ) [ ] { }
  End,
};

struct Token {
  TokenKind kind = TokenKind::End;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1;
  int column = 1;
};

struct LexerOptions {
  bool trim_blocks = false;    // drop the first newline after a block or comment tag
  bool lstrip_blocks = false;  // drop spaces and tabs from a line's start up to a block or comment tag
  bool keep_trailing_newline = false;
};

// Tokenizes `source` (newlines normalized to \n first). The result always ends with an End token.
// Errors name the line and column: "line 3, column 7: unexpected char '$'".
Result<std::vector<Token>> tokenize(std::string_view source, const LexerOptions& options);

// "line L, column C: message", the form every engine error takes.
std::string located(int line, int column, std::string_view message);

}  // namespace strata::jinja
