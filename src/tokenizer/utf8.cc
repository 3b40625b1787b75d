// tokenizer/utf8.cc: UTF-8 sequence classification and sanitising.
#include "tokenizer/utf8.h"

#include <cstdint>

#include "core/check.h"

namespace strata::tokenizer {

Utf8Step utf8_next(std::string_view s) {
  STRATA_CHECK(!s.empty());
  const auto b0 = static_cast<uint8_t>(s[0]);
  if (b0 < 0x80) return {Utf8Kind::Valid, 1};
  size_t need = 0;
  // The range the second byte must fall in; later bytes are always 80..BF.
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return {Utf8Kind::Invalid, 1};  // continuation byte, C0/C1, or F5..FF
  }
  for (size_t i = 1; i < need; ++i) {
    if (i >= s.size()) return {Utf8Kind::Incomplete, i};
    const auto b = static_cast<uint8_t>(s[i]);
    if (b < lo || b > hi) return {Utf8Kind::Invalid, i};
    lo = 0x80;
    hi = 0xBF;
  }
  return {Utf8Kind::Valid, need};
}

size_t append_valid_utf8(std::string_view bytes, bool at_end, std::string& out) {
  size_t pos = 0;
  size_t run_start = 0;  // well-formed bytes are copied in runs, not a character at a time
  while (pos < bytes.size()) {
    const Utf8Step step = utf8_next(bytes.substr(pos));
    if (step.kind == Utf8Kind::Valid) {
      pos += step.length;
      continue;
    }
    if (step.kind == Utf8Kind::Incomplete && !at_end) break;  // wait for the bytes that finish it
    out.append(bytes.substr(run_start, pos - run_start));
    out.append(kReplacementChar);
    pos += step.length;
    run_start = pos;
  }
  out.append(bytes.substr(run_start, pos - run_start));
  return pos;
}

}  // namespace strata::tokenizer
