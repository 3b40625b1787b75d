// tokenizer/vocab.cc: reading and validating the tokenizer arrays, special ids and flags from GGUF metadata.
#include "tokenizer/vocab.h"

#include <cmath>
#include <cstdint>

namespace strata::tokenizer {

std::string_view token_type_name(TokenType t) {
  switch (t) {
    case TokenType::Normal: return "normal";
    case TokenType::Unknown: return "unknown";
    case TokenType::Control: return "control";
    case TokenType::UserDefined: return "user-defined";
    case TokenType::Unused: return "unused";
    case TokenType::Byte: return "byte";
  }
  return "invalid";
}

namespace {

// The array stored at `key`, or nullptr if absent; an error if present but not an array of `what`.
Result<const gguf::Array*> find_array(const gguf::GgufFile& file, std::string_view key,
                                      bool (*elem_ok)(gguf::ValueType), std::string_view what) {
  const gguf::Value* v = file.find(key);
  if (!v) return static_cast<const gguf::Array*>(nullptr);
  const gguf::Array* a = v->as_array();
  if (!a)
    return error("metadata key '{}' should be an array of {} but is {}", key, what, gguf::value_type_name(v->type()));
  if (!elem_ok(a->elem_type))
    return error("metadata key '{}' should be an array of {} but holds {}", key, what,
                 gguf::value_type_name(a->elem_type));
  return a;
}

bool is_string_type(gguf::ValueType t) { return t == gguf::ValueType::STRING; }
bool is_number_type(gguf::ValueType t) {
  return t != gguf::ValueType::STRING && t != gguf::ValueType::ARRAY && t != gguf::ValueType::BOOL;
}
bool is_integer_type(gguf::ValueType t) {
  return is_number_type(t) && t != gguf::ValueType::FLOAT32 && t != gguf::ValueType::FLOAT64;
}

Result<bool> read_flag(const gguf::GgufFile& file, std::string_view key, bool fallback) {
  const gguf::Value* v = file.find(key);
  if (!v) return fallback;
  auto b = v->as_bool();
  if (!b) return error("metadata key '{}' should be a bool but is {}", key, gguf::value_type_name(v->type()));
  return *b;
}

// A special id: absent keeps `fallback`; -1 (or its uint32 spelling, which converters write for "none")
// means no such token; anything else must name a token.
Result<std::optional<int32_t>> read_id(const gguf::GgufFile& file, std::string_view key, int32_t n_tokens,
                                       std::optional<int32_t> fallback) {
  STRATA_ASSIGN_OR_RETURN(std::optional<int64_t> raw, file.get_int(key));
  if (!raw) {
    if (fallback && (*fallback < 0 || *fallback >= n_tokens)) return std::optional<int32_t>{};
    return fallback;
  }
  if (*raw == -1 || *raw == int64_t{UINT32_MAX}) return std::optional<int32_t>{};
  if (*raw < 0 || *raw >= n_tokens)
    return error("metadata key '{}' is {}, outside the vocabulary of {} tokens", key, *raw, n_tokens);
  return std::optional<int32_t>{static_cast<int32_t>(*raw)};
}

// Parses "<0xAB>" into 0xAB.
std::optional<uint8_t> parse_byte_piece(std::string_view s) {
  if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return std::nullopt;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int hi = hex(s[3]), lo = hex(s[4]);
  if (hi < 0 || lo < 0) return std::nullopt;
  return static_cast<uint8_t>(hi * 16 + lo);
}

}  // namespace

Result<Vocab> Vocab::from_gguf(const gguf::GgufFile& file, const VocabDefaults& defaults) {
  Vocab v;

  STRATA_ASSIGN_OR_RETURN(const gguf::Array* tokens, find_array(file, kKeyTokens, is_string_type, "strings"));
  if (!tokens) return error("metadata key '{}' is missing: the file has no vocabulary", kKeyTokens);
  if (tokens->items.empty()) return error("metadata key '{}' is empty", kKeyTokens);
  if (tokens->items.size() > static_cast<size_t>(INT32_MAX))
    return error("metadata key '{}' has {} entries, more than token ids can address", kKeyTokens, tokens->items.size());
  const size_t n = tokens->items.size();
  const int32_t n_tokens = static_cast<int32_t>(n);

  STRATA_ASSIGN_OR_RETURN(const gguf::Array* scores, find_array(file, kKeyScores, is_number_type, "numbers"));
  if (!scores && defaults.scores_required) return error("metadata key '{}' is missing", kKeyScores);
  if (scores && scores->items.size() != n)
    return error("metadata key '{}' has {} entries but '{}' has {}", kKeyScores, scores->items.size(), kKeyTokens, n);

  STRATA_ASSIGN_OR_RETURN(const gguf::Array* types, find_array(file, kKeyTokenType, is_integer_type, "integers"));
  if (!types) return error("metadata key '{}' is missing", kKeyTokenType);
  if (types->items.size() != n)
    return error("metadata key '{}' has {} entries but '{}' has {}", kKeyTokenType, types->items.size(), kKeyTokens, n);

  v.texts_.reserve(n);
  v.scores_.reserve(n);
  v.types_.reserve(n);
  v.piece_to_id_.reserve(n);
  v.byte_to_id_.fill(-1);
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = static_cast<int32_t>(i);
    const std::string* text = tokens->items[i].as_string();
    if (!text) return error("metadata key '{}'[{}] is not a string", kKeyTokens, i);  // hand-built files only
    v.texts_.push_back(*text);

    float score = 0.0f;
    if (scores) {
      const std::optional<double> number = scores->items[i].as_number();
      score = number ? static_cast<float>(*number) : NAN;
      if (!std::isfinite(score)) return error("metadata key '{}'[{}] is not a finite number", kKeyScores, i);
    }
    v.scores_.push_back(score);

    std::optional<int64_t> t = types->items[i].as_int();
    if (!t || *t < static_cast<int64_t>(TokenType::Normal) || *t > static_cast<int64_t>(TokenType::Byte))
      return error("metadata key '{}'[{}] is {}, not a token type (1..6)", kKeyTokenType, i,
                   types->items[i].to_display());
    const TokenType type = static_cast<TokenType>(*t);
    v.types_.push_back(type);

    if (type == TokenType::Byte) {
      std::optional<uint8_t> b = parse_byte_piece(v.texts_.back());
      if (!b)
        return error("metadata key '{}'[{}] is a byte token but its piece '{}' is not of the form <0xAB>", kKeyTokens,
                     i, v.texts_.back());
      if (v.byte_to_id_[*b] < 0) ++v.n_byte_tokens_;
      v.byte_to_id_[*b] = id;
    }
    v.piece_to_id_.insert_or_assign(v.texts_.back(), id);
  }

