// jinja/filters.cc: jinja2's built-in filters (|trim, |tojson, |join, |selectattr, ...) with
// the argument names and edge cases of jinja2 3.1; see docs/chat_templates.md for what is left out.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_set>

#include "jinja/builtins.h"
#include "jinja/methods.h"
#include "jinja/string.h"
#include "jinja/template.h"

namespace strata::jinja {

namespace {

using Args = std::vector<Value>;

// jinja's soft_str: strings as they are, anything else through str().
std::string text_of(const Value& v) { return v.is_string() ? v.as_string() : to_str(v); }

Status no_args(const CallArgs& args, std::string_view filter) {
  if (args.positional.empty() && args.keyword.empty()) return Status::ok();
  return error("{}() takes no arguments", filter);
}

// jinja2 runs these filters as generators: the result is always true and single-use, and an error
// inside waits until the result is consumed. `body` appends the items and may fail part-way.
template <typename Body>
Value lazy(std::string name, Body body) {
  std::vector<Value> out;
  Status status = body(out);
  return Value::generator(std::move(name), std::move(out), std::move(status));
}

// Markup's own methods (strip, upper, lower, capitalize) return Markup: keep the flag through them.
Value same_safety(const Value& input, std::string text) {
  return input.is_markup() ? Value::markup(std::move(text)) : Value(std::move(text));
}

Result<int64_t> int_param(const Value& v, int64_t fallback, std::string_view what) {
  if (v.is_undefined() || v.is_none()) return fallback;
  if (!v.is_integral()) return error("{} must be an integer, not {}", what, type_name(v));
  return v.as_int();
}

// jinja's attribute getter: "a.b.0" walks items (keys first, then attributes); digit parts are indexes.
Result<Value> lookup_path(const Value& item, const Value& attribute) {
  if (!attribute.is_string()) return get_item(item, attribute);
  Value current = item;
  for (const std::string& part : split_on(attribute.as_string(), ".", -1)) {
    const bool digits =
        !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits && part.size() < 18) {
      STRATA_ASSIGN_OR_RETURN(current, get_item(current, Value(static_cast<int64_t>(std::stoll(part)))));
    } else {
      STRATA_ASSIGN_OR_RETURN(current, get_item(current, Value(part)));
    }
  }
  return current;
}

Value ignore_case(const Value& v) { return v.is_string() ? Value(to_lower(v.as_string())) : v; }

// Keys for sort/min/max/unique: the item or its attribute, lower-cased unless case-sensitive.
Result<std::vector<Value>> sort_keys(const std::vector<Value>& items, const Value& attribute, bool case_sensitive) {
  std::vector<Value> keys;
  for (const Value& item : items) {
    Value key = item;
    if (!attribute.is_undefined() && !attribute.is_none()) {
      STRATA_ASSIGN_OR_RETURN(key, lookup_path(item, attribute));
    }
    keys.push_back(case_sensitive ? key : ignore_case(key));
  }
  return keys;
}

// Stable order of indexes by key (Python's sorted, including reverse=True keeping ties in order).
Result<std::vector<size_t>> sorted_order(const std::vector<Value>& keys, bool reverse) {
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  Status failed;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    Result<int> c = reverse ? compare(keys[y], keys[x]) : compare(keys[x], keys[y]);
    if (!c.is_ok()) {
      failed = c.status();
      return false;
    }
    return *c == -1;
  });
  STRATA_RETURN_IF_ERROR(failed);
  return order;
}

Result<Value> f_trim(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"chars"}, "trim"));
  if (a[0].is_undefined() || a[0].is_none()) return same_safety(v, strip(text_of(v), true, true));
  const std::string chars = text_of(a[0]);
  return same_safety(v, strip(text_of(v), true, true, &chars));
}

