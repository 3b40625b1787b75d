// tests/jinja/jinja_parser_test.cc: the parser's trees (printed as S-expressions) follow jinja2's
// precedence and statement grammar, and malformed templates give positioned errors, never a crash.
#include <gtest/gtest.h>

#include "jinja/lexer.h"
#include "jinja/parser.h"

namespace strata::jinja {
namespace {

std::string show(const Expr* e);

std::string show_args(const CallArgExprs& args) {
  std::string out;
  for (const ExprPtr& p : args.positional) out += " " + show(p.get());
  for (const auto& [name, value] : args.keyword) out += " " + name + "=" + show(value.get());
  return out;
}

std::string show(const Expr* e) {
  if (!e) return "_";
  static constexpr const char* kBinary[] = {"+", "-", "*", "/", "//", "%", "**", "~"};
  static constexpr const char* kCompare[] = {"==", "!=", "<", "<=", ">", ">=", "in", "notin"};
  switch (e->kind) {
    case ExprKind::Literal: return to_repr(e->value);
    case ExprKind::Name: return e->name;
    case ExprKind::List:
    case ExprKind::Tuple:
    case ExprKind::Dict: {
      std::string out = e->kind == ExprKind::List ? "[" : (e->kind == ExprKind::Tuple ? "(tuple" : "{");
      for (const ExprPtr& item : e->items) out += " " + show(item.get());
      return out + (e->kind == ExprKind::List ? " ]" : (e->kind == ExprKind::Tuple ? ")" : " }"));
    }
    case ExprKind::GetAttr: return "(. " + show(e->operand.get()) + " " + e->name + ")";
    case ExprKind::GetItem: return "([] " + show(e->operand.get()) + " " + show(e->items[0].get()) + ")";
    case ExprKind::Slice:
      return "(slice " + show(e->operand.get()) + " " + show(e->items[0].get()) + " " + show(e->items[1].get()) + " " +
             show(e->items[2].get()) + ")";
    case ExprKind::Call: return "(call " + show(e->operand.get()) + show_args(e->args) + ")";
    case ExprKind::Filter: return "(|" + e->name + " " + show(e->operand.get()) + show_args(e->args) + ")";
    case ExprKind::Test:
      return std::string("(is") + (e->negated ? "not " : " ") + show(e->operand.get()) + " " + e->name +
             show_args(e->args) + ")";
    case ExprKind::Not: return "(not " + show(e->operand.get()) + ")";
    case ExprKind::Negate: return "(neg " + show(e->operand.get()) + ")";
    case ExprKind::Plus: return "(pos " + show(e->operand.get()) + ")";
    case ExprKind::Binary:
      return std::string("(") + kBinary[static_cast<int>(e->binary_op)] + " " + show(e->items[0].get()) + " " +
             show(e->items[1].get()) + ")";
    case ExprKind::Compare: {
      std::string out = "(cmp " + show(e->items[0].get());
      for (size_t i = 0; i < e->compare_ops.size(); ++i) {
        out += std::string(" ") + kCompare[static_cast<int>(e->compare_ops[i])] + " " + show(e->items[i + 1].get());
      }
      return out + ")";
    }
    case ExprKind::And: return "(and " + show(e->items[0].get()) + " " + show(e->items[1].get()) + ")";
    case ExprKind::Or: return "(or " + show(e->items[0].get()) + " " + show(e->items[1].get()) + ")";
    case ExprKind::Condition:
      return "(if " + show(e->items[1].get()) + " " + show(e->items[0].get()) + " " + show(e->items[2].get()) + ")";
  }
  return "?";
}

Result<std::unique_ptr<Program>> parse(std::string_view source) {
  STRATA_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(source, {}));
  return parse_program(tokens);
}

// The tree of the expression in "{{ source }}".
std::string tree(std::string_view expression) {
  Result<std::unique_ptr<Program>> p = parse("{{ " + std::string(expression) + " }}");
  if (!p.is_ok()) return "error: " + p.status().message();
  if ((*p)->body.size() != 1 || (*p)->body[0]->kind != StmtKind::Print) return "not one print";
  return show((*p)->body[0]->expr.get());
}

TEST(JinjaParser, PrecedenceFollowsJinja2) {
  EXPECT_EQ(tree("a or b and not c"), "(or a (and b (not c)))");
  EXPECT_EQ(tree("a + b * c ** d"), "(+ a (* b (** c d)))");
  EXPECT_EQ(tree("a ~ b + c"), "(+ (~ a b) c)");  // ~ binds tighter than + in jinja2
  EXPECT_EQ(tree("a - b - c"), "(- (- a b) c)");
  EXPECT_EQ(tree("2 ** 3 ** 2"), "(** (** 2 3) 2)");  // left-associative, unlike Python
  EXPECT_EQ(tree("x + y | trim"), "(+ x (|trim y))");
  EXPECT_EQ(tree("-x | abs"), "(|abs (neg x))");
  EXPECT_EQ(tree("a < b < c"), "(cmp a < b < c)");
  EXPECT_EQ(tree("a not in b"), "(cmp a notin b)");
  EXPECT_EQ(tree("not x is defined"), "(not (is x defined))");
  EXPECT_EQ(tree("x is not none"), "(isnot x none)");
  EXPECT_EQ(tree("x is divisibleby 3"), "(is x divisibleby 3)");
  EXPECT_EQ(tree("a if b else c if d"), "(if b a (if d c _))");
  EXPECT_EQ(tree("'a' 'b' \"c\""), "'abc'");
}

TEST(JinjaParser, PostfixAndLiterals) {
  EXPECT_EQ(tree("m['role'].strip()"), "(call (. ([] m 'role') strip))");
  EXPECT_EQ(tree("x[1:]"), "(slice x 1 _ _)");
  EXPECT_EQ(tree("x[::-1]"), "(slice x _ _ (neg 1))");
  EXPECT_EQ(tree("x[:-1]"), "(slice x _ (neg 1) _)");
  EXPECT_EQ(tree("x.0"), "([] x 0)");
  EXPECT_EQ(tree("f(1, k=2)"), "(call f 1 k=2)");
  EXPECT_EQ(tree("t | tojson(indent=4)"), "(|tojson t indent=4)");
  EXPECT_EQ(tree("[1, 'a',]"), "[ 1 'a' ]");
  EXPECT_EQ(tree("{'k': none, 1: true}"), "{ 'k' None 1 True }");
  EXPECT_EQ(tree("(1,)"), "(tuple 1)");
  EXPECT_EQ(tree("()"), "(tuple)");
  EXPECT_EQ(tree("a, b"), "(tuple a b)");
}

TEST(JinjaParser, Statements) {
  Result<std::unique_ptr<Program>> p = parse(
      "{% if a %}1{% elif b %}2{% else %}3{% endif %}"
      "{% for k, v in d.items() if k != 'x' %}{{ k }}{% else %}none{% endfor %}"
      "{% set ns.count = 1 %}{% set a, b = 1, 2 %}"
      "{% macro m(x, y=2) %}{{ x }}{% endmacro %}"
      "{% set block | upper %}text{% endset %}");
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  const Body& body = (*p)->body;
  ASSERT_EQ(body.size(), 6u);
  EXPECT_EQ(body[0]->kind, StmtKind::If);
  EXPECT_EQ(body[0]->branches.size(), 2u);
  EXPECT_EQ(body[0]->else_body.size(), 1u);
  EXPECT_EQ(body[1]->kind, StmtKind::For);
  EXPECT_EQ(body[1]->target.names, (std::vector<std::string>{"k", "v"}));
  EXPECT_TRUE(body[1]->target.unpack);
  EXPECT_EQ(show(body[1]->condition.get()), "(cmp k != 'x')");
  EXPECT_EQ(body[1]->else_body.size(), 1u);
  EXPECT_EQ(body[2]->target.attribute, "count");
  EXPECT_EQ(body[3]->target.names.size(), 2u);
  EXPECT_EQ(show(body[3]->expr.get()), "(tuple 1 2)");
  EXPECT_EQ(body[4]->kind, StmtKind::Macro);
  EXPECT_EQ(body[4]->params.size(), 2u);
  EXPECT_EQ(body[4]->params[0].value, nullptr);
  EXPECT_EQ(show(body[4]->params[1].value.get()), "2");
  EXPECT_EQ(body[5]->kind, StmtKind::SetBlock);
  EXPECT_EQ(show(body[5]->expr.get()), "(|upper _)");
}

TEST(JinjaParser, ErrorsNameTheProblemAndItsPosition) {
  const struct {
    std::string_view source;
    std::string_view message;
  } cases[] = {
      {"{% if x %}open", "expected 'elif' or 'else' or 'endif'"},
      {"{% for %}", "can't assign"},
      {"{% for x %}", "expected 'in'"},
      {"{% endif %}", "unknown tag 'endif'"},
      {"{% include 'x' %}", "unsupported tag 'include'"},
      {"{% break %}", "'break' outside loop"},
      {"{% set true = 1 %}", "can't assign to constant"},
      {"{% macro m(a=1, b) %}{% endmacro %}", "non-default argument follows default argument"},
      {"{{ 1 | nosuch }}", "no filter named 'nosuch'"},
      {"{{ 1 is nosuch }}", "no test named 'nosuch'"},
      {"line\n  {{ 1 + }}", "line 2, column 10"},
      {"{{ a.b. }}", "expected name or number"},
      {"{{ }}", "expected an expression"},
      {"{% for x in y recursive %}{% endfor %}", "recursive loops are not supported"},
  };
  for (const auto& c : cases) {
    Result<std::unique_ptr<Program>> p = parse(c.source);
    ASSERT_FALSE(p.is_ok()) << c.source;
    EXPECT_NE(p.status().message().find(c.message), std::string::npos) << c.source << " -> " << p.status().message();
  }
  // An unknown filter inside an if fails only when reached, as in jinja2.
  EXPECT_TRUE(parse("{% if false %}{{ 1 | nosuch }}{% endif %}").is_ok());
}

TEST(JinjaParser, DeepNestingIsRefusedNotACrash) {
  const std::string parens = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  Result<std::unique_ptr<Program>> p = parse(parens);
  ASSERT_FALSE(p.is_ok());
  EXPECT_NE(p.status().message().find("nested too deeply"), std::string::npos) << p.status().message();

  std::string ifs;
  for (int i = 0; i < 3000; ++i) ifs += "{% if x %}";
  p = parse(ifs);
  ASSERT_FALSE(p.is_ok());
  EXPECT_NE(p.status().message().find("nested too deeply"), std::string::npos) << p.status().message();

  std::string nots = "{{ ";
  for (int i = 0; i < 5000; ++i) nots += "not ";
  EXPECT_FALSE(parse(nots + "1 }}").is_ok());
  EXPECT_FALSE(parse("{{ " + std::string(5000, '-') + "1 }}").is_ok());
  EXPECT_FALSE(parse("{{ " + std::string(5000, '[') + std::string(5000, ']') + " }}").is_ok());
  // A long operator chain nests the tree one level per operator: refused past the limit too.
  std::string sum = "{{ 0";
  for (int i = 0; i < 5000; ++i) sum += " + 1";
  EXPECT_FALSE(parse(sum + " }}").is_ok());
  std::string filters = "{{ x";
  for (int i = 0; i < 5000; ++i) filters += "|trim";
  EXPECT_FALSE(parse(filters + " }}").is_ok());
  // Realistic lengths are fine.
  std::string short_sum = "{{ 0";
  for (int i = 0; i < 100; ++i) short_sum += " + 1";
  EXPECT_TRUE(parse(short_sum + " }}").is_ok());
}

}  // namespace
}  // namespace strata::jinja
