// jinja/expr_parser.cc: expressions (see jinja/expr_parser.h). Every recursive production
// takes a DepthGuard and every left-nesting loop a ChainGuard, so nesting stays under kMaxParseDepth.
#include "jinja/expr_parser.h"

#include <algorithm>

#include "jinja/builtins.h"

namespace strata::jinja {

bool ExpressionParser::is_tuple_end(std::string_view extra_end) const {
  const TokenKind k = current().kind;
  if (k == TokenKind::VariableEnd || k == TokenKind::BlockEnd || is_op(")")) return true;
  return !extra_end.empty() && is_name(extra_end);
}

Result<ExprPtr> ExpressionParser::parse_tuple(bool with_condexpr, std::string_view extra_end, bool explicit_parens) {
  const Token& start = current();
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) STRATA_RETURN_IF_ERROR(expect_op(","));
    if (is_tuple_end(extra_end)) break;
    STRATA_ASSIGN_OR_RETURN(ExprPtr e, parse_expression(with_condexpr));
    items.push_back(std::move(e));
    if (is_op(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parens) return fail("expected an expression, got " + describe(current()));
  }
  auto t = node(ExprKind::Tuple, start);
  t->items = std::move(items);
  return t;
}

Result<ExprPtr> ExpressionParser::parse_expression(bool with_condexpr) {
  DepthGuard guard(depth_);
  STRATA_RETURN_IF_ERROR(check_depth());
  return with_condexpr ? parse_condition() : parse_or();
}

Result<ExprPtr> ExpressionParser::parse_condition() {
  const size_t unknown_before = unknown_names_.size();
  STRATA_ASSIGN_OR_RETURN(ExprPtr value, parse_or());
  ChainGuard chain(depth_);
  while (is_name("if")) {
    chain.bump();
    STRATA_RETURN_IF_ERROR(check_depth());
    const Token& at = current();
    advance();
    const bool was_soft = soft_;
    soft_ = true;
    // Every part of a conditional expression is "soft" in jinja2, the value before `if` included.
    unknown_names_.resize(unknown_before);
    auto cond = node(ExprKind::Condition, at);
    STRATA_ASSIGN_OR_RETURN(ExprPtr test, parse_or());
    ExprPtr otherwise;
    if (skip_name("else")) {
      STRATA_ASSIGN_OR_RETURN(otherwise, parse_expression(true));
    }
    soft_ = was_soft;
    cond->items.push_back(std::move(value));
    cond->items.push_back(std::move(test));
    cond->items.push_back(std::move(otherwise));
    value = std::move(cond);
  }
  return value;
}

template <typename Next>
Result<ExprPtr> ExpressionParser::parse_logical(std::string_view keyword, ExprKind kind, Next next) {
  STRATA_ASSIGN_OR_RETURN(ExprPtr left, next());
  ChainGuard chain(depth_);
  while (is_name(keyword)) {
    chain.bump();
    STRATA_RETURN_IF_ERROR(check_depth());
    auto e = node(kind, current());
    advance();
    STRATA_ASSIGN_OR_RETURN(ExprPtr right, next());
    e->items.push_back(std::move(left));
    e->items.push_back(std::move(right));
    left = std::move(e);
  }
  return left;
}

Result<ExprPtr> ExpressionParser::parse_or() {
  return parse_logical("or", ExprKind::Or, [this] { return parse_and(); });
}

Result<ExprPtr> ExpressionParser::parse_and() {
  return parse_logical("and", ExprKind::And, [this] { return parse_not(); });
}

Result<ExprPtr> ExpressionParser::parse_not() {
  if (!is_name("not")) return parse_compare();
  DepthGuard guard(depth_);
  STRATA_RETURN_IF_ERROR(check_depth());
  auto e = node(ExprKind::Not, current());
  advance();
  STRATA_ASSIGN_OR_RETURN(e->operand, parse_not());
  return e;
}

