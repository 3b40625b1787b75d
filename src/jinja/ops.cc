// jinja/ops.cc: Python operators, iteration, attribute/item/slice lookup and the global
// functions, with the semantics jinja2's sandboxed environment gives them (see jinja/builtins.h).
#include <cmath>
#include <limits>

#include "jinja/builtins.h"
#include "jinja/methods.h"
#include "jinja/string.h"

namespace strata::jinja {

namespace {

Status undefined_error(const Value& v) {
  const std::string& hint = v.undefined_hint();
  return Status::error(hint.empty() ? "value is undefined" : hint);
}

Status operand_error(std::string_view op, const Value& a, const Value& b) {
  return error("unsupported operand type(s) for {}: '{}' and '{}'", op, type_name(a), type_name(b));
}

Result<Value> checked_int(bool overflow, int64_t v) {
  if (overflow) return error("integer overflow (Python would grow the integer; this engine stops at 64 bits)");
  return Value(v);
}

// Python's `%` for floats: the result takes the divisor's sign.
double float_mod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0 && ((b < 0) != (m < 0))) m += b;
  if (m == 0) m = std::copysign(0.0, b);
  return m;
}

// Python's `//` for floats: exact floor of the quotient computed via fmod, as CPython does.
double float_floor_div(double a, double b) {
  double m = std::fmod(a, b);
  double q = (a - m) / b;
  if (m != 0 && ((b < 0) != (m < 0))) q -= 1.0;
  if (q == 0) return std::copysign(0.0, a / b);
  double f = std::floor(q);
  if (q - f > 0.5) f += 1.0;
  return f;
}

Result<Value> repeat(const Value& seq, int64_t times) {
  if (times <= 0)
    return seq.is_string() ? Value(std::string()) : (seq.kind() == Kind::Tuple ? Value::tuple({}) : Value::list({}));
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (s.size() * static_cast<uint64_t>(times) > kMaxStringBytes) return error("string repetition too large");
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(times));
    for (int64_t i = 0; i < times; ++i) out += s;
    return seq.is_markup() ? Value::markup(std::move(out)) : Value(std::move(out));
  }
  const auto& items = seq.as_list();
  if (items.size() * static_cast<uint64_t>(times) > kMaxListItems) return error("list repetition too large");
  std::vector<Value> out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return seq.kind() == Kind::Tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

Result<Value> power(const Value& a, const Value& b) {
  if (a.is_integral() && b.is_integral() && b.as_int() >= 0) {
    int64_t base = a.as_int();
    int64_t exp = b.as_int();
    int64_t result = 1;
    bool overflow = false;
    while (exp > 0 && !overflow) {
      if (exp & 1) overflow |= __builtin_mul_overflow(result, base, &result);
      exp >>= 1;
      if (exp > 0) overflow |= __builtin_mul_overflow(base, base, &base);
    }
    return checked_int(overflow, result);
  }
  const double x = a.as_float();
  const double y = b.as_float();
  if (x == 0 && y < 0) return error("0.0 cannot be raised to a negative power");
  if (x < 0 && y != std::floor(y)) return error("negative number raised to a fractional power (complex result)");
  return Value(std::pow(x, y));
}

Result<Value> arithmetic(BinaryOp op, const Value& a, const Value& b) {
  const bool ints = a.is_integral() && b.is_integral();
  int64_t r = 0;
  switch (op) {
    case BinaryOp::Add:
      if (ints) {
        const bool overflow = __builtin_add_overflow(a.as_int(), b.as_int(), &r);
        return checked_int(overflow, r);
      }
      return Value(a.as_float() + b.as_float());
    case BinaryOp::Sub:
      if (ints) {
        const bool overflow = __builtin_sub_overflow(a.as_int(), b.as_int(), &r);
        return checked_int(overflow, r);
      }
      return Value(a.as_float() - b.as_float());
    case BinaryOp::Mul:
      if (ints) {
        const bool overflow = __builtin_mul_overflow(a.as_int(), b.as_int(), &r);
        return checked_int(overflow, r);
      }
      return Value(a.as_float() * b.as_float());
    case BinaryOp::Div:
      if (b.as_float() == 0) return error("division by zero");
      return Value(a.as_float() / b.as_float());
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod:
      if (ints) {
        const int64_t x = a.as_int();
        const int64_t y = b.as_int();
        if (y == 0) return error("integer division or modulo by zero");
        if (x == std::numeric_limits<int64_t>::min() && y == -1) return checked_int(true, 0);
        int64_t q = x / y;
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
          --q;
          m += y;
        }
        return Value(op == BinaryOp::FloorDiv ? q : m);
      }
      if (b.as_float() == 0) return error("float division or modulo by zero");
      if (op == BinaryOp::Mod) return Value(float_mod(a.as_float(), b.as_float()));
      return Value(float_floor_div(a.as_float(), b.as_float()));
    case BinaryOp::Pow: return power(a, b);
    case BinaryOp::Concat: break;
  }
  return error("internal: bad arithmetic operator");
}

}  // namespace

