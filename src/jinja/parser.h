// jinja/parser.h: turns the lexer's tokens into a Program, following jinja2's grammar and
// operator precedence; filters and tests are resolved by name here.
#pragma once

#include <memory>
#include <vector>

#include "core/status.h"
#include "jinja/ast.h"
#include "jinja/lexer.h"

namespace strata::jinja {

// Nesting deeper than this (parentheses, unary operators, operator chains, blocks) is refused, so damaged
// or hostile templates cannot exhaust the stack while parsing, evaluating or freeing the tree.
inline constexpr int kMaxParseDepth = 256;

// Errors carry "line L, column C: ..." of the offending token.
Result<std::unique_ptr<Program>> parse_program(const std::vector<Token>& tokens);

}  // namespace strata::jinja