Result<Value> f_length(const Value& v, const CallArgs&, const Options&) {
  switch (v.kind()) {
    case Kind::Undefined: return Value(int64_t{0});
    case Kind::String: return Value(static_cast<int64_t>(code_point_count(v.as_string())));
    case Kind::List:
    case Kind::Tuple: return Value(static_cast<int64_t>(v.as_list().size()));
    case Kind::Dict: return Value(static_cast<int64_t>(v.as_dict().size()));
    default: return error("object of type '{}' has no len()", type_name(v));
  }
}

Result<Value> f_tojson(const Value& v, const CallArgs& args, const Options& options) {
  JsonOptions json;
  Value indent;
  if (options.hf_tojson) {
    STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"ensure_ascii", "indent", "separators", "sort_keys"}, "tojson"));
    json.ensure_ascii = a[0].truthy();
    indent = a[1];
    if (!a[2].is_undefined() && !a[2].is_none()) {
      if (!a[2].is_list() || a[2].as_list().size() != 2 || !a[2].as_list()[0].is_string() ||
          !a[2].as_list()[1].is_string()) {
        return error("tojson: separators must be a pair of strings");
      }
      json.item_separator = a[2].as_list()[0].as_string();
      json.key_separator = a[2].as_list()[1].as_string();
    }
    json.sort_keys = a[3].truthy();
  } else {
    STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"indent"}, "tojson"));
    indent = a[0];
    json.ensure_ascii = true;
    json.sort_keys = true;
    json.html_safe = true;
  }
  if (indent.is_string()) {
    if (indent.as_string().size() > 1024) return error("tojson: indent string too long");
    json.indent = indent.as_string();
  } else if (indent.is_integral()) {
    json.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(indent.as_int(), 0, 1024)), ' ');
  } else if (!indent.is_undefined() && !indent.is_none()) {
    return error("tojson: indent must be an integer or a string");
  }
  STRATA_ASSIGN_OR_RETURN(std::string text, to_json(v, json));
  // jinja2's own tojson returns Markup; transformers' returns a plain str.
  return options.hf_tojson ? Value(std::move(text)) : Value::markup(std::move(text));
}

Result<Value> f_string(const Value& v, const CallArgs&, const Options&) {
  std::string text = text_of(v);
  if (text.size() > kMaxStringBytes) return error("string: value too large to print");
  return same_safety(v, std::move(text));
}
Result<Value> f_upper(const Value& v, const CallArgs&, const Options&) { return same_safety(v, to_upper(text_of(v))); }
Result<Value> f_lower(const Value& v, const CallArgs&, const Options&) { return same_safety(v, to_lower(text_of(v))); }
Result<Value> f_capitalize(const Value& v, const CallArgs&, const Options&) {
  return same_safety(v, capitalize(text_of(v)));
}
Result<Value> f_title(const Value& v, const CallArgs&, const Options&) { return Value(title_filter(text_of(v))); }

Result<Value> f_replace(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"old", "new", "count"}, "replace"));
  STRATA_ASSIGN_OR_RETURN(int64_t count, int_param(a[2], -1, "replace count"));
  std::optional<std::string> out = replace(text_of(v), text_of(a[0]), text_of(a[1]), count, kMaxStringBytes);
  if (!out) return error("replace: result too large");
  return Value(std::move(*out));
}

Result<Value> f_join(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"d", "attribute"}, "join"));
  STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  const std::string sep = a[0].is_undefined() ? "" : text_of(a[0]);
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    Value item = items[i];
    if (!a[1].is_undefined() && !a[1].is_none()) {
      STRATA_ASSIGN_OR_RETURN(item, lookup_path(item, a[1]));
    }
    if (i) out += sep;
    out += to_str(item);
    if (out.size() > kMaxStringBytes) return error("join: result too large");
  }
  return Value(std::move(out));
}

Result<Value> f_default(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"default_value", "boolean"}, "default"));
  if (v.is_undefined() || (a[1].truthy() && !v.truthy())) return a[0].is_undefined() ? Value(std::string()) : a[0];
  return v;
}

