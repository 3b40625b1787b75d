// jinja/eval.cc: the tree-walking evaluator (see jinja/eval.h). Scopes mirror jinja2's: every
// for-loop iteration, macro call, {% with %} and block capture gets a child scope, so a {% set %} inside
// them never leaks out (hence namespace()); if/elif/else share the enclosing scope.
#include "jinja/eval.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "jinja/builtins.h"
#include "jinja/lexer.h"

namespace strata::jinja {

namespace {

struct Scope;
using ScopePtr = std::shared_ptr<Scope>;

struct Scope {
  explicit Scope(ScopePtr p) : parent(std::move(p)) {}

  const Value* find(std::string_view name) const {
    for (const Scope* s = this; s; s = s->parent.get()) {
      for (const auto& [key, value] : s->vars) {
        if (key == name) return &value;
      }
    }
    return nullptr;
  }
  void set(const std::string& name, Value value) {
    for (auto& [key, v] : vars) {
      if (key == name) {
        v = std::move(value);
        return;
      }
    }
    vars.emplace_back(name, std::move(value));
  }

  std::vector<std::pair<std::string, Value>> vars;
  ScopePtr parent;
};

enum class Flow { Normal, Break, Continue };

// Statements and expressions being evaluated at once (across macro calls). The parser bounds one
// template's nesting; this bounds nesting times macro recursion, keeping the C++ stack well under 8 MiB.
constexpr int kMaxEvalDepth = 2000;

struct NestingGuard {
  explicit NestingGuard(int& d) : depth(++d) {}
  ~NestingGuard() { --depth; }
  int& depth;
};

class Evaluator {
 public:
  explicit Evaluator(const Options& options) : options_(options) {}

  ~Evaluator() {
    // Namespaces can hold themselves ({% set ns.me = ns %}); emptying them breaks such cycles.
    for (const Value& ns : namespaces_) ns.namespace_attributes().entries.clear();
  }

  Result<std::string> run(const Program& program, const Value& variables) {
    auto globals = std::make_shared<Scope>(nullptr);
    Dict builtins;
    add_builtin_globals(builtins);
    for (auto& [key, value] : builtins.entries) globals->set(key.as_string(), value);
    // namespace() is wrapped so the evaluator can clear every namespace it made when rendering ends.
    globals->set(
        "namespace",
        Value::function("namespace", [this, make = *globals->find("namespace")](const CallArgs& a) -> Result<Value> {
          STRATA_ASSIGN_OR_RETURN(Value ns, make.as_callable().fn(a));
          namespaces_.push_back(ns);
          return ns;
        }));
    if (variables.is_dict()) {
      for (const auto& [key, value] : variables.as_dict().entries) {
        if (key.is_string()) globals->set(key.as_string(), value);
      }
    } else if (!variables.is_undefined()) {
      return error("template variables must be a dict, not {}", type_name(variables));
    }
    root_ = std::make_shared<Scope>(globals);
    std::string out;
    STRATA_ASSIGN_OR_RETURN(Flow flow, exec_body(program.body, root_, out));
    (void)flow;
    return out;
  }

 private:
  template <typename Node>
  Status fail_at(const Node& node, std::string_view message, ErrorKind kind = ErrorKind::InvalidArgument) {
    located_ = true;
    return Status::error(kind, located(node.line, node.column, message));
  }
  // Adds the node's position to an error that does not have one yet. Rendering stops at the first
  // error, so once one is located every frame it rises through leaves it as it is.
  template <typename Node>
  Status locate(const Node& node, const Status& s) {
    if (s.is_ok() || located_) return s;
    return fail_at(node, s.message(), s.kind());
  }
  template <typename Node>
  Status step(const Node& node, uint64_t cost = 1) {
    steps_ += cost;
    if (steps_ > options_.max_steps) return fail_at(node, "template exceeded its step limit (endless loop?)");
    return Status::ok();
  }
  // Operations on big values cost more than one step: a list's items, a string's bytes / 16. So a
  // loop over `x in big_list` or `big + big` runs out of steps instead of running for hours.
  static uint64_t weight(const Value& v) {
    if (v.is_string()) return v.as_string().size() / 16;
    if (v.is_list()) return v.as_list().size();
    if (v.is_dict()) return v.as_dict().size();
    return 0;
  }
  Status append(std::string& out, std::string_view text, const Stmt& at) {
    if (out.size() + text.size() > options_.max_output_bytes)
      return fail_at(at, "template output exceeds its size limit");
    out.append(text);
    return Status::ok();
  }

  // ----- statements -----