Result<ExprPtr> ExpressionParser::parse_compare() {
  const Token& at = current();
  STRATA_ASSIGN_OR_RETURN(ExprPtr first, parse_sum());
  std::vector<CompareOp> ops;
  std::vector<ExprPtr> operands;
  while (true) {
    CompareOp op;
    if (is_op("=="))
      op = CompareOp::Eq;
    else if (is_op("!="))
      op = CompareOp::Ne;
    else if (is_op("<"))
      op = CompareOp::Lt;
    else if (is_op("<="))
      op = CompareOp::Le;
    else if (is_op(">"))
      op = CompareOp::Gt;
    else if (is_op(">="))
      op = CompareOp::Ge;
    else if (is_name("in"))
      op = CompareOp::In;
    else if (is_name("not") && peek().kind == TokenKind::Name && peek().text == "in") {
      op = CompareOp::NotIn;
      advance();
    } else {
      break;
    }
    advance();
    STRATA_ASSIGN_OR_RETURN(ExprPtr right, parse_sum());
    ops.push_back(op);
    operands.push_back(std::move(right));
  }
  if (ops.empty()) return first;
  auto e = node(ExprKind::Compare, at);
  e->items.push_back(std::move(first));
  for (auto& operand : operands) e->items.push_back(std::move(operand));
  e->compare_ops = std::move(ops);
  return e;
}

template <typename Next>
Result<ExprPtr> ExpressionParser::parse_binary(std::initializer_list<std::pair<std::string_view, BinaryOp>> ops,
                                               Next next) {
  STRATA_ASSIGN_OR_RETURN(ExprPtr left, next());
  ChainGuard chain(depth_);
  while (true) {
    const auto it = std::find_if(ops.begin(), ops.end(), [&](const auto& op) { return is_op(op.first); });
    if (it == ops.end()) return left;
    chain.bump();
    STRATA_RETURN_IF_ERROR(check_depth());
    auto e = node(ExprKind::Binary, current());
    e->binary_op = it->second;
    advance();
    STRATA_ASSIGN_OR_RETURN(ExprPtr right, next());
    e->items.push_back(std::move(left));
    e->items.push_back(std::move(right));
    left = std::move(e);
  }
}

Result<ExprPtr> ExpressionParser::parse_sum() {
  return parse_binary({{"+", BinaryOp::Add}, {"-", BinaryOp::Sub}}, [this] { return parse_concat(); });
}

Result<ExprPtr> ExpressionParser::parse_concat() {
  return parse_binary({{"~", BinaryOp::Concat}}, [this] { return parse_product(); });
}

Result<ExprPtr> ExpressionParser::parse_product() {
  return parse_binary({{"*", BinaryOp::Mul}, {"/", BinaryOp::Div}, {"//", BinaryOp::FloorDiv}, {"%", BinaryOp::Mod}},
                      [this] { return parse_power(); });
}

Result<ExprPtr> ExpressionParser::parse_power() {
  return parse_binary({{"**", BinaryOp::Pow}}, [this] { return parse_unary(true); });
}

Result<ExprPtr> ExpressionParser::parse_unary(bool with_filters) {
  DepthGuard guard(depth_);
  STRATA_RETURN_IF_ERROR(check_depth());
  ExprPtr e;
  if (is_op("-") || is_op("+")) {
    e = node(is_op("-") ? ExprKind::Negate : ExprKind::Plus, current());
    advance();
    STRATA_ASSIGN_OR_RETURN(e->operand, parse_unary(false));
  } else {
    STRATA_ASSIGN_OR_RETURN(e, parse_primary());
  }
  STRATA_ASSIGN_OR_RETURN(e, parse_postfix(std::move(e)));
  if (with_filters) {
    STRATA_ASSIGN_OR_RETURN(e, parse_filter_chain(std::move(e)));
  }
  return e;
}

