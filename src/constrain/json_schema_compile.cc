// constrain/json_schema_compile.cc: JSON Schema → constrain::CompiledSchema.
#include "constrain/json_schema_compile.h"

#include <algorithm>
#include <map>

namespace strata::constrain {

namespace {

// Serialises a schema value as the recognizer compares it (invalid UTF-8, never expected, becomes U+FFFD).
std::string dump(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

using constrain::CompiledSchema;
using constrain::SchemaNode;
using Kind = SchemaNode::Kind;

constexpr size_t kMaxNodes = 4096;
constexpr int kMaxDepth = 64;

// Keywords that constrain values in ways this subset does not follow; listed so that a schema relying
// on them for its *shape* fails loudly instead of being half-applied.
constexpr std::string_view kRefused[] = {"prefixItems", "not", "if", "then", "else", "patternProperties",
                                         "dependentSchemas", "dependentRequired", "unevaluatedProperties",
                                         "propertyNames", "contains"};

class Compiler {
 public:
  explicit Compiler(const Json& root) : root_(root) { out_ = std::make_shared<CompiledSchema>(); }

  Result<std::shared_ptr<const CompiledSchema>> run() {
    STRATA_ASSIGN_OR_RETURN(out_->root, compile(root_, "", 0));
    if (!satisfiable()[static_cast<size_t>(out_->root)])
      return error("no JSON value satisfies the schema: every way through it needs a value that contains "
                   "itself without end");
    return std::shared_ptr<const CompiledSchema>(out_);
  }

 private:
  Result<int> add(SchemaNode n) {
    if (out_->nodes.size() >= kMaxNodes) return error("the schema is too large (more than {} parts)", kMaxNodes);
    out_->nodes.push_back(std::move(n));
    return static_cast<int>(out_->nodes.size() - 1);
  }

  Result<int> literals(std::vector<std::string> values, const std::string& at) {
    if (values.empty()) return error("an empty enum at {} allows nothing", at.empty() ? "/" : at);
    if (values.size() > CompiledSchema::kMaxLiterals)
      return error("enum at {} has {} values; at most {} are supported", at.empty() ? "/" : at, values.size(),
                   CompiledSchema::kMaxLiterals);
    SchemaNode n;
    n.kind = Kind::Literals;
    n.literals = std::move(values);
    return add(std::move(n));
  }

  Result<int> resolve_ref(const std::string& ref, const std::string& at, int depth) {
    if (auto it = refs_.find(ref); it != refs_.end()) return it->second;
    if (ref != "#" && ref.rfind("#/", 0) != 0)
      return error("$ref \"{}\" at {}: only references inside the schema (#/...) are supported", ref, at);
    const Json* target = &root_;
    if (ref != "#") {
      try {
        target = &root_.at(Json::json_pointer(ref.substr(1)));
      } catch (const std::exception&) {
        return error("$ref \"{}\" at {} points at nothing", ref, at);
      }
    }
    // A placeholder first, so that a schema that refers to itself ends here instead of recursing.
    STRATA_ASSIGN_OR_RETURN(int slot, add(SchemaNode{}));
    refs_[ref] = slot;
    STRATA_ASSIGN_OR_RETURN(int node, compile(*target, ref.substr(1), depth + 1));
    out_->nodes[static_cast<size_t>(slot)] = out_->nodes[static_cast<size_t>(node)];
    return slot;
  }

  Result<int> compile(const Json& s, const std::string& at, int depth) {
    if (depth > kMaxDepth) return error("the schema nests deeper than {} levels", kMaxDepth);
    const std::string where = at.empty() ? "/" : at;
    if (s.is_boolean()) {
      if (!s.get<bool>()) return error("the schema at {} is false, which allows nothing", where);
      return add(SchemaNode{});
    }
    if (!s.is_object()) return error("the schema at {} is a {}, not an object", where, s.type_name());
    for (auto key : kRefused)
      if (s.contains(key)) return error("unsupported keyword {} at {}", key, where);

    if (auto it = s.find("$ref"); it != s.end()) {
      if (!it->is_string()) return error("$ref at {} is not a string", where);
      return resolve_ref(it->get<std::string>(), where, depth);
    }
    if (auto it = s.find("const"); it != s.end()) return literals({dump(*it)}, at);
    if (auto it = s.find("enum"); it != s.end()) {
      if (!it->is_array()) return error("enum at {} is not an array", where);
      std::vector<std::string> values;
      for (const auto& v : *it) values.push_back(dump(v));
      return literals(std::move(values), at);
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (auto it = s.find(key); it != s.end()) {
        if (!it->is_array() || it->empty()) return error("{} at {} is not a non-empty array", key, where);
        SchemaNode n;
        n.kind = Kind::AnyOf;
        for (size_t i = 0; i < it->size(); ++i) {
          STRATA_ASSIGN_OR_RETURN(int alt, compile((*it)[i], fmt::format("{}/{}/{}", at, key, i), depth + 1));
          n.alternatives.push_back(alt);
        }
        return add(std::move(n));
      }
    }
    if (auto it = s.find("allOf"); it != s.end()) {
      if (!it->is_array() || it->size() != 1)
        return error("allOf at {}: only a list of one schema is supported", where);
      return compile((*it)[0], at + "/allOf/0", depth + 1);
    }

    auto type = s.find("type");
    if (type != s.end() && type->is_array()) {
      SchemaNode n;
      n.kind = Kind::AnyOf;
      for (const auto& t : *type) {
        Json one = s;
        one["type"] = t;
        STRATA_ASSIGN_OR_RETURN(int alt, compile(one, at, depth + 1));
        n.alternatives.push_back(alt);
      }
      if (n.alternatives.empty()) return error("type at {} is an empty list", where);
      return add(std::move(n));
    }
    std::string t;
    if (type != s.end()) {
      if (!type->is_string()) return error("type at {} is not a string or a list of strings", where);
      t = type->get<std::string>();
    } else if (s.contains("properties") || s.contains("required")) {
      t = "object";
    } else if (s.contains("items")) {
      t = "array";
    } else {
      return add(SchemaNode{});  // no constraint on the value
    }

    SchemaNode n;
    if (t == "string") {
      n.kind = Kind::String;
      STRATA_RETURN_IF_ERROR(check_bounds(s, "minLength", "maxLength", where));
    } else if (t == "number" || t == "integer") {
      n.kind = t == "number" ? Kind::Number : Kind::Integer;
      STRATA_RETURN_IF_ERROR(check_bounds(s, "minimum", "maximum", where));
    } else if (t == "boolean") {
      return literals({"true", "false"}, at);
    } else if (t == "null") {
      return literals({"null"}, at);
    } else if (t == "array") {
      n.kind = Kind::Array;
      if (auto it = s.find("items"); it != s.end()) {
        STRATA_ASSIGN_OR_RETURN(n.items, compile(*it, at + "/items", depth + 1));
      } else {
        STRATA_ASSIGN_OR_RETURN(n.items, add(SchemaNode{}));
      }
      STRATA_ASSIGN_OR_RETURN(n.min_items, count(s, "minItems", where, 0));
      STRATA_ASSIGN_OR_RETURN(n.max_items, count(s, "maxItems", where, -1));
      if (n.max_items >= 0 && n.max_items < n.min_items) return error("maxItems < minItems at {}", where);
    } else if (t == "object") {
      n.kind = Kind::Object;
      std::vector<std::string> required;
      if (auto it = s.find("required"); it != s.end()) {
        if (!it->is_array()) return error("required at {} is not an array", where);
        for (const auto& r : *it) {
          if (!r.is_string()) return error("required at {} lists a {}", where, r.type_name());
          required.push_back(r.get<std::string>());
        }
      }
      auto props = s.find("properties");
      if (props == s.end() || (props->is_object() && props->empty())) {
        if (!required.empty()) return error("required at {} names members without properties", where);
        n.kind = Kind::Any;
        n.object_only = true;  // any object
        return add(std::move(n));
      }
      if (!props->is_object()) return error("properties at {} is not an object", where);
      if (props->size() > CompiledSchema::kMaxProps)
        return error("object at {} has {} properties; at most {} are supported", where, props->size(),
                     CompiledSchema::kMaxProps);
      for (const auto& [key, value] : props->items()) {
        SchemaNode::Prop p;
        const std::string quoted = dump(Json(key));
        p.key = quoted.substr(1, quoted.size() - 2);
        p.required = std::find(required.begin(), required.end(), key) != required.end();
        STRATA_ASSIGN_OR_RETURN(p.node, compile(value, at + "/properties/" + key, depth + 1));
        n.props.push_back(std::move(p));
      }
      for (const auto& r : required)
        if (!props->contains(r)) return error("required at {} names \"{}\", which is not in properties", where, r);
    } else {
      return error("unknown type \"{}\" at {}", t, where);
    }
    return add(std::move(n));
  }

  // Which nodes some finite JSON text satisfies: the least fixpoint, so that a value that needs itself
  // (a required member or a non-empty array of its own schema, with no way out) is found unsatisfiable
  // here, as an invalid argument, instead of failing generation midway.
  std::vector<bool> satisfiable() const {
    const auto& nodes = out_->nodes;
    std::vector<bool> ok(nodes.size(), false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (ok[i]) continue;
        const SchemaNode& n = nodes[i];
        bool now = true;
        switch (n.kind) {
          case Kind::Object:
            for (const auto& p : n.props)
              if (p.required && !ok[static_cast<size_t>(p.node)]) now = false;
            break;
          case Kind::Array: now = n.min_items == 0 || ok[static_cast<size_t>(n.items)]; break;
          case Kind::Literals: now = !n.literals.empty(); break;
          case Kind::AnyOf:
            now = std::any_of(n.alternatives.begin(), n.alternatives.end(),
                              [&](int a) { return ok[static_cast<size_t>(a)]; });
            break;
          default: break;  // Any, String, Number, Integer
        }
        if (now) ok[i] = changed = true;
      }
    }
    return ok;
  }

  // Bounds that the recognizer does not enforce still have to leave room for a value: a client asking for
  // a string of at least 5 and at most 2 characters is refused, not given text that breaks its own schema.
  static Status check_bounds(const Json& s, const char* low, const char* high, const std::string& where) {
    auto lo = s.find(low), hi = s.find(high);
    if (lo == s.end() || hi == s.end() || !lo->is_number() || !hi->is_number()) return Status::ok();
    if (lo->get<double>() > hi->get<double>())
      return error("{} {} is above {} {} at {}: no value satisfies the schema", low, dump(*lo), high, dump(*hi), where);
    return Status::ok();
  }

  static Result<int> count(const Json& s, const char* key, const std::string& where, int fallback) {
    auto it = s.find(key);
    if (it == s.end()) return fallback;
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 1000000)
      return error("{} at {} is not a count", key, where);
    return static_cast<int>(it->get<int64_t>());
  }

  const Json& root_;
  std::shared_ptr<CompiledSchema> out_;
  std::map<std::string, int> refs_;
};

}  // namespace

Result<std::shared_ptr<const constrain::CompiledSchema>> compile_json_schema(const Json& schema) {
  auto r = Compiler(schema).run();
  if (!r) return error("invalid JSON Schema: {}", r.status().message());
  return r;
}

}  // namespace strata::constrain
