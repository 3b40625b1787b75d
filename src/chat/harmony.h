// chat/harmony.h: gpt-oss's Harmony output: messages of the form [<|start|>assistant]<|channel|>NAME
// [to=functions.TOOL] [<|constrain|>json]<|message|>BODY ending at <|end|>, <|call|>, <|return|> or the
// next <|start|>. The analysis channel is thinking, final is content, commentary to=functions.X is a call.
#pragma once

#include <string>
#include <string_view>

#include "chat/output_parser.h"

namespace strata::chat {

class HarmonyParser {
 public:
  explicit HarmonyParser(bool parse_calls) : parse_calls_(parse_calls) {}
  ParsedDelta feed(std::string_view text);
  ParsedDelta finish();

 private:
  enum class State { Header, Body, Plain };
  bool step(ParsedDelta& out, bool final);
  void end_message(ParsedDelta& out);

  bool parse_calls_;
  State state_ = State::Header;
  std::string buf_;
  std::string channel_;    // of the current message
  std::string recipient_;  // "functions.NAME" for a call
  std::string call_body_;  // a call's arguments as they arrive
};

}  // namespace strata::chat
