// tokenizer/bpe_tokenizer.h: byte-level BPE (GGUF `tokenizer.ggml.model = "gpt2"`): words from the
// pre-tokenizer, bytes spelled in GPT-2's alphabet, adjacent symbols merged by merge rank.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "gguf/gguf_file.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace strata::tokenizer {

inline constexpr std::string_view kKeyMerges = "tokenizer.ggml.merges";
inline constexpr std::string_view kKeyPre = "tokenizer.ggml.pre";

class BpeTokenizer final : public Tokenizer {
 public:
  static constexpr std::string_view kModel = "gpt2";

  // Reads the vocabulary, the merges and `tokenizer.ggml.pre`. Errors name the key and the bad value: an
  // unknown pre-tokenizer, a merge that is not "left right" or whose pieces (or their concatenation) are
  // not normal tokens, an empty vocabulary.
  static Result<std::unique_ptr<BpeTokenizer>> create(const gguf::GgufFile& file);

  // Merge ranks keyed by "left right" (byte-level text never holds a raw space, so the key is unambiguous).
  using MergeRanks = std::unordered_map<std::string, int32_t, Vocab::PieceHash, std::equal_to<>>;

  // REQUIRES: what create() checks (every byte's character and every merge's pieces are tokens).
  BpeTokenizer(Vocab vocab, PreTokenizer pre, MergeRanks ranks);

  std::string_view model() const override { return kModel; }
  std::string_view token_to_piece(int32_t id, bool render_special = false) const override;
  const PreTokenizer& pre_tokenizer() const { return pre_; }

 protected:
  void encode_text(std::string_view text, bool starts_segment, std::vector<int32_t>& out) const override;

 private:
  // Appends the tokens of one word already spelled in the byte alphabet.
  void encode_word(std::string_view word, std::string& key, std::vector<int32_t>& out) const;
  // The rank of merging `left` with `right`, or -1; `key` is scratch space.
  int32_t rank(std::string_view left, std::string_view right, std::string& key) const;

  PreTokenizer pre_;
  MergeRanks ranks_;
  ByteAlphabet alphabet_;
  // Decoded bytes of every token, built once: byte-level pieces turned back into bytes, user-defined
  // tokens verbatim, control tokens empty (their text stays in the vocabulary for render_special).
  std::vector<std::string> pieces_;
};

}  // namespace strata::tokenizer
