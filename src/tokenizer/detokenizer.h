// tokenizer/detokenizer.h: turning token ids back into text, one id at a time, emitting only whole
// UTF-8 characters (a character split across byte tokens is held back until it is complete).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "tokenizer/tokenizer.h"

namespace strata::tokenizer {

struct DetokenizeOptions {
  bool render_special = false;  // write control/unknown tokens as their text ("</s>") instead of nothing
  // Drop the one space the tokenizer's add_space_prefix put before the first word. Only for decoding a
  // whole prompt or a generation that starts a text; a continuation keeps its space (as llama.cpp does).
  bool strip_leading_space = false;
};

class StreamingDetokenizer {
 public:
  // REQUIRES: `tokenizer` outlives this object.
  explicit StreamingDetokenizer(const Tokenizer& tokenizer, DetokenizeOptions options = {});

  // Feeds one token; returns the text that is now complete (often empty while a character is partial;
  // an ill-formed byte that nothing can complete comes out at once as U+FFFD).
  // REQUIRES: tokenizer.vocab().is_valid(id).
  std::string push(int32_t id);
  // Ends the stream: a character still incomplete becomes U+FFFD. The detokenizer can then be reused.
  std::string flush();

  // Bytes held back waiting for the rest of a character (at most 3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  DetokenizeOptions options_;
  bool at_start_ = true;  // nothing emitted yet: where strip_leading_space applies
  std::string pending_;
};

// Decodes a whole sequence (push every id, then flush).
std::string detokenize(const Tokenizer& tokenizer, std::span<const int32_t> ids, DetokenizeOptions options = {});

}  // namespace strata::tokenizer
