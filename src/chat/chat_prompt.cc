// chat/chat_prompt.cc: template lookup and fallbacks, tokenization with BOS deduplication, history
// truncation.
#include "chat/chat_prompt.h"

#include <algorithm>

namespace strata::chat {

namespace {

std::optional<std::string> token_text(const tokenizer::Vocab& vocab, std::optional<int32_t> id) {
  if (!id || !vocab.is_valid(*id)) return std::nullopt;
  return vocab.text(*id);
}

jinja::Value messages_value(const std::vector<ChatMessage>& messages) {
  std::vector<jinja::Value> items;
  items.reserve(messages.size());
  for (const auto& m : messages) {
    jinja::Dict d;
    d.set(jinja::Value("role"), jinja::Value(m.role));
    d.set(jinja::Value("content"), jinja::Value(m.content));
    if (!m.thinking.empty()) d.set(jinja::Value("thinking"), jinja::Value(m.thinking));
    if (!m.thinking.empty()) d.set(jinja::Value("reasoning_content"), jinja::Value(m.thinking));
    if (m.tool_calls.is_list()) d.set(jinja::Value("tool_calls"), m.tool_calls);
    if (!m.tool_name.empty()) d.set(jinja::Value("name"), jinja::Value(m.tool_name));
    if (!m.tool_call_id.empty()) d.set(jinja::Value("tool_call_id"), jinja::Value(m.tool_call_id));
    items.push_back(jinja::Value::dict(std::move(d)));
  }
  return jinja::Value::list(std::move(items));
}

bool has_bos_first(const std::vector<int32_t>& tokens, const tokenizer::Vocab& vocab) {
  return vocab.bos_id() && !tokens.empty() && tokens.front() == *vocab.bos_id();
}

}  // namespace

Result<std::shared_ptr<const ChatTemplate>> TemplateCache::get(const std::string& source,
                                                                           FallbackStyle fallback) {
  const auto key = std::make_pair(source, static_cast<int>(fallback));
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  ChatOptions options;
  options.fallback = fallback;
  STRATA_ASSIGN_OR_RETURN(ChatTemplate t, ChatTemplate::create(source, options));
  auto shared = std::make_shared<const ChatTemplate>(std::move(t));
  cache_.emplace(key, shared);
  return shared;
}

FallbackStyle fallback_for(const tokenizer::Vocab& vocab) {
  return vocab.find("<|im_start|>") && vocab.find("<|im_end|>") ? FallbackStyle::ChatML
                                                                  : FallbackStyle::Transcript;
}

bool generates_plain(const PromptFormat& format, const tokenizer::Vocab& vocab) {
  return format.chat_template.find_first_not_of(" \t\r\n") == std::string::npos &&
         fallback_for(vocab) == FallbackStyle::Transcript;
}

std::vector<int32_t> plain_prompt_tokens(const std::string& text, const tokenizer::Tokenizer& tokenizer,
                                         bool parse_special) {
  const auto& vocab = tokenizer.vocab();
  std::vector<int32_t> tokens = tokenizer.encode(text, /*add_bos=*/false, parse_special);
  if (vocab.add_bos() && vocab.bos_id() && !has_bos_first(tokens, vocab)) tokens.insert(tokens.begin(), *vocab.bos_id());
  return tokens;
}

Result<std::vector<int32_t>> chat_prompt_tokens(const PromptFormat& format, const std::vector<ChatMessage>& messages,
                                                const tokenizer::Tokenizer& tokenizer) {
  const auto& vocab = tokenizer.vocab();
  STRATA_ASSIGN_OR_RETURN(auto tmpl, format.cache->get(format.chat_template, fallback_for(vocab)));
  ChatRequest req;
  req.messages = messages_value(messages);
  req.add_generation_prompt = true;
  req.bos_token = token_text(vocab, vocab.bos_id());
  req.eos_token = token_text(vocab, vocab.eos_id());
  req.tools = format.tools;
  req.extra_vars = format.extra_vars;
  STRATA_ASSIGN_OR_RETURN(RenderedChat rendered, tmpl->render(req));
  // Templates write {{ bos_token }} themselves; parsing it yields the BOS token, and none is added.
  return plain_prompt_tokens(rendered.text, tokenizer, /*parse_special=*/true);
}

void keep_prompt_tail(std::vector<int32_t>& tokens, int64_t max_tokens, std::optional<int32_t> bos_id) {
  if (max_tokens < 1 || static_cast<int64_t>(tokens.size()) <= max_tokens) return;
  const bool keep_bos = bos_id && !tokens.empty() && tokens.front() == *bos_id && max_tokens > 1;
  const size_t keep = static_cast<size_t>(max_tokens) - (keep_bos ? 1 : 0);
  tokens.erase(tokens.begin() + (keep_bos ? 1 : 0), tokens.end() - static_cast<std::ptrdiff_t>(keep));
}

Result<std::vector<int32_t>> build_chat_prompt(const PromptFormat& format, const std::vector<ChatMessage>& messages,
                                               const tokenizer::Tokenizer& tokenizer, int64_t max_tokens, bool truncate,
                                               const CancelCheck& cancelled) {
  // The messages that may go, oldest first: every non-system message but the last message.
  std::vector<size_t> droppable;
  for (size_t i = 0; i + 1 < messages.size(); ++i)
    if (messages[i].role != "system") droppable.push_back(i);
  // The prompt with the oldest `k` droppable messages left out.
  auto render_without = [&](size_t k) -> Result<std::vector<int32_t>> {
    if (cancelled && cancelled()) return Status::cancelled("client closed the request");
    std::vector<ChatMessage> kept;
    kept.reserve(messages.size() - k);
    size_t next = 0;  // droppable[next] is the next message to leave out while next < k
    for (size_t i = 0; i < messages.size(); ++i) {
      if (next < k && droppable[next] == i) {
        ++next;
        continue;
      }
      kept.push_back(messages[i]);
    }
    return chat_prompt_tokens(format, kept, tokenizer);
  };
  auto fits = [&](const std::vector<int32_t>& t) { return static_cast<int64_t>(t.size()) <= max_tokens; };

  STRATA_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, render_without(0));
  if (fits(tokens)) return tokens;
  // Fewer messages make a shorter prompt, so the fewest drops that fit are found by bisection:
  // `lo` drops do not fit, `hi` drops are the best known (all of them until one fits).
  size_t lo = 0, hi = droppable.size();
  STRATA_ASSIGN_OR_RETURN(std::vector<int32_t> best, render_without(hi));
  if (fits(best)) {
    while (hi - lo > 1) {
      const size_t mid = lo + (hi - lo) / 2;
      STRATA_ASSIGN_OR_RETURN(std::vector<int32_t> t, render_without(mid));
      if (fits(t)) {
        hi = mid;
        best = std::move(t);
      } else {
        lo = mid;
      }
    }
    return best;
  }
  if (!truncate)
    return error(ErrorKind::OutOfRange, "the input length exceeds the context length ({} tokens, {} allowed)",
                 best.size(), max_tokens);
  keep_prompt_tail(best, max_tokens, tokenizer.vocab().bos_id());
  return best;
}

}  // namespace strata::chat
