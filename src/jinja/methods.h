// jinja/methods.h: the Python methods templates call on values: str (strip, split, startswith,
// replace, format, ...), dict (items, keys, values, get) and list (index, count).
#pragma once

#include <optional>
#include <string_view>

#include "jinja/value.h"

namespace strata::jinja {

// `obj.name` when name is a method of obj's type: a callable bound to obj. Mutating list/dict methods
// come back undefined with an "unsafe" hint, as jinja2's immutable sandbox (which HF uses) makes them.
// nullopt when `name` is no method of obj's type.
std::optional<Value> find_method(const Value& obj, std::string_view name);

// Python's printf-style `text % args`: %s %r %d %i %u %f %F %e %E %g %G %x %X %o %c %% with flags,
// width, precision and %(key)s. args is a tuple of values, a mapping, or one value.
Result<Value> printf_format(const std::string& text, const Value& args);

}  // namespace strata::jinja
