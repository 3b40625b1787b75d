// chat/output_format.cc: format detection from template text and the call frames.
#include "chat/output_format.h"

namespace strata::chat {

namespace {
bool has(std::string_view text, std::string_view needle) { return text.find(needle) != std::string_view::npos; }
}  // namespace

std::string_view tool_format_name(ToolFormat f) {
  switch (f) {
    case ToolFormat::None: return "none";
    case ToolFormat::Llama3: return "llama3";
    case ToolFormat::Hermes: return "hermes";
    case ToolFormat::Mistral: return "mistral";
    case ToolFormat::Harmony: return "harmony";
  }
  return "none";
}

ToolFormat detect_tool_format(std::string_view t) {
  if (has(t, "<|channel|>") && has(t, "functions.")) return ToolFormat::Harmony;
  if (has(t, "[TOOL_CALLS]")) return ToolFormat::Mistral;
  if (has(t, "<tool_call>")) return ToolFormat::Hermes;
  if (has(t, "<|python_tag|>") || (has(t, "<|start_header_id|>") && has(t, "\"parameters\"")))
    return ToolFormat::Llama3;
  if (has(t, "tools") || has(t, "tool_call")) return ToolFormat::Hermes;  // the most common convention
  return ToolFormat::None;
}

ThinkFormat detect_think_format(std::string_view t) {
  if (has(t, "<|channel|>") && has(t, "analysis")) return ThinkFormat::Harmony;
  if (has(t, "<think>") || has(t, "</think>")) return ThinkFormat::Tags;
  return ThinkFormat::None;
}

CallFrame call_frame(ToolFormat format, std::string_view name, bool mistral_args_style) {
  CallFrame f;
  switch (format) {
    case ToolFormat::None:
    case ToolFormat::Llama3: f = CallFrame{"", "", "parameters"}; break;
    case ToolFormat::Hermes: f = CallFrame{"<tool_call>\n", "\n</tool_call>", "arguments"}; break;
    case ToolFormat::Mistral:
      if (mistral_args_style) {
        f.prefix = "[TOOL_CALLS]" + std::string(name) + "[ARGS]";
      } else {
        f = CallFrame{"[TOOL_CALLS][", "]", "arguments"};
      }
      break;
    case ToolFormat::Harmony:
      f.prefix = "<|channel|>commentary to=functions." + std::string(name) + " <|constrain|>json<|message|>";
      break;
  }
  return f;
}

std::vector<std::string> call_triggers(ToolFormat format) {
  switch (format) {
    case ToolFormat::None: return {};
    case ToolFormat::Llama3: return {"<|python_tag|>", "{\"name\""};
    case ToolFormat::Hermes: return {"<tool_call>"};
    case ToolFormat::Mistral: return {"[TOOL_CALLS]"};
    case ToolFormat::Harmony: return {"<|channel|>commentary to=functions."};
  }
  return {};
}

}  // namespace strata::chat