  Result<Flow> exec_body(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const StmtPtr& s : body) {
      STRATA_ASSIGN_OR_RETURN(Flow flow, exec(*s, scope, out));
      if (flow != Flow::Normal) return flow;
    }
    return Flow::Normal;
  }

  Result<Flow> exec(const Stmt& s, const ScopePtr& scope, std::string& out) {
    STRATA_RETURN_IF_ERROR(step(s));
    NestingGuard nesting(nesting_);
    if (nesting_ > kMaxEvalDepth) return fail_at(s, "template nested too deeply (recursion limit)");
    switch (s.kind) {
      case StmtKind::Text: STRATA_RETURN_IF_ERROR(append(out, s.text, s)); return Flow::Normal;
      case StmtKind::Print: {
        STRATA_ASSIGN_OR_RETURN(Value v, eval(*s.expr, scope));
        if (v.is_string()) {
          STRATA_RETURN_IF_ERROR(append(out, v.as_string(), s));
        } else {
          const std::string text = to_str(v);
          if (text.size() > kMaxStringBytes) return fail_at(s, "value too large to print");
          STRATA_RETURN_IF_ERROR(append(out, text, s));
        }
        return Flow::Normal;
      }
      case StmtKind::If:
        for (const IfBranch& branch : s.branches) {
          STRATA_ASSIGN_OR_RETURN(Value test, eval(*branch.test, scope));
          if (test.truthy()) return exec_body(branch.body, scope, out);
        }
        return exec_body(s.else_body, scope, out);
      case StmtKind::For: return exec_for(s, scope, out);
      case StmtKind::Set: {
        STRATA_ASSIGN_OR_RETURN(Value v, eval(*s.expr, scope));
        STRATA_RETURN_IF_ERROR(assign(s, s.target, std::move(v), scope));
        return Flow::Normal;
      }
      case StmtKind::SetBlock: {
        STRATA_ASSIGN_OR_RETURN(Value v, capture(s, scope));
        STRATA_RETURN_IF_ERROR(assign(s, s.target, std::move(v), scope));
        return Flow::Normal;
      }
      case StmtKind::FilterBlock: {
        STRATA_ASSIGN_OR_RETURN(Value v, capture(s, scope));
        const std::string text = to_str(v);
        if (text.size() > kMaxStringBytes) return fail_at(s, "value too large to print");
        STRATA_RETURN_IF_ERROR(append(out, text, s));
        return Flow::Normal;
      }
      case StmtKind::Macro: scope->set(s.text, make_macro(s, scope)); return Flow::Normal;
      case StmtKind::With: {
        auto inner = std::make_shared<Scope>(scope);
        for (const Param& p : s.params) {
          STRATA_ASSIGN_OR_RETURN(Value v, eval(*p.value, scope));
          inner->set(p.name, std::move(v));
        }
        return exec_body(s.body, inner, out);
      }
      case StmtKind::Break: return Flow::Break;
      case StmtKind::Continue: return Flow::Continue;
    }
    return fail_at(s, "internal: unknown statement");
  }

  // The body rendered in a child scope, then passed through the statement's filter chain if any.
  Result<Value> capture(const Stmt& s, const ScopePtr& scope) {
    auto inner = std::make_shared<Scope>(scope);
    std::string text;
    STRATA_ASSIGN_OR_RETURN(Flow flow, exec_body(s.body, inner, text));
    (void)flow;
    Value v(std::move(text));
    if (s.expr) {
      STRATA_ASSIGN_OR_RETURN(v, eval_filter(*s.expr, scope, &v));
    }
    return v;
  }

  Status assign(const Stmt& at, const Target& target, Value value, const ScopePtr& scope) {
    if (!target.attribute.empty()) {
      const Value* ns = scope->find(target.names[0]);
      if (!ns || !ns->is_namespace()) return fail_at(at, "cannot assign attribute on non-namespace object");
      ns->namespace_attributes().set(Value(target.attribute), std::move(value));
      return Status::ok();
    }
    if (!target.unpack) {
      scope->set(target.names[0], std::move(value));
      return Status::ok();
    }
    Result<std::vector<Value>> items = iterate(value);
    if (!items.is_ok()) return fail_at(at, "cannot unpack non-iterable " + type_name(value));
    if (items->size() != target.names.size()) {
      return fail_at(at,
                     fmt::format("{} values to unpack (expected {})",
                                 items->size() > target.names.size() ? "too many" : "not enough", target.names.size()));
    }
    for (size_t i = 0; i < items->size(); ++i) scope->set(target.names[i], (*items)[i]);
    return Status::ok();
  }