  STRATA_ASSIGN_OR_RETURN(v.bos_id_, read_id(file, kKeyBosId, n_tokens, defaults.bos_id));
  STRATA_ASSIGN_OR_RETURN(v.eos_id_, read_id(file, kKeyEosId, n_tokens, defaults.eos_id));
  STRATA_ASSIGN_OR_RETURN(v.unknown_id_, read_id(file, kKeyUnknownId, n_tokens, defaults.unknown_id));
  STRATA_ASSIGN_OR_RETURN(v.padding_id_, read_id(file, kKeyPaddingId, n_tokens, std::nullopt));
  STRATA_ASSIGN_OR_RETURN(v.add_bos_, read_flag(file, kKeyAddBos, defaults.add_bos));
  STRATA_ASSIGN_OR_RETURN(v.add_eos_, read_flag(file, kKeyAddEos, defaults.add_eos));
  STRATA_ASSIGN_OR_RETURN(v.add_space_prefix_, read_flag(file, kKeyAddSpacePrefix, defaults.add_space_prefix));

  // A flag the file sets explicitly must be honourable; a defaulted one quietly yields to a missing token.
  if (v.add_bos_ && !v.bos_id_) {
    if (file.find(kKeyAddBos))
      return error("metadata key '{}' is true but there is no BOS token ('{}')", kKeyAddBos, kKeyBosId);
    v.add_bos_ = false;
  }
  if (v.add_eos_ && !v.eos_id_) {
    if (file.find(kKeyAddEos))
      return error("metadata key '{}' is true but there is no EOS token ('{}')", kKeyAddEos, kKeyEosId);
    v.add_eos_ = false;
  }
  return v;
}

std::optional<uint8_t> Vocab::byte_value(int32_t id) const {
  if (type(id) != TokenType::Byte) return std::nullopt;
  return parse_byte_piece(text(id));  // from_gguf rejected byte tokens whose text does not parse
}

}  // namespace strata::tokenizer
