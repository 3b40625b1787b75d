// server/chat_prompt.cc: template lookup and fallbacks, tokenization with BOS deduplication, history
// truncation.
#include "server/chat_prompt.h"

#include <algorithm>

namespace strata::server {

namespace {

std::optional<std::string> token_text(const tokenizer::Vocab& vocab, std::optional<int32_t> id) {
  if (!id || !vocab.is_valid(*id)) return std::nullopt;
  return vocab.text(*id);
}

jinja::Value messages_value(const std::vector<ChatMessage>& messages) {
  std::vector<jinja::Value> items;
  items.reserve(messages.size());
  for (const auto& m : messages)
    items.push_back(jinja::Value::dict({{"role", jinja::Value(m.role)}, {"content", jinja::Value(m.content)}}));
  return jinja::Value::list(std::move(items));
}

bool has_bos_first(const std::vector<int32_t>& tokens, const tokenizer::Vocab& vocab) {
  return vocab.bos_id() && !tokens.empty() && tokens.front() == *vocab.bos_id();
}

}  // namespace

Result<std::shared_ptr<const tokenizer::ChatTemplate>> TemplateCache::get(const std::string& source,
                                                                           tokenizer::FallbackStyle fallback) {
  const auto key = std::make_pair(source, static_cast<int>(fallback));
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  tokenizer::ChatOptions options;
  options.fallback = fallback;
  STRATA_ASSIGN_OR_RETURN(tokenizer::ChatTemplate t, tokenizer::ChatTemplate::create(source, options));
  auto shared = std::make_shared<const tokenizer::ChatTemplate>(std::move(t));
  cache_.emplace(key, shared);
  return shared;
}

tokenizer::FallbackStyle fallback_for(const tokenizer::Vocab& vocab) {
  return vocab.find("<|im_start|>") && vocab.find("<|im_end|>") ? tokenizer::FallbackStyle::ChatML
                                                                  : tokenizer::FallbackStyle::Transcript;
}

bool generates_plain(const PromptFormat& format, const tokenizer::Vocab& vocab) {
  return format.chat_template.find_first_not_of(" \t\r\n") == std::string::npos &&
         fallback_for(vocab) == tokenizer::FallbackStyle::Transcript;
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
  tokenizer::ChatRequest req;
  req.messages = messages_value(messages);
  req.add_generation_prompt = true;
  req.bos_token = token_text(vocab, vocab.bos_id());
  req.eos_token = token_text(vocab, vocab.eos_id());
  STRATA_ASSIGN_OR_RETURN(tokenizer::RenderedChat rendered, tmpl->render(req));
  // Templates write {{ bos_token }} themselves; parsing it yields the BOS token, and none is added.
  return plain_prompt_tokens(rendered.text, tokenizer, /*parse_special=*/true);
}

void keep_prompt_tail(std::vector<int32_t>& tokens, int64_t max_tokens, std::optional<int32_t> bos_id) {
  if (max_tokens < 1 || static_cast<int64_t>(tokens.size()) <= max_tokens) return;
  const bool keep_bos = bos_id && !tokens.empty() && tokens.front() == *bos_id && max_tokens > 1;
  const size_t keep = static_cast<size_t>(max_tokens) - (keep_bos ? 1 : 0);
  tokens.erase(tokens.begin() + (keep_bos ? 1 : 0), tokens.end() - static_cast<std::ptrdiff_t>(keep));
}

Result<std::vector<int32_t>> build_chat_prompt(const PromptFormat& format, std::vector<ChatMessage> messages,
                                               const tokenizer::Tokenizer& tokenizer, int64_t max_tokens, bool truncate) {
  while (true) {
    STRATA_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, chat_prompt_tokens(format, messages, tokenizer));
    if (static_cast<int64_t>(tokens.size()) <= max_tokens) return tokens;
    // Drop the oldest message that is neither a system message nor the last one.
    auto victim = std::find_if(messages.begin(), messages.end(), [](const ChatMessage& m) { return m.role != "system"; });
    if (victim == messages.end() || victim == messages.end() - 1) {
      if (!truncate)
        return error("the input length exceeds the context length ({} tokens, {} allowed)", tokens.size(), max_tokens);
      keep_prompt_tail(tokens, max_tokens, tokenizer.vocab().bos_id());
      return tokens;
    }
    messages.erase(victim);
  }
}

}  // namespace strata::server