Result<Value> apply_binary(BinaryOp op, const Value& a, const Value& b) {
  if (op == BinaryOp::Concat) {
    std::string text = to_str(a);
    text += to_str(b);
    if (text.size() > kMaxStringBytes) return error("string too large (limit {} bytes)", kMaxStringBytes);
    return Value(std::move(text));
  }
  if (a.is_undefined()) return undefined_error(a);
  // str % x runs str's own formatting first, which accepts an undefined x (it has __getitem__).
  if (op == BinaryOp::Mod && a.is_string()) return printf_format(a.as_string(), b);
  if (b.is_undefined()) return undefined_error(b);
  static constexpr std::string_view kSymbols[] = {"+", "-", "*", "/", "//", "%", "**", "~"};
  const std::string_view symbol = kSymbols[static_cast<int>(op)];
  if (a.is_number() && b.is_number()) return arithmetic(op, a, b);
  if (op == BinaryOp::Add) {
    if (a.is_string() && b.is_string() && a.as_string().size() + b.as_string().size() > kMaxStringBytes) {
      return error("string too large (limit {} bytes)", kMaxStringBytes);
    }
    if (a.is_list() && b.is_list() && a.as_list().size() + b.as_list().size() > kMaxListItems) {
      return error("list too large (limit {} items)", kMaxListItems);
    }
    if (a.is_string() && b.is_string()) {
      if (!a.is_markup() && !b.is_markup()) return Value(a.as_string() + b.as_string());
      // Markup + str escapes the plain side (markupsafe's rule), in either order.
      const auto safe = [](const Value& v) { return v.is_markup() ? v.as_string() : html_escape(v.as_string()); };
      return Value::markup(safe(a) + safe(b));
    }
    if (a.is_list() && a.kind() == b.kind()) {
      std::vector<Value> out = a.as_list();
      out.insert(out.end(), b.as_list().begin(), b.as_list().end());
      return a.kind() == Kind::Tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
    }
    if (a.is_string()) return error("can only concatenate str (not \"{}\") to str", type_name(b));
    if (a.is_list())
      return error("can only concatenate {} (not \"{}\") to {}", type_name(a), type_name(b), type_name(a));
  }
  if (op == BinaryOp::Mul) {
    if ((a.is_string() || a.is_list()) && b.is_integral()) return repeat(a, b.as_int());
    if (a.is_integral() && (b.is_string() || b.is_list())) return repeat(b, a.as_int());
  }
  if (op == BinaryOp::Mod && a.is_string()) return printf_format(a.as_string(), b);
  return operand_error(symbol, a, b);
}

Result<bool> apply_compare(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::Eq: return equals(a, b);
    case CompareOp::Ne: return !equals(a, b);
    case CompareOp::In:
    case CompareOp::NotIn: {
      bool found = false;
      if (b.is_string()) {
        if (!a.is_string()) return error("'in <string>' requires string as left operand, not {}", type_name(a));
        found = b.as_string().find(a.as_string()) != std::string::npos;
      } else if (b.is_list()) {
        for (const Value& item : b.as_list()) found = found || equals(item, a);
      } else if (b.is_dict()) {
        if (a.is_dict() || a.kind() == Kind::List || a.is_namespace())
          return error("unhashable type: '{}'", type_name(a));
        found = b.as_dict().find(a) != nullptr;
      } else if (b.is_generator()) {
        // `in` consumes an iterator up to and including the match.
        Generator& g = b.generator_state();
        while (!found && g.cursor < g.items.size()) found = equals(g.items[g.cursor++], a);
        if (!found && !g.error.is_ok()) return g.error;
      } else if (!b.is_undefined()) {
        return error("argument of type '{}' is not iterable", type_name(b));
      }
      return op == CompareOp::In ? found : !found;
    }
    default: break;
  }
  if (a.is_undefined()) return undefined_error(a);
  if (b.is_undefined()) return undefined_error(b);
  STRATA_ASSIGN_OR_RETURN(int c, compare(a, b));
  if (c == 2) return false;  // NaN is unordered
  switch (op) {
    case CompareOp::Lt: return c < 0;
    case CompareOp::Le: return c <= 0;
    case CompareOp::Gt: return c > 0;
    case CompareOp::Ge: return c >= 0;
    default: return error("internal: bad comparison");
  }
}