Result<Value> f_first(const Value& v, const CallArgs& args, const Options&) {
  STRATA_RETURN_IF_ERROR(no_args(args, "first"));
  if (v.is_generator()) {  // next(iter(gen)) consumes exactly one item
    Generator& g = v.generator_state();
    if (g.cursor < g.items.size()) return g.items[g.cursor++];
    if (!g.error.is_ok()) return g.error;
    return Value::undefined("No first item, sequence was empty.");
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Result<Value> f_last(const Value& v, const CallArgs& args, const Options&) {
  STRATA_RETURN_IF_ERROR(no_args(args, "last"));
  if (v.is_generator()) return error("'generator' object is not reversible");
  STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Result<Value> f_items(const Value& v, const CallArgs& args, const Options&) {
  STRATA_RETURN_IF_ERROR(no_args(args, "items"));
  return lazy("do_items", [&](std::vector<Value>& out) -> Status {
    if (v.is_undefined()) return Status::ok();
    if (!v.is_dict()) return error("items: can only get item pairs from a mapping, not {}", type_name(v));
    for (const auto& [key, value] : v.as_dict().entries) out.push_back(Value::tuple({key, value}));
    return Status::ok();
  });
}

Result<Value> f_list(const Value& v, const CallArgs& args, const Options&) {
  STRATA_RETURN_IF_ERROR(no_args(args, "list"));
  STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  return Value::list(std::move(items));
}

Result<Value> f_reverse(const Value& v, const CallArgs& args, const Options&) {
  STRATA_RETURN_IF_ERROR(no_args(args, "reverse"));
  if (v.is_string()) {
    std::vector<Value> chars = string_chars(v.as_string());
    std::string out;
    for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->as_string();
    return same_safety(v, std::move(out));
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  std::reverse(items.begin(), items.end());
  // reversed() of a generator fails, so jinja2 falls back to a reversed list; anything else gives an
  // iterator (single-use, always true).
  if (v.is_generator()) return Value::list(std::move(items));
  return Value::generator("reverseiterator", std::move(items));
}

Result<Value> f_sort(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"reverse", "case_sensitive", "attribute"}, "sort"));
  STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  STRATA_ASSIGN_OR_RETURN(std::vector<Value> keys, sort_keys(items, a[2], a[1].truthy()));
  STRATA_ASSIGN_OR_RETURN(std::vector<size_t> order, sorted_order(keys, a[0].truthy()));
  std::vector<Value> out;
  for (size_t i : order) out.push_back(items[i]);
  return Value::list(std::move(out));
}

Result<Value> f_dictsort(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"case_sensitive", "by", "reverse"}, "dictsort"));
  if (!v.is_dict()) return error("dictsort: expected a mapping, got {}", type_name(v));
  const std::string by = a[1].is_undefined() ? "key" : text_of(a[1]);
  if (by != "key" && by != "value") return error("dictsort: you can only sort by either \"key\" or \"value\"");
  std::vector<Value> pairs;
  std::vector<Value> keys;
  for (const auto& [key, value] : v.as_dict().entries) {
    pairs.push_back(Value::tuple({key, value}));
    keys.push_back(a[0].truthy() ? (by == "key" ? key : value) : ignore_case(by == "key" ? key : value));
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<size_t> order, sorted_order(keys, a[2].truthy()));
  std::vector<Value> out;
  for (size_t i : order) out.push_back(pairs[i]);
  return Value::list(std::move(out));
}

// A hashable key with Python's equality (1 == 1.0 == True), or an error for unhashable values.
Result<std::string> hash_key(const Value& v) {
  char tag = 'o';
  std::string body;
  if (v.is_number()) {
    const double d = v.as_float();
    if (v.is_integral() || (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18)) {
      tag = 'n';
      body = std::to_string(v.is_integral() ? v.as_int() : static_cast<int64_t>(d));
    } else {
      tag = 'f';
      body = to_repr(v);
    }
  } else if (v.is_string()) {
    tag = 's';
    body = v.as_string();
  } else if (v.is_list() || v.is_dict() || v.is_namespace()) {
    return error("unhashable type: '{}'", type_name(v));
  } else {
    body = to_repr(v);
  }
  body.push_back(tag);  // the tag goes last: appending cannot overlap, prepending trips GCC 12's -Wrestrict
  return body;
}

