// chat/output_parser.cc: the marker state machine for tag-style thinking and the Llama 3, Hermes and
// Mistral call formats (Harmony is chat/harmony.cc).
#include "chat/output_parser.h"

#include "chat/harmony.h"

namespace strata::chat {

namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kMistralOpen = "[TOOL_CALLS]";
constexpr std::string_view kMistralArgs = "[ARGS]";
constexpr std::string_view kMistralCallId = "[CALL_ID]";
constexpr std::string_view kPythonTag = "<|python_tag|>";

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

std::string_view ltrim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

// How many bytes at the end of `text` are a proper prefix of `marker` (text that may become it).
size_t partial_suffix(std::string_view text, std::string_view marker) {
  for (size_t n = std::min(text.size(), marker.size() - 1); n > 0; --n)
    if (text.substr(text.size() - n) == marker.substr(0, n)) return n;
  return 0;
}

}  // namespace

void ParsedDelta::append(ParsedDelta&& o) {
  content += o.content;
  thinking += o.thinking;
  for (auto& c : o.calls) calls.push_back(std::move(c));
}

OutputParser::OutputParser(ParserOptions options) : options_(options) {
  if (options_.tools == ToolFormat::Harmony || options_.think == ThinkFormat::Harmony)
    harmony_ = std::make_unique<HarmonyParser>(options_.tools == ToolFormat::Harmony);
  if (options_.starts_in_thinking && options_.think == ThinkFormat::Tags) state_ = State::Thinking;
}
OutputParser::~OutputParser() = default;
OutputParser::OutputParser(OutputParser&&) noexcept = default;
OutputParser& OutputParser::operator=(OutputParser&&) noexcept = default;

ParsedDelta OutputParser::feed(std::string_view text) {
  if (harmony_) return harmony_->feed(text);
  buf_.append(text);
  ParsedDelta out;
  step(out, false);
  return out;
}

ParsedDelta OutputParser::finish() {
  if (harmony_) return harmony_->finish();
  ParsedDelta out;
  step(out, true);
  if (!buf_.empty()) {  // an unfinished call or marker: as written
    out.content += call_marker_ + buf_;
    buf_.clear();
  }
  return out;
}

void OutputParser::step(ParsedDelta& out, bool final) {
  for (;;) {
    bool progressed = false;
    switch (state_) {
      case State::Start: progressed = step_start(out, final); break;
      case State::Content: progressed = step_content(out, final); break;
      case State::Thinking: progressed = step_thinking(out, final); break;
      case State::Call: progressed = step_call(out, final); break;
    }
    if (!progressed) return;
  }
}

// Before any content: an opening <think>, or (Llama 3) a bare JSON call.
bool OutputParser::step_start(ParsedDelta& out, bool final) {
  std::string_view rest = ltrim(buf_);
  if (after_call_ && !rest.empty() && rest.front() == ';') rest = ltrim(rest.substr(1));  // Llama: "{..}; {..}"
  if (rest.empty() && !final) return false;
  if (options_.think == ThinkFormat::Tags) {
    if (rest.substr(0, kThinkOpen.size()) == kThinkOpen) {
      buf_.erase(0, buf_.size() - rest.size() + kThinkOpen.size());
      state_ = State::Thinking;
      return true;
    }
    if (!final && kThinkOpen.substr(0, rest.size()) == rest) return false;  // may still become <think>
  }
  if (options_.tools == ToolFormat::Llama3 && !rest.empty() && rest.front() == '{') {
    buf_.erase(0, buf_.size() - rest.size());
    after_call_ = false;
    call_marker_.clear();
    state_ = State::Call;
    return true;
  }
  after_call_ = false;
  skip_space_ = true;
  state_ = State::Content;
  return true;
}

bool OutputParser::step_thinking(ParsedDelta& out, bool final) {
  const size_t at = buf_.find(kThinkClose);
  if (at == std::string::npos) {
    const size_t keep = final ? 0 : partial_suffix(buf_, kThinkClose);
    out.thinking += buf_.substr(0, buf_.size() - keep);
    buf_.erase(0, buf_.size() - keep);
    return false;
  }
  out.thinking += buf_.substr(0, at);
  buf_.erase(0, at + kThinkClose.size());
  skip_space_ = true;  // the blank line after </think> is layout, not content
  state_ = options_.tools == ToolFormat::Llama3 ? State::Start : State::Content;  // a call may follow
  return true;
}

