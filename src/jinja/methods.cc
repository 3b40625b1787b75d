// jinja/methods.cc: Python str/dict/list methods for templates (see jinja/methods.h).
#include "jinja/methods.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "jinja/builtins.h"
#include "jinja/string.h"

namespace strata::jinja {

namespace {

constexpr std::string_view kStringMethods[] = {
    "strip",   "lstrip", "rstrip", "split",   "rsplit",     "splitlines", "startswith",   "endswith",
    "replace", "upper",  "lower",  "title",   "capitalize", "find",       "rfind",        "index",
    "rindex",  "count",  "join",   "isdigit", "isalpha",    "isalnum",    "isspace",      "islower",
    "isupper", "center", "ljust",  "rjust",   "zfill",      "format",     "removeprefix", "removesuffix"};
constexpr std::string_view kDictMethods[] = {"items", "keys", "values", "get", "copy"};
constexpr std::string_view kDictMutators[] = {"clear", "pop", "popitem", "setdefault", "update"};
constexpr std::string_view kListMethods[] = {"index", "count"};
constexpr std::string_view kListMutators[] = {"append", "extend",  "insert", "pop",
                                              "remove", "reverse", "sort",   "clear"};

template <size_t N>
bool contains(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

Result<std::string> string_arg(const Value& v, std::string_view method) {
  if (!v.is_string()) return error("{}() argument must be str, not {}", method, type_name(v));
  return v.as_string();
}

// An optional int argument (count, maxsplit, width); undefined or None gives `fallback`.
Result<int64_t> int_arg(const Value& v, int64_t fallback, std::string_view method) {
  if (v.is_undefined() || v.is_none()) return fallback;
  if (!v.is_integral()) return error("{}() expected an integer, got {}", method, type_name(v));
  return v.as_int();
}

Value strings_to_list(std::vector<std::string> parts) {
  std::vector<Value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.emplace_back(std::move(p));
  return Value::list(std::move(out));
}

// Byte offset of a match -> code point index, as Python reports positions.
int64_t code_point_index(const std::string& s, size_t byte_offset) {
  return static_cast<int64_t>(code_point_count(std::string_view(s).substr(0, byte_offset)));
}

bool char_class_all(const std::string& s, bool (*pred)(char32_t)) {
  if (s.empty()) return false;
  for (size_t pos = 0; pos < s.size();) {
    const CodePoint c = decode_at(s, pos);
    if (!pred(c.value)) return false;
    pos += c.length;
  }
  return true;
}
bool is_digit_cp(char32_t c) { return c >= '0' && c <= '9'; }
bool is_alpha_cp(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c != 0xD7 && c != 0xF7);
}
bool is_alnum_cp(char32_t c) { return is_digit_cp(c) || is_alpha_cp(c); }

// Python's str.format for plain fields: "{}", "{0}", "{name}", "{{" and "}}"; format specs are refused.
Result<Value> format_string(const std::string& fmt_text, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt_text.size(); ++i) {
    const char c = fmt_text[i];
    if (c == '}') {
      if (i + 1 < fmt_text.size() && fmt_text[i + 1] == '}')
        ++i;
      else
        return error("format(): single '}}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < fmt_text.size() && fmt_text[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = fmt_text.find('}', i);
    if (close == std::string::npos) return error("format(): single '{{' encountered in format string");
    const std::string field = fmt_text.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos) return error("format(): format specs are not supported");
    const Value* v = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      const size_t index = field.empty() ? auto_index++ : std::stoul(field.substr(0, 9));
      if (index < args.positional.size()) v = &args.positional[index];
      if (!v) return error("format(): replacement index {} out of range", index);
    } else {
      for (const auto& [name, value] : args.keyword) {
        if (name == field) v = &value;
      }
      if (!v) return error("format(): no keyword argument '{}'", field);
    }
    out += to_str(*v);
    if (out.size() > kMaxStringBytes) return error("format(): result too large");
    i = close;
  }
  return Value(std::move(out));
}

// One printf conversion of `v` with the given flags/width/precision; strings pad by code points.
Result<std::string> printf_one(char type, const std::string& flags, int width, int precision, const Value& v) {
  std::string body;
  if (type == 's' || type == 'r' || type == 'a') {
    body = type == 's' ? to_str(v) : to_repr(v);
    if (precision >= 0) {
      const std::vector<size_t> offsets = code_point_offsets(body);
      if (static_cast<size_t>(precision) + 1 < offsets.size()) body.resize(offsets[static_cast<size_t>(precision)]);
    }
  } else if (type == 'c') {
    if (v.is_string() && code_point_count(v.as_string()) == 1) {
      body = v.as_string();
    } else if (v.is_integral() && v.as_int() >= 0 && v.as_int() <= 0x10FFFF) {
      append_utf8(body, static_cast<char32_t>(v.as_int()));
    } else {
      return error("%c requires an int or a single character");
    }
  } else {
    if (!v.is_number()) return error("%{} format: a real number is required, not {}", type, type_name(v));
    std::string spec = "%" + flags;
    if (width >= 0) spec += std::to_string(width);
    if (precision >= 0) spec += "." + std::to_string(precision);
    char buf[512];
    if (type == 'd' || type == 'i' || type == 'u' || type == 'x' || type == 'X' || type == 'o') {
      const double d = v.as_float();
      const int64_t i =
          v.is_integral() ? v.as_int() : (std::isfinite(d) && std::fabs(d) < 9.2e18 ? static_cast<int64_t>(d) : 0);
      if (!v.is_integral() && type != 'd' && type != 'i' && type != 'u') {
        return error("%{} format: an integer is required, not float", type);
      }
      spec += "ll";
      spec += (type == 'i' || type == 'u') ? 'd' : type;
      std::snprintf(buf, sizeof(buf), spec.c_str(), static_cast<long long>(i));
    } else {
      spec += type;
      std::snprintf(buf, sizeof(buf), spec.c_str(), v.as_float());
    }
    return std::string(buf);
  }
  const int64_t pad = width - static_cast<int64_t>(code_point_count(body));
  if (pad > 0) {
    const std::string fill(static_cast<size_t>(pad), ' ');
    body = flags.find('-') != std::string::npos ? body + fill : fill + body;
  }
  return body;
}

}  // namespace

