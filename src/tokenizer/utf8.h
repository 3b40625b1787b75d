// tokenizer/utf8.h: classifying UTF-8 sequences, shared by the encoder (splitting text into characters)
// and the streaming detokenizer (emitting only whole characters).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace strata::tokenizer {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

enum class Utf8Kind {
  Valid,       // `length` bytes form one well-formed character
  Invalid,     // `length` bytes are a maximal ill-formed subpart: they become one U+FFFD
  Incomplete,  // the input ends inside a well-formed prefix of `length` bytes; more bytes may complete it
};
struct Utf8Step {
  Utf8Kind kind;
  size_t length;
};

// Classifies the sequence at the start of `s`, following Unicode's well-formedness table (no overlongs,
// no surrogates, nothing above U+10FFFF). REQUIRES: !s.empty().
Utf8Step utf8_next(std::string_view s);

// Appends the well-formed characters of `bytes` to `out`, each ill-formed subpart as one U+FFFD, and
// returns how many bytes it consumed. Unless `at_end`, a truncated sequence at the end is left unconsumed
// for the caller to complete; at the end it too becomes U+FFFD.
size_t append_valid_utf8(std::string_view bytes, bool at_end, std::string& out);

}  // namespace strata::tokenizer
