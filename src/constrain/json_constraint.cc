// constrain/json_constraint.cc: the JSON recognizer and JSON mode over a tokenizer's vocabulary.
#include "constrain/json_constraint.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace strata::constrain {

namespace {

bool is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
bool is_hex(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

// A run of whitespace may be one space, or a newline then up to kMaxIndent spaces or tabs (the shape of
// the reference engine's JSON grammar): enough for any layout, too little for a model to pad forever.
bool JsonRecognizer::whitespace_ok(uint8_t c, uint8_t& run, bool& newline) {
  const bool ok = run == 0 ? (c == ' ' || c == '\n') : (newline && (c == ' ' || c == '\t') && run <= kMaxIndent);
  if (run == 0) newline = c == '\n';
  if (run < 255) ++run;
  return ok;
}

bool JsonRecognizer::whitespace(uint8_t c) {
  if (!is_ws(c)) return false;
  if (!whitespace_ok(c, ws_run_, ws_newline_)) state_ = State::Failed;
  return true;
}

bool JsonRecognizer::can_end() const {
  if (state_ == State::Done) return true;
  return depth_ == 0 && (state_ == State::Zero || state_ == State::Int || state_ == State::Frac ||
                         state_ == State::ExpDigits);
}

bool JsonRecognizer::value_start(uint8_t c) {
  switch (c) {
    case '{':
    case '[':
      if (depth_ == kMaxDepth) return false;
      is_object_[depth_++] = c == '{';
      state_ = c == '{' ? State::KeyOrClose : State::ArrayFirst;
      return true;
    case '"':
      string_is_key_ = false;
      state_ = State::String;
      return true;
    case '-': state_ = State::Minus; return true;
    case '0': state_ = State::Zero; return true;
    case 't': literal_ = "true"; break;
    case 'f': literal_ = "false"; break;
    case 'n': literal_ = "null"; break;
    default:
      if (c >= '1' && c <= '9') {
        state_ = State::Int;
        return true;
      }
      return false;
  }
  literal_pos_ = 1;
  state_ = State::Literal;
  return true;
}

bool JsonRecognizer::close_value() {
  state_ = depth_ == 0 ? State::Done : State::AfterValue;
  return true;
}

bool JsonRecognizer::after_value(uint8_t c) {
  const bool in_object = is_object_[depth_ - 1];
  if (c == ',') {
    state_ = in_object ? State::Key : State::Value;
    return true;
  }
  if (c == (in_object ? '}' : ']')) {
    --depth_;
    return close_value();
  }
  return false;
}

bool JsonRecognizer::feed(uint8_t c) {
  const bool ws = is_ws(c);
  if (!ws) ws_run_ = 0;
  bool ok = false;
  switch (state_) {
    case State::Start:
      ok = whitespace(c) || ((any_value_ || c == '{') && value_start(c));
      break;
    case State::Value:
      ok = whitespace(c) || value_start(c);
      break;
    case State::ArrayFirst:
      ok = whitespace(c) || (c == ']' ? (--depth_, close_value()) : value_start(c));
      break;
    case State::KeyOrClose:
      if (c == '}') {
        --depth_;
        ok = close_value();
        break;
      }
      [[fallthrough]];
    case State::Key:
      ok = whitespace(c);
      if (!ok && c == '"') {
        string_is_key_ = true;
        state_ = State::String;
        ok = true;
      }
      break;
    case State::Colon:
      ok = whitespace(c);
      if (!ok && c == ':') {
        state_ = State::Value;
        ok = true;
      }
      break;
    case State::AfterValue:
      ok = whitespace(c) || after_value(c);
      break;
    case State::String:
      if (c == '"') {
        ok = string_is_key_ ? (state_ = State::Colon, true) : close_value();
      } else if (c == '\\') {
        state_ = State::Escape;
        ok = true;
      } else {
        ok = c >= 0x20;  // control characters must be escaped; other bytes (UTF-8 too) stand for themselves
      }
      break;
    case State::Escape:
      if (c == 'u') {
        hex_left_ = 4;
        state_ = State::Unicode;
        ok = true;
      } else {
        ok = c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't';
        state_ = State::String;
      }
      break;
    case State::Unicode:
      ok = is_hex(c);
      if (ok && --hex_left_ == 0) state_ = State::String;
      break;
    case State::Minus:
      ok = is_digit(c);
      state_ = c == '0' ? State::Zero : State::Int;
      break;
    case State::Dot:
      ok = is_digit(c);
      state_ = State::Frac;
      break;
    case State::Exp:
      ok = is_digit(c) || c == '+' || c == '-';
      state_ = is_digit(c) ? State::ExpDigits : State::ExpSign;
      break;
    case State::ExpSign:
      ok = is_digit(c);
      state_ = State::ExpDigits;
      break;
    case State::Zero:
    case State::Int:
    case State::Frac:
    case State::ExpDigits:
      // Digits continue the part they are in; '.' and 'e' start the next; anything else ends the number
      // (which can only be a member of a container: the top level is an object) and is read as such.
      if (is_digit(c) && state_ != State::Zero) {
        ok = true;
      } else if (c == '.' && (state_ == State::Zero || state_ == State::Int)) {
        state_ = State::Dot;
        ok = true;
      } else if ((c == 'e' || c == 'E') && state_ != State::ExpDigits) {
        state_ = State::Exp;
        ok = true;
      } else {
        close_value();  // at depth 0 (a top-level number) that is Done, which takes nothing more
        ok = depth_ > 0 && (whitespace(c) || after_value(c));
      }
      break;
    case State::Literal:
      ok = static_cast<char>(c) == literal_[literal_pos_];
      if (ok && literal_[++literal_pos_] == '\0') close_value();
      break;
    case State::Done:
    case State::Failed:
      ok = false;
      break;
  }
  if (!ok || state_ == State::Failed) {
    state_ = State::Failed;
    return false;
  }
  return true;
}

VocabBytes::VocabBytes(const tokenizer::Tokenizer& tokenizer) {
  const int32_t n = tokenizer.vocab().size();
  pieces.resize(static_cast<size_t>(n));
  ends_generation.resize(static_cast<size_t>(n));
  sorted.resize(static_cast<size_t>(n));
  for (int32_t id = 0; id < n; ++id) {
    pieces[static_cast<size_t>(id)] = tokenizer.token_to_piece(id);
    ends_generation[static_cast<size_t>(id)] = is_end_of_generation(tokenizer, id);
    sorted[static_cast<size_t>(id)] = id;
    longest = std::max(longest, pieces[static_cast<size_t>(id)].size());
  }
  std::sort(sorted.begin(), sorted.end(), [&](int32_t a, int32_t b) {
    return pieces[static_cast<size_t>(a)] < pieces[static_cast<size_t>(b)];
  });
  shared_prefix.resize(sorted.size());
  for (size_t i = 1; i < sorted.size(); ++i) {
    const std::string_view a = pieces[static_cast<size_t>(sorted[i - 1])], b = pieces[static_cast<size_t>(sorted[i])];
    size_t k = 0;
    while (k < a.size() && k < b.size() && a[k] == b[k]) ++k;
    shared_prefix[i] = static_cast<uint32_t>(k);
  }
}

size_t mask_logits(const VocabBytes& v, const std::vector<uint8_t>& allowed, bool can_end, std::span<float> logits) {
  constexpr float kNever = -std::numeric_limits<float>::infinity();
  size_t n_allowed = 0;
  for (size_t id = 0; id < logits.size(); ++id) {
    const bool ok = id < v.pieces.size() && (v.ends_generation[id] ? can_end : allowed[id] != 0);
    if (!ok) logits[id] = kNever;
    else if (logits[id] != kNever) ++n_allowed;
  }
  return n_allowed;
}

std::string_view output_piece(const VocabBytes& v, int32_t token) {
  if (token < 0 || static_cast<size_t>(token) >= v.pieces.size() || v.ends_generation[static_cast<size_t>(token)])
    return {};
  return v.pieces[static_cast<size_t>(token)];
}

Status JsonConstraint::restrict(std::span<float> logits) {
  allowed_pieces(vocab_, json_, allowed_);
  if (mask_logits(vocab_, allowed_, json_.complete(), logits) == 0)
    return error("format \"json\": no token of this model can continue the JSON output");
  return Status::ok();
}

void JsonConstraint::accept(int32_t token) { json_.feed(output_piece(vocab_, token)); }

bool is_end_of_generation(const tokenizer::Tokenizer& tok, int32_t id) {
  const auto& v = tok.vocab();
  if (v.eos_id() && *v.eos_id() == id) return true;
  if (v.type(id) != tokenizer::TokenType::Control) return false;
  // Harmony (gpt-oss): <|end|> closes one message (the analysis) of several in a turn; <|call|> ends
  // the turn with a tool call.
  if (v.text(id) == "<|call|>") return true;
  if (v.text(id) == "<|end|>" && v.find("<|channel|>")) return false;
  static constexpr std::string_view kEndOfTurn[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                                    "<|endoftext|>", "<|end_of_text|>", "<|eom_id|>"};
  for (auto t : kEndOfTurn)
    if (v.text(id) == t) return true;
  return false;
}

}  // namespace strata::constrain
