// tokenizer/regex.cc: PCRE2 compilation, JIT and the match loop behind SplitRegex.
#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/log.h"
#include "tokenizer/utf8.h"

namespace strata::tokenizer {

namespace {

// Unicode's White_Space property, which is what `\s` means to the tokenizers' regex engines (Oniguruma
// in HF tokenizers, Rust's regex in tiktoken). PCRE2 with UCP adds U+180E MONGOLIAN VOWEL SEPARATOR.
constexpr std::string_view kWhitespace =
    R"(\t\n\x{0B}\f\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

struct CodeFree {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchDataFree {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(code, buffer, sizeof(buffer));
  return n < 0 ? "unknown PCRE2 error" : std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

}  // namespace

struct SplitRegex::Compiled {
  std::unique_ptr<pcre2_code, CodeFree> code;
};

Result<std::string> spell_out_whitespace(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 64);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 's') {
        out += in_class ? std::string(kWhitespace) : "[" + std::string(kWhitespace) + "]";
      } else if (e == 'S') {
        if (in_class) return error("regex '{}': \\S inside a character class is not supported", pattern);
        out += "[^" + std::string(kWhitespace) + "]";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];  // a literal ']' first
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

SplitRegex::SplitRegex(std::string pattern, std::unique_ptr<Compiled> compiled)
    : pattern_(std::move(pattern)), compiled_(std::move(compiled)) {}
SplitRegex::SplitRegex(SplitRegex&&) noexcept = default;
SplitRegex& SplitRegex::operator=(SplitRegex&&) noexcept = default;
SplitRegex::~SplitRegex() = default;

Result<SplitRegex> SplitRegex::compile(std::string_view pattern) {
  STRATA_ASSIGN_OR_RETURN(std::string spelled, spell_out_whitespace(pattern));
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(spelled.data()), spelled.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &error_code, &error_offset, nullptr);
  if (!code)
    return error("regex '{}' does not compile at offset {}: {}", pattern, error_offset, pcre2_message(error_code));
  auto compiled = std::make_unique<Compiled>();
  compiled->code.reset(code);
  // Without JIT matching still works, only slower; say so once rather than fail.
  if (const int rc = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); rc != 0)
    log(LogLevel::Warn, "regex JIT unavailable ({}); matching with the interpreter", pcre2_message(rc));
  return SplitRegex(std::string(pattern), std::move(compiled));
}

void SplitRegex::split(std::string_view subject, std::vector<std::string_view>& out) const {
  if (subject.empty()) return;
  pcre2_code* code = compiled_->code.get();
  std::unique_ptr<pcre2_match_data, MatchDataFree> match(pcre2_match_data_create_from_pattern(code, nullptr));
  const auto* bytes = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t pos = 0;   // where the next search starts
  size_t gap = 0;   // where the text not yet emitted starts
  while (pos < subject.size()) {
    // The caller checked the UTF-8 once; PCRE2's own check would rescan the subject on every call.
    int rc = pcre2_match(code, bytes, subject.size(), pos, PCRE2_NO_UTF_CHECK, match.get(), nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // deep backtracking: the interpreter keeps its frames on the heap
      rc = pcre2_match(code, bytes, subject.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, match.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      log(LogLevel::Warn, "regex '{}' failed at byte {}: {}; the rest is one piece", pattern_, pos, pcre2_message(rc));
      break;
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match.get());
    const size_t begin = ov[0], end = ov[1];
    if (end == begin) {  // an empty match: step over one character so the loop advances
      pos = begin + utf8_next(subject.substr(begin)).length;
      continue;
    }
    if (begin > gap) out.push_back(subject.substr(gap, begin - gap));
    out.push_back(subject.substr(begin, end - begin));
    pos = gap = end;
  }
  if (gap < subject.size()) out.push_back(subject.substr(gap));
}

}  // namespace strata::tokenizer
