// model/synth_vocab.h: vocabularies for synthetic models: SentencePiece-style (llama 1/2, Mistral) and
// byte-level BPE (gpt2 model: Llama 3, Qwen, gpt-oss) with valid merges and each family's special tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gguf/writer.h"

namespace strata::model {

// A BPE family's tokenizer: its pre-tokenizer name, and where its special tokens sit (ids at or past the
// regular tokens; the rest of the table up to n_vocab is filled with reserved specials).
struct BpeFamily {
  std::string_view name;  // "llama3", "qwen", "gpt-oss"
  std::string_view pre;   // tokenizer.ggml.pre
  struct Special {
    int64_t offset;  // id = first special id + offset
    std::string_view text;
  };
  std::vector<Special> specials;
  int64_t bos_offset, eos_offset;  // offsets into the specials (-1: no such token)
  bool add_bos;
  int64_t n_regular_real;  // the real table's first special id (its regular token count)
};
// The row for `name` (llama3, qwen, gpt-oss), or nullptr.
const BpeFamily* find_bpe_family(std::string_view name);

// Writes tokenizer.ggml.* for an n-token SentencePiece vocabulary (<unk> <s> </s>, 256 byte tokens, pieces).
void set_spm_vocab(gguf::Writer& w, int64_t n);
// Writes tokenizer.ggml.* for an n-token byte-level BPE vocabulary of `family`: the 256 byte symbols of the
// GPT-2 alphabet, then tokens each made by one merge of two earlier tokens (so every merge is valid), then
// the family's special tokens. A small n keeps the specials at the top of the table.
Status set_bpe_vocab(gguf::Writer& w, int64_t n, const BpeFamily& family);

}  // namespace strata::model
