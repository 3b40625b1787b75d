// server/json_util.h: the JSON edge: typed reads of request fields (with the errors clients see),
// safe serialisation, and the timestamp formats Ollama's responses use.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace strata::server {

// Insertion-ordered, so replies list fields in the order Ollama writes them (model, created_at, ...).
using Json = nlohmann::ordered_json;

// Parses a request body in time linear in its size. Errors carry the parser's message (clients show
// `.error`). Bodies nested deeper than kMaxJsonDepth are refused before parsing; an object with more
// than kMaxJsonKeys keys is refused while parsing.
inline constexpr size_t kMaxJsonDepth = 128;
inline constexpr size_t kMaxJsonKeys = 4096;
Result<Json> parse_json_body(std::string_view body);
// The parser behind it (json_body.cc), without the depth pre-check.
Result<Json> parse_json_bounded(std::string_view body);

// Typed field reads: a missing field or JSON null gives nullopt; a present field of another type is an
// error naming the field and the type expected. Integers accept whole-valued floats (4096.0).
Result<std::optional<std::string>> get_string(const Json& obj, std::string_view key);
Result<std::optional<bool>> get_bool(const Json& obj, std::string_view key);
Result<std::optional<int64_t>> get_int(const Json& obj, std::string_view key);
Result<std::optional<double>> get_number(const Json& obj, std::string_view key);
// A string or an array of strings (OpenAI's `stop`, embed `input`).
Result<std::optional<std::vector<std::string>>> get_string_or_list(const Json& obj, std::string_view key);

// A string field, or `fallback` when obj is not an object or the field is absent or not a string: for
// optional fields of content blocks, where a wrong type is ignored as the reference servers ignore it.
std::string str_of(const Json& obj, std::string_view key, std::string_view fallback);
// The JSON type name used in error messages ("string", "number", "object", ...).
std::string_view json_type_name(const Json& v);

// Serialises without throwing: invalid UTF-8 (never expected) becomes U+FFFD.
std::string dump_json(const Json& v);

// "2023-08-04T19:22:45.499127123Z" (UTC, nanoseconds).
std::string rfc3339_utc(std::chrono::system_clock::time_point t);
// "2025-05-10T08:06:48.639712648-07:00" (local time with its offset).
std::string rfc3339_local(std::chrono::system_clock::time_point t);

}  // namespace strata::server
