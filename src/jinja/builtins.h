// jinja/builtins.h: what templates can call without being given it: jinja2's filters and tests,
// the globals range/dict/namespace, Python operators, attribute and item lookup, and the str/dict/list
// methods chat templates use (strip, split, startswith, items, get, ...).
#pragma once

#include <initializer_list>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "jinja/ast.h"
#include "jinja/value.h"

namespace strata::jinja {

// By name; null when jinja2 has no such filter or test (or this engine lacks it).
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

// The items a `for` loop visits: list and tuple elements, dict keys, string code points; undefined is
// empty (jinja2's Undefined iterates as nothing). Anything else is an error.
Result<std::vector<Value>> iterate(const Value& v);

// `obj.name`: a method of a str/dict/list, else the dict key or namespace attribute, else undefined.
// `obj[key]`: the item (negative indexes count from the end), else a method for a str key, else
// undefined. Both fail only when obj itself is undefined, as jinja2's default Undefined does.
Result<Value> get_attr(const Value& obj, std::string_view name);
Result<Value> get_item(const Value& obj, const Value& key);
// `obj[start:stop:step]` with Python's rules; a non-sequence or non-integer bound is an error.
Result<Value> get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

// Python's arithmetic and `~` with jinja2's errors (undefined operands fail, int overflow fails instead
// of growing as Python's ints would).
Result<Value> apply_binary(BinaryOp op, const Value& a, const Value& b);
Result<bool> apply_compare(CompareOp op, const Value& a, const Value& b);

// range(), dict() and namespace(): the globals every template sees.
void add_builtin_globals(Dict& globals);

// Binds a call's arguments to named parameters, positional first; parameters not given stay undefined.
// Unknown keywords and surplus positionals are errors naming `function`.
Result<std::vector<Value>> bind_args(const CallArgs& args, std::initializer_list<std::string_view> params,
                                     std::string_view function);

// Code points of a string as one-character strings (iteration, |list, |reverse).
std::vector<Value> string_chars(const std::string& s);

// Largest list range() may build, as jinja2's sandbox limits it.
inline constexpr int64_t kMaxRange = 100000;

}  // namespace strata::jinja
