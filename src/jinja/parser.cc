// jinja/parser.cc: turns tokens into a Program: the statement half of the parser (if, for,
// set, macro, filter, with, print, break/continue); expressions are jinja/expr_parser.cc's.
#include "jinja/parser.h"

#include <algorithm>
#include <initializer_list>

#include "jinja/expr_parser.h"
#include "jinja/parser_base.h"

namespace strata::jinja {

namespace {

class StatementParser : public ParserBase {
 public:
  explicit StatementParser(ParseState& s) : ParserBase(s), expr_(s) {}

  Result<std::unique_ptr<Program>> run() {
    auto program = std::make_unique<Program>();
    STRATA_ASSIGN_OR_RETURN(program->body, parse_body({}));
    if (current().kind != TokenKind::End) return fail("unexpected tag '" + current().text + "'");
    // Like jinja2, report unknown filters and tests once the syntax is known to be fine.
    if (!unknown_names_.empty()) return unknown_names_.front();
    return program;
  }

 private:
  // Parses until a block tag whose name is in `end_tags` (left current, just after '{%') or the end.
  Result<Body> parse_body(std::initializer_list<std::string_view> end_tags) {
    DepthGuard guard(depth_);
    STRATA_RETURN_IF_ERROR(check_depth());
    Body body;
    while (true) {
      const Token& t = current();
      if (t.kind == TokenKind::End) {
        if (end_tags.size() == 0) return body;
        std::string wanted;
        for (std::string_view tag : end_tags) wanted += (wanted.empty() ? "'" : " or '") + std::string(tag) + "'";
        return fail("unexpected end of template, expected " + wanted);
      }
      if (t.kind == TokenKind::Data) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Text;
        s->text = t.text;
        body.push_back(std::move(s));
        advance();
      } else if (t.kind == TokenKind::VariableBegin) {
        auto s = stmt(StmtKind::Print);
        advance();
        STRATA_ASSIGN_OR_RETURN(s->expr, expr_.parse_tuple(true, {}, false));
        STRATA_RETURN_IF_ERROR(expect_kind(TokenKind::VariableEnd, "end of print statement"));
        body.push_back(std::move(s));
      } else if (t.kind == TokenKind::BlockBegin) {
        advance();
        if (current().kind == TokenKind::Name &&
            std::find(end_tags.begin(), end_tags.end(), current().text) != end_tags.end()) {
          return body;
        }
        STRATA_ASSIGN_OR_RETURN(StmtPtr s, parse_statement());
        STRATA_RETURN_IF_ERROR(expect_kind(TokenKind::BlockEnd, "end of statement block"));
        body.push_back(std::move(s));
      } else {
        return fail("unexpected " + describe(t));
      }
    }
  }

  StmtPtr stmt(StmtKind kind) const {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = current().line;
    s->column = current().column;
    return s;
  }

  // After a statement head: an optional ':' then '%}', the body, and (drop_end) the end tag name.
  Result<Body> parse_block(std::initializer_list<std::string_view> end_tags, bool drop_end) {
    skip_op(":");
    STRATA_RETURN_IF_ERROR(expect_kind(TokenKind::BlockEnd, "end of statement block"));
    STRATA_ASSIGN_OR_RETURN(Body body, parse_body(end_tags));
    if (drop_end) advance();
    return body;
  }