std::vector<Value> string_chars(const std::string& s) {
  std::vector<Value> out;
  for (size_t pos = 0; pos < s.size();) {
    const size_t len = decode_at(s, pos).length;
    out.emplace_back(std::string_view(s).substr(pos, len));
    pos += len;
  }
  return out;
}

Result<std::vector<Value>> iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::Generator: {
      Generator& g = v.generator_state();
      std::vector<Value> rest(g.items.begin() + static_cast<ptrdiff_t>(std::min(g.cursor, g.items.size())),
                              g.items.end());
      g.cursor = g.items.size();
      if (!g.error.is_ok()) return g.error;
      return rest;
    }
    case Kind::Undefined: return std::vector<Value>{};
    case Kind::List:
    case Kind::Tuple: return v.as_list();
    case Kind::String: return string_chars(v.as_string());
    case Kind::Dict: {
      std::vector<Value> keys;
      for (const auto& entry : v.as_dict().entries) keys.push_back(entry.first);
      return keys;
    }
    default: return error("'{}' object is not iterable", type_name(v));
  }
}

Result<Value> get_attr(const Value& obj, std::string_view name) {
  if (obj.is_undefined()) return undefined_error(obj);
  if (std::optional<Value> method = find_method(obj, name)) return *method;
  if (obj.is_dict() || obj.is_namespace()) {
    if (const Value* v = obj.as_dict().find(name)) return *v;
  }
  return Value::undefined(fmt::format("'{} object' has no attribute '{}'", type_name(obj), name));
}

Result<Value> get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return undefined_error(obj);
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().find(key)) return *v;
  } else if ((obj.is_list() || obj.is_string()) && key.is_integral()) {
    const std::vector<size_t> offsets = obj.is_string() ? code_point_offsets(obj.as_string()) : std::vector<size_t>{};
    const int64_t size =
        obj.is_string() ? static_cast<int64_t>(offsets.size() - 1) : static_cast<int64_t>(obj.as_list().size());
    int64_t i = key.as_int();
    if (i < 0) i += size;
    if (i >= 0 && i < size) {
      if (obj.is_list()) return obj.as_list()[static_cast<size_t>(i)];
      const size_t at = offsets[static_cast<size_t>(i)];
      std::string ch = obj.as_string().substr(at, offsets[static_cast<size_t>(i) + 1] - at);
      return obj.is_markup() ? Value::markup(std::move(ch)) : Value(std::move(ch));
    }
    return Value::undefined(fmt::format("{} object has no element {}", type_name(obj), key.as_int()));
  }
  if (key.is_string()) return get_attr(obj, key.as_string());
  return Value::undefined(fmt::format("'{} object' has no item {}", type_name(obj), to_repr(key)));
}