Result<Value> f_unique(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"case_sensitive", "attribute"}, "unique"));
  return lazy("do_unique", [&](std::vector<Value>& out) -> Status {
    STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
    STRATA_ASSIGN_OR_RETURN(std::vector<Value> keys, sort_keys(items, a[1], a[0].truthy()));
    std::unordered_set<std::string> seen;
    for (size_t i = 0; i < items.size(); ++i) {
      STRATA_ASSIGN_OR_RETURN(std::string key, hash_key(keys[i]));
      if (seen.insert(std::move(key)).second) out.push_back(items[i]);
    }
    return Status::ok();
  });
}

Result<Value> min_or_max(const Value& v, const CallArgs& args, bool want_max) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"case_sensitive", "attribute"}, want_max ? "max" : "min"));
  STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  STRATA_ASSIGN_OR_RETURN(std::vector<Value> keys, sort_keys(items, a[1], a[0].truthy()));
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    STRATA_ASSIGN_OR_RETURN(int c, compare(keys[i], keys[best]));
    if (want_max ? c == 1 : c == -1) best = i;
  }
  return items[best];
}
Result<Value> f_min(const Value& v, const CallArgs& args, const Options&) { return min_or_max(v, args, false); }
Result<Value> f_max(const Value& v, const CallArgs& args, const Options&) { return min_or_max(v, args, true); }

Result<Value> f_sum(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"attribute", "start"}, "sum"));
  STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  Value total = a[1].is_undefined() ? Value(int64_t{0}) : a[1];
  for (const Value& item : items) {
    Value x = item;
    if (!a[0].is_undefined() && !a[0].is_none()) {
      STRATA_ASSIGN_OR_RETURN(x, lookup_path(item, a[0]));
    }
    STRATA_ASSIGN_OR_RETURN(total, apply_binary(BinaryOp::Add, total, x));
  }
  return total;
}

Result<Value> f_abs(const Value& v, const CallArgs&, const Options&) {
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) return error("integer overflow in abs");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  return error("bad operand type for abs(): '{}'", type_name(v));
}

// Python's int(str, base): optional sign, whitespace around, underscores between digits, 0x/0o/0b prefixes.
std::optional<int64_t> parse_python_int(const std::string& text, int base) {
  std::string s = strip(text, true, true);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) negative = s[0] == '-', s.erase(0, 1);
  if (s.size() > 2 && s[0] == '0') {
    const char p = static_cast<char>(s[1] | 0x20);
    if ((p == 'x' && (base == 16 || base == 0)) || (p == 'o' && (base == 8 || base == 0)) ||
        (p == 'b' && (base == 2 || base == 0))) {
      base = p == 'x' ? 16 : (p == 'o' ? 8 : 2);
      s.erase(0, 2);
    }
  }
  if (base == 0) base = 10;
  if (s.empty() || s.front() == '_' || s.back() == '_' || s.find("__") != std::string::npos) return std::nullopt;
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  int64_t value = 0;
  for (char c : s) {
    const int lower = c | 0x20;
    const int d = (c >= '0' && c <= '9') ? c - '0' : (lower >= 'a' && lower <= 'z' ? lower - 'a' + 10 : 99);
    if (d >= base) return std::nullopt;
    if (__builtin_mul_overflow(value, base, &value) || __builtin_add_overflow(value, d, &value)) return std::nullopt;
  }
  return negative ? -value : value;
}

