// tokenizer/tokenizer.cc: splitting input around special tokens, BOS/EOS, and the model factory.
#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"

namespace strata::tokenizer {

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  for (int32_t id = 0; id < vocab_.size(); ++id) {
    const TokenType t = vocab_.type(id);
    if (t != TokenType::Control && t != TokenType::Unknown && t != TokenType::UserDefined) continue;
    const std::string& text = vocab_.text(id);
    if (text.empty()) continue;
    specials_by_first_byte_[static_cast<uint8_t>(text[0])].push_back(id);
  }
  for (auto& ids : specials_by_first_byte_) {
    std::stable_sort(ids.begin(), ids.end(),
                     [&](int32_t a, int32_t b) { return vocab_.text(a).size() > vocab_.text(b).size(); });
  }
}

int32_t Tokenizer::match_special(std::string_view text, bool parse_special) const {
  for (int32_t id : specials_by_first_byte_[static_cast<uint8_t>(text[0])]) {
    if (!parse_special && vocab_.type(id) != TokenType::UserDefined) continue;
    if (text.starts_with(vocab_.text(id))) return id;
  }
  return -1;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (options.add_bos && vocab_.bos_id()) out.push_back(*vocab_.bos_id());

  // Scan left to right, taking the longest special token at each position; plain text between
  // special tokens is encoded as one run.
  bool starts_segment = true;
  size_t run_start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const int32_t special = match_special(text.substr(pos), options.parse_special);
    if (special < 0) {
      ++pos;
      continue;
    }
    if (pos > run_start) {
      encode_text(text.substr(run_start, pos - run_start), starts_segment, out);
    }
    out.push_back(special);
    starts_segment = true;
    pos += vocab_.text(special).size();
    run_start = pos;
  }
  if (run_start < text.size()) encode_text(text.substr(run_start), starts_segment, out);

  if (options.add_eos && vocab_.eos_id()) out.push_back(*vocab_.eos_id());
  return out;
}

Result<std::unique_ptr<Tokenizer>> make_tokenizer(const gguf::GgufFile& file) {
  STRATA_ASSIGN_OR_RETURN(std::optional<std::string> model, file.get_string(kKeyModel));
  if (!model) return error("metadata key '{}' is missing: cannot tell which tokenizer the model uses", kKeyModel);
  if (*model == SpmTokenizer::kModel) {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<SpmTokenizer> spm, SpmTokenizer::create(file));
    return std::unique_ptr<Tokenizer>(std::move(spm));
  }
  if (*model == BpeTokenizer::kModel) {
    STRATA_ASSIGN_OR_RETURN(std::unique_ptr<BpeTokenizer> bpe, BpeTokenizer::create(file));
    return std::unique_ptr<Tokenizer>(std::move(bpe));
  }
  return error("metadata key '{}' is '{}': unsupported tokenizer model (supported: '{}', '{}')", kKeyModel, *model,
               SpmTokenizer::kModel, BpeTokenizer::kModel);
}

}  // namespace strata::tokenizer
