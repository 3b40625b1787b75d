// jinja/string.cc: Python str semantics over UTF-8 bytes (see jinja/string.h).
#include "jinja/string.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace strata::jinja {

CodePoint decode_at(std::string_view s, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(pos);
  if (b0 < 0x80) return {b0, 1};
  size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {0xFFFD, 1};
  }
  if (pos + len > s.size()) return {0xFFFD, 1};
  for (size_t i = 1; i < len; ++i) {
    const unsigned char b = byte(pos + i);
    if ((b & 0xC0) != 0x80) return {0xFFFD, 1};
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are ill-formed: keep them byte by byte.
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0xFFFD, 1};
  return {cp, len};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::vector<size_t> code_point_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (size_t pos = 0; pos < s.size(); pos += decode_at(s, pos).length) offsets.push_back(pos);
  offsets.push_back(s.size());
  return offsets;
}

size_t code_point_count(std::string_view s) {
  size_t n = 0;
  for (size_t pos = 0; pos < s.size(); pos += decode_at(s, pos).length) ++n;
  return n;
}

bool is_space(char32_t cp) {
  if ((cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20)) return true;
  switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return true;
    default: return cp >= 0x2000 && cp <= 0x200A;
  }
}

namespace {

// The code points of `chars` as a small set (strip arguments are a handful of characters).
std::u32string code_points(std::string_view s) {
  std::u32string out;
  for (size_t pos = 0; pos < s.size();) {
    const CodePoint c = decode_at(s, pos);
    out += c.value;
    pos += c.length;
  }
  return out;
}

char32_t upper_cp(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c == 0xB5) return 0x39C;
  if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return (c & 1) ? c - 1 : c;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c : c - 1;
  if (c == 0x131) return 'I';
  if (c == 0x17F) return 'S';
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c == 0x3C2) return 0x3A3;
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 37;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 63;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

char32_t lower_cp(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 32;
  if (c == 0x178) return 0xFF;
  if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return (c & 1) ? c : c + 1;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c & 1) ? c + 1 : c;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

bool is_cased(char32_t c) { return upper_cp(c) != c || lower_cp(c) != c || c == 0xDF || c == 0x138; }
bool is_upper_cp(char32_t c) { return lower_cp(c) != c; }
bool is_lower_cp(char32_t c) { return upper_cp(c) != c || c == 0xDF || c == 0x138; }

void append_upper(std::string& out, char32_t c) {
  if (c == 0xDF) {
    out += "SS";  // German sharp s has no single upper-case letter.
  } else {
    append_utf8(out, upper_cp(c));
  }
}

// Applies `fn(out, code_point, index)` over the code points of s, copying ill-formed bytes through.
template <typename Fn>
std::string map_code_points(std::string_view s, Fn fn) {
  std::string out;
  out.reserve(s.size());
  size_t index = 0;
  for (size_t pos = 0; pos < s.size();) {
    const CodePoint c = decode_at(s, pos);
    if (c.value == 0xFFFD && c.length == 1 && static_cast<unsigned char>(s[pos]) >= 0x80) {
      out += s[pos];
    } else {
      fn(out, c.value, index);
    }
    pos += c.length;
    ++index;
  }
  return out;
}

}  // namespace

std::string strip(std::string_view s, bool left, bool right, const std::string* chars) {
  const std::u32string set = chars ? code_points(*chars) : std::u32string();
  const auto strippable = [&](char32_t cp) { return chars ? set.find(cp) != std::u32string::npos : is_space(cp); };
  const std::vector<size_t> offsets = code_point_offsets(s);
  size_t first = 0;
  size_t last = offsets.size() - 1;  // index one past the last code point
  if (left) {
    while (first < last && strippable(decode_at(s, offsets[first]).value)) ++first;
  }
  if (right) {
    while (last > first && strippable(decode_at(s, offsets[last - 1]).value)) --last;
  }
  return std::string(s.substr(offsets[first], offsets[last] - offsets[first]));
}

