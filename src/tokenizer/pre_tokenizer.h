// tokenizer/pre_tokenizer.h: splitting text into words before byte-level BPE, by the regexes that
// `tokenizer.ggml.pre` names (one table row per pre-tokenizer), and each family's BPE flags.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/regex.h"

namespace strata::tokenizer {

class PreTokenizer {
 public:
  // The pre-tokenizer `tokenizer.ggml.pre` names ("default" when the key is absent); an unknown name is
  // an error that names it.
  static Result<PreTokenizer> create(std::string_view name);

  // Appends the words of `text` in order. Each regex in turn splits every piece the previous one left
  // (matches and gaps alike), as HF's `Sequence` of `Split` pre-tokenizers does. Ill-formed UTF-8 bytes
  // are never given to the regexes: each becomes a word of its own.
  void split(std::string_view text, std::vector<std::string_view>& out) const;

  const std::string& name() const { return name_; }
  // Whole words found in the vocabulary are taken as one token before any merge (Llama 3, Tekken).
  bool ignore_merges() const { return ignore_merges_; }
  // Whether the family adds BOS when the file does not say (`tokenizer.ggml.add_bos_token`).
  bool add_bos_default() const { return add_bos_default_; }

  // Every name the table knows, for messages and tests.
  static std::vector<std::string_view> known_names();

 private:
  PreTokenizer() = default;

  std::string name_;
  std::vector<SplitRegex> regexes_;
  bool ignore_merges_ = false;
  bool add_bos_default_ = false;
};

}  // namespace strata::tokenizer
