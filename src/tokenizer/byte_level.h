// tokenizer/byte_level.h: GPT-2's byte alphabet: every byte as one printable Unicode character, so byte-level
// BPE vocabularies store raw bytes (spaces, control bytes, pieces of UTF-8) as ordinary text.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strata::tokenizer {

class ByteAlphabet {
 public:
  ByteAlphabet();

  // The UTF-8 of the character that stands for byte `b` ("Ġ" for a space).
  std::string_view encode(uint8_t b) const { return encoded_[b]; }
  // Appends the byte-level spelling of `bytes` to `out`.
  void encode(std::string_view bytes, std::string& out) const;
  // The byte a code point stands for, or nullopt when it is not part of the alphabet.
  std::optional<uint8_t> decode(uint32_t code_point) const;
  // Decodes a vocabulary piece back to bytes; characters outside the alphabet are kept as their UTF-8.
  std::string decode_piece(std::string_view piece) const;

 private:
  std::array<std::string, 256> encoded_;
  std::array<int16_t, 512> byte_of_code_point_{};  // the alphabet lies below U+0200; -1 elsewhere
};

}  // namespace strata::tokenizer
