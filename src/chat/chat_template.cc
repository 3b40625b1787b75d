// chat/chat_template.cc: chat rendering with transformers' template environment and the client
// fix-ups (see chat_template.h and docs/chat_templates.md).
#include "chat/chat_template.h"

#include <memory>
#include <vector>

namespace strata::chat {

using jinja::CallArgs;
using jinja::Dict;
using jinja::Value;

const std::string_view kChatMLTemplate =
    "{%- for message in messages -%}\n"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}\n";

const std::string_view kTranscriptTemplate =
    "{%- for message in messages -%}\n"
    "{{- message['role'] | capitalize }}: {{ message['content'] | trim }}\n\n"
    "{% endfor -%}\n"
    "{%- if add_generation_prompt -%}Assistant:{%- endif -%}\n";

namespace {

// Between the system text and the first user message's text when they are merged.
constexpr std::string_view kSystemJoiner = "\n\n";

std::tm local_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

Result<std::string> format_time(const std::tm& tm, const std::string& format) {
  if (format.empty()) return std::string();
  // strftime returns 0 both for "too small" and for an empty result; grow a few times, then give up.
  for (size_t size = 128; size <= (size_t{1} << 16); size *= 4) {
    std::vector<char> buf(size);
    const size_t n = std::strftime(buf.data(), buf.size(), format.c_str(), &tm);
    if (n > 0) return std::string(buf.data(), n);
  }
  return std::string();
}

// messages with messages[0] (a system message) folded into the first user message, or nullopt when
// the shapes do not allow it (non-string contents, no system message).
std::optional<Value> merge_system_message(const Value& messages) {
  if (!messages.is_list() || messages.as_list().empty()) return std::nullopt;
  const Value& first = messages.as_list()[0];
  if (!first.is_dict()) return std::nullopt;
  const Value* role = first.as_dict().find("role");
  const Value* content = first.as_dict().find("content");
  if (!role || !role->is_string() || role->as_string() != "system" || !content || !content->is_string()) {
    return std::nullopt;
  }
  std::vector<Value> rest(messages.as_list().begin() + 1, messages.as_list().end());
  for (Value& m : rest) {
    if (!m.is_dict()) continue;
    const Value* r = m.as_dict().find("role");
    if (!r || !r->is_string() || r->as_string() != "user") continue;
    const Value* c = m.as_dict().find("content");
    if (!c || !c->is_string()) return std::nullopt;
    Dict merged = m.as_dict();
    merged.set(Value("content"), Value(content->as_string() + std::string(kSystemJoiner) + c->as_string()));
    m = Value::dict(std::move(merged));
    return Value::list(std::move(rest));
  }
  rest.insert(rest.begin(), Value::dict({{"role", Value("user")}, {"content", *content}}));
  return Value::list(std::move(rest));
}

}  // namespace

Result<ChatTemplate> ChatTemplate::create(std::string_view source, const ChatOptions& options) {
  const bool blank = source.find_first_not_of(" \t\r\n") == std::string_view::npos;
  std::string_view text = source;
  if (blank) text = options.fallback == FallbackStyle::ChatML ? kChatMLTemplate : kTranscriptTemplate;
  Result<jinja::Template> parsed = jinja::Template::parse(text, options.engine);
  if (!parsed.is_ok()) return parsed.status().with_context("chat template");
  return ChatTemplate(std::move(parsed).value(), options, blank);
}

Result<std::string> ChatTemplate::render_once(const ChatRequest& request, const Value& messages, bool* raised) const {
  // Set by raise_exception; per render, so concurrent renders never share it.
  auto raised_flag = std::make_shared<bool>(false);
  Dict vars;
  vars.set(Value("messages"), messages);
  vars.set(Value("tools"), request.tools.is_undefined() ? Value::none() : request.tools);
  vars.set(Value("add_generation_prompt"), Value(request.add_generation_prompt));
  if (request.bos_token) vars.set(Value("bos_token"), Value(*request.bos_token));
  if (request.eos_token) vars.set(Value("eos_token"), Value(*request.eos_token));
  vars.set(Value("raise_exception"),
           Value::function("raise_exception", [raised_flag](const CallArgs& args) -> Result<Value> {
             *raised_flag = true;
             const std::string message = args.positional.empty() ? "" : jinja::to_str(args.positional[0]);
             return Status::error("template raised: " + message);
           }));
  auto now = options_.now;
  vars.set(Value("strftime_now"), Value::function("strftime_now", [now](const CallArgs& args) -> Result<Value> {
             if (args.positional.size() != 1 || !args.positional[0].is_string()) {
               return error("strftime_now() takes one format string");
             }
             STRATA_ASSIGN_OR_RETURN(std::string text,
                                     format_time(now ? now() : local_now(), args.positional[0].as_string()));
             return Value(std::move(text));
           }));
  if (request.extra_vars.is_dict()) {
    for (const auto& [key, value] : request.extra_vars.as_dict().entries) vars.set(key, value);
  } else if (!request.extra_vars.is_undefined() && !request.extra_vars.is_none()) {
    return error("chat template: extra variables must be a dict, not {}", jinja::type_name(request.extra_vars));
  }
  Result<std::string> text = template_.render(Value::dict(std::move(vars)));
  if (raised) *raised = *raised_flag;
  if (!text.is_ok()) return text.status().with_context("chat template");
  return text;
}

Result<RenderedChat> ChatTemplate::render(const ChatRequest& request) const {
  if (!request.messages.is_list())
    return error("chat template: messages must be a list, not {}", jinja::type_name(request.messages));
  RenderedChat out;
  out.used_fallback = is_fallback_;
  bool raised = false;
  Result<std::string> text = render_once(request, request.messages, &raised);
  if (!text.is_ok() && raised && options_.merge_system_on_refusal) {
    if (std::optional<Value> merged = merge_system_message(request.messages)) {
      Result<std::string> retry = render_once(request, *merged, nullptr);
      if (retry.is_ok()) {
        text = std::move(retry);
        out.merged_system = true;
      }
    }
  }
  if (!text.is_ok()) return text.status();
  out.text = std::move(text).value();
  out.starts_with_bos = request.bos_token && !request.bos_token->empty() && out.text.rfind(*request.bos_token, 0) == 0;
  return out;
}

Result<RenderedChat> render_chat(std::string_view template_source, const ChatRequest& request,
                                 const ChatOptions& options) {
  STRATA_ASSIGN_OR_RETURN(ChatTemplate t, ChatTemplate::create(template_source, options));
  return t.render(request);
}

}  // namespace strata::chat
