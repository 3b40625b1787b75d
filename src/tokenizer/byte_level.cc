// tokenizer/byte_level.cc: building GPT-2's byte alphabet and mapping between bytes and its characters.
#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace strata::tokenizer {

namespace {

void append_code_point(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {  // the alphabet never leaves the two-byte range
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 bytes take
// U+0100 onwards in byte order. This is the table GPT-2 defined and every byte-level BPE reuses.
bool stands_for_itself(int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); }

}  // namespace

ByteAlphabet::ByteAlphabet() {
  byte_of_code_point_.fill(-1);
  uint32_t next = 0x100;
  for (int b = 0; b < 256; ++b) {
    const uint32_t cp = stands_for_itself(b) ? static_cast<uint32_t>(b) : next++;
    append_code_point(cp, encoded_[static_cast<size_t>(b)]);
    byte_of_code_point_[cp] = static_cast<int16_t>(b);
  }
}

void ByteAlphabet::encode(std::string_view bytes, std::string& out) const {
  for (char c : bytes) out += encoded_[static_cast<uint8_t>(c)];
}

std::optional<uint8_t> ByteAlphabet::decode(uint32_t code_point) const {
  if (code_point >= byte_of_code_point_.size() || byte_of_code_point_[code_point] < 0) return std::nullopt;
  return static_cast<uint8_t>(byte_of_code_point_[code_point]);
}

std::string ByteAlphabet::decode_piece(std::string_view piece) const {
  std::string out;
  out.reserve(piece.size());
  for (size_t pos = 0; pos < piece.size();) {
    const Utf8Step step = utf8_next(piece.substr(pos));
    const size_t len = step.kind == Utf8Kind::Valid ? step.length : 1;
    std::optional<uint8_t> b;
    if (step.kind == Utf8Kind::Valid && len <= 2) {
      const auto b0 = static_cast<uint8_t>(piece[pos]);
      const uint32_t cp = len == 1 ? b0 : ((b0 & 0x1Fu) << 6) | (static_cast<uint8_t>(piece[pos + 1]) & 0x3Fu);
      b = decode(cp);
    }
    if (b) {
      out += static_cast<char>(*b);
    } else {
      out.append(piece.substr(pos, len));
    }
    pos += len;
  }
  return out;
}

}  // namespace strata::tokenizer
