// jinja/value.cc: the template engine's value type, equality, ordering, str/repr and JSON.
#include "jinja/value.h"

#include <algorithm>
#include <cmath>
#include <compare>

#include "core/check.h"
#include "jinja/string.h"

namespace strata::jinja {

namespace {

// Containers printed deeper than this (only reachable through a namespace that holds itself) print as
// "..." instead of recursing without end.
constexpr int kMaxPrintDepth = 64;

uint32_t items_depth(const std::vector<Value>& items) {
  uint32_t d = 0;
  for (const Value& v : items) d = std::max(d, v.depth());
  return d + 1;
}

uint32_t entries_depth(const Dict& dict) {
  uint32_t d = 0;
  for (const auto& [k, v] : dict.entries) d = std::max({d, k.depth(), v.depth()});
  return d + 1;
}

}  // namespace

Value::~Value() {
  if (kind_ < Kind::List || kind_ == Kind::Callable) return;  // nothing nested that could recurse
  // Children this value alone holds are moved onto a worklist and freed one level at a time.
  std::vector<Value> pending;
  take_items(data_, pending);
  while (!pending.empty()) {
    Value v = std::move(pending.back());
    pending.pop_back();
    take_items(v.data_, pending);
  }
}

void Value::take_items(Data& data, std::vector<Value>& out) {
  // use_count() == 1: no other owner exists, so no other thread can reach these items either.
  if (auto* list = std::get_if<std::shared_ptr<std::vector<Value>>>(&data)) {
    if (*list && list->use_count() == 1) {
      for (Value& v : **list)
        if (v.depth_ > 0) out.push_back(std::move(v));
      (*list)->clear();
    }
  } else if (auto* dict = std::get_if<std::shared_ptr<Dict>>(&data)) {
    if (*dict && dict->use_count() == 1) {
      for (auto& [k, v] : (*dict)->entries) {
        if (k.depth_ > 0) out.push_back(std::move(k));
        if (v.depth_ > 0) out.push_back(std::move(v));
      }
      (*dict)->entries.clear();
    }
  } else if (auto* gen = std::get_if<std::shared_ptr<Generator>>(&data)) {
    if (*gen && gen->use_count() == 1) {
      for (Value& v : (*gen)->items)
        if (v.depth_ > 0) out.push_back(std::move(v));
      (*gen)->items.clear();
    }
  }
}

Value Value::generator(std::string name, std::vector<Value> items, Status error) {
  auto state = std::make_shared<Generator>();
  state->name = std::move(name);
  state->items = std::move(items);
  state->error = std::move(error);
  const uint32_t depth = items_depth(state->items);
  return Value(Kind::Generator, std::move(state), depth);
}

Generator& Value::generator_state() const {
  STRATA_CHECK(kind_ == Kind::Generator);
  return *std::get<std::shared_ptr<Generator>>(data_);
}

Value Value::undefined(std::string hint) {
  return Value(Kind::Undefined, std::make_shared<const std::string>(std::move(hint)));
}
Value Value::markup(std::string s) {
  Value v(std::move(s));
  v.markup_ = true;
  return v;
}
Value Value::none() { return Value(Kind::None, std::monostate{}); }
Value Value::list(std::vector<Value> items) {
  const uint32_t depth = items_depth(items);
  return Value(Kind::List, std::make_shared<std::vector<Value>>(std::move(items)), depth);
}
Value Value::tuple(std::vector<Value> items) {
  const uint32_t depth = items_depth(items);
  return Value(Kind::Tuple, std::make_shared<std::vector<Value>>(std::move(items)), depth);
}
Value Value::dict(Dict d) {
  const uint32_t depth = entries_depth(d);
  return Value(Kind::Dict, std::make_shared<Dict>(std::move(d)), depth);
}
Value Value::dict(std::initializer_list<std::pair<std::string, Value>> entries) {
  Dict d;
  for (const auto& [key, value] : entries) d.set(Value(key), value);
  return dict(std::move(d));
}
Value Value::namespace_object(Dict d) { return Value(Kind::Namespace, std::make_shared<Dict>(std::move(d)), 1); }
Value Value::function(std::string name, NativeFunction fn) {
  return Value(Kind::Callable, std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)}));
}