Result<ExprPtr> ExpressionParser::parse_primary() {
  DepthGuard guard(depth_);
  STRATA_RETURN_IF_ERROR(check_depth());
  const Token& t = current();
  auto e = node(ExprKind::Literal, t);
  switch (t.kind) {
    case TokenKind::Name:
      if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
        e->value = Value(t.text == "true" || t.text == "True");
      } else if (t.text == "none" || t.text == "None") {
        e->value = Value::none();
      } else {
        e->kind = ExprKind::Name;
        e->name = t.text;
      }
      advance();
      return e;
    case TokenKind::String: {
      std::string text;
      while (current().kind == TokenKind::String) {  // adjacent literals concatenate
        text += current().text;
        advance();
      }
      e->value = Value(std::move(text));
      return e;
    }
    case TokenKind::Integer:
      e->value = Value(t.int_value);
      advance();
      return e;
    case TokenKind::Float:
      e->value = Value(t.float_value);
      advance();
      return e;
    default: break;
  }
  if (skip_op("(")) {
    STRATA_ASSIGN_OR_RETURN(e, parse_tuple(true, {}, true));
    STRATA_RETURN_IF_ERROR(expect_op(")"));
    return e;
  }
  if (is_op("[") || is_op("{")) {
    const bool is_list = is_op("[");
    const std::string_view close = is_list ? "]" : "}";
    e->kind = is_list ? ExprKind::List : ExprKind::Dict;
    advance();
    while (!is_op(close)) {
      if (!e->items.empty()) {
        STRATA_RETURN_IF_ERROR(expect_op(","));
        if (is_op(close)) break;
      }
      STRATA_ASSIGN_OR_RETURN(ExprPtr item, parse_expression(true));
      e->items.push_back(std::move(item));
      if (!is_list) {
        STRATA_RETURN_IF_ERROR(expect_op(":"));
        STRATA_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
        e->items.push_back(std::move(value));
      }
    }
    advance();
    return e;
  }
  return fail("unexpected " + describe(t));
}

Result<ExprPtr> ExpressionParser::parse_postfix(ExprPtr e) {
  ChainGuard chain(depth_);
  while (true) {
    chain.bump();
    STRATA_RETURN_IF_ERROR(check_depth());
    if (is_op(".")) {
      const Token& at = current();
      advance();
      if (current().kind == TokenKind::Name) {
        auto g = node(ExprKind::GetAttr, at);
        g->name = current().text;
        g->operand = std::move(e);
        e = std::move(g);
      } else if (current().kind == TokenKind::Integer) {
        auto g = node(ExprKind::GetItem, at);
        auto index = node(ExprKind::Literal, current());
        index->value = Value(current().int_value);
        g->operand = std::move(e);
        g->items.push_back(std::move(index));
        e = std::move(g);
      } else {
        return fail("expected name or number after '.'");
      }
      advance();
    } else if (is_op("[")) {
      STRATA_ASSIGN_OR_RETURN(e, parse_subscript(std::move(e)));
    } else if (is_op("(")) {
      STRATA_ASSIGN_OR_RETURN(e, parse_call(std::move(e)));
    } else {
      return e;
    }
  }
}

Result<ExprPtr> ExpressionParser::parse_subscript(ExprPtr target) {
  auto e = node(ExprKind::GetItem, current());
  advance();  // [
  e->operand = std::move(target);
  std::vector<ExprPtr> keys;
  while (!is_op("]")) {
    if (!keys.empty()) STRATA_RETURN_IF_ERROR(expect_op(","));
    ExprPtr parts[3];
    bool is_slice = false;
    int part = 0;
    while (!is_op("]") && !is_op(",")) {
      if (is_op(":")) {
        if (++part > 2) return fail("too many ':' in slice");
        is_slice = true;
        advance();
        continue;
      }
      if (parts[part]) return fail("expected ']' or ':', got " + describe(current()));
      STRATA_ASSIGN_OR_RETURN(parts[part], parse_expression(true));
    }
    if (!is_slice) {
      if (!parts[0]) return fail("expected an expression, got " + describe(current()));
      keys.push_back(std::move(parts[0]));
      continue;
    }
    if (!keys.empty() || is_op(",")) return fail("slices inside a tuple subscript are not supported");
    advance();  // ]
    e->kind = ExprKind::Slice;
    for (auto& p : parts) e->items.push_back(std::move(p));
    return e;
  }
  advance();  // ]
  if (keys.size() == 1) {
    e->items.push_back(std::move(keys[0]));
    return e;
  }
  auto tuple = node(ExprKind::Tuple, current());
  tuple->items = std::move(keys);
  e->items.push_back(std::move(tuple));
  return e;
}

