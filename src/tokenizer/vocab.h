// tokenizer/vocab.h: the token table read from GGUF metadata: pieces, scores, types, special ids and flags.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "gguf/gguf_file.h"

namespace strata::tokenizer {

// Token types exactly as `tokenizer.ggml.token_type` stores them.
enum class TokenType : int32_t {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};
std::string_view token_type_name(TokenType t);

// What a tokenizer model assumes when a GGUF file leaves a key out. Each model fills one of these:
// SentencePiece files written by older converters omit the flags and ids, and the defaults are
// what those models were trained with.
struct VocabDefaults {
  bool scores_required = true;  // SentencePiece merges by score; byte-level BPE does not need them
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;
  std::optional<int32_t> bos_id;
  std::optional<int32_t> eos_id;
  std::optional<int32_t> unknown_id;
};

// Metadata keys the vocabulary reads (named in every error message).
inline constexpr std::string_view kKeyModel = "tokenizer.ggml.model";
inline constexpr std::string_view kKeyTokens = "tokenizer.ggml.tokens";
inline constexpr std::string_view kKeyScores = "tokenizer.ggml.scores";
inline constexpr std::string_view kKeyTokenType = "tokenizer.ggml.token_type";
inline constexpr std::string_view kKeyBosId = "tokenizer.ggml.bos_token_id";
inline constexpr std::string_view kKeyEosId = "tokenizer.ggml.eos_token_id";
inline constexpr std::string_view kKeyUnknownId = "tokenizer.ggml.unknown_token_id";
inline constexpr std::string_view kKeyPaddingId = "tokenizer.ggml.padding_token_id";
inline constexpr std::string_view kKeyAddBos = "tokenizer.ggml.add_bos_token";
inline constexpr std::string_view kKeyAddEos = "tokenizer.ggml.add_eos_token";
inline constexpr std::string_view kKeyAddSpacePrefix = "tokenizer.ggml.add_space_prefix";

class Vocab {
 public:
  // Reads and validates every tokenizer key. Errors name the key (and index) and the bad value.
  static Result<Vocab> from_gguf(const gguf::GgufFile& file, const VocabDefaults& defaults);

  int32_t size() const { return static_cast<int32_t>(texts_.size()); }
  bool is_valid(int32_t id) const { return id >= 0 && id < size(); }

  // REQUIRES: is_valid(id).
  const std::string& text(int32_t id) const { return texts_[static_cast<size_t>(id)]; }
  float score(int32_t id) const { return scores_[static_cast<size_t>(id)]; }
  TokenType type(int32_t id) const { return types_[static_cast<size_t>(id)]; }

  // The id whose piece is exactly `piece`; when a file repeats a piece, the last id wins.
  std::optional<int32_t> find(std::string_view piece) const {
    auto it = piece_to_id_.find(piece);
    if (it == piece_to_id_.end()) return std::nullopt;
    return it->second;
  }
  // The `<0xAB>` token for a byte, if the vocabulary has one.
  std::optional<int32_t> byte_token(uint8_t b) const {
    int32_t id = byte_to_id_[b];
    return id < 0 ? std::nullopt : std::optional<int32_t>(id);
  }
  bool has_all_byte_tokens() const { return n_byte_tokens_ == 256; }
  // The byte a byte-type token stands for; nullopt for other types. REQUIRES: is_valid(id).
  std::optional<uint8_t> byte_value(int32_t id) const;

  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::optional<int32_t> eos_id() const { return eos_id_; }
  std::optional<int32_t> unknown_id() const { return unknown_id_; }
  std::optional<int32_t> padding_id() const { return padding_id_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }

  // Heterogeneous lookup so encoding probes maps with string_views into the input, never copying.
  struct PieceHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

 private:

  std::vector<std::string> texts_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  std::unordered_map<std::string, int32_t, PieceHash, std::equal_to<>> piece_to_id_;
  std::array<int32_t, 256> byte_to_id_{};
  int n_byte_tokens_ = 0;
  std::optional<int32_t> bos_id_, eos_id_, unknown_id_, padding_id_;
  bool add_bos_ = true;
  bool add_eos_ = false;
  bool add_space_prefix_ = true;
};

}  // namespace strata::tokenizer
