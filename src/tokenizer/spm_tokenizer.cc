// tokenizer/spm_tokenizer.cc: SentencePiece-style encoding (merge adjacent symbols by best piece score,
// O(n log n) with a heap of candidate pairs) and the per-token decoded pieces.
#include "tokenizer/spm_tokenizer.h"

#include <queue>

#include "core/check.h"
#include "tokenizer/utf8.h"

namespace strata::tokenizer {

namespace {

// One run of bytes of the escaped text. Symbols form a doubly linked list in text order; merging
// folds the right symbol into the left, which keeps its index.
struct Symbol {
  int32_t prev;
  int32_t next;
  size_t start;
  size_t length;  // 0 once merged into the left neighbour
  int32_t id;     // the piece's id if the vocabulary has it as a mergeable piece, else -1
};

// A candidate merge of symbol `left` with its right neighbour into piece `id` of `length` bytes.
struct Bigram {
  float score;
  int32_t left;
  size_t length;
  int32_t id;
};

// Highest score first; on equal scores the leftmost pair, as SentencePiece does.
struct LowerPriority {
  bool operator()(const Bigram& a, const Bigram& b) const {
    if (a.score != b.score) return a.score < b.score;
    return a.left > b.left;
  }
};

}  // namespace

Result<std::unique_ptr<SpmTokenizer>> SpmTokenizer::create(const gguf::GgufFile& file) {
  const VocabDefaults defaults{
      .scores_required = true,
      .add_bos = true,
      .add_eos = false,
      .add_space_prefix = true,
      .bos_id = 1,
      .eos_id = 2,
      .unknown_id = 0,
  };
  STRATA_ASSIGN_OR_RETURN(Vocab vocab, Vocab::from_gguf(file, defaults));
  if (!vocab.unknown_id() && !vocab.has_all_byte_tokens())
    return error("vocabulary has neither an unknown token ('{}') nor all 256 byte tokens: some text cannot be encoded",
                 kKeyUnknownId);
  return std::make_unique<SpmTokenizer>(std::move(vocab));
}

SpmTokenizer::SpmTokenizer(Vocab vocab) : Tokenizer(std::move(vocab)) {
  STRATA_CHECK(vocab_.unknown_id() || vocab_.has_all_byte_tokens());
  pieces_.resize(static_cast<size_t>(vocab_.size()));
  for (int32_t id = 0; id < vocab_.size(); ++id) {
    const std::string& text = vocab_.text(id);
    std::string& piece = pieces_[static_cast<size_t>(id)];
    switch (vocab_.type(id)) {
      case TokenType::Normal:
        for (size_t pos = 0; pos < text.size();) {
          if (std::string_view(text).substr(pos).starts_with(kSpaceMark)) {
            piece += ' ';
            pos += kSpaceMark.size();
          } else {
            piece += text[pos++];
          }
        }
        break;
      case TokenType::UserDefined:
        piece = text;  // written verbatim, as the user defined it
        break;
      case TokenType::Byte:
        piece.assign(1, static_cast<char>(*vocab_.byte_value(id)));
        break;
      case TokenType::Control:
      case TokenType::Unknown:
      case TokenType::Unused:
        break;  // nothing, unless render_special asks for the text
    }
  }
}

std::string_view SpmTokenizer::token_to_piece(int32_t id, bool render_special) const {
  STRATA_CHECK(vocab_.is_valid(id));
  const TokenType t = vocab_.type(id);
  if (render_special && (t == TokenType::Control || t == TokenType::Unknown || t == TokenType::Unused))
    return vocab_.text(id);
  return pieces_[static_cast<size_t>(id)];
}

int32_t SpmTokenizer::mergeable_id(std::string_view piece) const {
  std::optional<int32_t> id = vocab_.find(piece);
  if (!id) return -1;
  const TokenType t = vocab_.type(*id);
  return (t == TokenType::Normal || t == TokenType::UserDefined) ? *id : -1;
}

void SpmTokenizer::append_fallback(std::string_view chars, std::vector<int32_t>& out) const {
  bool all_bytes = true;
  for (char c : chars) all_bytes = all_bytes && vocab_.byte_token(static_cast<uint8_t>(c)).has_value();
  if (!all_bytes) {
    out.push_back(*vocab_.unknown_id());  // create() guarantees one when byte tokens are missing
    return;
  }
  for (char c : chars) out.push_back(*vocab_.byte_token(static_cast<uint8_t>(c)));
}

void SpmTokenizer::encode_text(std::string_view text, bool starts_segment, std::vector<int32_t>& out) const {
  std::string escaped;
  escaped.reserve(text.size() + 2 * kSpaceMark.size());
  if (vocab_.add_space_prefix() && starts_segment) escaped += kSpaceMark;
  for (char c : text) {
    if (c == ' ') {
      escaped += kSpaceMark;
    } else {
      escaped += c;
    }
  }
  const std::string_view s = escaped;
  if (s.empty()) return;

  // One symbol per character; an ill-formed byte is a symbol of its own, so byte fallback keeps it.
  std::vector<Symbol> symbols;
  symbols.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    const Utf8Step step = utf8_next(s.substr(pos));
    const size_t len = step.kind == Utf8Kind::Valid ? step.length : 1;
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, index + 1, pos, len, mergeable_id(s.substr(pos, len))});
    pos += len;
  }
  symbols.back().next = -1;

  std::priority_queue<Bigram, std::vector<Bigram>, LowerPriority> queue;
  auto consider = [&](int32_t left) {
    if (left < 0) return;
    const Symbol& l = symbols[static_cast<size_t>(left)];
    if (l.next < 0) return;
    const size_t length = l.length + symbols[static_cast<size_t>(l.next)].length;
    const int32_t id = mergeable_id(s.substr(l.start, length));
    if (id >= 0) queue.push({vocab_.score(id), left, length, id});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i);

  while (!queue.empty()) {
    const Bigram best = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<size_t>(best.left)];
    if (left.length == 0 || left.next < 0) continue;
    Symbol& right = symbols[static_cast<size_t>(left.next)];
    // Symbols only grow, so an unchanged total length means neither side has merged since this
    // candidate was queued; otherwise it is stale.
    if (left.length + right.length != best.length) continue;
    left.length = best.length;
    left.id = best.id;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = best.left;
    right.length = 0;
    consider(left.prev);
    consider(best.left);
  }

  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol& sym = symbols[static_cast<size_t>(i)];
    if (sym.id >= 0) {
      out.push_back(sym.id);
    } else {
      append_fallback(s.substr(sym.start, sym.length), out);
    }
  }
}

}  // namespace strata::tokenizer
