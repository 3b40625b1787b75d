// http/http_parse.h: HTTP/1.1 request heads, body framing and chunked decoding, as pure functions over
// bytes (no sockets), so the parser of untrusted input can be tested and mutated on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace strata::http {

struct HttpHeader {
  std::string name;  // as sent; compare with header() which ignores case
  std::string value;  // surrounding whitespace trimmed
};

struct HttpRequestHead {
  std::string method;  // "GET", "POST", ... (case-sensitive, as RFC 9110 says)
  std::string target;  // as sent: "/api/tags?x=1"
  std::string path;    // percent-decoded path part of the target
  std::string query;   // raw query (after '?'), may be empty
  int version_minor = 1;  // HTTP/1.<minor>
  std::vector<HttpHeader> headers;

  // The first header with this name (case-insensitive), or null.
  const std::string* header(std::string_view name) const;
};

// Limits of what the parser accepts (the connection enforces the byte limit before parsing).
inline constexpr size_t kMaxHeaders = 100;

// Parses the request line and header fields. `head` runs up to and excluding the blank line that ends
// it ("GET / HTTP/1.1\r\nHost: x\r\n"); bare LF line ends are accepted too. Errors are 400-worthy.
Result<HttpRequestHead> parse_request_head(std::string_view head);

// Where a request head ends in bytes received so far: the head proper (up to and including the line end
// of its last header line) and the head with its blank line. The blank line may follow a CRLF or a bare
// LF line ("...\n\r\n" and "...\r\n\n" both end a head). `from` skips bytes already searched.
struct HeadExtent {
  size_t head_bytes = 0;   // what parse_request_head takes
  size_t total_bytes = 0;  // what the head occupies, blank line included
};
std::optional<HeadExtent> find_head_end(std::string_view buf, size_t from = 0);

// How the request body is delimited, derived from the head.
struct BodyFraming {
  enum class Kind { None, Length, Chunked };
  Kind kind = Kind::None;
  uint64_t length = 0;          // for Kind::Length
  bool expect_continue = false;  // "Expect: 100-continue"
  bool keep_alive = true;        // HTTP/1.1 default, unless "Connection: close"; HTTP/1.0 needs keep-alive
};
Result<BodyFraming> body_framing(const HttpRequestHead& head);

// Incremental decoder of a chunked body: feed it bytes as they arrive; decoded bytes go to `out`.
class ChunkedDecoder {
 public:
  // Consumes a prefix of `in` and returns how many bytes it used (all of them unless the body ended).
  // Errors name the malformed part. After done(), trailing bytes belong to the next request.
  Result<size_t> feed(std::string_view in, std::string& out);
  bool done() const { return state_ == State::Done; }

 private:
  enum class State { Size, SizeWs, SizeExt, SizeLf, Data, DataCr, DataLf, Trailer, Done };
  State state_ = State::Size;
  uint64_t remaining_ = 0;
  int size_digits_ = 0;         // significant hex digits of the size so far
  bool leading_zeros_ = false;  // the size began with zeros (still a size)
  size_t trailer_line_ = 0;  // bytes in the current trailer line
};

// The reason phrase for a status code ("Not Found"); "Unknown" for codes we never send.
std::string_view status_reason(int status);

// Decodes %XX escapes; a malformed escape is an error. '+' stays '+' (paths, not forms).
Result<std::string> percent_decode(std::string_view text);

// Case-insensitive ASCII comparison.
bool equals_ignore_case(std::string_view a, std::string_view b);

}  // namespace strata::http