// Python's float(str): decimal and exponent forms, inf/nan, surrounding whitespace.
std::optional<double> parse_python_float(const std::string& text) {
  const std::string s = strip(text, true, true);
  if (s.empty()) return std::nullopt;
  const std::string lower = to_lower(s);
  for (const char* word : {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan", "+nan", "-nan"}) {
    if (lower == word) return std::strtod(lower.c_str(), nullptr);
  }
  if (s.find_first_not_of("0123456789+-.eE_") != std::string::npos) return std::nullopt;
  std::string digits = s;
  digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
  char* end = nullptr;
  const double d = std::strtod(digits.c_str(), &end);
  if (end != digits.c_str() + digits.size()) return std::nullopt;
  return d;
}

Result<Value> f_int(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"default", "base"}, "int"));
  const Value fallback = a[0].is_undefined() ? Value(int64_t{0}) : a[0];
  STRATA_ASSIGN_OR_RETURN(int64_t base, int_param(a[1], 10, "int base"));
  if (v.is_undefined()) return error("{}", v.undefined_hint().empty() ? "value is undefined" : v.undefined_hint());
  if (v.is_integral()) return Value(v.as_int());
  if (v.is_float()) {
    const double d = v.as_float();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
    return Value(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    if (std::optional<int64_t> i = parse_python_int(v.as_string(), static_cast<int>(base))) return Value(*i);
    if (std::optional<double> d = parse_python_float(v.as_string()); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) {
      return Value(static_cast<int64_t>(*d));
    }
  }
  return fallback;
}

Result<Value> f_float(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"default"}, "float"));
  if (v.is_undefined()) return error("{}", v.undefined_hint().empty() ? "value is undefined" : v.undefined_hint());
  if (v.is_number()) return Value(v.as_float());
  if (v.is_string()) {
    if (std::optional<double> d = parse_python_float(v.as_string())) return Value(*d);
  }
  return a[0].is_undefined() ? Value(0.0) : a[0];
}

Result<Value> f_round(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"precision", "method"}, "round"));
  STRATA_ASSIGN_OR_RETURN(int64_t precision, int_param(a[0], 0, "round precision"));
  const std::string method = a[1].is_undefined() ? "common" : text_of(a[1]);
  if (method != "common" && method != "ceil" && method != "floor")
    return error("round: method must be common, ceil or floor");
  if (!v.is_number()) return error("round: expected a number, got {}", type_name(v));
  if (precision < -300 || precision > 300) return error("round: precision out of range");
  if (method == "common" && v.is_integral() && precision >= 0) return Value(v.as_int());
  const double x = v.as_float();
  if (method == "common") {
    // Python rounds the exact binary value half-to-even; %.*f does the same for precision >= 0.
    if (precision >= 0) {
      char buf[512];
      std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(precision), x);
      return Value(std::strtod(buf, nullptr));
    }
    const double scale = std::pow(10.0, static_cast<double>(-precision));
    return Value(std::nearbyint(x / scale) * scale);
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  return Value((method == "ceil" ? std::ceil(x * scale) : std::floor(x * scale)) / scale);
}

Result<Value> f_indent(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"width", "first", "blank"}, "indent"));
  std::string pad = "    ";
  if (a[0].is_string())
    pad = a[0].as_string();
  else if (a[0].is_integral())
    pad = std::string(static_cast<size_t>(std::clamp<int64_t>(a[0].as_int(), 0, 1024)), ' ');
  // jinja2 appends "\n" to the value itself, so anything but a string fails there.
  if (!v.is_string()) return error("indent: expected a string, got {}", type_name(v));
  std::vector<std::string> lines = split_on(v.as_string(), "\n", -1);  // text + "\n" then splitlines()
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += '\n';
    if (i > 0 && (a[2].truthy() || !lines[i].empty())) out += pad;
    out += lines[i];
    if (out.size() > kMaxStringBytes) return error("indent: result too large");
  }
  if (a[1].truthy()) out = pad + out;
  return Value(std::move(out));
}

