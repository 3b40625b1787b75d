// chat/chat_template.h: renders a conversation through a model's chat template (a GGUF's
// tokenizer.chat_template) as HF transformers' apply_chat_template does, plus the fix-ups real clients
// need: a system message for templates that refuse one, BOS not doubled, and a fallback template.
#pragma once

#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "jinja/template.h"
#include "jinja/value.h"

namespace strata::chat {

// One render's inputs, as transformers passes them to the template.
struct ChatRequest {
  jinja::Value messages;  // list of dicts: role, content, and optionally tool_calls, name, tool_call_id...
  jinja::Value tools;     // list of tool schemas; undefined or None means none (the template sees None)
  bool add_generation_prompt = true;
  std::optional<std::string> bos_token;  // unset: the template sees bos_token undefined
  std::optional<std::string> eos_token;
  jinja::Value extra_vars;  // a dict of further variables (date_string, tools_in_user_message, ...)
};

enum class FallbackStyle {
  ChatML,      // <|im_start|>role\ncontent<|im_end|>\n ... for models that know ChatML's tokens
  Transcript,  // "User: ...\n\nAssistant: ..." plain text, for base models with no chat tokens
};

struct ChatOptions {
  jinja::Options engine = jinja::Options::huggingface();
  // When the template raises (raise_exception) and messages[0] is a system message, render again with
  // the system text folded into the first user message (see docs/chat_templates.md).
  bool merge_system_on_refusal = true;
  FallbackStyle fallback = FallbackStyle::ChatML;
  // The clock behind strftime_now(); local time when unset. Tests pin it.
  std::function<std::tm()> now;
};

struct RenderedChat {
  std::string text;
  // text begins with the BOS token's text: tokenize it with special tokens parsed and do NOT add
  // another BOS (the model would otherwise see two).
  bool starts_with_bos = false;
  bool merged_system = false;  // the system message was folded into the first user message
  bool used_fallback = false;  // the model has no template; a FallbackStyle template was used
};

// The fallback templates, as jinja sources (documented in docs/chat_templates.md).
extern const std::string_view kChatMLTemplate;
extern const std::string_view kTranscriptTemplate;

// A parsed template, rendered many times (thread-safe: render is const).
class ChatTemplate {
 public:
  // An empty or all-whitespace source selects options.fallback. Parse errors name line and column.
  static Result<ChatTemplate> create(std::string_view source, const ChatOptions& options = {});

  Result<RenderedChat> render(const ChatRequest& request) const;
  bool is_fallback() const { return is_fallback_; }

 private:
  ChatTemplate(jinja::Template t, ChatOptions options, bool is_fallback)
      : template_(std::move(t)), options_(std::move(options)), is_fallback_(is_fallback) {}

  // Renders once, without fix-ups; `raised` reports whether the failure came from raise_exception.
  Result<std::string> render_once(const ChatRequest& request, const jinja::Value& messages, bool* raised) const;

  jinja::Template template_;
  ChatOptions options_;
  bool is_fallback_;
};

// Parse and render in one call (the server should keep a ChatTemplate per model instead).
Result<RenderedChat> render_chat(std::string_view template_source, const ChatRequest& request,
                                 const ChatOptions& options = {});

}  // namespace strata::chat
