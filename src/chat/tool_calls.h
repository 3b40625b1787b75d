// chat/tool_calls.h: one tool call as the API returns it, and the pieces every family's parser shares:
// finding where a JSON value ends in streamed text, and reading a call object.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::chat {

struct ToolCall {
  std::string name;
  std::string arguments;  // a compact JSON object text ("{}" when the call had none)
};

// The length of the JSON object or array that starts text (after leading whitespace, which counts),
// once its closing bracket has arrived; nullopt while it is still open. Strings and escapes are
// respected; the value's inner syntax is checked later by the real parse.
std::optional<size_t> json_value_end(std::string_view text);

// {"name": "f", "arguments": {...}} (or "parameters"; arguments given as a JSON string holding an object
// are unwrapped). nullopt when the text is not one such object.
std::optional<ToolCall> parse_call_object(std::string_view json_text);
// A JSON array of call objects (Mistral Nemo). nullopt when any element is not a call.
std::optional<std::vector<ToolCall>> parse_call_array(std::string_view json_text);
// A JSON object text as the arguments of a call named elsewhere (Harmony, Mistral [ARGS]); nullopt
// when it is not an object.
std::optional<std::string> parse_arguments(std::string_view json_text);

}  // namespace strata::chat