Result<Value> printf_format(const std::string& text, const Value& args) {
  const bool tuple = args.kind() == Kind::Tuple;
  // Python treats any non-tuple object with __getitem__ (dict, list) as a mapping: no "not all
  // arguments converted" complaint for it.
  const bool mapping_like = args.is_dict() || args.kind() == Kind::List || args.is_undefined();
  const std::vector<Value> single{args};
  const std::vector<Value>& positional = tuple ? args.as_list() : single;
  size_t next = 0;
  bool used_key = false;
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (++i >= text.size()) return error("incomplete format");
    const Value* v = nullptr;
    if (text[i] == '(') {
      const size_t close = text.find(')', i);
      if (close == std::string::npos) return error("incomplete format key");
      if (!args.is_dict()) return error("format requires a mapping");
      v = args.as_dict().find(std::string_view(text).substr(i + 1, close - i - 1));
      if (!v) return error("KeyError: '{}'", text.substr(i + 1, close - i - 1));
      used_key = true;
      i = close + 1;
    }
    std::string flags;
    while (i < text.size() && std::string_view("-+ 0#").find(text[i]) != std::string_view::npos) flags += text[i++];
    int width = -1;
    int precision = -1;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && width < 100000)
      width = std::max(width, 0) * 10 + (text[i++] - '0');
    if (i < text.size() && text[i] == '.') {
      precision = 0;
      ++i;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9' && precision < 100000)
        precision = precision * 10 + (text[i++] - '0');
    }
    if (i >= text.size()) return error("incomplete format");
    const char type = text[i];
    if (type == '%') {
      out += '%';
      continue;
    }
    if (std::string_view("sradiufFeEgGxXoc").find(type) == std::string_view::npos) {
      return error("unsupported format character '{}'", type);
    }
    if (width > 4096 || precision > 4096) return error("format width or precision too large");
    if (!v) {
      if (next >= positional.size()) return error("not enough arguments for format string");
      v = &positional[next++];
    }
    STRATA_ASSIGN_OR_RETURN(std::string piece, printf_one(type, flags, width, precision, *v));
    out += piece;
    if (out.size() > kMaxStringBytes) return error("format: result too large");
  }
  if (!used_key && !mapping_like && next < positional.size())
    return error("not all arguments converted during string formatting");
  return Value(std::move(out));
}

