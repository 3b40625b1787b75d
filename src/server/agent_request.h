// server/agent_request.h: the agent features of a chat request, read at the JSON edge into plain data:
// `tools` (validated) and `tool_choice`, `think` / `reasoning_effort`, the template variables they set,
// the constraint that forces or guards a call, and how the reply's text is split (chat/output_parser.h).
// Also the JSON shapes of calls in each API's replies.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chat/output_parser.h"
#include "constrain/tool_call_constraint.h"
#include "server/api.h"
#include "server/json_util.h"
#include "jinja/value.h"

namespace strata::server {

enum class ToolChoice { Auto, None, Required, Named };

struct AgentRequest {
  Json tools = Json::array();  // [{type: "function", function: {name, description?, parameters}}]
  ToolChoice choice = ToolChoice::Auto;
  std::string named_tool;             // ToolChoice::Named
  std::optional<bool> think;          // unset: the model's default (on for thinking models)
  std::string think_level;            // "low" / "medium" / "high" (gpt-oss reasoning effort)
};

// Which API's error wording to use.
enum class ApiFlavor { Ollama, OpenAI, Anthropic };

// `tools` in the OpenAI/Ollama shape: an array of {type: "function", function: {name, parameters}}.
// Malformed definitions are invalid-argument errors worded as `flavor` words them.
Status parse_tools(const Json& tools, ApiFlavor flavor, AgentRequest& out);
// OpenAI `tool_choice`: "auto", "none", "required", or {type: "function", function: {name}}.
Status parse_tool_choice(const Json& req, AgentRequest& out);
// Ollama `think`: true, false, "low", "medium", "high" (and "max"); OpenAI `reasoning_effort` /
// `reasoning.effort` is mapped onto it by the caller.
Status parse_think(const Json& value, AgentRequest& out);

// Checks the request against the model (a model without tools or thinking refuses them), then fills
// the prompt's template variables and tools, the parser options and the call constraint.
struct AgentPlan {
  jinja::Value tools;       // for the template (undefined: none)
  jinja::Value extra_vars;  // enable_thinking, reasoning_effort
  chat::ParserOptions parse;
  std::shared_ptr<const constrain::ToolCallSpec> constraint;  // null: free output
  bool render_special = false;  // the parser needs control tokens (<|python_tag|>, Harmony) in the text
};
Result<AgentPlan> plan_agent(const AgentRequest& a, const ResolvedModel& model);

// Templates that accept only 9-character alphanumeric call ids (Mistral's) get every call id and
// tool_call_id rewritten to one, the same for the same id, so that any client's ids round-trip.
void fit_call_ids(const std::string& chat_template, std::vector<chat::ChatMessage>& messages);

// Request JSON as template values (tool schemas, call arguments).
jinja::Value jinja_from_json(const Json& j);

// A call as /api/chat writes it: {"id", "function": {"index", "name", "arguments": {...}}}.
Json ollama_tool_call(const chat::ToolCall& c, size_t index);
// A call as /v1/chat/completions writes it: {"id", "type": "function", "function": {"name", "arguments": "<json>"}}.
Json openai_tool_call(const chat::ToolCall& c, const std::string& id);
// call_<random>, as Ollama names calls.
std::string new_call_id();

}  // namespace strata::server

namespace strata::server {

// The reply side of a chat: the model's text through the output parser, keeping the whole answer for
// non-streaming replies and the final frames.
class ReplyParser {
 public:
  explicit ReplyParser(chat::ParserOptions options) : parser_(options) {}
  chat::ParsedDelta feed(std::string_view text) { return keep(parser_.feed(text)); }
  chat::ParsedDelta finish() { return keep(parser_.finish()); }
  const chat::ParsedDelta& whole() const { return whole_; }

 private:
  chat::ParsedDelta keep(chat::ParsedDelta d) {
    chat::ParsedDelta copy = d;
    whole_.append(std::move(copy));
    return d;
  }
  chat::OutputParser parser_;
  chat::ParsedDelta whole_;
};

}  // namespace strata::server
