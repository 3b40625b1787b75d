// tokenizer/detokenizer.cc: streaming detokenization with UTF-8 hold-back.
#include "tokenizer/detokenizer.h"

#include "tokenizer/utf8.h"

namespace strata::tokenizer {

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, DetokenizeOptions options)
    : tokenizer_(tokenizer), options_(options) {}

std::string StreamingDetokenizer::push(int32_t id) {
  std::string_view piece = tokenizer_.token_to_piece(id, options_.render_special);
  if (piece.empty()) return {};
  if (at_start_) {
    at_start_ = false;
    if (options_.strip_leading_space && tokenizer_.vocab().add_space_prefix() && piece.front() == ' ')
      piece.remove_prefix(1);
  }
  std::string out;
  if (pending_.empty()) {
    // The common case: no character is waiting, so decode the piece in place.
    const size_t used = append_valid_utf8(piece, /*at_end=*/false, out);
    pending_.assign(piece.substr(used));
    return out;
  }
  pending_.append(piece);
  const size_t used = append_valid_utf8(pending_, /*at_end=*/false, out);
  pending_.erase(0, used);
  return out;
}

std::string StreamingDetokenizer::flush() {
  std::string out;
  append_valid_utf8(pending_, /*at_end=*/true, out);
  pending_.clear();
  at_start_ = true;
  return out;
}

std::string detokenize(const Tokenizer& tokenizer, std::span<const int32_t> ids, DetokenizeOptions options) {
  StreamingDetokenizer detok(tokenizer, options);
  std::string text;
  for (int32_t id : ids) text += detok.push(id);
  text += detok.flush();
  return text;
}

}  // namespace strata::tokenizer
