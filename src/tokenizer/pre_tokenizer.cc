// tokenizer/pre_tokenizer.cc: the pre-tokenizer table (regexes per `tokenizer.ggml.pre`, as the models'
// tokenizer.json files and llama.cpp define them) and the split over a sequence of regexes.
#include "tokenizer/pre_tokenizer.h"

#include <array>
#include <span>

#include "tokenizer/utf8.h"

namespace strata::tokenizer {

namespace {

// The patterns are the ones the models ship, written for Oniguruma/Rust regex; SplitRegex spells out
// `\s`. Where tokenizer.json writes the contractions as `(?i:'s|...)`, Llama 3 and Qwen 2 use the
// ASCII-only spelling that llama.cpp and transformers.js use (Oniguruma's case folding would also take
// U+017F LONG S), while o200k keeps `(?i:)` as tiktoken matches it.
constexpr std::string_view kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kO200k =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kGpt2NoTail = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

constexpr std::array kLlama3Seq{kLlama3};
constexpr std::array kQwen2Seq{kQwen2};
constexpr std::array kO200kSeq{kO200k};
constexpr std::array kTekkenSeq{kTekken};
constexpr std::array kGpt2Seq{kGpt2};
constexpr std::array kDeepseekV3Seq{
    std::string_view(R"(\p{N}{1,3})"),
    std::string_view(R"([一-龥぀-ゟ゠-ヿ]+)"),
    std::string_view(
        R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"),
};
constexpr std::array kDeepseekLlmSeq{
    std::string_view(R"([\r\n])"),
    std::string_view(R"(\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+)"),
    std::string_view(R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)"),
    std::string_view(R"(\s+$)"),
    std::string_view(R"([一-龥ࠀ-一가-퟿]+)"),
    std::string_view(R"(\p{N}+)"),
};
constexpr std::array kDeepseekCoderSeq{
    std::string_view(R"([\r\n])"),       std::string_view(R"(\s?\p{L}+)"), std::string_view(R"(\s?\p{P}+)"),
    std::string_view(R"([一-龥ࠀ-一가-퟿]+)"), std::string_view(R"(\p{N})"),
};
constexpr std::array kFalconSeq{
    std::string_view(R"([\p{P}\$\+<=>\^~\|`]+)"),
    kGpt2NoTail,
    std::string_view(R"([0-9][0-9][0-9])"),
};
constexpr std::array kStarcoderSeq{std::string_view(R"(\p{N})"), kGpt2NoTail};
constexpr std::array kBloomSeq{std::string_view(R"( ?[^(\s|.,!?…。，、।۔،)]+)")};
constexpr std::array kVikingSeq{std::string_view(R"( ?[^(\s|.,!?…。，、।۔،)]+)"), std::string_view(R"(\p{N})")};
constexpr std::array kDefaultSeq{
    std::string_view(R"([\p{P}\$\+<=>\^~\|]+)"),
    kGpt2NoTail,
    std::string_view(R"(\p{N}+)"),
    std::string_view(R"([0-9][0-9][0-9])"),
};

// One row per pre-tokenizer family: the `tokenizer.ggml.pre` names converters write for it, its regexes,
// and its BPE flags.
struct PreTokenizerRow {
  std::string_view names;  // space-separated aliases
  std::span<const std::string_view> patterns;
  bool ignore_merges;
  bool add_bos;
};

constexpr PreTokenizerRow kRows[] = {
    {"default", kDefaultSeq, false, false},
    {"llama3 llama-bpe llama-v3 falcon3 dbrx smaug-bpe", kLlama3Seq, true, true},
    {"chatglm-bpe", kLlama3Seq, false, false},
    {"qwen2 deepseek-r1-qwen megrez stablelm2", kQwen2Seq, false, false},
    {"tekken", kTekkenSeq, true, true},
    {"gpt-4o llama4", kO200kSeq, false, false},
    {"deepseek-v3", kDeepseekV3Seq, false, false},
    {"deepseek-llm", kDeepseekLlmSeq, false, false},
    {"deepseek-coder", kDeepseekCoderSeq, false, false},
    {"falcon", kFalconSeq, false, false},
    {"starcoder refact command-r smollm codeshell exaone minerva-7b", kStarcoderSeq, false, false},
    {"gpt-2 mpt olmo jais phi-2 roberta-bpe gigachat jina-es jina-de jina-v1-en jina-v2-es jina-v2-de jina-v2-code",
     kGpt2Seq, false, false},
    {"bloom gpt3-finnish poro-chat", kBloomSeq, false, false},
    {"viking", kVikingSeq, false, false},
};

bool row_has_name(const PreTokenizerRow& row, std::string_view name) {
  std::string_view rest = row.names;
  while (!rest.empty()) {
    const size_t space = rest.find(' ');
    if (rest.substr(0, space) == name) return true;
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return false;
}

}  // namespace

std::vector<std::string_view> PreTokenizer::known_names() {
  std::vector<std::string_view> names;
  for (const PreTokenizerRow& row : kRows) {
    std::string_view rest = row.names;
    while (!rest.empty()) {
      const size_t space = rest.find(' ');
      names.push_back(rest.substr(0, space));
      if (space == std::string_view::npos) break;
      rest.remove_prefix(space + 1);
    }
  }
  return names;
}

Result<PreTokenizer> PreTokenizer::create(std::string_view name) {
  for (const PreTokenizerRow& row : kRows) {
    if (!row_has_name(row, name)) continue;
    PreTokenizer pre;
    pre.name_ = std::string(name);
    pre.ignore_merges_ = row.ignore_merges;
    pre.add_bos_default_ = row.add_bos;
    for (std::string_view pattern : row.patterns) {
      STRATA_ASSIGN_OR_RETURN(SplitRegex regex, SplitRegex::compile(pattern));
      pre.regexes_.push_back(std::move(regex));
    }
    return pre;
  }
  return error("unknown pre-tokenizer '{}'", name);
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& out) const {
  // Well-formed runs go through the regexes; an ill-formed byte stands alone (it still has a byte token).
  std::vector<std::string_view> pieces, next;
  for (size_t pos = 0, run = 0; pos <= text.size();) {
    const bool at_end = pos == text.size();
    const Utf8Step step = at_end ? Utf8Step{Utf8Kind::Invalid, 0} : utf8_next(text.substr(pos));
    if (!at_end && step.kind == Utf8Kind::Valid) {
      pos += step.length;
      continue;
    }
    if (pos > run) {
      pieces.assign(1, text.substr(run, pos - run));
      for (const SplitRegex& regex : regexes_) {
        next.clear();
        for (std::string_view piece : pieces) regex.split(piece, next);
        pieces.swap(next);
      }
      out.insert(out.end(), pieces.begin(), pieces.end());
    }
    if (at_end) break;
    out.push_back(text.substr(pos, 1));
    run = ++pos;
  }
}

}  // namespace strata::tokenizer