bool Value::as_bool() const {
  STRATA_CHECK(kind_ == Kind::Bool);
  return std::get<bool>(data_);
}
int64_t Value::as_int() const {
  if (kind_ == Kind::Bool) return std::get<bool>(data_) ? 1 : 0;
  STRATA_CHECK(kind_ == Kind::Int);
  return std::get<int64_t>(data_);
}
double Value::as_float() const {
  if (kind_ == Kind::Float) return std::get<double>(data_);
  return static_cast<double>(as_int());
}
const std::string& Value::as_string() const {
  STRATA_CHECK(kind_ == Kind::String);
  return *std::get<std::shared_ptr<const std::string>>(data_);
}
const std::vector<Value>& Value::as_list() const {
  STRATA_CHECK(is_list());
  return *std::get<std::shared_ptr<std::vector<Value>>>(data_);
}
const Dict& Value::as_dict() const {
  STRATA_CHECK(kind_ == Kind::Dict || kind_ == Kind::Namespace);
  return *std::get<std::shared_ptr<Dict>>(data_);
}
Dict& Value::namespace_attributes() const {
  STRATA_CHECK(kind_ == Kind::Namespace);
  return *std::get<std::shared_ptr<Dict>>(data_);
}
const Callable& Value::as_callable() const {
  STRATA_CHECK(kind_ == Kind::Callable);
  return *std::get<std::shared_ptr<const Callable>>(data_);
}
const std::string& Value::undefined_hint() const {
  STRATA_CHECK(kind_ == Kind::Undefined);
  static const std::string kNoHint;
  const auto* p = std::get_if<std::shared_ptr<const std::string>>(&data_);
  return p ? **p : kNoHint;
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return as_bool();
    case Kind::Int: return as_int() != 0;
    case Kind::Float: return as_float() != 0.0;
    case Kind::String: return !as_string().empty();
    case Kind::List:
    case Kind::Tuple: return !as_list().empty();
    case Kind::Dict: return as_dict().size() != 0;
    case Kind::Namespace:
    case Kind::Callable:
    case Kind::Generator: return true;
  }
  return false;
}

bool Value::same_object(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::Bool: return as_bool() == other.as_bool();
    case Kind::Int: return as_int() == other.as_int();  // CPython caches small ints; close enough
    case Kind::Float: return false;
    default: break;
  }
  return data_ == other.data_;
}

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k.is_string() && k.as_string() == key) return &v;
  }
  return nullptr;
}

const Value* Dict::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  for (const auto& [k, v] : entries) {
    if (equals(k, key)) return &v;
  }
  return nullptr;
}

void Dict::set(Value key, Value value) {
  for (auto& [k, v] : entries) {
    if (equals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() == b.as_int();
    return a.as_float() == b.as_float();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::String: return a.as_string() == b.as_string();
    case Kind::List:
    case Kind::Tuple: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equals(x[i], y[i])) return false;
      }
      return true;
    }
    case Kind::Dict: {
      const Dict& x = a.as_dict();
      const Dict& y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [key, value] : x.entries) {
        const Value* other = y.find(key);
        if (!other || !equals(value, *other)) return false;
      }
      return true;
    }
    default: return a.same_object(b);
  }
}

Result<int> compare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int());
    const double x = a.as_float();
    const double y = b.as_float();
    if (std::isnan(x) || std::isnan(y)) return 2;  // unordered: every comparison is false
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : (c > 0);
  }
  if (a.is_list() && a.kind() == b.kind()) {
    const auto& x = a.as_list();
    const auto& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals(x[i], y[i])) return compare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size());
  }
  return error("'<' not supported between instances of '{}' and '{}'", type_name(a), type_name(b));
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return "Namespace";
    case Kind::Callable: return "function";
    case Kind::Generator: return "generator";
  }
  return "object";
}

namespace {

void append_repr(std::string& out, const Value& v, int depth);

void append_items_repr(std::string& out, const std::vector<Value>& items, int depth) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    append_repr(out, items[i], depth + 1);
  }
}

void append_dict_repr(std::string& out, const Dict& d, int depth) {
  out += '{';
  for (size_t i = 0; i < d.entries.size(); ++i) {
    if (i) out += ", ";
    append_repr(out, d.entries[i].first, depth + 1);
    out += ": ";
    append_repr(out, d.entries[i].second, depth + 1);
  }
  out += '}';
}

void append_repr(std::string& out, const Value& v, int depth) {
  if (out.size() > kMaxStringBytes) return;  // already too large to keep; the caller reports it
  if (depth > kMaxPrintDepth) {
    out += "...";
    return;
  }
  switch (v.kind()) {
    case Kind::Undefined: out += "Undefined"; return;
    case Kind::String:
      if (v.is_markup()) out += "Markup(";
      out += repr_string(v.as_string());
      if (v.is_markup()) out += ')';
      return;
    case Kind::List:
      out += '[';
      append_items_repr(out, v.as_list(), depth);
      out += ']';
      return;
    case Kind::Tuple:
      out += '(';
      append_items_repr(out, v.as_list(), depth);
      if (v.as_list().size() == 1) out += ',';
      out += ')';
      return;
    case Kind::Dict: append_dict_repr(out, v.as_dict(), depth); return;
    case Kind::Namespace:
      out += "<Namespace ";
      append_dict_repr(out, v.as_dict(), depth);
      out += '>';
      return;
    default: out += to_str(v); return;
  }
}

}  // namespace