Result<Value> f_center(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"width"}, "center"));
  STRATA_ASSIGN_OR_RETURN(int64_t width, int_param(a[0], 80, "center width"));
  std::optional<Value> method = find_method(Value(text_of(v)), "center");
  return method->as_callable().fn(CallArgs{{Value(width)}, {}});
}

Result<Value> f_wordcount(const Value& v, const CallArgs&, const Options&) {
  // Words are runs of letters, digits and underscores.
  const std::string s = text_of(v);
  int64_t n = 0;
  bool in_word = false;
  for (size_t pos = 0; pos < s.size();) {
    const CodePoint c = decode_at(s, pos);
    const bool word = c.value == '_' || (c.value >= '0' && c.value <= '9') || (c.value >= 'a' && c.value <= 'z') ||
                      (c.value >= 'A' && c.value <= 'Z') ||
                      (c.value >= 0xAA && !is_space(c.value) && c.value != 0xD7 && c.value != 0xF7 && c.value != 0xBB &&
                       c.value != 0xAB);
    if (word && !in_word) ++n;
    in_word = word;
    pos += c.length;
  }
  return Value(n);
}

Result<Value> f_escape(const Value& v, const CallArgs&, const Options&) {
  return v.is_markup() ? v : Value::markup(html_escape(text_of(v)));
}

Result<Value> f_safe(const Value& v, const CallArgs&, const Options&) { return Value::markup(text_of(v)); }

Result<Value> f_attr(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"name"}, "attr"));
  if (v.is_undefined()) return error("{}", v.undefined_hint());
  const std::string name = text_of(a[0]);
  if (std::optional<Value> method = find_method(v, name)) return *method;
  if (v.is_namespace()) {
    if (const Value* x = v.as_dict().find(std::string_view(name))) return *x;
  }
  return Value::undefined(fmt::format("'{} object' has no attribute '{}'", type_name(v), name));
}

Result<Value> f_batch(const Value& v, const CallArgs& args, const Options&) {
  STRATA_ASSIGN_OR_RETURN(Args a, bind_args(args, {"linecount", "fill_with"}, "batch"));
  return lazy("do_batch", [&](std::vector<Value>& out) -> Status {
    STRATA_ASSIGN_OR_RETURN(int64_t n, int_param(a[0], 0, "batch linecount"));
    if (n <= 0) return error("batch: linecount must be positive");
    STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
    for (size_t i = 0; i < items.size(); i += static_cast<size_t>(n)) {
      std::vector<Value> row(
          items.begin() + static_cast<ptrdiff_t>(i),
          items.begin() + static_cast<ptrdiff_t>(std::min(items.size(), i + static_cast<size_t>(n))));
      while (!a[1].is_undefined() && !a[1].is_none() && static_cast<int64_t>(row.size()) < n) row.push_back(a[1]);
      out.push_back(Value::list(std::move(row)));
    }
    return Status::ok();
  });
}

Result<Value> f_map(const Value& v, const CallArgs& args, const Options& options) {
  return lazy("sync_do_map", [&](std::vector<Value>& out) -> Status {
    if (!v.truthy()) return Status::ok();
    STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
    if (args.positional.empty()) {
      Value attribute;
      Value fallback;
      for (const auto& [key, value] : args.keyword) {
        if (key == "attribute") {
          attribute = value;
        } else if (key == "default") {
          fallback = value;
        } else {
          return error("map: unexpected keyword argument '{}'", key);
        }
      }
      if (attribute.is_undefined()) return error("map requires a filter argument");
      for (const Value& item : items) {
        STRATA_ASSIGN_OR_RETURN(Value x, lookup_path(item, attribute));
        out.push_back(x.is_undefined() && !fallback.is_undefined() && !fallback.is_none() ? fallback : x);
      }
      return Status::ok();
    }
    const std::string name = text_of(args.positional[0]);
    const FilterFn filter = find_filter(name);
    if (!filter) return error("no filter named '{}' found", name);
    CallArgs rest{{args.positional.begin() + 1, args.positional.end()}, args.keyword};
    for (const Value& item : items) {
      STRATA_ASSIGN_OR_RETURN(Value x, filter(item, rest, options));
      out.push_back(std::move(x));
    }
    return Status::ok();
  });
}