namespace {

Result<Value> call_string_method(const std::string& s, std::string_view name, const CallArgs& args) {
  if (name == "format") return format_string(s, args);
  if (name == "split" || name == "rsplit") {
    STRATA_ASSIGN_OR_RETURN(std::vector<Value> a, bind_args(args, {"sep", "maxsplit"}, name));
    STRATA_ASSIGN_OR_RETURN(int64_t maxsplit, int_arg(a[1], -1, name));
    const bool from_right = name == "rsplit";
    if (a[0].is_undefined() || a[0].is_none()) return strings_to_list(split_whitespace(s, maxsplit, from_right));
    STRATA_ASSIGN_OR_RETURN(std::string sep, string_arg(a[0], name));
    if (sep.empty()) return error("empty separator");
    return strings_to_list(split_on(s, sep, maxsplit, from_right));
  }
  STRATA_ASSIGN_OR_RETURN(std::vector<Value> a, bind_args(args, {"a", "b", "c"}, name));
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool left = name != "rstrip";
    const bool right = name != "lstrip";
    if (a[0].is_undefined() || a[0].is_none()) return Value(strip(s, left, right));
    STRATA_ASSIGN_OR_RETURN(std::string chars, string_arg(a[0], name));
    return Value(strip(s, left, right, &chars));
  }
  if (name == "splitlines") {
    std::vector<std::string> lines;
    std::string line;
    for (size_t pos = 0; pos < s.size();) {
      const CodePoint c = decode_at(s, pos);
      const char32_t v = c.value;
      if (v == '\n' || v == '\r' || v == 0x0B || v == 0x0C || (v >= 0x1C && v <= 0x1E) || v == 0x85 || v == 0x2028 ||
          v == 0x2029) {
        if (v == '\r' && pos + 1 < s.size() && s[pos + 1] == '\n') ++pos;
        lines.push_back(std::move(line));
        line.clear();
      } else {
        line.append(s, pos, c.length);
      }
      pos += c.length;
    }
    if (!line.empty()) lines.push_back(std::move(line));
    return strings_to_list(std::move(lines));
  }
  if (name == "startswith" || name == "endswith") {
    std::vector<Value> candidates = a[0].kind() == Kind::Tuple ? a[0].as_list() : std::vector<Value>{a[0]};
    for (const Value& c : candidates) {
      STRATA_ASSIGN_OR_RETURN(std::string p, string_arg(c, name));
      const bool hit =
          p.size() <= s.size() &&
          (name == "startswith" ? s.compare(0, p.size(), p) == 0 : s.compare(s.size() - p.size(), p.size(), p) == 0);
      if (hit) return Value(true);
    }
    return Value(false);
  }
  if (name == "replace") {
    STRATA_ASSIGN_OR_RETURN(std::string old_text, string_arg(a[0], name));
    STRATA_ASSIGN_OR_RETURN(std::string new_text, string_arg(a[1], name));
    STRATA_ASSIGN_OR_RETURN(int64_t count, int_arg(a[2], -1, name));
    std::optional<std::string> out = replace(s, old_text, new_text, count, kMaxStringBytes);
    if (!out) return error("replace(): result too large");
    return Value(std::move(*out));
  }
  if (name == "upper") return Value(to_upper(s));
  if (name == "lower") return Value(to_lower(s));
  if (name == "title") return Value(title_method(s));
  if (name == "capitalize") return Value(capitalize(s));
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    STRATA_ASSIGN_OR_RETURN(std::string sub, string_arg(a[0], name));
    if (name == "count") {
      if (sub.empty()) return Value(static_cast<int64_t>(code_point_count(s) + 1));
      int64_t n = 0;
      for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
      return Value(n);
    }
    const size_t at = (name[0] == 'r') ? s.rfind(sub) : s.find(sub);
    if (at == std::string::npos) {
      if (name == "index" || name == "rindex") return error("substring not found");
      return Value(int64_t{-1});
    }
    return Value(code_point_index(s, at));
  }
  if (name == "join") {
    STRATA_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(a[0]));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string())
        return error("sequence item {}: expected str instance, {} found", i, type_name(items[i]));
      if (i) out += s;
      out += items[i].as_string();
      if (out.size() > kMaxStringBytes) return error("join(): result too large");
    }
    return Value(std::move(out));
  }
  if (name == "isdigit") return Value(char_class_all(s, is_digit_cp));
  if (name == "isalpha") return Value(char_class_all(s, is_alpha_cp));
  if (name == "isalnum") return Value(char_class_all(s, is_alnum_cp));
  if (name == "isspace") return Value(char_class_all(s, is_space));
  if (name == "islower") return Value(is_lower_string(s));
  if (name == "isupper") return Value(is_upper_string(s));
  if (name == "center" || name == "ljust" || name == "rjust" || name == "zfill") {
    STRATA_ASSIGN_OR_RETURN(int64_t width, int_arg(a[0], 0, name));
    std::string fill = " ";
    if (name == "zfill") fill = "0";
    if (!a[1].is_undefined() && name != "zfill") {
      STRATA_ASSIGN_OR_RETURN(fill, string_arg(a[1], name));
      if (code_point_count(fill) != 1)
        return error("{}(): the fill character must be exactly one character long", name);
    }
    const int64_t len = static_cast<int64_t>(code_point_count(s));
    if (width <= len) return Value(s);
    if (width > (int64_t{1} << 24)) return error("{}(): width too large", name);
    const int64_t margin = width - len;
    int64_t left = 0;
    if (name == "center") left = margin / 2 + (margin & width & 1);
    if (name == "rjust" || name == "zfill") left = margin;
    const auto pad = [&](int64_t n) {
      std::string p;
      for (int64_t i = 0; i < n; ++i) p += fill;
      return p;
    };
    if (name == "zfill" && !s.empty() && (s[0] == '-' || s[0] == '+'))
      return Value(s.substr(0, 1) + pad(left) + s.substr(1));
    return Value(pad(left) + s + pad(margin - left));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    STRATA_ASSIGN_OR_RETURN(std::string affix, string_arg(a[0], name));
    if (name == "removeprefix" && s.compare(0, affix.size(), affix) == 0) return Value(s.substr(affix.size()));
    if (name == "removesuffix" && affix.size() <= s.size() &&
        s.compare(s.size() - affix.size(), affix.size(), affix) == 0) {
      return Value(s.substr(0, s.size() - affix.size()));
    }
    return Value(s);
  }
  return error("str.{}() is not supported", name);
}

