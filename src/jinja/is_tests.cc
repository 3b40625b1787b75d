// jinja/is_tests.cc: jinja2's built-in tests, the names after `is` (defined, none, string,
// mapping, iterable, sequence, equalto, divisibleby, ...), with Python's type rules (bool is a number).
#include "jinja/builtins.h"
#include "jinja/string.h"

namespace strata::jinja {

namespace {

const Value& first_arg(const CallArgs& args) {
  static const Value kMissing;
  if (!args.positional.empty()) return args.positional[0];
  if (!args.keyword.empty()) return args.keyword[0].second;
  return kMissing;
}

Result<bool> t_defined(const Value& v, const CallArgs&, const Options&) { return !v.is_undefined(); }
Result<bool> t_undefined(const Value& v, const CallArgs&, const Options&) { return v.is_undefined(); }
Result<bool> t_none(const Value& v, const CallArgs&, const Options&) { return v.is_none(); }
Result<bool> t_boolean(const Value& v, const CallArgs&, const Options&) { return v.is_bool(); }
Result<bool> t_true(const Value& v, const CallArgs&, const Options&) { return v.is_bool() && v.as_bool(); }
Result<bool> t_false(const Value& v, const CallArgs&, const Options&) { return v.is_bool() && !v.as_bool(); }
Result<bool> t_number(const Value& v, const CallArgs&, const Options&) { return v.is_number(); }
Result<bool> t_integer(const Value& v, const CallArgs&, const Options&) { return v.is_int(); }
Result<bool> t_float(const Value& v, const CallArgs&, const Options&) { return v.is_float(); }
Result<bool> t_string(const Value& v, const CallArgs&, const Options&) { return v.is_string(); }
Result<bool> t_mapping(const Value& v, const CallArgs&, const Options&) { return v.is_dict(); }
// jinja2's Undefined defines __call__ (to fail), so Python's callable() says yes.
Result<bool> t_callable(const Value& v, const CallArgs&, const Options&) { return v.is_callable() || v.is_undefined(); }

// Python's iter() succeeds on str, list, tuple, dict, and jinja2's Undefined.
Result<bool> t_iterable(const Value& v, const CallArgs&, const Options&) {
  return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict() || v.is_generator();
}
// jinja2's sequence test asks for len() and __getitem__: the same set less generators.
Result<bool> t_sequence(const Value& v, const CallArgs&, const Options&) {
  return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
}

Result<bool> t_lower(const Value& v, const CallArgs&, const Options&) { return is_lower_string(to_str(v)); }
Result<bool> t_upper(const Value& v, const CallArgs&, const Options&) { return is_upper_string(to_str(v)); }

Result<bool> t_divisibleby(const Value& v, const CallArgs& a, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Value rem, apply_binary(BinaryOp::Mod, v, first_arg(a)));
  return equals(rem, Value(int64_t{0}));
}
Result<bool> t_even(const Value& v, const CallArgs&, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Value rem, apply_binary(BinaryOp::Mod, v, Value(int64_t{2})));
  return equals(rem, Value(int64_t{0}));
}
Result<bool> t_odd(const Value& v, const CallArgs&, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Value rem, apply_binary(BinaryOp::Mod, v, Value(int64_t{2})));
  return equals(rem, Value(int64_t{1}));
}
Result<bool> t_sameas(const Value& v, const CallArgs& a, const Options&) { return v.same_object(first_arg(a)); }

Result<bool> t_eq(const Value& v, const CallArgs& a, const Options&) {
  return apply_compare(CompareOp::Eq, v, first_arg(a));
}
Result<bool> t_ne(const Value& v, const CallArgs& a, const Options&) {
  return apply_compare(CompareOp::Ne, v, first_arg(a));
}
Result<bool> t_lt(const Value& v, const CallArgs& a, const Options&) {
  return apply_compare(CompareOp::Lt, v, first_arg(a));
}
Result<bool> t_le(const Value& v, const CallArgs& a, const Options&) {
  return apply_compare(CompareOp::Le, v, first_arg(a));
}
Result<bool> t_gt(const Value& v, const CallArgs& a, const Options&) {
  return apply_compare(CompareOp::Gt, v, first_arg(a));
}
Result<bool> t_ge(const Value& v, const CallArgs& a, const Options&) {
  return apply_compare(CompareOp::Ge, v, first_arg(a));
}
Result<bool> t_in(const Value& v, const CallArgs& a, const Options&) {
  return apply_compare(CompareOp::In, v, first_arg(a));
}

Result<bool> t_filter(const Value& v, const CallArgs&, const Options&) {
  return v.is_string() && find_filter(v.as_string()) != nullptr;
}
Result<bool> t_test(const Value& v, const CallArgs&, const Options&) {
  return v.is_string() && find_test(v.as_string()) != nullptr;
}

// Python binds a test's arguments when it is called: too many or too few is an error, not ignored.
template <TestFn F, size_t N>
Result<bool> arity(const Value& v, const CallArgs& args, const Options& options) {
  const size_t given = args.positional.size() + args.keyword.size();
  if (given != N) return error("test takes {} argument(s) but {} were given", N, given);
  return F(v, args, options);
}

struct NamedTest {
  std::string_view name;
  TestFn fn;
};
constexpr NamedTest kTests[] = {
    {"boolean", arity<t_boolean, 0>},
    {"callable", arity<t_callable, 0>},
    {"defined", arity<t_defined, 0>},
    {"divisibleby", arity<t_divisibleby, 1>},
    {"eq", arity<t_eq, 1>},
    {"equalto", arity<t_eq, 1>},
    {"==", arity<t_eq, 1>},
    {"even", arity<t_even, 0>},
    {"false", arity<t_false, 0>},
    {"filter", arity<t_filter, 0>},
    {"float", arity<t_float, 0>},
    {"ge", arity<t_ge, 1>},
    {">=", arity<t_ge, 1>},
    {"greaterthan", arity<t_gt, 1>},
    {"gt", arity<t_gt, 1>},
    {">", arity<t_gt, 1>},
    {"in", arity<t_in, 1>},
    {"integer", arity<t_integer, 0>},
    {"iterable", arity<t_iterable, 0>},
    {"le", arity<t_le, 1>},
    {"<=", arity<t_le, 1>},
    {"lessthan", arity<t_lt, 1>},
    {"lt", arity<t_lt, 1>},
    {"<", arity<t_lt, 1>},
    {"lower", arity<t_lower, 0>},
    {"mapping", arity<t_mapping, 0>},
    {"ne", arity<t_ne, 1>},
    {"!=", arity<t_ne, 1>},
    {"none", arity<t_none, 0>},
    {"number", arity<t_number, 0>},
    {"odd", arity<t_odd, 0>},
    {"sameas", arity<t_sameas, 1>},
    {"sequence", arity<t_sequence, 0>},
    {"string", arity<t_string, 0>},
    {"test", arity<t_test, 0>},
    {"true", arity<t_true, 0>},
    {"undefined", arity<t_undefined, 0>},
    {"upper", arity<t_upper, 0>},
};

}  // namespace

TestFn find_test(std::string_view name) {
  for (const NamedTest& t : kTests) {
    if (t.name == name) return t.fn;
  }
  return nullptr;
}

}  // namespace strata::jinja
