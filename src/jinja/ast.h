// jinja/ast.h: the parsed template, expression and statement nodes that the evaluator walks.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jinja/value.h"

namespace strata::jinja {

struct Options;
struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// Built-in filters and tests, resolved by name when the template is parsed (an unknown name is a parse
// error, as in jinja2). `options` carries the environment's choices (the tojson flavour).
using FilterFn = Result<Value> (*)(const Value& input, const CallArgs& args, const Options& options);
using TestFn = Result<bool> (*)(const Value& input, const CallArgs& args, const Options& options);

enum class ExprKind : uint8_t {
  Literal,    // value
  Name,       // name
  List,       // items
  Tuple,      // items
  Dict,       // items: key0, value0, key1, value1, ...
  GetAttr,    // operand.name
  GetItem,    // operand[items[0]]
  Slice,      // operand[items[0]:items[1]:items[2]], each possibly null
  Call,       // operand(args)
  Filter,     // operand | name(args); operand is null inside a {% filter %} block head
  Test,       // operand is [not] name(args)
  Not,        // operand
  Negate,     // operand
  Plus,       // operand
  Binary,     // items[0] binary_op items[1]
  Compare,    // items[0] compare_ops[0] items[1] compare_ops[1] items[2] ...
  And,        // items[0] and items[1]
  Or,         // items[0] or items[1]
  Condition,  // items[0] if items[1] else items[2] (items[2] null: undefined)
};

enum class BinaryOp : uint8_t { Add, Sub, Mul, Div, FloorDiv, Mod, Pow, Concat };
enum class CompareOp : uint8_t { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };

struct CallArgExprs {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct Expr {
  ExprKind kind = ExprKind::Literal;
  int line = 0;
  int column = 0;
  Value value;
  std::string name;
  ExprPtr operand;
  std::vector<ExprPtr> items;
  CallArgExprs args;
  BinaryOp binary_op = BinaryOp::Add;
  std::vector<CompareOp> compare_ops;
  bool negated = false;  // `is not`
  FilterFn filter = nullptr;
  TestFn test = nullptr;
};

enum class StmtKind : uint8_t {
  Text,         // text
  Print,        // {{ expr }}
  If,           // branches, else_body
  For,          // target in expr [if condition] body [else else_body]
  Set,          // target = expr
  SetBlock,     // {% set target %}body{% endset %}, filtered through expr when present
  Macro,        // name(params) body
  FilterBlock,  // {% filter expr %}body{% endfilter %}
  With,         // {% with params %}body{% endwith %} (also HF's {% generation %})
  Break,
  Continue,
};

// Assignment target: plain names (several for tuple unpacking) or `names[0].attribute` on a namespace.
struct Target {
  std::vector<std::string> names;
  std::string attribute;
  bool unpack = false;  // written as a tuple (`a, b` or `(a,)`): the value is unpacked
};

struct IfBranch {
  ExprPtr test;
  Body body;
};

struct Param {
  std::string name;
  ExprPtr value;  // default for macro parameters, the bound value for {% with %}
};

struct Stmt {
  StmtKind kind = StmtKind::Text;
  int line = 0;
  int column = 0;
  std::string text;  // Text: the data; Macro: its name
  ExprPtr expr;
  ExprPtr condition;
  Target target;
  std::vector<IfBranch> branches;
  std::vector<Param> params;
  Body body;
  Body else_body;
};

struct Program {
  Body body;
};

}  // namespace strata::jinja