Result<Value> call_dict_method(const Value& obj, std::string_view name, const CallArgs& args) {
  STRATA_ASSIGN_OR_RETURN(std::vector<Value> a, bind_args(args, {"key", "default"}, name));
  const Dict& d = obj.as_dict();
  if (name == "get") {
    const Value* v = d.find(a[0]);
    return v ? *v : (a[1].is_undefined() ? Value::none() : a[1]);
  }
  if (name == "copy") return obj;
  std::vector<Value> out;
  for (const auto& [key, value] : d.entries) {
    if (name == "items") out.push_back(Value::tuple({key, value}));
    if (name == "keys") out.push_back(key);
    if (name == "values") out.push_back(value);
  }
  return Value::list(std::move(out));
}

Result<Value> call_list_method(const Value& obj, std::string_view name, const CallArgs& args) {
  STRATA_ASSIGN_OR_RETURN(std::vector<Value> a, bind_args(args, {"value"}, name));
  const auto& items = obj.as_list();
  int64_t count = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!equals(items[i], a[0])) continue;
    if (name == "index") return Value(static_cast<int64_t>(i));
    ++count;
  }
  if (name == "index") return error("{} is not in list", to_repr(a[0]));
  return Value(count);
}

}  // namespace

std::optional<Value> find_method(const Value& obj, std::string_view name) {
  const std::string method(name);
  if (obj.is_string() && contains(kStringMethods, name)) {
    return Value::function("str." + method, [obj, method](const CallArgs& args) {
      return call_string_method(obj.as_string(), method, args);
    });
  }
  if (obj.is_dict()) {
    if (contains(kDictMethods, name)) {
      return Value::function("dict." + method,
                             [obj, method](const CallArgs& args) { return call_dict_method(obj, method, args); });
    }
    if (contains(kDictMutators, name)) {
      return Value::undefined("access to attribute '" + method +
                              "' of 'dict' object is unsafe (templates are read-only)");
    }
  }
  if (obj.is_list()) {
    if (contains(kListMethods, name)) {
      return Value::function(type_name(obj) + "." + method,
                             [obj, method](const CallArgs& args) { return call_list_method(obj, method, args); });
    }
    if (obj.kind() == Kind::List && contains(kListMutators, name)) {
      return Value::undefined("access to attribute '" + method +
                              "' of 'list' object is unsafe (templates are read-only)");
    }
  }
  return std::nullopt;
}

}  // namespace strata::jinja