Result<Value> get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) return undefined_error(obj);
  // jinja2 compiles slices to plain Python subscripts (no sandbox getitem), so every misuse is an error.
  if (!obj.is_list() && !obj.is_string()) {
    return error("'{}' object is not subscriptable with a slice", type_name(obj));
  }
  for (const Value* bound : {&start, &stop, &step}) {
    if (!bound->is_none() && !bound->is_integral()) {
      return error("slice indices must be integers or None or have an __index__ method");
    }
  }
  const std::vector<size_t> offsets = obj.is_string() ? code_point_offsets(obj.as_string()) : std::vector<size_t>{};
  const int64_t n =
      obj.is_string() ? static_cast<int64_t>(offsets.size() - 1) : static_cast<int64_t>(obj.as_list().size());
  const int64_t st = step.is_none() ? 1 : step.as_int();
  if (st == 0) return error("slice step cannot be zero");
  // Python's slice.indices(): clamp each bound into range for the step's direction.
  const auto clamp = [&](const Value& v, int64_t fallback) {
    if (v.is_none()) return fallback;
    int64_t i = v.as_int();
    if (i < 0) i = std::max<int64_t>(i + n, st < 0 ? -1 : 0);
    return std::min<int64_t>(i, st < 0 ? n - 1 : n);
  };
  const int64_t lo = clamp(start, st < 0 ? n - 1 : 0);
  const int64_t hi = clamp(stop, st < 0 ? -1 : n);
  std::vector<int64_t> picks;
  for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) picks.push_back(i);
  if (obj.is_string()) {
    const std::string& s = obj.as_string();
    std::string out;
    for (int64_t i : picks) {
      const size_t at = offsets[static_cast<size_t>(i)];
      out.append(s, at, offsets[static_cast<size_t>(i) + 1] - at);
    }
    return obj.is_markup() ? Value::markup(std::move(out)) : Value(std::move(out));
  }
  std::vector<Value> out;
  for (int64_t i : picks) out.push_back(obj.as_list()[static_cast<size_t>(i)]);
  return obj.kind() == Kind::Tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

Result<std::vector<Value>> bind_args(const CallArgs& args, std::initializer_list<std::string_view> params,
                                     std::string_view function) {
  std::vector<Value> out(params.size());
  if (args.positional.size() > params.size()) {
    return error("{}() takes at most {} arguments ({} given)", function, params.size(), args.positional.size());
  }
  for (size_t i = 0; i < args.positional.size(); ++i) out[i] = args.positional[i];
  for (const auto& [name, value] : args.keyword) {
    size_t i = 0;
    for (std::string_view p : params) {
      if (p == name) break;
      ++i;
    }
    if (i == params.size()) return error("{}() got an unexpected keyword argument '{}'", function, name);
    if (i < args.positional.size()) return error("{}() got multiple values for argument '{}'", function, name);
    out[i] = value;
  }
  return out;
}

namespace {

Result<Value> range_fn(const CallArgs& args) {
  if (!args.keyword.empty()) return error("range() takes no keyword arguments");
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3) return error("range expected 1 to 3 arguments, got {}", p.size());
  for (const Value& v : p) {
    if (!v.is_integral()) return error("range() arguments must be integers, not '{}'", type_name(v));
  }
  const int64_t start = p.size() == 1 ? 0 : p[0].as_int();
  const int64_t stop = p.size() == 1 ? p[0].as_int() : p[1].as_int();
  const int64_t step = p.size() == 3 ? p[2].as_int() : 1;
  if (step == 0) return error("range() arg 3 must not be zero");
  const double count = std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step));
  if (count > static_cast<double>(kMaxRange)) return error("range too big, maximum size for range is {}", kMaxRange);
  std::vector<Value> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.emplace_back(i);
  return Value::list(std::move(out));
}

// dict(mapping_or_pairs, **kwargs) and namespace(...) share this.
Result<Dict> dict_from_args(const CallArgs& args, std::string_view function) {
  Dict d;
  if (args.positional.size() > 1) return error("{}() expected at most 1 positional argument", function);
  if (!args.positional.empty()) {
    const Value& src = args.positional[0];
    if (src.is_undefined()) return undefined_error(src);  // dict() probes .keys, which fails on undefined
    if (src.is_dict() || src.is_namespace()) {
      d = src.as_dict();
    } else {
      STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(src));
      for (const Value& item : items) {
        if (!item.is_list() || item.as_list().size() != 2) return error("{}(): sequence items must be pairs", function);
        d.set(item.as_list()[0], item.as_list()[1]);
      }
    }
  }
  for (const auto& [name, value] : args.keyword) d.set(Value(name), value);
  return d;
}

}  // namespace

void add_builtin_globals(Dict& globals) {
  globals.set(Value("range"), Value::function("range", range_fn));
  globals.set(Value("dict"), Value::function("dict", [](const CallArgs& args) -> Result<Value> {
                STRATA_ASSIGN_OR_RETURN(Dict d, dict_from_args(args, "dict"));
                return Value::dict(std::move(d));
              }));
  globals.set(Value("namespace"), Value::function("namespace", [](const CallArgs& args) -> Result<Value> {
                STRATA_ASSIGN_OR_RETURN(Dict d, dict_from_args(args, "namespace"));
                return Value::namespace_object(std::move(d));
              }));
}

}  // namespace strata::jinja
