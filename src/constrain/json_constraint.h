// constrain/json_constraint.h: constrained sampling: the interface the generation loop calls around each
// sample, and JSON mode (`format: "json"`): every token that would make the output stop being the
// prefix of one JSON object is masked, and end-of-generation is only allowed once the object is closed.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace strata::constrain {

// Called by the generation loop: restrict() before each sample, accept() with the token chosen.
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets the logit of every token that may not come next to -infinity. An error when none may.
  virtual Status restrict(std::span<float> logits) = 0;
  virtual void accept(int32_t token) = 0;
};

// A byte-at-a-time recognizer of JSON text whose top-level value is an object (RFC 8259 grammar, as
// Ollama's JSON mode asks). Fixed size, so a copy per candidate token is cheap. A run of whitespace is
// one space or a newline and at most kMaxIndent spaces or tabs, so that a model cannot pad forever;
// nesting stops at kMaxDepth.
class JsonRecognizer {
 public:
  static constexpr int kMaxDepth = 32;
  static constexpr int kMaxIndent = 20;

  JsonRecognizer() = default;
  // any_value: the top level may be any JSON value, not only an object (a member of a schema's `{}`).
  explicit JsonRecognizer(bool any_value) : any_value_(any_value) {}

  // False (and the recognizer unusable) when `c` cannot continue a valid prefix.
  bool feed(uint8_t c);
  bool feed(std::string_view bytes) {
    for (char c : bytes)
      if (!feed(static_cast<uint8_t>(c))) return false;
    return true;
  }
  // The top-level object is closed: the text so far is one whole JSON document.
  bool complete() const { return state_ == State::Done; }
  // The text so far is a whole value if it ends here: complete, or a top-level number (which only the
  // next byte or the end of the text can close).
  bool can_end() const;
  // Whitespace bookkeeping shared with the schema recognizer (one run: " " or "\n" + indentation).
  static bool whitespace_ok(uint8_t c, uint8_t& run, bool& newline);

 private:
  enum class State : uint8_t {
    Start,           // before the top-level object: whitespace or '{'
    Value,           // a value must come (after ':' or ',' in an array)
    ArrayFirst,      // just after '[': a value or ']'
    KeyOrClose,      // just after '{': a key or '}'
    Key,             // after ',' in an object: a key
    Colon,           // after a key: ':'
    AfterValue,      // after a value in a container: ',' or its closer
    String,          // inside a string (key or value)
    Escape,          // after a backslash
    Unicode,         // inside \uXXXX (hex_left digits to go)
    Minus, Zero, Int, Dot, Frac, Exp, ExpSign, ExpDigits,  // a number
    Literal,         // inside true / false / null
    Done,
    Failed,
  };
  bool value_start(uint8_t c);
  bool close_value();  // a value just ended
  bool after_value(uint8_t c);
  bool whitespace(uint8_t c);

  State state_ = State::Start;
  bool any_value_ = false;
  bool string_is_key_ = false;
  uint8_t hex_left_ = 0;
  uint8_t ws_run_ = 0;  // whitespace bytes since the last other byte
  bool ws_newline_ = false;  // that run began with a newline
  uint8_t literal_pos_ = 0;
  const char* literal_ = nullptr;
  int depth_ = 0;
  std::array<bool, kMaxDepth> is_object_{};  // per open container: object (true) or array
};

// What a byte-level constraint needs to know of each token. The tokenizer must outlive it (the pieces
// are views into the tokenizer).
struct VocabBytes {
  explicit VocabBytes(const tokenizer::Tokenizer& tokenizer);
  std::vector<std::string_view> pieces;  // per token: its bytes; empty for control and unknown tokens
  std::vector<bool> ends_generation;     // per token: is_end_of_generation
  // Token ids in byte order of their pieces, and how many leading bytes each shares with the one before:
  // a walk in this order visits the pieces as a trie, so a shared prefix is checked once.
  std::vector<int32_t> sorted;
  std::vector<uint32_t> shared_prefix;
  size_t longest = 0;
};

// Sets to -inf each logit whose token `allowed` (from allowed_pieces) refuses; end-of-generation tokens
// stay only when `can_end`. Returns how many tokens are still possible.
size_t mask_logits(const VocabBytes& v, const std::vector<uint8_t>& allowed, bool can_end, std::span<float> logits);
// The bytes a sampled token adds to the constrained output: none for ids out of range and for tokens
// that end the generation.
std::string_view output_piece(const VocabBytes& v, int32_t token);

// allowed[id] = 1 when feeding token id's whole piece to a copy of `start` succeeds (empty pieces: 0).
// R is a recognizer with a cheap copy and `bool feed(uint8_t)`. Tokens that share a refused prefix with
// the token before them are refused without being fed.
template <class R>
void allowed_pieces(const VocabBytes& v, const R& start, std::vector<uint8_t>& allowed) {
  allowed.assign(v.pieces.size(), 0);
  std::vector<R> after;  // after[d]: `start` fed the first d bytes of the current piece
  after.reserve(v.longest + 1);
  after.push_back(start);
  size_t good = 0;  // leading bytes of the previous piece that were accepted
  for (size_t i = 0; i < v.sorted.size(); ++i) {
    const int32_t id = v.sorted[i];
    const std::string_view piece = v.pieces[static_cast<size_t>(id)];
    const size_t common = v.shared_prefix[i];
    if (common > good) continue;  // this piece's byte `good` is the one the previous piece was refused at
    size_t d = common;
    for (; d < piece.size(); ++d) {
      if (after.size() <= d + 1) after.push_back(after[d]);  // no reallocation: reserved above
      else after[d + 1] = after[d];
      if (!after[d + 1].feed(static_cast<uint8_t>(piece[d]))) break;
    }
    good = d;
    allowed[static_cast<size_t>(id)] = !piece.empty() && d == piece.size();
  }
}

class JsonConstraint final : public TokenConstraint {
 public:
  explicit JsonConstraint(const tokenizer::Tokenizer& tokenizer) : vocab_(tokenizer) {}
  Status restrict(std::span<float> logits) override;
  void accept(int32_t token) override;
  bool complete() const { return json_.complete(); }

 private:
  VocabBytes vocab_;
  JsonRecognizer json_;
  std::vector<uint8_t> allowed_;  // scratch for restrict()
};

// True for the tokens that end a generation: EOS and the end-of-turn control tokens of chat models.
bool is_end_of_generation(const tokenizer::Tokenizer& tok, int32_t id);

}  // namespace strata::constrain
