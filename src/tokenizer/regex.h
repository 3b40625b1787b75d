// tokenizer/regex.h: a compiled pre-tokenizer regex (PCRE2 with UTF, Unicode properties and JIT) that splits
// text into its matches and the gaps between them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace strata::tokenizer {

class SplitRegex {
 public:
  // Compiles `pattern` as the tokenizers' engines read it: `\s` and `\S` become the Unicode White_Space
  // class spelled out (PCRE2 alone would also count U+180E), `$` means the end of the subject only.
  static Result<SplitRegex> compile(std::string_view pattern);

  SplitRegex(SplitRegex&&) noexcept;
  SplitRegex& operator=(SplitRegex&&) noexcept;
  ~SplitRegex();

  // Appends the pieces of `subject`, in order: each match and each non-empty gap between matches (the
  // `Isolated` split behaviour). The regex sees only `subject`: lookarounds stop at its ends.
  // REQUIRES: `subject` is well-formed UTF-8 (the caller checks once; PCRE2's own check is skipped).
  void split(std::string_view subject, std::vector<std::string_view>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Compiled;
  explicit SplitRegex(std::string pattern, std::unique_ptr<Compiled> compiled);

  std::string pattern_;
  std::unique_ptr<Compiled> compiled_;
};

// `pattern` with `\s` and `\S` replaced by the explicit White_Space class (exposed for tests).
Result<std::string> spell_out_whitespace(std::string_view pattern);

}  // namespace strata::tokenizer
