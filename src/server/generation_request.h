// server/generation_request.h: validation shared by every generating endpoint (native generate/chat and
// OpenAI chat/completions): model, options over the model's parameters, keep_alive, stream, the
// features strata does not have yet (answered 400, never ignored), and the chat job builder.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "server/api.h"
#include "constrain/json_schema.h"
#include "server/agent_request.h"
#include "chat/chat_prompt.h"
#include "server/request_options.h"

namespace strata::server {

enum class GenerationKind { Generate, Chat, OpenAIChat, OpenAICompletion };

struct GenerationRequest {
  std::string request_model;  // echoed verbatim in responses
  ResolvedModel model;
  RunOptions options;
  std::optional<KeepAlive> keep_alive;
  bool stream = true;
  bool truncate = true;
  chat::PromptFormat format;  // the model's chat template (or "") and the server's template cache
  bool json_output = false;  // native `format: "json"` or OpenAI `response_format: json_object`
  std::shared_ptr<const constrain::CompiledSchema> schema;  // `format: {schema}` or response_format json_schema
  AgentRequest agent;  // tools, tool_choice, think: read by each route, applied by apply_agent
  chat::ParserOptions parse;  // how the reply's text splits into content, thinking and calls
  std::shared_ptr<const constrain::ToolCallSpec> tool_calls;  // the call constraint, if any
  bool render_special = false;
};

// Checks `agent` against the model and sets the prompt's tools and variables, the parser and the
// call constraint.
Status apply_agent(GenerationRequest& g);

// `context` in a /api/generate reply is left out past this many tokens (one NDJSON line stays < 64 KiB).
inline constexpr size_t kMaxContextTokensInReply = 8192;

// Reads model, options (defaults < model parameters < request `options`), keep_alive, stream, truncate;
// for native requests also think, format ("json" or a JSON Schema object) and images. OpenAI top-level fields are read by the caller.
Result<GenerationRequest> parse_generation_request(Api& api, const Json& req, GenerationKind kind);

// /api/chat `messages`: roles lower-cased, content a string; images and tool calls answered 400.
Result<std::vector<chat::ChatMessage>> parse_native_messages(const Json& req);
// OpenAI `response_format`: text, json_object (sets json_output) or json_schema (sets schema).
Status apply_response_format(const Json& req, GenerationRequest& g);

// A generation job over chat messages (the model's system prompt prepended when the first message
// is not a system message); history is dropped from the front when it outgrows the context.
std::shared_ptr<engine::Job> make_chat_job(const GenerationRequest& g, std::vector<chat::ChatMessage> messages,
                                   std::chrono::steady_clock::time_point received);

// A /api/generate-style prompt: rendered as [system?, user: prompt] through the chat template, or sent
// as is when raw; a previous reply's context tokens go first.
struct GeneratePrompt {
  std::string prompt;
  std::optional<std::string> system;
  bool raw = false;
  std::vector<int32_t> context;
};
std::shared_ptr<engine::Job> make_generate_job(const GenerationRequest& g, GeneratePrompt prompt,
                                       std::chrono::steady_clock::time_point received);

// A prompt that does not fit the context: an error unless `truncate`, which keeps BOS and the last
// tokens, leaving room to generate (num_predict, at most half the context; a quarter by default).
Result<std::vector<int32_t>> fit_prompt(std::vector<int32_t> tokens, int64_t n_ctx, int32_t num_predict, bool truncate,
                                        std::optional<int32_t> bos_id);

}  // namespace strata::server
