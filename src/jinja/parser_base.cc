// jinja/parser_base.cc: token descriptions for parse errors.
#include "jinja/parser_base.h"

namespace strata::jinja {

std::string ParserBase::describe(const Token& t) {
  switch (t.kind) {
    case TokenKind::Data: return "template data";
    case TokenKind::VariableBegin: return "'{{'";
    case TokenKind::VariableEnd: return "end of print statement";
    case TokenKind::BlockBegin: return "'{%'";
    case TokenKind::BlockEnd: return "end of statement block";
    case TokenKind::Name: return "'" + t.text + "'";
    case TokenKind::String: return "string";
    case TokenKind::Integer: return "integer";
    case TokenKind::Float: return "float";
    case TokenKind::Operator: return "'" + t.text + "'";
    case TokenKind::End: return "end of template";
  }
  return "token";
}

}  // namespace strata::jinja
