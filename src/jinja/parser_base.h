// jinja/parser_base.h: state and token helpers shared by the statement parser
// (jinja/parser.cc) and the expression parser (jinja/expr_parser.cc). Internal to the parser.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "jinja/ast.h"
#include "jinja/lexer.h"
#include "jinja/parser.h"

namespace strata::jinja {

// One parse: the token stream position and what both parsers account for.
struct ParseState {
  explicit ParseState(const std::vector<Token>& t) : tokens(t) {}
  const std::vector<Token>& tokens;  // REQUIRES: ends with an End token
  size_t pos = 0;
  int depth = 0;  // nesting charged so far (see DepthGuard, ChainGuard)
  // Inside an if/elif/else or a conditional expression, an unknown filter or test fails only when
  // reached (jinja2's "soft" frames); elsewhere it is an error, reported after parsing succeeds.
  bool soft = false;
  std::vector<Status> unknown_names;
};

class ParserBase {
 protected:
  explicit ParserBase(ParseState& s) : s_(s), depth_(s.depth), soft_(s.soft), unknown_names_(s.unknown_names) {}

  const Token& current() const { return s_.tokens[s_.pos]; }
  const Token& peek(size_t ahead = 1) const { return s_.tokens[std::min(s_.pos + ahead, s_.tokens.size() - 1)]; }
  void advance() {
    if (s_.pos + 1 < s_.tokens.size()) ++s_.pos;
  }
  bool is_op(std::string_view op) const { return current().kind == TokenKind::Operator && current().text == op; }
  bool is_name(std::string_view name) const { return current().kind == TokenKind::Name && current().text == name; }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }

  static std::string describe(const Token& t);

  Status fail(std::string_view message) const {
    return Status::error(located(current().line, current().column, message));
  }
  Status expect_op(std::string_view op) {
    if (skip_op(op)) return Status::ok();
    return fail(fmt::format("expected '{}', got {}", op, describe(current())));
  }
  Status expect_kind(TokenKind kind, std::string_view what) {
    if (current().kind != kind) return fail(fmt::format("expected {}, got {}", what, describe(current())));
    advance();
    return Status::ok();
  }
  Result<std::string> expect_name() {
    if (current().kind != TokenKind::Name) return fail("expected a name, got " + describe(current()));
    std::string name = current().text;
    advance();
    return name;
  }

  // Guards recursion; every recursive production takes one.
  struct DepthGuard {
    explicit DepthGuard(int& d) : depth(d) { ++depth; }
    ~DepthGuard() { --depth; }
    int& depth;
  };
  // Left-nesting loops (a + b + c, x.y.z, v | f | g) deepen the tree one level per step without
  // recursing; a ChainGuard charges those levels to depth_ until the production returns.
  struct ChainGuard {
    explicit ChainGuard(int& d) : depth(d) {}
    ~ChainGuard() { depth -= added; }
    void bump() {
      ++depth;
      ++added;
    }
    int& depth;
    int added = 0;
  };
  Status check_depth() const { return depth_ > kMaxParseDepth ? fail("template nested too deeply") : Status::ok(); }

  ExprPtr node(ExprKind kind, const Token& at) const {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at.line;
    e->column = at.column;
    return e;
  }

  ParseState& s_;
  int& depth_;
  bool& soft_;
  std::vector<Status>& unknown_names_;
};

}  // namespace strata::jinja
