// jinja/eval.h: walks a parsed Program and writes its output, with jinja2's scoping (for and
// macro bodies get their own scope, if does not), loop variables, macros, and step/depth/output limits.
#pragma once

#include <string>

#include "core/status.h"
#include "jinja/ast.h"
#include "jinja/template.h"
#include "jinja/value.h"

namespace strata::jinja {

// Renders `program`; `variables` must be a dict (or undefined for none). Errors carry the line and
// column of the statement or expression that failed.
Result<std::string> evaluate(const Program& program, const Value& variables, const Options& options);

}  // namespace strata::jinja
