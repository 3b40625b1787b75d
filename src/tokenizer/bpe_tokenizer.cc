// tokenizer/bpe_tokenizer.cc: reading and validating the merges, and byte-level BPE encoding (lowest merge
// rank first, leftmost on ties, O(n log n) per word with a heap of candidate pairs).
#include "tokenizer/bpe_tokenizer.h"

#include <queue>

#include "core/check.h"
#include "tokenizer/utf8.h"

namespace strata::tokenizer {

namespace {

// One symbol of a word: a run of its bytes. Symbols form a linked list in word order; a merge folds the
// right symbol into the left, which keeps its index.
struct Symbol {
  int32_t prev;
  int32_t next;
  size_t start;
  size_t length;  // 0 once merged into the left neighbour
};

struct Bigram {
  int32_t rank;
  int32_t left;
  size_t length;  // of the merged symbol: a candidate whose sides have grown since is stale
};

// Lowest rank first; on equal ranks the leftmost pair.
struct LaterMerge {
  bool operator()(const Bigram& a, const Bigram& b) const {
    if (a.rank != b.rank) return a.rank > b.rank;
    return a.left > b.left;
  }
};

// The id of `piece` when it is a normal token: the only kind merges build and byte-level text spells.
std::optional<int32_t> normal_id(const Vocab& vocab, std::string_view piece) {
  std::optional<int32_t> id = vocab.find(piece);
  if (id && vocab.type(*id) != TokenType::Normal) return std::nullopt;
  return id;
}

Result<const gguf::Array*> string_array(const gguf::GgufFile& file, std::string_view key) {
  const gguf::Value* v = file.find(key);
  if (!v) return error("metadata key '{}' is missing: a byte-level BPE vocabulary needs its merges", key);
  const gguf::Array* a = v->as_array();
  if (!a || a->elem_type != gguf::ValueType::STRING)
    return error("metadata key '{}' should be an array of strings but is {}", key, gguf::value_type_name(v->type()));
  return a;
}

}  // namespace

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::create(const gguf::GgufFile& file) {
  STRATA_ASSIGN_OR_RETURN(std::optional<std::string> pre_name, file.get_string(kKeyPre));
  Result<PreTokenizer> pre = PreTokenizer::create(pre_name.value_or("default"));
  if (!pre) return error("metadata key '{}': {}", kKeyPre, pre.status().message());

  const VocabDefaults defaults{
      .scores_required = false,
      .add_bos = pre->add_bos_default(),
      .add_eos = false,
      .add_space_prefix = false,
      .bos_id = std::nullopt,
      .eos_id = std::nullopt,
      .unknown_id = std::nullopt,
  };
  STRATA_ASSIGN_OR_RETURN(Vocab vocab, Vocab::from_gguf(file, defaults));

  STRATA_ASSIGN_OR_RETURN(const gguf::Array* merges, string_array(file, kKeyMerges));
  MergeRanks ranks;
  ranks.reserve(merges->items.size());
  for (size_t i = 0; i < merges->items.size(); ++i) {
    const std::string& merge = *merges->items[i].as_string();
    const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
    if (space == std::string::npos || space + 1 >= merge.size())
      return error("metadata key '{}'[{}] is '{}', not two pieces separated by a space", kKeyMerges, i, merge);
    const std::string_view left = std::string_view(merge).substr(0, space);
    const std::string_view right = std::string_view(merge).substr(space + 1);
    const std::string merged = std::string(left) + std::string(right);
    for (std::string_view piece : {left, right, std::string_view(merged)}) {
      if (!normal_id(vocab, piece))
        return error("metadata key '{}'[{}] is '{}': piece '{}' is not a normal token of the vocabulary", kKeyMerges, i, merge,
                     std::string(piece));
    }
    ranks.emplace(merge, static_cast<int32_t>(i));  // a repeated merge keeps its first (best) rank
  }
  if (merges->items.size() > static_cast<size_t>(INT32_MAX))
    return error("metadata key '{}' has {} entries, more than ranks can address", kKeyMerges, merges->items.size());
  return std::make_unique<BpeTokenizer>(std::move(vocab), std::move(*pre), std::move(ranks));
}

BpeTokenizer::BpeTokenizer(Vocab vocab, PreTokenizer pre, MergeRanks ranks)
    : Tokenizer(std::move(vocab)), pre_(std::move(pre)), ranks_(std::move(ranks)) {
  pieces_.resize(static_cast<size_t>(vocab_.size()));
  for (int32_t id = 0; id < vocab_.size(); ++id) {
    std::string& piece = pieces_[static_cast<size_t>(id)];
    switch (vocab_.type(id)) {
      case TokenType::Normal: piece = alphabet_.decode_piece(vocab_.text(id)); break;
      case TokenType::UserDefined: piece = vocab_.text(id); break;
      case TokenType::Byte: piece.assign(1, static_cast<char>(*vocab_.byte_value(id))); break;
      case TokenType::Control:
      case TokenType::Unknown:
      case TokenType::Unused: break;  // nothing, unless render_special asks for the text
    }
  }
}

std::string_view BpeTokenizer::token_to_piece(int32_t id, bool render_special) const {
  STRATA_CHECK(vocab_.is_valid(id));
  const TokenType t = vocab_.type(id);
  if (render_special && (t == TokenType::Control || t == TokenType::Unknown || t == TokenType::Unused))
    return vocab_.text(id);
  return pieces_[static_cast<size_t>(id)];
}

int32_t BpeTokenizer::rank(std::string_view left, std::string_view right, std::string& key) const {
  key.assign(left);
  key += ' ';
  key.append(right);
  auto it = ranks_.find(std::string_view(key));
  return it == ranks_.end() ? -1 : it->second;
}

void BpeTokenizer::encode_text(std::string_view text, bool /*starts_segment*/, std::vector<int32_t>& out) const {
  std::vector<std::string_view> words;
  pre_.split(text, words);
  std::string word, key;
  for (std::string_view raw : words) {
    word.clear();
    alphabet_.encode(raw, word);
    encode_word(word, key, out);
  }
}

void BpeTokenizer::encode_word(std::string_view word, std::string& key, std::vector<int32_t>& out) const {
  if (pre_.ignore_merges()) {
    // Llama 3 and Tekken take a word the vocabulary holds whole, even where the merges would not build it.
    if (std::optional<int32_t> id = normal_id(vocab_, word)) {
      out.push_back(*id);
      return;
    }
  }
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < word.size();) {
    const size_t len = utf8_next(word.substr(pos)).length;  // the alphabet is well-formed UTF-8
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, index + 1, pos, len});
    pos += len;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  std::priority_queue<Bigram, std::vector<Bigram>, LaterMerge> queue;
  auto consider = [&](int32_t left) {
    if (left < 0) return;
    const Symbol& l = symbols[static_cast<size_t>(left)];
    if (l.next < 0) return;
    const Symbol& r = symbols[static_cast<size_t>(l.next)];
    const int32_t r_rank = rank(word.substr(l.start, l.length), word.substr(r.start, r.length), key);
    if (r_rank >= 0) queue.push({r_rank, left, l.length + r.length});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i);

  while (!queue.empty()) {
    const Bigram best = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<size_t>(best.left)];
    if (left.length == 0 || left.next < 0) continue;
    Symbol& right = symbols[static_cast<size_t>(left.next)];
    if (left.length + right.length != best.length) continue;  // stale: a side merged since it was queued
    left.length = best.length;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = best.left;
    right.length = 0;
    consider(left.prev);
    consider(best.left);
  }

  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol& sym = symbols[static_cast<size_t>(i)];
    // create() checked that every merge result is a normal token, so only an unmerged character can be
    // missing: vocabularies leave out bytes that well-formed UTF-8 never holds (0xC0, 0xF5..0xFF, ...).
    // As HF tokenizers and llama.cpp do, such a byte becomes the unknown token, or nothing without one.
    if (std::optional<int32_t> id = normal_id(vocab_, word.substr(sym.start, sym.length))) {
      out.push_back(*id);
    } else if (vocab_.unknown_id()) {
      out.push_back(*vocab_.unknown_id());
    }
  }
}

}  // namespace strata::tokenizer