  Result<Flow> exec_for(const Stmt& s, const ScopePtr& scope, std::string& out) {
    STRATA_ASSIGN_OR_RETURN(Value iterable, eval(*s.expr, scope));
    Result<std::vector<Value>> all = iterate(iterable);
    if (!all.is_ok()) return locate(*s.expr, all.status());
    std::vector<Value> items;
    if (s.condition) {
      for (Value& item : *all) {
        auto probe = std::make_shared<Scope>(scope);
        STRATA_RETURN_IF_ERROR(assign(s, s.target, item, probe));
        STRATA_ASSIGN_OR_RETURN(Value keep, eval(*s.condition, probe));
        if (keep.truthy()) items.push_back(std::move(item));
      }
    } else {
      items = std::move(*all);
    }
    if (items.empty()) return exec_body(s.else_body, scope, out);
    const auto n = static_cast<int64_t>(items.size());
    auto index = std::make_shared<int64_t>(0);
    const Value cycle = Value::function("loop.cycle", [index](const CallArgs& a) -> Result<Value> {
      if (a.positional.empty()) return error("no items for cycling given");
      return a.positional[static_cast<size_t>(*index) % a.positional.size()];
    });
    for (int64_t i = 0; i < n; ++i) {
      STRATA_RETURN_IF_ERROR(step(s));  // an empty body still costs a step, so nested loops cannot hang
      *index = i;
      auto inner = std::make_shared<Scope>(scope);
      STRATA_RETURN_IF_ERROR(assign(s, s.target, items[static_cast<size_t>(i)], inner));
      Dict loop;
      loop.entries.reserve(12);
      loop.entries.emplace_back(Value("index0"), Value(i));
      loop.entries.emplace_back(Value("index"), Value(i + 1));
      loop.entries.emplace_back(Value("revindex0"), Value(n - i - 1));
      loop.entries.emplace_back(Value("revindex"), Value(n - i));
      loop.entries.emplace_back(Value("first"), Value(i == 0));
      loop.entries.emplace_back(Value("last"), Value(i == n - 1));
      loop.entries.emplace_back(Value("length"), Value(n));
      loop.entries.emplace_back(Value("depth"), Value(int64_t{1}));
      loop.entries.emplace_back(Value("depth0"), Value(int64_t{0}));
      loop.entries.emplace_back(
          Value("previtem"), i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
      loop.entries.emplace_back(
          Value("nextitem"), i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
      loop.entries.emplace_back(Value("cycle"), cycle);
      inner->set("loop", Value::dict(std::move(loop)));
      STRATA_ASSIGN_OR_RETURN(Flow flow, exec_body(s.body, inner, out));
      if (flow == Flow::Break) break;
    }
    return Flow::Normal;
  }

  // A macro is a callable that renders its body in a fresh scope whose parent is where it was defined.
  // The defining scope is held weakly: it holds the macro, and a strong reference would be a cycle.
  Value make_macro(const Stmt& s, const ScopePtr& scope) {
    std::weak_ptr<Scope> home = scope;
    return Value::function(s.text, [this, &s, home](const CallArgs& args) -> Result<Value> {
      if (depth_ >= options_.max_call_depth) return fail_at(s, "macro calls nested too deeply (recursion limit)");
      ScopePtr parent = home.lock();
      auto inner = std::make_shared<Scope>(parent ? parent : root_);
      std::vector<Value> extra;
      for (size_t i = 0; i < args.positional.size(); ++i) {
        if (i < s.params.size()) {
          inner->set(s.params[i].name, args.positional[i]);
        } else {
          extra.push_back(args.positional[i]);
        }
      }
      Dict kwargs;
      for (const auto& [name, value] : args.keyword) {
        const bool is_param =
            std::any_of(s.params.begin(), s.params.end(), [&](const Param& p) { return p.name == name; });
        if (is_param) {
          inner->set(name, value);
        } else {
          kwargs.set(Value(name), value);
        }
      }
      for (const Param& p : s.params) {
        if (std::any_of(inner->vars.begin(), inner->vars.end(), [&](const auto& v) { return v.first == p.name; }))
          continue;
        if (p.value) {
          STRATA_ASSIGN_OR_RETURN(Value v, eval(*p.value, inner));
          inner->set(p.name, std::move(v));
        } else {
          inner->set(p.name, Value::undefined("parameter '" + p.name + "' was not provided"));
        }
      }
      inner->set("varargs", Value::tuple(std::move(extra)));
      inner->set("kwargs", Value::dict(std::move(kwargs)));
      ++depth_;
      std::string text;
      Result<Flow> flow = exec_body(s.body, inner, text);
      --depth_;
      if (!flow.is_ok()) return flow.status();
      return Value(std::move(text));
    });
  }

  // ----- expressions -----

  Result<Value> eval(const Expr& e, const ScopePtr& scope) {
    STRATA_RETURN_IF_ERROR(step(e));
    NestingGuard nesting(nesting_);
    if (nesting_ > kMaxEvalDepth) return fail_at(e, "template nested too deeply (recursion limit)");
    Result<Value> v = eval_node(e, scope);
    if (!v.is_ok()) return locate(e, v.status());
    // Every value a template keeps passes through here, so none outgrows the depth equality and printing
    // recurse to (`{% set ns.x = [ns.x] %}` in a long loop).
    if (v->depth() > kMaxValueDepth)
      return fail_at(e, fmt::format("value nested deeper than {} levels", kMaxValueDepth), ErrorKind::OutOfRange);
    return v;
  }

  Result<Value> eval_node(const Expr& e, const ScopePtr& scope) {
    switch (e.kind) {
      case ExprKind::Literal: return e.value;
      case ExprKind::Name: {
        if (const Value* v = scope->find(e.name)) return *v;
        return Value::undefined("'" + e.name + "' is undefined");
      }
      case ExprKind::List:
      case ExprKind::Tuple: {
        std::vector<Value> items;
        for (const ExprPtr& item : e.items) {
          STRATA_ASSIGN_OR_RETURN(Value v, eval(*item, scope));
          items.push_back(std::move(v));
        }
        return e.kind == ExprKind::List ? Value::list(std::move(items)) : Value::tuple(std::move(items));
      }
      case ExprKind::Dict: {
        Dict d;
        for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
          STRATA_ASSIGN_OR_RETURN(Value key, eval(*e.items[i], scope));
          STRATA_ASSIGN_OR_RETURN(Value value, eval(*e.items[i + 1], scope));
          if (key.is_list() && key.kind() == Kind::List) return error("unhashable type: 'list'");
          if (key.is_dict() || key.is_undefined()) return error("unhashable type: '{}'", type_name(key));
          d.set(std::move(key), std::move(value));
        }
        return Value::dict(std::move(d));
      }
      case ExprKind::GetAttr: {
        STRATA_ASSIGN_OR_RETURN(Value obj, eval(*e.operand, scope));
        return get_attr(obj, e.name);
      }
      case ExprKind::GetItem: {
        STRATA_ASSIGN_OR_RETURN(Value obj, eval(*e.operand, scope));
        STRATA_ASSIGN_OR_RETURN(Value key, eval(*e.items[0], scope));
        return get_item(obj, key);
      }
      case ExprKind::Slice: {
        STRATA_ASSIGN_OR_RETURN(Value obj, eval(*e.operand, scope));
        Value bounds[3] = {Value::none(), Value::none(), Value::none()};
        for (int i = 0; i < 3; ++i) {
          if (e.items[static_cast<size_t>(i)]) {
            STRATA_ASSIGN_OR_RETURN(bounds[i], eval(*e.items[static_cast<size_t>(i)], scope));
          }
        }
        return get_slice(obj, bounds[0], bounds[1], bounds[2]);
      }
      case ExprKind::Call: return eval_call(e, scope);
      case ExprKind::Filter: return eval_filter(e, scope, nullptr);
      case ExprKind::Test: {
        STRATA_ASSIGN_OR_RETURN(Value subject, eval(*e.operand, scope));
        if (!e.test) return error("no test named '{}'", e.name);
        STRATA_ASSIGN_OR_RETURN(CallArgs args, eval_args(e.args, scope));
        STRATA_RETURN_IF_ERROR(step(e, weight(subject)));
        STRATA_ASSIGN_OR_RETURN(bool pass, e.test(subject, args, options_));
        return Value(pass != e.negated);
      }
      case ExprKind::Not: {
        STRATA_ASSIGN_OR_RETURN(Value v, eval(*e.operand, scope));
        return Value(!v.truthy());
      }
      case ExprKind::Negate:
      case ExprKind::Plus: {
        STRATA_ASSIGN_OR_RETURN(Value v, eval(*e.operand, scope));
        if (v.is_undefined()) return error("{}", v.undefined_hint());
        if (!v.is_number())
          return error("bad operand type for unary {}: '{}'", e.kind == ExprKind::Negate ? '-' : '+', type_name(v));
        if (e.kind == ExprKind::Plus) return v.is_bool() ? Value(v.as_int()) : v;
        if (v.is_float()) return Value(-v.as_float());
        return apply_binary(BinaryOp::Sub, Value(int64_t{0}), v);
      }
      case ExprKind::Binary: {
        STRATA_ASSIGN_OR_RETURN(Value a, eval(*e.items[0], scope));
        STRATA_ASSIGN_OR_RETURN(Value b, eval(*e.items[1], scope));
        STRATA_RETURN_IF_ERROR(step(e, weight(a) + weight(b)));
        return apply_binary(e.binary_op, a, b);
      }
      case ExprKind::Compare: {
        STRATA_ASSIGN_OR_RETURN(Value left, eval(*e.items[0], scope));
        for (size_t i = 0; i < e.compare_ops.size(); ++i) {
          STRATA_ASSIGN_OR_RETURN(Value right, eval(*e.items[i + 1], scope));
          STRATA_RETURN_IF_ERROR(step(e, weight(left) + weight(right)));
          STRATA_ASSIGN_OR_RETURN(bool ok, apply_compare(e.compare_ops[i], left, right));
          if (!ok) return Value(false);
          left = std::move(right);
        }
        return Value(true);
      }
      case ExprKind::And:
      case ExprKind::Or: {
        STRATA_ASSIGN_OR_RETURN(Value left, eval(*e.items[0], scope));
        if (left.truthy() == (e.kind == ExprKind::Or)) return left;
        return eval(*e.items[1], scope);
      }
      case ExprKind::Condition: {
        STRATA_ASSIGN_OR_RETURN(Value test, eval(*e.items[1], scope));
        if (test.truthy()) return eval(*e.items[0], scope);
        if (e.items[2]) return eval(*e.items[2], scope);
        return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
      }
    }
    return error("internal: unknown expression");
  }

  Result<CallArgs> eval_args(const CallArgExprs& exprs, const ScopePtr& scope) {
    CallArgs args;
    for (const ExprPtr& p : exprs.positional) {
      STRATA_ASSIGN_OR_RETURN(Value v, eval(*p, scope));
      args.positional.push_back(std::move(v));
    }
    for (const auto& [name, expr] : exprs.keyword) {
      STRATA_ASSIGN_OR_RETURN(Value v, eval(*expr, scope));
      args.keyword.emplace_back(name, std::move(v));
    }
    return args;
  }

  Result<Value> eval_call(const Expr& e, const ScopePtr& scope) {
    STRATA_ASSIGN_OR_RETURN(Value callee, eval(*e.operand, scope));
    if (callee.is_undefined())
      return error("{}", callee.undefined_hint().empty() ? "call of an undefined value" : callee.undefined_hint());
    if (!callee.is_callable()) return error("'{}' object is not callable", type_name(callee));
    STRATA_ASSIGN_OR_RETURN(CallArgs args, eval_args(e.args, scope));
    STRATA_ASSIGN_OR_RETURN(Value result, callee.as_callable().fn(args));
    STRATA_RETURN_IF_ERROR(step(e, weight(result)));
    return result;
  }

  // A filter chain; `block_input` feeds the innermost filter of a {% filter %} / {% set x | f %} head.
  Result<Value> eval_filter(const Expr& e, const ScopePtr& scope, const Value* block_input) {
    Value input;
    if (e.operand) {
      STRATA_ASSIGN_OR_RETURN(input, e.operand->kind == ExprKind::Filter && block_input
                                         ? eval_filter(*e.operand, scope, block_input)
                                         : eval(*e.operand, scope));
    } else if (block_input) {
      input = *block_input;
    }
    if (!e.filter) return fail_at(e, "no filter named '" + e.name + "'");
    STRATA_ASSIGN_OR_RETURN(CallArgs args, eval_args(e.args, scope));
    STRATA_RETURN_IF_ERROR(step(e, weight(input)));
    Result<Value> v = e.filter(input, args, options_);
    if (!v.is_ok()) return locate(e, v.status());
    STRATA_RETURN_IF_ERROR(step(e, weight(*v)));
    return v;
  }

  const Options& options_;
  uint64_t steps_ = 0;
  int depth_ = 0;    // macro calls in progress
  int nesting_ = 0;  // exec/eval frames in progress
  ScopePtr root_;
  std::vector<Value> namespaces_;
  bool located_ = false;  // the error rising now already names its line and column
};

}  // namespace

Result<std::string> evaluate(const Program& program, const Value& variables, const Options& options) {
  Evaluator evaluator(options);
  return evaluator.run(program, variables);
}

}  // namespace strata::jinja
