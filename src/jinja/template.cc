// jinja/template.cc: Template::parse (lex + parse once) and Template::render (evaluate).
#include "jinja/template.h"

#include "jinja/eval.h"
#include "jinja/lexer.h"
#include "jinja/parser.h"

namespace strata::jinja {

Result<Template> Template::parse(std::string_view source, const Options& options) {
  LexerOptions lexer_options;
  lexer_options.trim_blocks = options.trim_blocks;
  lexer_options.lstrip_blocks = options.lstrip_blocks;
  lexer_options.keep_trailing_newline = options.keep_trailing_newline;
  STRATA_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(source, lexer_options));
  STRATA_ASSIGN_OR_RETURN(std::unique_ptr<Program> program, parse_program(tokens));
  return Template(std::shared_ptr<const Program>(std::move(program)), options);
}

Result<std::string> Template::render(const Value& variables) const { return evaluate(*program_, variables, options_); }

}  // namespace strata::jinja
