// http/http_parse.cc: request-line and header parsing, body framing rules, the chunked-body state machine.
#include "http/http_parse.h"

#include <algorithm>
#include <charconv>

namespace strata::http {

namespace {

bool is_tchar(char c) {
  // RFC 9110 token characters.
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits off one line (LF or CRLF terminated); the last line may lack a terminator.
std::string_view next_line(std::string_view& rest) {
  size_t nl = rest.find('\n');
  std::string_view line = nl == std::string_view::npos ? rest : rest.substr(0, nl);
  rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool header_has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = trim(value.substr(0, comma));
    if (equals_ignore_case(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

bool equals_ignore_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

const std::string* HttpRequestHead::header(std::string_view name) const {
  for (const auto& h : headers)
    if (equals_ignore_case(h.name, name)) return &h.value;
  return nullptr;
}

Result<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    int hi = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
    int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) return error("bad percent escape in \"{}\"", text);
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

Result<HttpRequestHead> parse_request_head(std::string_view head) {
  HttpRequestHead h;
  std::string_view rest = head;
  // RFC 9112 §2.2: a server should ignore empty lines before the request line.
  std::string_view line = next_line(rest);
  while (line.empty() && !rest.empty()) line = next_line(rest);

  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return error("malformed request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_tchar)) return error("malformed method");
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' || version[7] > '9')
    return error("unsupported protocol version \"{}\"", version);
  if (target.empty()) return error("empty request target");
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return error("control character in request target");

  h.method = std::string(method);
  h.target = std::string(target);
  h.version_minor = version[7] - '0';
  std::string_view path = target;
  // Absolute-form targets ("http://host/path") are allowed by RFC 9112; keep the path.
  if (path.substr(0, 7) == "http://" || path.substr(0, 8) == "https://") {
    size_t slash = path.find('/', path.find("//") + 2);
    path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
  }
  if (path != "*" && path.front() != '/') return error("request target must start with '/'");
  size_t q = path.find('?');
  if (q != std::string_view::npos) {
    h.query = std::string(path.substr(q + 1));
    path = path.substr(0, q);
  }
  size_t frag = path.find('#');
  if (frag != std::string_view::npos) path = path.substr(0, frag);
  STRATA_ASSIGN_OR_RETURN(h.path, percent_decode(path));

  while (!rest.empty()) {
    line = next_line(rest);
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') return error("obsolete header line folding");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return error("malformed header line");
    std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_tchar)) return error("malformed header name");
    std::string_view value = trim(line.substr(colon + 1));
    for (char c : value)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return error("control character in header");
    if (h.headers.size() >= kMaxHeaders) return error("more than {} header fields", kMaxHeaders);
    h.headers.push_back({std::string(name), std::string(value)});
  }
  return h;
}

std::optional<HeadExtent> find_head_end(std::string_view buf, size_t from) {
  // A line end found at the edge of the last search may now be followed by the blank line.
  from = from > 2 ? from - 2 : 0;
  for (size_t nl = buf.find('\n', from); nl != std::string_view::npos; nl = buf.find('\n', nl + 1)) {
    if (nl + 1 < buf.size() && buf[nl + 1] == '\n') return HeadExtent{nl + 1, nl + 2};
    if (nl + 2 < buf.size() && buf[nl + 1] == '\r' && buf[nl + 2] == '\n') return HeadExtent{nl + 1, nl + 3};
  }
  return std::nullopt;
}

Result<BodyFraming> body_framing(const HttpRequestHead& head) {
  BodyFraming f;
  const std::string* te = nullptr;
  const std::string* cl = nullptr;
  int n_cl = 0;
  for (const auto& hd : head.headers) {
    if (equals_ignore_case(hd.name, "transfer-encoding")) {
      if (te) return error("repeated Transfer-Encoding");
      te = &hd.value;
    } else if (equals_ignore_case(hd.name, "content-length")) {
      if (cl && *cl != hd.value) return error("conflicting Content-Length values");
      cl = &hd.value;
      ++n_cl;
    }
  }
  // Both framings at once is the classic request-smuggling vector: refuse it.
  if (te && cl) return error("both Transfer-Encoding and Content-Length");
  if (te) {
    if (!equals_ignore_case(trim(*te), "chunked")) return error("unsupported Transfer-Encoding \"{}\"", *te);
    f.kind = BodyFraming::Kind::Chunked;
  } else if (cl) {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
    if (cl->empty() || ec != std::errc() || end != cl->data() + cl->size()) return error("invalid Content-Length");
    f.kind = n > 0 ? BodyFraming::Kind::Length : BodyFraming::Kind::None;
    f.length = n;
  }
  if (const std::string* ex = head.header("expect")) f.expect_continue = equals_ignore_case(*ex, "100-continue");
  const std::string* conn = head.header("connection");
  // HTTP/1.0 has no chunked coding: such a message's framing is suspect, so the connection is not
  // reused after it (RFC 9112 §6.1).
  if (te && head.version_minor == 0)
    f.keep_alive = false;
  else if (head.version_minor == 0)
    f.keep_alive = conn && header_has_token(*conn, "keep-alive");
  else
    f.keep_alive = !(conn && header_has_token(*conn, "close"));
  return f;
}

Result<size_t> ChunkedDecoder::feed(std::string_view in, std::string& out) {
  size_t i = 0;
  while (i < in.size() && state_ != State::Done) {
    const char c = in[i];
    switch (state_) {
      case State::Size: {
        int v = hex_value(c);
        if (v >= 0) {
          // Leading zeros are valid (RFC 9112 §7.1): only significant digits count toward the limit.
          if (remaining_ > 0 || v > 0)
            if (++size_digits_ > 15) return error("chunk size too large");
          if (size_digits_ == 0) leading_zeros_ = true;
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(v);
          ++i;
        } else if (size_digits_ == 0 && !leading_zeros_) {
          return error("malformed chunk size");
        } else if (c == ' ' || c == '\t') {
          state_ = State::SizeWs;  // whitespace may precede an extension or the line end, nothing else
          ++i;
        } else if (c == ';') {
          state_ = State::SizeExt;
          ++i;
        } else if (c == '\r') {
          state_ = State::SizeLf;
          ++i;
        } else if (c == '\n') {
          state_ = remaining_ == 0 ? State::Trailer : State::Data;
          ++i;
        } else {
          return error("malformed chunk size");
        }
        break;
      }
      case State::SizeWs:
        if (c == ';') state_ = State::SizeExt;
        else if (c == '\r') state_ = State::SizeLf;
        else if (c == '\n') state_ = remaining_ == 0 ? State::Trailer : State::Data;
        else if (c != ' ' && c != '\t') return error("malformed chunk size line");
        ++i;
        break;
      case State::SizeExt:
        // Chunk extensions are ignored; bound them so a peer cannot stream an endless line.
        if (c == '\n') state_ = remaining_ == 0 ? State::Trailer : State::Data;
        else if (++trailer_line_ > 4096) return error("chunk extension too long");
        ++i;
        if (state_ != State::SizeExt) trailer_line_ = 0;
        break;
      case State::SizeLf:
        if (c != '\n') return error("malformed chunk size line");
        state_ = remaining_ == 0 ? State::Trailer : State::Data;
        ++i;
        break;
      case State::Data: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size() - i));
        out.append(in.substr(i, take));
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::DataCr;
        break;
      }
      case State::DataCr:
        if (c == '\r') state_ = State::DataLf;
        else if (c == '\n') state_ = State::Size, size_digits_ = 0, leading_zeros_ = false;
        else return error("chunk data longer than its size");
        ++i;
        break;
      case State::DataLf:
        if (c != '\n') return error("chunk data longer than its size");
        state_ = State::Size;
        size_digits_ = 0;
        leading_zeros_ = false;
        ++i;
        break;
      case State::Trailer:
        // Trailer fields until an empty line; their content is ignored.
        if (c == '\n') {
          state_ = trailer_line_ == 0 ? State::Done : State::Trailer;
          trailer_line_ = 0;
        } else if (c != '\r') {
          if (++trailer_line_ > 4096) return error("chunk trailer too long");
        }
        ++i;
        break;
      case State::Done:
        break;
    }
  }
  return i;
}

std::string_view status_reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
  }
  return "Unknown";
}

}  // namespace strata::http
