// chat/output_parser.h: splits a model's streamed text into content, thinking and whole tool calls, as
// each piece arrives. Text that may be the start of a marker is held back until it is decided; a call
// comes out once it is complete; a call that never closes or does not parse comes out as content.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/output_format.h"
#include "chat/tool_calls.h"

namespace strata::chat {

struct ParsedDelta {
  std::string content;
  std::string thinking;
  std::vector<ToolCall> calls;
  bool empty() const { return content.empty() && thinking.empty() && calls.empty(); }
  void append(ParsedDelta&& other);
};

struct ParserOptions {
  ToolFormat tools = ToolFormat::None;    // None: no tools in the request; calls are not looked for
  ThinkFormat think = ThinkFormat::None;  // None: thinking is not split out
  bool starts_in_thinking = false;        // the prompt ended inside <think> (R1 distills, Qwen3 with a prefill)
};

class HarmonyParser;

class OutputParser {
 public:
  explicit OutputParser(ParserOptions options);
  ~OutputParser();
  OutputParser(OutputParser&&) noexcept;
  OutputParser& operator=(OutputParser&&) noexcept;

  ParsedDelta feed(std::string_view text);
  // The end of the output: whatever is held back comes out (an unfinished call as content).
  ParsedDelta finish();

 private:
  enum class State { Start, Content, Thinking, Call };
  void step(ParsedDelta& out, bool final);
  bool step_start(ParsedDelta& out, bool final);
  bool step_content(ParsedDelta& out, bool final);
  bool step_thinking(ParsedDelta& out, bool final);
  bool step_call(ParsedDelta& out, bool final);

  ParserOptions options_;
  std::unique_ptr<HarmonyParser> harmony_;  // set for Harmony models
  State state_ = State::Start;
  std::string buf_;          // text not yet decided
  std::string call_marker_;  // the marker that opened the current call ("" for a bare Llama JSON call)
  bool content_started_ = false;  // something other than whitespace went out as content
  bool skip_space_ = false;       // whitespace after a call or </think> is layout, dropped
  bool after_call_ = false;       // Start after a Llama call: a `;` may separate the next one
};

// Convenience for tests and non-streaming replies: the whole text at once.
ParsedDelta parse_output(std::string_view text, ParserOptions options);

}  // namespace strata::chat