  Result<StmtPtr> parse_statement() {
    if (current().kind != TokenKind::Name) return fail("tag name expected");
    const std::string tag = current().text;
    if (tag == "if") return parse_if();
    if (tag == "for") return parse_for();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "filter") return parse_filter_block();
    if (tag == "with" || tag == "generation") return parse_with(tag);
    if (tag == "print") return parse_print();
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) return fail("'" + tag + "' outside loop");
      auto s = stmt(tag == "break" ? StmtKind::Break : StmtKind::Continue);
      advance();
      return s;
    }
    static constexpr std::string_view kUnsupported[] = {"block", "extends", "include",    "import",
                                                        "from",  "call",    "autoescape", "do"};
    if (std::find(std::begin(kUnsupported), std::end(kUnsupported), tag) != std::end(kUnsupported)) {
      return fail("unsupported tag '" + tag + "'");
    }
    return fail("unknown tag '" + tag + "'");
  }

  Result<StmtPtr> parse_if() {
    auto s = stmt(StmtKind::If);
    advance();
    const bool was_soft = soft_;
    soft_ = true;  // as in jinja2, unknown filters inside an if only fail when they run
    while (true) {
      IfBranch branch;
      STRATA_ASSIGN_OR_RETURN(branch.test, expr_.parse_tuple(false, {}, false));
      STRATA_ASSIGN_OR_RETURN(branch.body, parse_block({"elif", "else", "endif"}, false));
      s->branches.push_back(std::move(branch));
      const std::string end = current().text;
      advance();
      if (end == "elif") continue;
      if (end == "else") {
        STRATA_ASSIGN_OR_RETURN(s->else_body, parse_block({"endif"}, true));
      }
      break;
    }
    soft_ = was_soft;
    return s;
  }

  // Assignment targets: a name, `ns.attr` (with_namespace), or a tuple of names.
  Result<Target> parse_target(bool with_namespace, std::string_view end_name) {
    Target target;
    if (with_namespace && current().kind == TokenKind::Name && peek().kind == TokenKind::Operator &&
        peek().text == ".") {
      target.names.push_back(current().text);
      advance();
      advance();
      STRATA_ASSIGN_OR_RETURN(target.attribute, expect_name());
      return target;
    }
    const bool parenthesized = skip_op("(");
    while (true) {
      if (current().kind != TokenKind::Name) return fail("can't assign to " + describe(current()));
      const std::string& name = current().text;
      if (name == "true" || name == "false" || name == "none" || name == "True" || name == "False" || name == "None") {
        return fail("can't assign to constant '" + name + "'");
      }
      target.names.push_back(name);
      advance();
      if (!is_op(",")) break;
      target.unpack = true;
      advance();
      if (parenthesized ? is_op(")") : (is_name(end_name) || is_op("=") || current().kind == TokenKind::BlockEnd))
        break;
    }
    if (parenthesized) {
      STRATA_RETURN_IF_ERROR(expect_op(")"));
      if (target.names.size() > 1) target.unpack = true;
    }
    return target;
  }

  Result<StmtPtr> parse_for() {
    auto s = stmt(StmtKind::For);
    advance();
    STRATA_ASSIGN_OR_RETURN(s->target, parse_target(false, "in"));
    if (!skip_name("in")) return fail("expected 'in', got " + describe(current()));
    STRATA_ASSIGN_OR_RETURN(s->expr, expr_.parse_tuple(false, "recursive", false));
    const bool was_soft = soft_;
    soft_ = false;
    if (skip_name("if")) {
      STRATA_ASSIGN_OR_RETURN(s->condition, expr_.parse_expression(true));
    }
    if (is_name("recursive")) return fail("recursive loops are not supported");
    ++loop_depth_;
    STRATA_ASSIGN_OR_RETURN(s->body, parse_block({"endfor", "else"}, false));
    --loop_depth_;
    const bool has_else = current().text == "else";
    advance();
    if (has_else) {
      STRATA_ASSIGN_OR_RETURN(s->else_body, parse_block({"endfor"}, true));
    }
    soft_ = was_soft;
    return s;
  }

  Result<StmtPtr> parse_set() {
    auto s = stmt(StmtKind::Set);
    advance();
    STRATA_ASSIGN_OR_RETURN(s->target, parse_target(true, ""));
    if (skip_op("=")) {
      STRATA_ASSIGN_OR_RETURN(s->expr, expr_.parse_tuple(true, {}, false));
      return s;
    }
    s->kind = StmtKind::SetBlock;
    const bool was_soft = soft_;
    soft_ = false;
    if (is_op("|")) {
      STRATA_ASSIGN_OR_RETURN(s->expr, expr_.parse_filters(nullptr, false));
    }
    STRATA_ASSIGN_OR_RETURN(s->body, parse_block({"endset"}, true));
    soft_ = was_soft;
    return s;
  }

  Result<StmtPtr> parse_macro() {
    auto s = stmt(StmtKind::Macro);
    advance();
    STRATA_ASSIGN_OR_RETURN(s->text, expect_name());
    STRATA_RETURN_IF_ERROR(expect_op("("));
    while (!is_op(")")) {
      if (!s->params.empty()) STRATA_RETURN_IF_ERROR(expect_op(","));
      Param p;
      STRATA_ASSIGN_OR_RETURN(p.name, expect_name());
      if (skip_op("=")) {
        STRATA_ASSIGN_OR_RETURN(p.value, expr_.parse_expression(true));
      } else if (!s->params.empty() && s->params.back().value) {
        return fail("non-default argument follows default argument");
      }
      s->params.push_back(std::move(p));
    }
    advance();
    const bool was_soft = soft_;
    const int outer_loops = loop_depth_;
    soft_ = false;
    loop_depth_ = 0;  // a macro body is a function: break/continue cannot reach an enclosing loop
    STRATA_ASSIGN_OR_RETURN(s->body, parse_block({"endmacro"}, true));
    soft_ = was_soft;
    loop_depth_ = outer_loops;
    return s;
  }

  Result<StmtPtr> parse_filter_block() {
    auto s = stmt(StmtKind::FilterBlock);
    advance();
    const bool was_soft = soft_;
    soft_ = false;
    STRATA_ASSIGN_OR_RETURN(s->expr, expr_.parse_filters(nullptr, true));
    STRATA_ASSIGN_OR_RETURN(s->body, parse_block({"endfilter"}, true));
    soft_ = was_soft;
    return s;
  }

  Result<StmtPtr> parse_with(const std::string& tag) {
    auto s = stmt(StmtKind::With);
    advance();
    if (tag == "with") {
      while (current().kind != TokenKind::BlockEnd) {
        if (!s->params.empty()) STRATA_RETURN_IF_ERROR(expect_op(","));
        Param p;
        STRATA_ASSIGN_OR_RETURN(p.name, expect_name());
        STRATA_RETURN_IF_ERROR(expect_op("="));
        STRATA_ASSIGN_OR_RETURN(p.value, expr_.parse_expression(true));
        s->params.push_back(std::move(p));
      }
    }
    const bool was_soft = soft_;
    soft_ = false;
    if (tag == "with") {
      STRATA_ASSIGN_OR_RETURN(s->body, parse_block({"endwith"}, true));
    } else {
      STRATA_ASSIGN_OR_RETURN(s->body, parse_block({"endgeneration"}, true));
    }
    soft_ = was_soft;
    return s;
  }

  Result<StmtPtr> parse_print() {
    auto s = stmt(StmtKind::Print);
    advance();
    std::vector<ExprPtr> items;
    while (current().kind != TokenKind::BlockEnd) {
      if (!items.empty()) STRATA_RETURN_IF_ERROR(expect_op(","));
      STRATA_ASSIGN_OR_RETURN(ExprPtr e, expr_.parse_expression(true));
      items.push_back(std::move(e));
    }
    if (items.empty()) return fail("expected an expression after 'print'");
    // {% print a, b %} prints each expression in turn: model it as a ~ concatenation.
    s->expr = std::move(items[0]);
    for (size_t i = 1; i < items.size(); ++i) {
      auto cat = node(ExprKind::Binary, current());
      cat->binary_op = BinaryOp::Concat;
      cat->items.push_back(std::move(s->expr));
      cat->items.push_back(std::move(items[i]));
      s->expr = std::move(cat);
    }
    return s;
  }

  ExpressionParser expr_;
  int loop_depth_ = 0;  // enclosing for loops (break/continue need one), reset inside macros
};

}  // namespace

Result<std::unique_ptr<Program>> parse_program(const std::vector<Token>& tokens) {
  if (tokens.empty() || tokens.back().kind != TokenKind::End) return error("internal: token stream has no end");
  ParseState state(tokens);
  return StatementParser(state).run();
}

}  // namespace strata::jinja