// select/reject/selectattr/rejectattr share this: keep items whose (attribute's) test result == keep.
Result<Value> select_items(const Value& v, const CallArgs& args, const Options& options, bool keep, bool by_attribute) {
  return lazy("select_or_reject", [&](std::vector<Value>& out) -> Status {
    if (!v.truthy()) return Status::ok();
    STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
    size_t next = 0;
    Value attribute;
    if (by_attribute) {
      if (args.positional.empty()) return error("missing parameter for attribute name");
      attribute = args.positional[next++];
    }
    TestFn test = nullptr;
    if (next < args.positional.size()) {
      const std::string name = text_of(args.positional[next++]);
      test = find_test(name);
      if (!test) return error("no test named '{}' found", name);
    }
    CallArgs rest{{args.positional.begin() + static_cast<ptrdiff_t>(next), args.positional.end()}, args.keyword};
    for (const Value& item : items) {
      Value subject = item;
      if (by_attribute) {
        STRATA_ASSIGN_OR_RETURN(subject, lookup_path(item, attribute));
      }
      bool pass = subject.truthy();
      if (test) {
        STRATA_ASSIGN_OR_RETURN(pass, test(subject, rest, options));
      }
      if (pass == keep) out.push_back(item);
    }
    return Status::ok();
  });
}
Result<Value> f_select(const Value& v, const CallArgs& a, const Options& o) {
  return select_items(v, a, o, true, false);
}
Result<Value> f_reject(const Value& v, const CallArgs& a, const Options& o) {
  return select_items(v, a, o, false, false);
}
Result<Value> f_selectattr(const Value& v, const CallArgs& a, const Options& o) {
  return select_items(v, a, o, true, true);
}
Result<Value> f_rejectattr(const Value& v, const CallArgs& a, const Options& o) {
  return select_items(v, a, o, false, true);
}

// Filters that take no arguments refuse some, as Python's call would.
template <FilterFn F>
Result<Value> no_arguments(const Value& v, const CallArgs& args, const Options& options) {
  STRATA_RETURN_IF_ERROR(no_args(args, "filter"));
  return F(v, args, options);
}

struct NamedFilter {
  std::string_view name;
  FilterFn fn;
};
constexpr NamedFilter kFilters[] = {
    {"abs", no_arguments<f_abs>},
    {"attr", f_attr},
    {"batch", f_batch},
    {"capitalize", no_arguments<f_capitalize>},
    {"center", f_center},
    {"count", no_arguments<f_length>},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", no_arguments<f_escape>},
    {"escape", no_arguments<f_escape>},
    {"first", f_first},
    {"float", f_float},
    {"indent", f_indent},
    {"int", f_int},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", no_arguments<f_length>},
    {"list", f_list},
    {"lower", no_arguments<f_lower>},
    {"map", f_map},
    {"max", f_max},
    {"min", f_min},
    {"reject", f_reject},
    {"rejectattr", f_rejectattr},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"round", f_round},
    {"safe", no_arguments<f_safe>},
    {"select", f_select},
    {"selectattr", f_selectattr},
    {"sort", f_sort},
    {"string", no_arguments<f_string>},
    {"sum", f_sum},
    {"title", no_arguments<f_title>},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"unique", f_unique},
    {"upper", no_arguments<f_upper>},
    {"wordcount", no_arguments<f_wordcount>},
};

}  // namespace

FilterFn find_filter(std::string_view name) {
  for (const NamedFilter& f : kFilters) {
    if (f.name == name) return f.fn;
  }
  return nullptr;
}

}  // namespace strata::jinja