Status ExpressionParser::parse_call_args(CallArgExprs& args) {
  STRATA_RETURN_IF_ERROR(expect_op("("));
  while (!is_op(")")) {
    if (!args.positional.empty() || !args.keyword.empty()) {
      STRATA_RETURN_IF_ERROR(expect_op(","));
      if (is_op(")")) break;
    }
    if (is_op("*") || is_op("**")) return fail("*args and **kwargs in calls are not supported");
    if (current().kind == TokenKind::Name && peek().kind == TokenKind::Operator && peek().text == "=") {
      std::string key = current().text;
      for (const auto& [seen, unused] : args.keyword) {
        if (seen == key) return fail("keyword argument repeated: " + key);
      }
      advance();
      advance();
      STRATA_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
      args.keyword.emplace_back(std::move(key), std::move(value));
    } else {
      if (!args.keyword.empty()) return fail("positional argument follows keyword argument");
      STRATA_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
      args.positional.push_back(std::move(value));
    }
  }
  advance();
  return Status::ok();
}

Result<ExprPtr> ExpressionParser::parse_call(ExprPtr callee) {
  auto e = node(ExprKind::Call, current());
  e->operand = std::move(callee);
  STRATA_RETURN_IF_ERROR(parse_call_args(e->args));
  return e;
}

Result<std::string> ExpressionParser::parse_dotted_name() {
  STRATA_ASSIGN_OR_RETURN(std::string name, expect_name());
  while (skip_op(".")) {
    STRATA_ASSIGN_OR_RETURN(std::string part, expect_name());
    name += "." + part;
  }
  return name;
}

Result<ExprPtr> ExpressionParser::parse_filters(ExprPtr e, bool start_inline) {
  ChainGuard chain(depth_);
  while (is_op("|") || start_inline) {
    chain.bump();
    STRATA_RETURN_IF_ERROR(check_depth());
    if (!start_inline) advance();
    start_inline = false;
    auto f = node(ExprKind::Filter, current());
    STRATA_ASSIGN_OR_RETURN(f->name, parse_dotted_name());
    f->filter = find_filter(f->name);
    if (!f->filter && !soft_)
      unknown_names_.push_back(Status::error(located(f->line, f->column, "no filter named '" + f->name + "'")));
    if (is_op("(")) STRATA_RETURN_IF_ERROR(parse_call_args(f->args));
    f->operand = std::move(e);
    e = std::move(f);
  }
  return e;
}

Result<ExprPtr> ExpressionParser::parse_filter_chain(ExprPtr e) {
  ChainGuard chain(depth_);
  while (true) {
    chain.bump();
    STRATA_RETURN_IF_ERROR(check_depth());
    if (is_op("|")) {
      STRATA_ASSIGN_OR_RETURN(e, parse_filters(std::move(e), false));
    } else if (is_name("is")) {
      STRATA_ASSIGN_OR_RETURN(e, parse_test(std::move(e)));
    } else if (is_op("(")) {
      STRATA_ASSIGN_OR_RETURN(e, parse_call(std::move(e)));
    } else {
      return e;
    }
  }
}

Result<ExprPtr> ExpressionParser::parse_test(ExprPtr subject) {
  auto t = node(ExprKind::Test, current());
  advance();  // is
  t->negated = skip_name("not");
  STRATA_ASSIGN_OR_RETURN(t->name, parse_dotted_name());
  t->test = find_test(t->name);
  if (!t->test && !soft_)
    unknown_names_.push_back(Status::error(located(t->line, t->column, "no test named '" + t->name + "'")));
  const TokenKind k = current().kind;
  if (is_op("(")) {
    STRATA_RETURN_IF_ERROR(parse_call_args(t->args));
  } else if ((k == TokenKind::Name || k == TokenKind::String || k == TokenKind::Integer || k == TokenKind::Float ||
              is_op("[") || is_op("{")) &&
             !is_name("else") && !is_name("or") && !is_name("and")) {
    // `x is divisibleby 3`, `x is equalto 'a'`: one argument without parentheses.
    if (is_name("is")) return fail("you cannot chain multiple tests with 'is'");
    STRATA_ASSIGN_OR_RETURN(ExprPtr arg, parse_primary());
    STRATA_ASSIGN_OR_RETURN(arg, parse_postfix(std::move(arg)));
    t->args.positional.push_back(std::move(arg));
  }
  t->operand = std::move(subject);
  return t;
}

}  // namespace strata::jinja
