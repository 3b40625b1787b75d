// chat/output_format.h: which tool-call and thinking formats a chat template implies, and the literal
// text around one forced tool call in each format (what the constraint makes a model write).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace strata::chat {

enum class ToolFormat {
  None,      // the template knows no tools
  Llama3,    // {"name": ..., "parameters": {...}} (optionally after <|python_tag|>), Llama 3.1 to 3.3
  Hermes,    // <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>, Hermes 2/3, Qwen 2.5 / 3
  Mistral,   // [TOOL_CALLS][{...}] (Nemo, v0.3) or [TOOL_CALLS]name[ARGS]{...} (Small 3.2, Magistral)
  Harmony,   // gpt-oss: <|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{...}<|call|>
};

enum class ThinkFormat {
  None,
  Tags,     // <think> ... </think> (Qwen3, QwQ, DeepSeek-R1 distills)
  Harmony,  // gpt-oss: the analysis channel
};

std::string_view tool_format_name(ToolFormat f);

// From the template's text (the markers each family's template writes).
ToolFormat detect_tool_format(std::string_view chat_template);
ThinkFormat detect_think_format(std::string_view chat_template);

// One way to write one call to one tool: prefix, then the JSON the schema allows, then suffix.
// `schema_keys`: the JSON object the call text holds, when the format wraps name and arguments in one
// object ({"name": .., "<args_key>": ..}); empty for formats whose JSON is the arguments alone.
struct CallFrame {
  std::string prefix;
  std::string suffix;
  std::string args_key;  // "parameters" / "arguments"; empty: the JSON is the arguments object
};

// The frame of a call to `tool_name` in `format` (the name is in the prefix for Harmony and Mistral
// Small; inside the JSON for the others).
CallFrame call_frame(ToolFormat format, std::string_view tool_name, bool mistral_args_style);

// The text that marks the start of a call in free output (for a constraint that waits for a call to
// begin): "<tool_call>", "[TOOL_CALLS]", "<|channel|>commentary to=functions.", "<|python_tag|>" or a
// bare {"name" (Llama 3).
std::vector<std::string> call_triggers(ToolFormat format);

}  // namespace strata::chat
