// tokenizer/jinja_eval.h: walks a parsed Program and writes its output, with jinja2's scoping (for and
// macro bodies get their own scope, if does not), loop variables, macros, and step/depth/output limits.
#pragma once

#include <string>

#include "core/status.h"
#include "tokenizer/jinja_ast.h"
#include "tokenizer/jinja_template.h"
#include "tokenizer/jinja_value.h"

namespace strata::jinja {

// Renders `program`; `variables` must be a dict (or undefined for none). Errors carry the line and
// column of the statement or expression that failed.
Result<std::string> evaluate(const Program& program, const Value& variables, const Options& options);

}  // namespace strata::jinja
