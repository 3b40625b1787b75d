// jinja/expr_parser.h: the expression half of the parser, with jinja2's precedence ladder:
// conditional < or < and < not < comparisons < + - < ~ < * / // % < ** < unary - + < primary with
// postfix (.attr [item] (call)) and then | filters and `is` tests. Internal to the parser.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "jinja/parser_base.h"

namespace strata::jinja {

class ExpressionParser : public ParserBase {
 public:
  explicit ExpressionParser(ParseState& s) : ParserBase(s) {}

  // Comma-separated expressions; a trailing or inner comma makes a tuple. `explicit_parens` allows "()";
  // `extra_end` names a keyword that also ends the list (a for loop's "recursive").
  Result<ExprPtr> parse_tuple(bool with_condexpr, std::string_view extra_end, bool explicit_parens);
  // One expression; without `with_condexpr` a trailing `if` is left to the caller (for-loop filters).
  Result<ExprPtr> parse_expression(bool with_condexpr);
  // `| name(args)` repeatedly; `start_inline` for {% filter name %} where no '|' comes first.
  Result<ExprPtr> parse_filters(ExprPtr e, bool start_inline);

 private:
  bool is_tuple_end(std::string_view extra_end) const;
  Result<ExprPtr> parse_condition();
  template <typename Next>
  Result<ExprPtr> parse_logical(std::string_view keyword, ExprKind kind, Next next);
  Result<ExprPtr> parse_or();
  Result<ExprPtr> parse_and();
  Result<ExprPtr> parse_not();
  Result<ExprPtr> parse_compare();
  template <typename Next>
  Result<ExprPtr> parse_binary(std::initializer_list<std::pair<std::string_view, BinaryOp>> ops, Next next);
  Result<ExprPtr> parse_sum();
  Result<ExprPtr> parse_concat();
  Result<ExprPtr> parse_product();
  Result<ExprPtr> parse_power();
  Result<ExprPtr> parse_unary(bool with_filters);
  Result<ExprPtr> parse_primary();
  Result<ExprPtr> parse_postfix(ExprPtr e);
  // `[...]`: one key, a slice `a:b:c`, or several keys (a tuple, like Python's x[a, b]; `x[]` is the
  // empty tuple, as jinja2 reads it).
  Result<ExprPtr> parse_subscript(ExprPtr target);
  Status parse_call_args(CallArgExprs& args);
  Result<ExprPtr> parse_call(ExprPtr callee);
  Result<std::string> parse_dotted_name();
  Result<ExprPtr> parse_filter_chain(ExprPtr e);
  Result<ExprPtr> parse_test(ExprPtr subject);
};

}  // namespace strata::jinja