bool OutputParser::step_content(ParsedDelta& out, bool final) {
  if (skip_space_) {
    const std::string_view rest = ltrim(buf_);
    buf_.erase(0, buf_.size() - rest.size());
    if (buf_.empty()) return false;
    skip_space_ = false;
  }
  std::vector<std::string_view> markers;
  if (options_.tools == ToolFormat::Hermes) markers.push_back(kHermesOpen);
  if (options_.tools == ToolFormat::Mistral) markers.push_back(kMistralOpen);
  if (options_.tools == ToolFormat::Llama3) markers.push_back(kPythonTag);
  size_t first = std::string::npos;
  std::string_view which;
  for (auto m : markers)
    if (size_t at = buf_.find(m); at < first) first = at, which = m;
  // <think> opens a thought only before any content (after it, it is text).
  bool think_pending = false;
  if (options_.think == ThinkFormat::Tags && !content_started_) {
    const std::string_view rest = ltrim(buf_);
    const size_t at = buf_.size() - rest.size();
    if (rest.substr(0, kThinkOpen.size()) == kThinkOpen && at < first) first = at, which = kThinkOpen;
    else if (!final && kThinkOpen.substr(0, rest.size()) == rest && !rest.empty()) think_pending = true;
  }
  if (think_pending && first == std::string::npos) return false;
  if (first == std::string::npos) {
    size_t keep = 0;
    if (!final)
      for (auto m : markers) keep = std::max(keep, partial_suffix(buf_, m));
    if (!final && options_.think == ThinkFormat::Tags && !content_started_ && ltrim(buf_).empty()) keep = buf_.size();
    std::string_view emit = std::string_view(buf_).substr(0, buf_.size() - keep);
    if (!ltrim(emit).empty()) content_started_ = true;
    out.content += emit;
    buf_.erase(0, emit.size());
    return false;
  }
  std::string_view before = std::string_view(buf_).substr(0, first);
  if (!ltrim(before).empty()) content_started_ = true;
  out.content += before;
  buf_.erase(0, first + which.size());
  if (which == kThinkOpen) {
    state_ = State::Thinking;
  } else {
    call_marker_ = std::string(which);
    state_ = State::Call;
  }
  return true;
}

// Inside a call: wait for its end, then parse it; a call that does not parse comes out as text.
bool OutputParser::step_call(ParsedDelta& out, bool final) {
  auto as_text = [&](size_t n) {
    out.content += call_marker_ + buf_.substr(0, n);
    content_started_ = true;
    buf_.erase(0, n);
    call_marker_.clear();
    state_ = State::Content;
    return true;
  };
  auto done = [&](std::vector<ToolCall> calls, size_t n) {
    for (auto& c : calls) out.calls.push_back(std::move(c));
    buf_.erase(0, n);
    call_marker_.clear();
    if (options_.tools == ToolFormat::Llama3) {  // several JSON calls may follow one another, `;`-separated
      after_call_ = true;
      state_ = State::Start;
      return true;
    }
    skip_space_ = true;
    state_ = State::Content;
    return true;
  };
  switch (options_.tools) {
    case ToolFormat::Hermes: {
      const size_t at = buf_.find(kHermesClose);
      if (at == std::string::npos) {
        // Some models stop without the closing tag: a whole object at the end is still a call.
        if (!final) return false;
        auto end = json_value_end(buf_);
        if (end && ltrim(std::string_view(buf_).substr(*end)).empty())
          if (auto c = parse_call_object(std::string_view(buf_).substr(0, *end))) return done({std::move(*c)}, buf_.size());
        return false;  // finish() writes it out as text
      }
      auto c = parse_call_object(std::string_view(buf_).substr(0, at));
      if (!c) return as_text(at + kHermesClose.size());
      return done({std::move(*c)}, at + kHermesClose.size());
    }
    case ToolFormat::Mistral: {
      std::string_view rest = ltrim(buf_);
      const size_t skipped = buf_.size() - rest.size();
      if (!rest.empty() && rest.front() == '[') {  // [TOOL_CALLS][{...}, ...]
        auto end = json_value_end(rest);
        if (!end) return false;
        auto calls = parse_call_array(rest.substr(0, *end));
        if (!calls) return as_text(skipped + *end);
        return done(std::move(*calls), skipped + *end);
      }
      const size_t args = buf_.find(kMistralArgs);  // [TOOL_CALLS]name[CALL_ID]id[ARGS]{...}
      if (args == std::string::npos) return false;
      std::string name = buf_.substr(0, args);
      if (size_t id = name.find(kMistralCallId); id != std::string::npos) name.resize(id);
      const std::string_view json = std::string_view(buf_).substr(args + kMistralArgs.size());
      auto end = json_value_end(json);
      if (!end) return false;
      auto a = parse_arguments(json.substr(0, *end));
      const size_t n = args + kMistralArgs.size() + *end;
      if (!a || name.empty()) return as_text(n);
      return done({ToolCall{name, std::move(*a)}}, n);
    }
    case ToolFormat::Llama3: {
      auto end = json_value_end(buf_);
      if (!end) return false;  // finish() writes an unclosed one out as text
      auto c = parse_call_object(std::string_view(buf_).substr(0, *end));
      if (!c) return as_text(*end);
      return done({std::move(*c)}, *end);
    }
    case ToolFormat::None:
    case ToolFormat::Harmony: return as_text(buf_.size());
  }
  return false;
}

ParsedDelta parse_output(std::string_view text, ParserOptions options) {
  OutputParser p(options);
  ParsedDelta out = p.feed(text);
  out.append(p.finish());
  return out;
}

}  // namespace strata::chat
