// chat/harmony.cc: the Harmony message state machine.
#include "chat/harmony.h"

#include <array>

namespace strata::chat {

namespace {

constexpr std::string_view kStart = "<|start|>";
constexpr std::string_view kChannel = "<|channel|>";
constexpr std::string_view kMessage = "<|message|>";
constexpr std::array<std::string_view, 4> kEnds = {"<|end|>", "<|call|>", "<|return|>", "<|start|>"};

size_t partial_suffix(std::string_view text, std::string_view marker) {
  for (size_t n = std::min(text.size(), marker.size() - 1); n > 0; --n)
    if (text.substr(text.size() - n) == marker.substr(0, n)) return n;
  return 0;
}

// The word after `key` in the header, up to a space or the next <|.
std::string header_word(std::string_view header, std::string_view key) {
  const size_t at = header.find(key);
  if (at == std::string_view::npos) return {};
  std::string_view rest = header.substr(at + key.size());
  size_t end = 0;
  while (end < rest.size() && rest[end] != ' ' && rest[end] != '<' && rest[end] != '\n') ++end;
  return std::string(rest.substr(0, end));
}

}  // namespace

ParsedDelta HarmonyParser::feed(std::string_view text) {
  buf_.append(text);
  ParsedDelta out;
  while (step(out, false)) {
  }
  return out;
}

ParsedDelta HarmonyParser::finish() {
  ParsedDelta out;
  while (step(out, true)) {
  }
  if (state_ == State::Body) end_message(out);  // the stop token (<|call|>, <|return|>) is not in the text
  else if (!buf_.empty()) out.content += buf_;
  buf_.clear();
  return out;
}

bool HarmonyParser::step(ParsedDelta& out, bool final) {
  switch (state_) {
    case State::Plain:
      out.content += buf_;
      buf_.clear();
      return false;
    case State::Header: {
      // Text that cannot be a header (a model that ignores the format) is content from here on.
      const std::string_view b = buf_;
      const bool headerish = b.empty() || b.rfind("<|", 0) == 0 || std::string_view("<|").substr(0, b.size()) == b ||
                             b.rfind("assistant", 0) == 0 || std::string_view("assistant").substr(0, b.size()) == b;
      if (!headerish) {
        state_ = State::Plain;
        return true;
      }
      const size_t at = buf_.find(kMessage);
      if (at == std::string::npos) {
        if (final && !b.empty()) {
          state_ = State::Plain;
          return true;
        }
        return false;
      }
      const std::string_view header = std::string_view(buf_).substr(0, at);
      channel_ = header_word(header, kChannel);
      recipient_ = header_word(header, "to=");
      call_body_.clear();
      buf_.erase(0, at + kMessage.size());
      state_ = State::Body;
      return true;
    }
    case State::Body: {
      size_t first = std::string::npos;
      std::string_view which;
      for (auto e : kEnds)
        if (size_t at = buf_.find(e); at < first) first = at, which = e;
      size_t n = first;
      if (first == std::string::npos) {
        size_t keep = 0;
        if (!final)
          for (auto e : kEnds) keep = std::max(keep, partial_suffix(buf_, e));
        n = buf_.size() - keep;
      }
      const std::string_view body = std::string_view(buf_).substr(0, n);
      const bool is_call = parse_calls_ && recipient_.rfind("functions.", 0) == 0;
      if (is_call) call_body_ += body;
      else if (channel_ == "analysis") out.thinking += body;
      else out.content += body;  // final, and commentary addressed to the user (a preamble)
      buf_.erase(0, n);
      if (first == std::string::npos) return false;
      end_message(out);
      buf_.erase(0, which.size());
      state_ = State::Header;
      return true;
    }
  }
  return false;
}

void HarmonyParser::end_message(ParsedDelta& out) {
  if (parse_calls_ && recipient_.rfind("functions.", 0) == 0) {
    const std::string name = recipient_.substr(std::string_view("functions.").size());
    auto args = parse_arguments(call_body_);
    if (args && !name.empty()) out.calls.push_back(ToolCall{name, std::move(*args)});
    else out.content += call_body_;  // a call that does not parse: as text
  }
  channel_.clear();
  recipient_.clear();
  call_body_.clear();
}

}  // namespace strata::chat
