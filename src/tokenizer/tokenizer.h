// tokenizer/tokenizer.h: the model-independent tokenizer interface, special-token splitting, and the
// factory that picks an implementation from `tokenizer.ggml.model`.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gguf/gguf_file.h"
#include "tokenizer/vocab.h"

namespace strata::tokenizer {

struct EncodeOptions {
  bool add_bos = false;  // prepend the BOS token (when the vocabulary has one)
  bool add_eos = false;  // append the EOS token (when the vocabulary has one)
  // Recognise control tokens written literally ("<s>", "<|im_start|>") as single tokens. Off for
  // untrusted prompts so a user cannot forge turn markers; the chat template path turns it on.
  // User-defined tokens are always recognised, as SentencePiece does.
  bool parse_special = false;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // The `tokenizer.ggml.model` string this implementation serves ("llama").
  virtual std::string_view model() const = 0;
  const Vocab& vocab() const { return vocab_; }

  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options) const;
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = false) const {
    return encode(text, EncodeOptions{.add_bos = add_bos, .add_eos = false, .parse_special = parse_special});
  }

  // The bytes a token stands for (possibly not whole UTF-8: byte tokens are single bytes). Control,
  // unknown and unused tokens are empty unless `render_special`, which gives their piece text.
  // REQUIRES: vocab().is_valid(id). The view lives as long as the tokenizer.
  virtual std::string_view token_to_piece(int32_t id, bool render_special = false) const = 0;

 protected:
  explicit Tokenizer(Vocab vocab);

  // Appends the tokens of one run of plain text (no special tokens in it). `starts_segment` is true at
  // the start of the input and right after a special token: where SentencePiece adds its space prefix.
  virtual void encode_text(std::string_view text, bool starts_segment, std::vector<int32_t>& out) const = 0;

  Vocab vocab_;

 private:
  // The longest special token that starts `text`, or -1.
  int32_t match_special(std::string_view text, bool parse_special) const;

  // Special tokens (control, unknown, user-defined) by first byte, longest first, so matching at a
  // position costs nothing unless its byte can start one.
  std::array<std::vector<int32_t>, 256> specials_by_first_byte_;
};

// Builds the tokenizer `tokenizer.ggml.model` names. Unsupported models are an error naming them.
Result<std::unique_ptr<Tokenizer>> make_tokenizer(const gguf::GgufFile& file);

}  // namespace strata::tokenizer
