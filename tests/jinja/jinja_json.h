// tests/jinja/jinja_json.h: golden-file JSON to template values, shared by the template tests.
#pragma once

#include <nlohmann/json.hpp>

#include "jinja/value.h"

namespace strata::jinja::testing {

using Json = nlohmann::ordered_json;

inline Value from_json(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return Value::none();
    case Json::value_t::boolean: return Value(j.get<bool>());
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return Value(j.get<int64_t>());
    case Json::value_t::number_float: return Value(j.get<double>());
    case Json::value_t::string: return Value(j.get<std::string>());
    case Json::value_t::array: {
      std::vector<Value> items;
      for (const Json& item : j) items.push_back(from_json(item));
      return Value::list(std::move(items));
    }
    case Json::value_t::object: {
      Dict d;
      for (const auto& [key, value] : j.items()) d.set(Value(key), from_json(value));
      return Value::dict(std::move(d));
    }
    default: return Value();
  }
}

}  // namespace strata::jinja::testing
