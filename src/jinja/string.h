// jinja/string.h: Python str semantics over UTF-8 bytes for the template engine: code points,
// whitespace, strip/split/case mapping, repr and JSON escaping, and floats printed as Python's repr does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::jinja {

// One code point decoded at a byte offset. Ill-formed bytes decode one at a time as U+FFFD with length 1,
// so slicing by code points never loses or invents bytes of the original string.
struct CodePoint {
  char32_t value;
  size_t length;
};
CodePoint decode_at(std::string_view s, size_t pos);
void append_utf8(std::string& out, char32_t cp);

// Byte offset of every code point, plus s.size() as a final sentinel (so the result has count + 1 entries).
std::vector<size_t> code_point_offsets(std::string_view s);
size_t code_point_count(std::string_view s);

// str.isspace(): ASCII whitespace, the C1 separators and the Unicode space characters.
bool is_space(char32_t cp);

// str.strip / lstrip / rstrip. `chars` null means whitespace; otherwise the set of code points in *chars.
std::string strip(std::string_view s, bool left, bool right, const std::string* chars = nullptr);

// str.split() with no separator (runs of whitespace) and str.split(sep); maxsplit < 0 means no limit.
// The r-variants split from the right, as str.rsplit does.
std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit, bool from_right = false);
std::vector<std::string> split_on(std::string_view s, std::string_view sep, int64_t maxsplit, bool from_right = false);

// str.replace(old, new, count); count < 0 means all. An empty `old` inserts between code points.
// nullopt when the result would pass max_bytes.
std::optional<std::string> replace(std::string_view s, std::string_view old_text, std::string_view new_text,
                                   int64_t count, size_t max_bytes);

// Case mapping covers ASCII, Latin-1, Latin Extended-A, basic Greek and Cyrillic (see docs/chat_templates.md).
std::string to_upper(std::string_view s);
std::string to_lower(std::string_view s);
std::string capitalize(std::string_view s);    // str.capitalize()
std::string title_method(std::string_view s);  // str.title(): a letter after an uncased character goes up
std::string title_filter(std::string_view s);  // jinja's |title: words start after '-', whitespace, ( { [ <
bool is_upper_string(std::string_view s);      // str.isupper()
bool is_lower_string(std::string_view s);      // str.islower()

// markupsafe's escape(): & < > " ' become &amp; &lt; &gt; &#34; &#39;.
std::string html_escape(std::string_view s);

// Python's repr() of a str: the quote it picks, and \n, \t, \xNN, \uNNNN escapes for unprintables.
std::string repr_string(std::string_view s);

// Appends a JSON string literal as Python's json.dumps writes it (ensure_ascii escapes all non-ASCII as
// \uXXXX, surrogate pairs above the BMP).
void append_json_string(std::string& out, std::string_view s, bool ensure_ascii);

// repr(float): shortest round-trip digits, fixed notation for exponents in [-4, 16), "1e-05" otherwise.
std::string format_float(double v);

}  // namespace strata::jinja
