// constrain/json_schema_compile.h: a request's JSON Schema (`format: {...}`, OpenAI json_schema) turned into
// the engine's CompiledSchema, here at the edge where JSON is read. The subset: type (one or a list),
// properties / required (members in the schema's order, optional ones may be left out, no others),
// items / minItems / maxItems, enum, const, anyOf / oneOf, allOf of one schema, local $ref (#/$defs/...,
// #/definitions/..., #), and {} or true for any value. Annotations (title, description, default, ...) are
// ignored; string and number bounds (pattern, format, minLength, minimum, ...) are not enforced.
#pragma once

#include <memory>

#include "core/status.h"
#include "constrain/json_schema.h"
#include "server/json_util.h"

namespace strata::server {

// Errors name the part of the schema that cannot be used ("unsupported keyword prefixItems at /items").
Result<std::shared_ptr<const engine::CompiledSchema>> compile_json_schema(const Json& schema);

}  // namespace strata::server
