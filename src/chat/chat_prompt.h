// chat/chat_prompt.h: turning chat messages into prompt tokens with the model's chat template
// (chat/chat_template.h: HF rendering plus the system-message fold), the fallbacks for GGUFs
// without one, BOS handling, and dropping the oldest turns when a conversation outgrows the context.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "chat/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace strata::chat {

struct ChatMessage {
  ChatMessage() = default;
  ChatMessage(std::string r, std::string c) : role(std::move(r)), content(std::move(c)) {}
  std::string role;  // lower-cased: system, user, assistant, tool
  std::string content;
  std::string thinking;      // an assistant turn's reasoning, for templates that render it
  jinja::Value tool_calls;   // an assistant turn's calls: [{type, id?, function: {name, arguments: dict}}]
  std::string tool_name;     // a tool result: the tool it answers
  std::string tool_call_id;  // a tool result: the call it answers
};

// Parsed chat templates by source, so a model's template is parsed once, not per request. Thread-safe.
class TemplateCache {
 public:
  Result<std::shared_ptr<const ChatTemplate>> get(const std::string& source, FallbackStyle fallback);

 private:
  std::mutex mutex_;  // guards cache_
  std::map<std::pair<std::string, int>, std::shared_ptr<const ChatTemplate>> cache_;
};

// A model's prompt format, decided once its vocabulary is known.
struct PromptFormat {
  std::string chat_template;  // the GGUF's (or an /api/create override); "" when it has none
  std::shared_ptr<TemplateCache> cache;
  jinja::Value tools;       // the request's tools (a list), or undefined
  jinja::Value extra_vars;  // per-request template variables (enable_thinking, reasoning_effort), or undefined
};

// The fallback for a model without a template: ChatML when its vocabulary has <|im_start|> and
// <|im_end|>, else a plain "User: ... Assistant:" transcript (see docs/server.md).
FallbackStyle fallback_for(const tokenizer::Vocab& vocab);
// /api/generate on a model with neither a template nor ChatML tokens (a base model) sends the prompt as
// written ("system\n\nprompt"), as Ollama's default {{ .Prompt }} template does.
bool generates_plain(const PromptFormat& format, const tokenizer::Vocab& vocab);

// Renders the conversation and tokenizes it (special tokens parsed; BOS added when the vocabulary
// wants one and the render does not already start with it). A template error, including the
// template's own raise_exception, fails with its message (an invalid argument).
Result<std::vector<int32_t>> chat_prompt_tokens(const PromptFormat& format, const std::vector<ChatMessage>& messages,
                                                const tokenizer::Tokenizer& tokenizer);

// Tokenizes text meant to be sent as is (raw prompts, plain base-model prompts), with BOS as the
// vocabulary wants it. `parse_special`: control tokens written in the text become tokens.
std::vector<int32_t> plain_prompt_tokens(const std::string& text, const tokenizer::Tokenizer& tokenizer,
                                         bool parse_special);

// True once the request's client has gone: long work checks it and stops with a cancelled error.
using CancelCheck = std::function<bool()>;

// Renders and tokenizes within `max_tokens`, dropping the fewest oldest non-system messages (never the
// last one) that make it fit, found by bisection: O(log n) renders of the history, not one per dropped
// message. If even the last message alone does not fit, `truncate` keeps BOS and the last tokens;
// otherwise it is an out-of-range error. `cancelled` is checked before every render.
Result<std::vector<int32_t>> build_chat_prompt(const PromptFormat& format, const std::vector<ChatMessage>& messages,
                                               const tokenizer::Tokenizer& tokenizer, int64_t max_tokens, bool truncate,
                                               const CancelCheck& cancelled = {});

// Keeps BOS (if first) and the last tokens so that at most max_tokens remain.
void keep_prompt_tail(std::vector<int32_t>& tokens, int64_t max_tokens, std::optional<int32_t> bos_id);

}  // namespace strata::chat
