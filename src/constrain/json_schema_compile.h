// constrain/json_schema_compile.h: a request's JSON Schema (`format: {...}`, OpenAI json_schema) turned into
// a CompiledSchema, here at the edge where JSON is read. The subset: type (one or a list),
// properties / required (members in the schema's order, optional ones may be left out, no others),
// items / minItems / maxItems, enum, const, anyOf / oneOf, allOf of one schema, local $ref (#/$defs/...,
// #/definitions/..., #), and {} or true for any value. Annotations (title, description, default, ...) are
// ignored; string and number bounds (pattern, format, minLength, minimum, ...) are not enforced.
#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "constrain/json_schema.h"

namespace strata::constrain {

// Insertion-ordered as the server parses requests: members are matched in the schema's order.
using Json = nlohmann::ordered_json;

// Errors name the part of the schema that cannot be used ("unsupported keyword prefixItems at /items").
Result<std::shared_ptr<const CompiledSchema>> compile_json_schema(const Json& schema);

}  // namespace strata::constrain
