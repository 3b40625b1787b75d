// jinja/lexer.cc: jinja2-compatible tokenization (see jinja/lexer.h). The rules mirror jinja2's
// documented behaviour: a tag's "-" strips all whitespace on that side, trim_blocks eats one newline after
// a block or comment tag, lstrip_blocks strips a line's leading whitespace before a block or comment tag
// unless the tag starts with "+", and a tag only ends once its brackets are balanced.
#include "jinja/lexer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "jinja/string.h"

namespace strata::jinja {

std::string located(int line, int column, std::string_view message) {
  return fmt::format("line {}, column {}: {}", line, column, message);
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

class Lexer {
 public:
  Lexer(std::string source, const LexerOptions& options) : src_(std::move(source)), options_(options) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  Result<std::vector<Token>> run() {
    size_t pos = 0;
    while (pos < src_.size()) {
      const size_t tag = find_tag_start(pos);
      if (tag == std::string::npos) {
        emit_data(pos, src_.substr(pos));
        break;
      }
      const char kind = src_[tag + 1];
      size_t after = tag + 2;
      char sign = 0;
      if (after < src_.size() && (src_[after] == '-' || src_[after] == '+')) sign = src_[after++];
      size_t raw_end = kind == '%' ? match_raw_begin(after) : std::string::npos;
      emit_data(pos, stripped_before_tag(src_.substr(pos, tag - pos), sign, kind != '{'));
      line_starting_ = false;
      if (raw_end != std::string::npos) {
        STRATA_ASSIGN_OR_RETURN(pos, lex_raw(tag, raw_end));
      } else if (kind == '#') {
        STRATA_ASSIGN_OR_RETURN(pos, lex_comment(tag, after));
      } else {
        STRATA_ASSIGN_OR_RETURN(pos, lex_tag(tag, after, kind == '%'));
      }
    }
    Token end;
    end.kind = TokenKind::End;
    set_position(end, src_.size());
    tokens_.push_back(std::move(end));
    return std::move(tokens_);
  }

 private:
  size_t find_tag_start(size_t pos) const {
    for (size_t i = src_.find('{', pos); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  void set_position(Token& t, size_t offset) const {
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset) - 1;
    t.line = static_cast<int>(it - line_starts_.begin()) + 1;
    t.column = static_cast<int>(offset - *it) + 1;
  }

  Status fail(size_t offset, std::string_view message) const {
    Token t;
    set_position(t, offset);
    return Status::error(located(t.line, t.column, message));
  }

  void emit(TokenKind kind, size_t offset, std::string text = {}) {
    Token t;
    t.kind = kind;
    t.text = std::move(text);
    set_position(t, offset);
    tokens_.push_back(std::move(t));
  }

  void emit_data(size_t offset, std::string_view text) {
    if (!text.empty()) emit(TokenKind::Data, offset, std::string(text));
  }

  // Whitespace handling for the text before a tag: "-" strips it all; otherwise lstrip_blocks strips the
  // tail of the text when only whitespace separates the line start from a block or comment tag.
  std::string_view stripped_before_tag(std::string_view text, char sign, bool is_block_or_comment) const {
    if (sign == '-') {
      size_t end = text.size();
      while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        if (!is_space(decode_at(text, start).value)) break;
        end = start;
      }
      return text.substr(0, end);
    }
    if (sign == '+' || !options_.lstrip_blocks || !is_block_or_comment) return text;
    const size_t newline = text.rfind('\n');
    const size_t line_start = newline == std::string_view::npos ? 0 : newline + 1;
    if (line_start == 0 && !line_starting_) return text;
    const std::string_view tail = text.substr(line_start);
    if (tail.empty()) return text;
    for (size_t i = 0; i < tail.size();) {
      const CodePoint c = decode_at(tail, i);
      if (!is_space(c.value)) return text;
      i += c.length;
    }
    return text.substr(0, line_start);
  }

  size_t skip_space(size_t pos) const {
    while (pos < src_.size()) {
      const CodePoint c = decode_at(src_, pos);
      if (!is_space(c.value)) break;
      pos += c.length;
    }
    return pos;
  }

  // `{%[-+]? raw (-%}\s*|%})` starting after the sign; returns the end offset or npos.
  size_t match_raw_begin(size_t pos) const {
    pos = skip_space(pos);
    if (src_.compare(pos, 3, "raw") != 0) return std::string::npos;
    pos = skip_space(pos + 3);
    if (src_.compare(pos, 3, "-%}") == 0) return skip_space(pos + 3);
    if (src_.compare(pos, 2, "%}") == 0) return pos + 2;
    return std::string::npos;
  }

  // After a block-style end marker at `pos` ("+%}", "-%}" or "%}" with `close` the closing text):
  // returns the offset after it with the marker's whitespace rule applied.
  size_t after_block_end(size_t pos, char sign, size_t close_len) const {
    pos += close_len;
    if (sign == '-') return skip_space(pos);
    if (sign == 0 && options_.trim_blocks && pos < src_.size() && src_[pos] == '\n') return pos + 1;
    return pos;
  }

  Result<size_t> lex_raw(size_t tag, size_t body) {
    for (size_t i = src_.find("{%", body); i != std::string::npos; i = src_.find("{%", i + 1)) {
      size_t p = i + 2;
      char sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
      p = skip_space(p);
      if (src_.compare(p, 6, "endraw") != 0) continue;
      p = skip_space(p + 6);
      char end_sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) end_sign = src_[p++];
      if (src_.compare(p, 2, "%}") != 0) continue;
      emit_data(body, stripped_before_tag(std::string_view(src_).substr(body, i - body), sign, true));
      const size_t end = after_block_end(p, end_sign, 2);
      line_starting_ = end > 0 && src_[end - 1] == '\n';
      return end;
    }
    return fail(tag, "missing end of raw directive");
  }

  Result<size_t> lex_comment(size_t tag, size_t content) {
    const size_t close = src_.find("#}", content);
    if (close == std::string::npos) return fail(tag, "missing end of comment tag");
    char sign = 0;
    if (close > content && (src_[close - 1] == '-' || src_[close - 1] == '+')) sign = src_[close - 1];
    const size_t end = after_block_end(close, sign, 2);
    line_starting_ = end > 0 && src_[end - 1] == '\n';
    return end;
  }

  // Tokens inside {{ }} or {% %} until the matching end marker.
  Result<size_t> lex_tag(size_t tag, size_t pos, bool block) {
    emit(block ? TokenKind::BlockBegin : TokenKind::VariableBegin, tag);
    std::vector<char> brackets;  // closers expected, innermost last
    while (true) {
      if (pos >= src_.size()) return fail(tag, block ? "unclosed block tag" : "unclosed variable tag");
      if (brackets.empty()) {
        if (std::optional<size_t> end = match_tag_end(pos, block)) {
          emit(block ? TokenKind::BlockEnd : TokenKind::VariableEnd, pos);
          line_starting_ = *end > 0 && src_[*end - 1] == '\n';
          return *end;
        }
      }
      const char c = src_[pos];
      const CodePoint cp = decode_at(src_, pos);
      if (is_space(cp.value)) {
        pos += cp.length;
      } else if (size_t end = match_float(pos); end != std::string::npos) {
        STRATA_RETURN_IF_ERROR(emit_float(pos, end));
        pos = end;
      } else if (is_digit(c)) {
        STRATA_ASSIGN_OR_RETURN(pos, lex_integer(pos));
      } else if (is_name_start(c)) {
        size_t end = pos;
        while (end < src_.size() && is_name_char(src_[end])) ++end;
        emit(TokenKind::Name, pos, src_.substr(pos, end - pos));
        pos = end;
      } else if (c == '\'' || c == '"') {
        STRATA_ASSIGN_OR_RETURN(pos, lex_string(pos));
      } else {
        STRATA_ASSIGN_OR_RETURN(pos, lex_operator(pos, brackets));
      }
    }
  }

  std::optional<size_t> match_tag_end(size_t pos, bool block) const {
    if (block) {
      if (src_.compare(pos, 3, "+%}") == 0) return after_block_end(pos + 1, '+', 2);
      if (src_.compare(pos, 3, "-%}") == 0) return after_block_end(pos + 1, '-', 2);
      if (src_.compare(pos, 2, "%}") == 0) return after_block_end(pos, 0, 2);
      return std::nullopt;
    }
    if (src_.compare(pos, 3, "-}}") == 0) return skip_space(pos + 3);
    if (src_.compare(pos, 2, "}}") == 0) return pos + 2;
    return std::nullopt;
  }

  // (\d+_)*\d+ : digits with single underscores between them; npos when there is no digit at pos.
  size_t scan_digits(size_t pos) const {
    if (pos >= src_.size() || !is_digit(src_[pos])) return std::string::npos;
    while (true) {
      while (pos < src_.size() && is_digit(src_[pos])) ++pos;
      if (pos + 1 < src_.size() && src_[pos] == '_' && is_digit(src_[pos + 1])) {
        ++pos;
        continue;
      }
      return pos;
    }
  }

  size_t scan_exponent(size_t pos) const {
    if (pos >= src_.size() || (src_[pos] != 'e' && src_[pos] != 'E')) return std::string::npos;
    ++pos;
    if (pos < src_.size() && (src_[pos] == '+' || src_[pos] == '-')) ++pos;
    return scan_digits(pos);
  }

  // A float needs a fraction or an exponent, and never starts right after a '.' (so x.0.1 is subscripts).
  size_t match_float(size_t pos) const {
    if (pos > 0 && src_[pos - 1] == '.') return std::string::npos;
    const size_t whole = scan_digits(pos);
    if (whole == std::string::npos) return std::string::npos;
    const size_t fraction = (whole < src_.size() && src_[whole] == '.') ? scan_digits(whole + 1) : std::string::npos;
    if (fraction != std::string::npos) {
      if (size_t e = scan_exponent(fraction); e != std::string::npos) return e;
    }
    if (size_t e = scan_exponent(whole); e != std::string::npos) return e;
    return fraction;
  }

  Status emit_float(size_t pos, size_t end) {
    std::string text;
    for (size_t i = pos; i < end; ++i) {
      if (src_[i] != '_') text += src_[i];
    }
    double value = 0;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), value);
    if (res.ec == std::errc::result_out_of_range) {
      // Python reads overflowing literals as inf and underflowing ones as 0.0.
      const size_t e = text.find_first_of("eE");
      value = (e != std::string::npos && text[e + 1] == '-') ? 0.0 : HUGE_VAL;
    } else if (res.ec != std::errc()) {
      return fail(pos, "invalid float literal");
    }
    emit(TokenKind::Float, pos);
    tokens_.back().float_value = value;
    return Status::ok();
  }

  // Digits of `base`, each optionally preceded by one underscore ("(_?d)*"), accumulated into value.
  size_t scan_underscored(size_t pos, int base, bool zeros_only, uint64_t& value, bool& overflow) const {
    while (true) {
      size_t q = pos;
      if (q < src_.size() && src_[q] == '_') ++q;
      if (q >= src_.size()) return pos;
      const char ch = src_[q];
      const int lower = ch | 0x20;
      const int d = is_digit(ch) ? ch - '0' : (lower >= 'a' && lower <= 'f' ? lower - 'a' + 10 : 99);
      if (d >= base || (zeros_only && d != 0)) return pos;
      if (value > (static_cast<uint64_t>(INT64_MAX) - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) {
        overflow = true;
      } else {
        value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
      }
      pos = q + 1;
    }
  }

  // 0b/0o/0x literals, decimals without leading zeros, and runs of zeros, as jinja2's integer rule reads.
  Result<size_t> lex_integer(size_t pos) {
    uint64_t value = 0;
    bool overflow = false;
    size_t end = std::string::npos;
    if (src_[pos] == '0' && pos + 1 < src_.size()) {
      const int prefix = src_[pos + 1] | 0x20;
      const int base = prefix == 'b' ? 2 : (prefix == 'o' ? 8 : (prefix == 'x' ? 16 : 0));
      if (base != 0) {
        const size_t e = scan_underscored(pos + 2, base, false, value, overflow);
        if (e > pos + 2) end = e;
      }
    }
    if (end == std::string::npos) {
      value = static_cast<uint64_t>(src_[pos] - '0');
      end = scan_underscored(pos + 1, 10, src_[pos] == '0', value, overflow);
    }
    if (overflow) return fail(pos, "integer literal too large");
    emit(TokenKind::Integer, pos);
    tokens_.back().int_value = static_cast<int64_t>(value);
    return end;
  }

  Result<size_t> lex_string(size_t pos) {
    const char quote = src_[pos];
    size_t end = pos + 1;
    while (end < src_.size() && src_[end] != quote) end += src_[end] == '\\' ? 2 : 1;
    if (end >= src_.size()) return fail(pos, fmt::format("unexpected char '{}' (unterminated string)", quote));
    STRATA_ASSIGN_OR_RETURN(std::string value, unescape(pos, std::string_view(src_).substr(pos + 1, end - pos - 1)));
    emit(TokenKind::String, pos, std::move(value));
    return end + 1;
  }

  // Python's unicode-escape rules, as jinja2 applies them to string literals.
  Result<std::string> unescape(size_t pos, std::string_view s) const {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '\\' || i + 1 >= s.size()) {
        out += s[i];
        continue;
      }
      const char e = s[++i];
      switch (e) {
        case '\n': break;  // line continuation
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x':
        case 'u':
        case 'U': {
          const size_t n = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          uint32_t cp = 0;
          for (size_t k = 1; k <= n; ++k) {
            const char h = i + k < s.size() ? s[i + k] : 0;
            const int v = is_digit(h) ? h - '0' : ((h | 0x20) >= 'a' && (h | 0x20) <= 'f' ? (h | 0x20) - 'a' + 10 : -1);
            if (v < 0) return fail(pos, "truncated \\x/\\u escape in string literal");
            cp = cp * 16 + static_cast<uint32_t>(v);
          }
          if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return fail(pos, "invalid code point in escape");
          append_utf8(out, cp);
          i += n;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = 0;
            size_t k = 0;
            while (k < 3 && i + k < s.size() && s[i + k] >= '0' && s[i + k] <= '7') cp = cp * 8 + (s[i + k++] - '0');
            append_utf8(out, cp);
            i += k - 1;
          } else {
            out += '\\';  // unknown escapes stay as written
            out += e;
          }
      }
    }
    return out;
  }

  Result<size_t> lex_operator(size_t pos, std::vector<char>& brackets) {
    static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (std::string_view op : kTwo) {
      if (src_.compare(pos, 2, op) == 0) {
        emit(TokenKind::Operator, pos, std::string(op));
        return pos + 2;
      }
    }
    const char c = src_[pos];
    if (std::string_view("+-/*%~[](){}><=.:|,;").find(c) == std::string_view::npos) {
      if (static_cast<unsigned char>(c) >= 0x80) return fail(pos, "unexpected non-ASCII character in tag");
      return fail(pos, fmt::format("unexpected char '{}'", c));
    }
    if (c == '(' || c == '[' || c == '{') brackets.push_back(c == '(' ? ')' : (c == '[' ? ']' : '}'));
    if (c == ')' || c == ']' || c == '}') {
      if (brackets.empty()) return fail(pos, fmt::format("unexpected '{}'", c));
      if (brackets.back() != c) return fail(pos, fmt::format("unexpected '{}', expected '{}'", c, brackets.back()));
      brackets.pop_back();
    }
    emit(TokenKind::Operator, pos, std::string(1, c));
    return pos + 1;
  }

  std::string src_;
  LexerOptions options_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  bool line_starting_ = true;  // the last match ended with a newline (or nothing has been read)
};

}  // namespace

Result<std::vector<Token>> tokenize(std::string_view source, const LexerOptions& options) {
  // Normalize \r\n and \r to \n; without keep_trailing_newline one final newline is dropped.
  std::string text;
  text.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      text += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      text += source[i];
    }
  }
  if (!options.keep_trailing_newline && !text.empty() && text.back() == '\n') text.pop_back();
  return Lexer(std::move(text), options).run();
}

}  // namespace strata::jinja