std::string to_str(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined: return "";
    case Kind::None: return "None";
    case Kind::Bool: return v.as_bool() ? "True" : "False";
    case Kind::Int: return std::to_string(v.as_int());
    case Kind::Float: return format_float(v.as_float());
    case Kind::String: return v.as_string();
    case Kind::Callable: return "<function " + v.as_callable().name + ">";
    case Kind::Generator: return "<generator object " + v.generator_state().name + ">";
    default: {
      std::string out;
      append_repr(out, v, 0);
      return out;
    }
  }
}

std::string to_repr(const Value& v) {
  std::string out;
  append_repr(out, v, 0);
  return out;
}

namespace {

class JsonWriter {
 public:
  explicit JsonWriter(const JsonOptions& options) : options_(options) {
    const bool indented = options.indent.has_value();
    item_separator_ = options.item_separator.value_or(indented ? "," : ", ");
    key_separator_ = options.key_separator.value_or(": ");
  }

  Status write(const Value& v, int level) {
    if (level > kMaxPrintDepth) return error("tojson: value nested too deeply");
    if (out_.size() > kMaxStringBytes) return error("tojson: output too large");
    switch (v.kind()) {
      case Kind::None: out_ += "null"; return Status::ok();
      case Kind::Bool: out_ += v.as_bool() ? "true" : "false"; return Status::ok();
      case Kind::Int: out_ += std::to_string(v.as_int()); return Status::ok();
      case Kind::Float: out_ += float_text(v.as_float()); return Status::ok();
      case Kind::String: append_json_string(out_, v.as_string(), options_.ensure_ascii); return Status::ok();
      case Kind::List:
      case Kind::Tuple: return write_list(v.as_list(), level);
      case Kind::Dict: return write_dict(v.as_dict(), level);
      default: return error("Object of type {} is not JSON serializable", type_name(v));
    }
  }

  std::string take() { return std::move(out_); }

 private:
  static std::string float_text(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    return format_float(d);
  }

  // Before an item: the separator (after the first) and, when indenting, a newline and the indent.
  void open_item(bool first, int level) {
    if (!first) out_ += item_separator_;
    newline(level);
  }
  void newline(int level) {
    if (!options_.indent) return;
    out_ += '\n';
    for (int i = 0; i < level; ++i) out_ += *options_.indent;
  }

  Status write_list(const std::vector<Value>& items, int level) {
    if (items.empty()) {
      out_ += "[]";
      return Status::ok();
    }
    out_ += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      open_item(i == 0, level + 1);
      STRATA_RETURN_IF_ERROR(write(items[i], level + 1));
    }
    newline(level);
    out_ += ']';
    return Status::ok();
  }

  static Result<std::string> key_text(const Value& key) {
    switch (key.kind()) {
      case Kind::String: return key.as_string();
      case Kind::None: return std::string("null");
      case Kind::Bool: return std::string(key.as_bool() ? "true" : "false");
      case Kind::Int: return std::to_string(key.as_int());
      case Kind::Float: return float_text(key.as_float());
      default: return error("keys must be str, int, float, bool or None, not {}", type_name(key));
    }
  }

  Status write_dict(const Dict& d, int level) {
    if (d.size() == 0) {
      out_ += "{}";
      return Status::ok();
    }
    std::vector<const std::pair<Value, Value>*> order;
    for (const auto& entry : d.entries) order.push_back(&entry);
    if (options_.sort_keys) {
      Status failed;
      std::stable_sort(order.begin(), order.end(), [&](const auto* x, const auto* y) {
        Result<int> c = compare(x->first, y->first);
        if (!c.is_ok()) {
          failed = c.status();
          return false;
        }
        return *c < 0;
      });
      STRATA_RETURN_IF_ERROR(failed);
    }
    out_ += '{';
    for (size_t i = 0; i < order.size(); ++i) {
      open_item(i == 0, level + 1);
      STRATA_ASSIGN_OR_RETURN(std::string key, key_text(order[i]->first));
      append_json_string(out_, key, options_.ensure_ascii);
      out_ += key_separator_;
      STRATA_RETURN_IF_ERROR(write(order[i]->second, level + 1));
    }
    newline(level);
    out_ += '}';
    return Status::ok();
  }

  const JsonOptions& options_;
  std::string item_separator_;
  std::string key_separator_;
  std::string out_;
};

}  // namespace

Result<std::string> to_json(const Value& v, const JsonOptions& options) {
  JsonWriter writer(options);
  STRATA_RETURN_IF_ERROR(writer.write(v, 0));
  std::string text = writer.take();
  if (!options.html_safe) return text;
  std::string safe;
  safe.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<': safe += "\\u003c"; break;
      case '>': safe += "\\u003e"; break;
      case '&': safe += "\\u0026"; break;
      case '\'': safe += "\\u0027"; break;
      default: safe += c;
    }
  }
  return safe;
}

}  // namespace strata::jinja
