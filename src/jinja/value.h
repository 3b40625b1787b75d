// jinja/value.h: the template engine's value, a small Python-like variant (undefined, None, bool,
// int, float, str, list, tuple, insertion-ordered dict, namespace, callable), and how Python prints it.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/status.h"

namespace strata::jinja {

// No string the engine builds may exceed this, and no list may hold more items: a template cannot make
// the process allocate without bound (doubling a string in a loop, repeating a list, printing a list
// that holds one big string a million times). Operations past the limits fail with an error.
inline constexpr size_t kMaxStringBytes = size_t{16} << 20;
inline constexpr size_t kMaxListItems = size_t{1} << 20;
// No value a template makes may nest deeper than this (a list in a list in ...): the evaluator refuses
// deeper ones, so equality, ordering and printing, which recurse, stay well inside the stack.
inline constexpr uint32_t kMaxValueDepth = 256;

enum class Kind : uint8_t {
  Undefined,
  None,
  Bool,
  Int,
  Float,
  String,
  List,
  Tuple,
  Dict,
  Namespace,
  Callable,
  Generator
};

class Value;
struct Dict;
struct Callable;
struct Generator;

// Arguments of a call: positional first, then keyword arguments in the order written.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

using NativeFunction = std::function<Result<Value>(const CallArgs&)>;

// Values are cheap to copy: strings, containers and callables are shared and immutable, except a
// namespace, whose attributes `{% set ns.x = ... %}` changes in place (as Python's jinja does).
class Value {
 public:
  Value() = default;  // undefined
  // Freeing a value frees what it alone holds without recursion, so a list nested a million deep
  // (which no template can make, but a caller could) costs no stack.
  ~Value();
  Value(const Value&) = default;
  Value(Value&&) noexcept = default;
  Value& operator=(const Value&) = default;
  Value& operator=(Value&&) noexcept = default;
  Value(bool b) : kind_(Kind::Bool), data_(b) {}
  Value(int v) : Value(static_cast<int64_t>(v)) {}
  Value(int64_t v) : kind_(Kind::Int), data_(v) {}
  Value(double v) : kind_(Kind::Float), data_(v) {}
  Value(std::string s) : kind_(Kind::String), data_(std::make_shared<const std::string>(std::move(s))) {}
  Value(std::string_view s) : Value(std::string(s)) {}
  Value(const char* s) : Value(std::string(s)) {}

  // An undefined value remembers why it is undefined, for the error when a template uses it.
  static Value undefined(std::string hint);
  static Value none();
  static Value list(std::vector<Value> items);
  static Value tuple(std::vector<Value> items);
  static Value dict(Dict d);
  static Value dict(std::initializer_list<std::pair<std::string, Value>> entries);
  static Value namespace_object(Dict d);
  static Value function(std::string name, NativeFunction fn);
  // What jinja2's lazy filters (map, select, items, unique, batch, reverse...) return: single-use,
  // always true, no len(). `items` are what consumption yields; a non-OK `error` is raised only when a
  // consumer reaches past them, as Python raises inside the generator when it is iterated.
  static Value generator(std::string name, std::vector<Value> items, Status error = Status::ok());
  // A "safe" string (jinja's Markup), made by |safe, |escape and jinja2's own |tojson. It prints as
  // itself, but `+` with a plain string HTML-escapes the plain side, exactly as Markup does in Python.
  static Value markup(std::string s);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_integral() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }  // Python's bool is an int
  bool is_number() const { return is_integral() || kind_ == Kind::Float; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_markup() const { return kind_ == Kind::String && markup_; }
  bool is_list() const { return kind_ == Kind::List || kind_ == Kind::Tuple; }  // list or tuple
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_namespace() const { return kind_ == Kind::Namespace; }
  bool is_callable() const { return kind_ == Kind::Callable; }
  bool is_generator() const { return kind_ == Kind::Generator; }

  // Accessors. REQUIRES: the matching kind (as_int and as_float also take a bool; as_float an int).
  bool as_bool() const;
  int64_t as_int() const;
  double as_float() const;
  const std::string& as_string() const;
  const std::vector<Value>& as_list() const;
  const Dict& as_dict() const;         // dict or namespace
  Dict& namespace_attributes() const;  // REQUIRES: is_namespace()
  const Callable& as_callable() const;
  Generator& generator_state() const;         // REQUIRES: is_generator(); consuming it changes the state
  const std::string& undefined_hint() const;  // REQUIRES: is_undefined()

  // Python truthiness: empty containers, 0, "", None and undefined are false.
  bool truthy() const;
  // True when both share storage (Python's `is` for containers and callables).
  bool same_object(const Value& other) const;
  // Containers in containers: 0 for a scalar, 1 for a flat list or dict, 1 + the deepest item's otherwise.
  // A namespace counts as depth 1 whatever it holds (its attributes change after it is made).
  uint32_t depth() const { return depth_; }

 private:
  using Data = std::variant<std::monostate, bool, int64_t, double, std::shared_ptr<const std::string>,
                            std::shared_ptr<std::vector<Value>>, std::shared_ptr<Dict>,
                            std::shared_ptr<const Callable>, std::shared_ptr<Generator>>;
  Value(Kind kind, Data data, uint32_t depth = 0) : kind_(kind), depth_(depth), data_(std::move(data)) {}
  // Moves out the items of a container this value alone holds, for ~Value's loop.
  static void take_items(Data& data, std::vector<Value>& out);

  Kind kind_ = Kind::Undefined;
  bool markup_ = false;
  uint32_t depth_ = 0;
  Data data_;
};

// An insertion-ordered mapping with Python key equality (1 == 1.0 == True).
struct Dict {
  std::vector<std::pair<Value, Value>> entries;

  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  const Value* find(const char* key) const { return find(std::string_view(key)); }
  const Value* find(const std::string& key) const { return find(std::string_view(key)); }
  void set(Value key, Value value);  // replaces in place, or appends
  size_t size() const { return entries.size(); }
};

struct Callable {
  std::string name;
  NativeFunction fn;
};

struct Generator {
  std::string name;
  std::vector<Value> items;
  size_t cursor = 0;  // items before it were consumed already
  Status error;
};

// Python `==`: numbers compare across int/float/bool, list and tuple never equal each other.
bool equals(const Value& a, const Value& b);
// Python ordering for `<` and friends: -1, 0 or 1, or an error for unorderable types.
Result<int> compare(const Value& a, const Value& b);
// Python's type name, for error messages ("int", "str", "list", "NoneType", ...).
std::string type_name(const Value& v);

// str(v) as Python prints it (True, None, 1.0, ['a', 1]); undefined prints as "". A container whose
// text would pass kMaxStringBytes comes back cut just past that size: callers that keep the text check
// for that and fail.
std::string to_str(const Value& v);
// repr(v): strings quoted, containers as Python writes them (cut the same way).
std::string to_repr(const Value& v);

// json.dumps options. indent unset means one line with item_separator/key_separator (", " / ": " by
// default, "," / ": " once an indent is given); html_safe escapes < > & ' as jinja's own |tojson does.
struct JsonOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;
  std::optional<std::string> item_separator;
  std::optional<std::string> key_separator;
  bool sort_keys = false;
  bool html_safe = false;
};
Result<std::string> to_json(const Value& v, const JsonOptions& options);

}  // namespace strata::jinja