std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit, bool from_right) {
  // Work on code point ranges [begin, end) of non-space runs.
  const std::vector<size_t> offsets = code_point_offsets(s);
  const size_t n = offsets.size() - 1;
  const auto space_at = [&](size_t i) { return is_space(decode_at(s, offsets[i]).value); };
  std::vector<std::string> parts;
  if (!from_right) {
    size_t i = 0;
    while (true) {
      while (i < n && space_at(i)) ++i;
      if (i == n) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        size_t end = n;  // the remainder keeps its trailing whitespace, as CPython does
        parts.emplace_back(s.substr(offsets[i], offsets[end] - offsets[i]));
        break;
      }
      size_t j = i;
      while (j < n && !space_at(j)) ++j;
      parts.emplace_back(s.substr(offsets[i], offsets[j] - offsets[i]));
      i = j;
    }
    return parts;
  }
  size_t i = n;
  while (true) {
    while (i > 0 && space_at(i - 1)) --i;
    if (i == 0) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
      parts.emplace_back(s.substr(0, offsets[i]));
      break;
    }
    size_t j = i;
    while (j > 0 && !space_at(j - 1)) --j;
    parts.emplace_back(s.substr(offsets[j], offsets[i] - offsets[j]));
    i = j;
  }
  return {parts.rbegin(), parts.rend()};
}

std::vector<std::string> split_on(std::string_view s, std::string_view sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (!from_right) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      const size_t hit = s.find(sep, start);
      if (hit == std::string_view::npos) break;
      parts.emplace_back(s.substr(start, hit - start));
      start = hit + sep.size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  size_t end = s.size();
  while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
    if (end < sep.size()) break;
    const size_t hit = s.rfind(sep, end - sep.size());
    if (hit == std::string_view::npos) break;
    parts.emplace_back(s.substr(hit + sep.size(), end - hit - sep.size()));
    end = hit;
  }
  parts.emplace_back(s.substr(0, end));
  return {parts.rbegin(), parts.rend()};
}

std::optional<std::string> replace(std::string_view s, std::string_view old_text, std::string_view new_text,
                                   int64_t count, size_t max_bytes) {
  std::string out;
  int64_t done = 0;
  if (old_text.empty()) {
    const std::vector<size_t> offsets = code_point_offsets(s);
    for (size_t i = 0; i + 1 < offsets.size(); ++i) {
      if (count < 0 || done < count) out += new_text, ++done;
      out += s.substr(offsets[i], offsets[i + 1] - offsets[i]);
      if (out.size() > max_bytes) return std::nullopt;
    }
    if (count < 0 || done < count) out += new_text;
    return out;
  }
  size_t start = 0;
  while (count < 0 || done < count) {
    const size_t hit = s.find(old_text, start);
    if (hit == std::string_view::npos) break;
    out += s.substr(start, hit - start);
    out += new_text;
    start = hit + old_text.size();
    ++done;
    if (out.size() > max_bytes) return std::nullopt;
  }
  out += s.substr(start);
  if (out.size() > max_bytes) return std::nullopt;
  return out;
}

std::string to_upper(std::string_view s) {
  return map_code_points(s, [](std::string& out, char32_t c, size_t) { append_upper(out, c); });
}

std::string to_lower(std::string_view s) {
  return map_code_points(s, [](std::string& out, char32_t c, size_t) { append_utf8(out, lower_cp(c)); });
}

std::string capitalize(std::string_view s) {
  return map_code_points(s, [](std::string& out, char32_t c, size_t index) {
    if (index == 0) {
      append_upper(out, c);
    } else {
      append_utf8(out, lower_cp(c));
    }
  });
}

std::string title_method(std::string_view s) {
  bool previous_cased = false;
  return map_code_points(s, [&](std::string& out, char32_t c, size_t) {
    if (previous_cased) {
      append_utf8(out, lower_cp(c));
    } else {
      append_upper(out, c);
    }
    previous_cased = is_cased(c);
  });
}

std::string title_filter(std::string_view s) {
  // A word starts at the first character after a run of separators (or at the start).
  const auto separator = [](char32_t c) {
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_space(c);
  };
  bool at_word_start = true;
  return map_code_points(s, [&](std::string& out, char32_t c, size_t) {
    if (separator(c)) {
      append_upper(out, c);
      at_word_start = true;
    } else if (at_word_start) {
      append_upper(out, c);
      at_word_start = false;
    } else {
      append_utf8(out, lower_cp(c));
    }
  });
}

bool is_upper_string(std::string_view s) {
  bool any_cased = false;
  for (size_t pos = 0; pos < s.size();) {
    const CodePoint c = decode_at(s, pos);
    if (is_lower_cp(c.value)) return false;
    any_cased = any_cased || is_upper_cp(c.value);
    pos += c.length;
  }
  return any_cased;
}

