// tokenizer/spm_tokenizer.h: SentencePiece-style tokenization (GGUF `tokenizer.ggml.model = "llama"`):
// spaces as U+2581, merges of adjacent pieces by best score, byte fallback.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace strata::tokenizer {

class SpmTokenizer final : public Tokenizer {
 public:
  static constexpr std::string_view kModel = "llama";
  // U+2581 LOWER ONE EIGHTH BLOCK: SentencePiece's stand-in for a space.
  static constexpr std::string_view kSpaceMark = "\xE2\x96\x81";

  // Reads the vocabulary with SentencePiece's defaults (BOS 1, EOS 2, UNK 0, add BOS, add space prefix).
  static Result<std::unique_ptr<SpmTokenizer>> create(const gguf::GgufFile& file);

  // REQUIRES: the vocabulary has an unknown token or all 256 byte tokens (create() checks), so that
  // any text can be encoded.
  explicit SpmTokenizer(Vocab vocab);

  std::string_view model() const override { return kModel; }
  std::string_view token_to_piece(int32_t id, bool render_special = false) const override;

 protected:
  void encode_text(std::string_view text, bool starts_segment, std::vector<int32_t>& out) const override;

 private:
  // The id of `piece` if merging may produce it (normal and user-defined pieces), else -1. Control,
  // byte and unused pieces never come out of plain text.
  int32_t mergeable_id(std::string_view piece) const;
  // A character no piece covers: its bytes as <0xAB> tokens, or UNK when the vocabulary lacks them.
  void append_fallback(std::string_view chars, std::vector<int32_t>& out) const;

  // Decoded text of every token, built once: ▁ turned back into spaces, byte tokens as their byte,
  // special tokens empty (their text stays in the vocabulary for render_special).
  std::vector<std::string> pieces_;
};

}  // namespace strata::tokenizer