bool is_lower_string(std::string_view s) {
  bool any_cased = false;
  for (size_t pos = 0; pos < s.size();) {
    const CodePoint c = decode_at(s, pos);
    if (is_upper_cp(c.value)) return false;
    any_cased = any_cased || is_lower_cp(c.value);
    pos += c.length;
  }
  return any_cased;
}

namespace {

// str.isprintable() approximated by the control, format, separator and private-use ranges that matter.
bool is_printable(char32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) return false;
  if (c == 0x1680 || (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F)) return false;
  if ((c >= 0x205F && c <= 0x2064) || (c >= 0x2066 && c <= 0x206F) || c == 0x3000 || c == 0xFEFF) return false;
  if ((c >= 0xFFF9 && c <= 0xFFFB) || (c >= 0xE000 && c <= 0xF8FF) || c >= 0xF0000) return false;
  return true;
}

void append_hex(std::string& out, uint32_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out += kHex[(v >> shift) & 0xF];
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string repr_string(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  out.reserve(s.size() + 2);
  for (size_t pos = 0; pos < s.size();) {
    // Fast path: a run of printable ASCII that needs no escaping is copied in one go.
    size_t run = pos;
    while (run < s.size() && s[run] >= 0x20 && s[run] < 0x7F && s[run] != quote && s[run] != '\\') ++run;
    if (run > pos) {
      out.append(s, pos, run - pos);
      pos = run;
      continue;
    }
    const CodePoint c = decode_at(s, pos);
    const char32_t v = c.value;
    if (v == static_cast<char32_t>(quote) || v == '\\') {
      out += '\\';
      out += static_cast<char>(v);
    } else if (v == '\n') {
      out += "\\n";
    } else if (v == '\r') {
      out += "\\r";
    } else if (v == '\t') {
      out += "\\t";
    } else if (is_printable(v)) {
      out.append(s.substr(pos, c.length));
    } else if (v < 0x100) {
      out += "\\x", append_hex(out, v, 2);
    } else if (v < 0x10000) {
      out += "\\u", append_hex(out, v, 4);
    } else {
      out += "\\U", append_hex(out, v, 8);
    }
    pos += c.length;
  }
  out += quote;
  return out;
}

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  for (size_t pos = 0; pos < s.size();) {
    size_t run = pos;
    while (run < s.size() && s[run] >= 0x20 && s[run] < 0x7F && s[run] != '"' && s[run] != '\\') ++run;
    if (run > pos) {
      out.append(s, pos, run - pos);
      pos = run;
      continue;
    }
    const CodePoint c = decode_at(s, pos);
    const char32_t v = c.value;
    switch (v) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (v < 0x20 || (ensure_ascii && v >= 0x7F)) {
          if (v >= 0x10000) {
            const char32_t u = v - 0x10000;
            out += "\\u", append_hex(out, 0xD800 + (u >> 10), 4);
            out += "\\u", append_hex(out, 0xDC00 + (u & 0x3FF), 4);
          } else {
            out += "\\u", append_hex(out, v, 4);
          }
        } else {
          out.append(s.substr(pos, c.length));
        }
    }
    pos += c.length;
  }
  out += '"';
}

std::string format_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));  // "-1.2345e+17"
  const size_t e_pos = sci.find('e');
  std::string digits;
  bool negative = false;
  for (char ch : sci.substr(0, e_pos)) {
    if (ch == '-') negative = true;
    if (ch >= '0' && ch <= '9') digits += ch;
  }
  int exp10 = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exp10);
  std::string out = negative ? "-" : "";
  const int n = static_cast<int>(digits.size());
  if (exp10 >= -4 && exp10 < 16) {
    if (exp10 >= 0) {
      if (n <= exp10 + 1) {
        out += digits;
        out.append(static_cast<size_t>(exp10 + 1 - n), '0');
        out += ".0";
      } else {
        out.append(digits, 0, static_cast<size_t>(exp10 + 1));
        out += '.';
        out.append(digits, static_cast<size_t>(exp10 + 1));
      }
    } else {
      out += "0.";
      out.append(static_cast<size_t>(-exp10 - 1), '0');
      out += digits;
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (n > 1) {
    out += '.';
    out.append(digits, 1);
  }
  out += exp10 < 0 ? "e-" : "e+";
  const int mag = exp10 < 0 ? -exp10 : exp10;
  if (mag < 10) out += '0';
  out += std::to_string(mag);
  return out;
}

}  // namespace strata::jinja
