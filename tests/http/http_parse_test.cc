// tests/http/http_parse_test.cc: the HTTP/1.1 parser of untrusted bytes: request heads, framing rules
// (including the smuggling-prone combinations), the chunked decoder fed in every split, and a seeded
// mutation run that must never crash or over-consume.
#include <random>

#include <gtest/gtest.h>

#include "http/http_parse.h"

namespace strata::http {
namespace {

TEST(HttpParse, RequestLineAndHeaders) {
  auto h = parse_request_head("POST /api/chat?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type:  application/json \r\n");
  ASSERT_TRUE(h.is_ok()) << h.status().message();
  EXPECT_EQ(h->method, "POST");
  EXPECT_EQ(h->path, "/api/chat");
  EXPECT_EQ(h->query, "x=1");
  EXPECT_EQ(h->version_minor, 1);
  ASSERT_NE(h->header("content-type"), nullptr);
  EXPECT_EQ(*h->header("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(h->header("accept"), nullptr);
}

TEST(HttpParse, PathsArePercentDecodedAndAbsoluteFormKeepsThePath) {
  auto h = parse_request_head("GET /v1/models/llama3.2%3Alatest HTTP/1.1\n");
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h->path, "/v1/models/llama3.2:latest");
  auto a = parse_request_head("GET http://127.0.0.1:11434/api/tags HTTP/1.0\r\n");
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a->path, "/api/tags");
  EXPECT_EQ(a->version_minor, 0);
  EXPECT_FALSE(parse_request_head("GET /a%zz HTTP/1.1\r\n").is_ok());
  EXPECT_FALSE(parse_request_head("GET /a%4 HTTP/1.1\r\n").is_ok());
}

TEST(HttpParse, MalformedHeadsAreErrors) {
  for (const char* bad : {"", "GET\r\n", "GET / HTTP/2.0\r\n", "GET  / HTTP/1.1\r\n", "G@T / HTTP/1.1\r\n",
                          "GET relative HTTP/1.1\r\n", "GET / HTTP/1.1\r\nNoColon\r\n", "GET / HTTP/1.1\r\n folded: x\r\n",
                          "GET / HTTP/1.1\r\nBad Name: x\r\n", "GET / HTTP/1.1\r\nX: a\x01b\r\n", "GET /\x7f HTTP/1.1\r\n"}) {
    EXPECT_FALSE(parse_request_head(bad).is_ok()) << bad;
  }
  std::string many = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i <= kMaxHeaders; ++i) many += "X-H: v\r\n";
  EXPECT_FALSE(parse_request_head(many).is_ok());
}

TEST(HttpParse, HeadEndsAtTheFirstBlankLineWhateverTheLineEnds) {
  auto at = [](std::string_view b) { auto e = find_head_end(b); return e ? std::make_pair(e->head_bytes, e->total_bytes) : std::make_pair(size_t{0}, size_t{0}); };
  EXPECT_EQ(at("GET / HTTP/1.1\r\nA: b\r\n\r\nrest"), std::make_pair(size_t{22}, size_t{24}));
  EXPECT_EQ(at("GET / HTTP/1.1\nA: b\n\nrest"), std::make_pair(size_t{20}, size_t{21}));
  EXPECT_EQ(at("GET / HTTP/1.1\r\nA: b\n\r\nrest"), std::make_pair(size_t{21}, size_t{23}));  // bare LF, then CRLF
  EXPECT_EQ(at("GET / HTTP/1.1\nA: b\r\n\nrest"), std::make_pair(size_t{21}, size_t{22}));
  EXPECT_FALSE(find_head_end("GET / HTTP/1.1\r\nA: b\r\n\r"));
  EXPECT_FALSE(find_head_end("GET / HTTP/1.1\r\nA: b\r\n"));
  // Searching on from where the last search stopped finds a blank line split across two reads.
  std::string buf = "GET / HTTP/1.1\r\nA: b\r\n";
  EXPECT_FALSE(find_head_end(buf));
  size_t scanned = buf.size();
  buf += "\r\n";
  auto e = find_head_end(buf, scanned);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->total_bytes, buf.size());
  auto h = parse_request_head(std::string_view("GET / HTTP/1.1\r\nA: b\n\r\n").substr(0, 21));
  ASSERT_TRUE(h.is_ok()) << h.status().message();
  ASSERT_NE(h->header("a"), nullptr);
  EXPECT_EQ(*h->header("a"), "b");
}

// Chunked framing is exact: zeros before a size are fine, junk after it is not, and chunked on
// HTTP/1.0 (which has no chunked coding) is processed but ends the connection.
TEST(HttpParse, ChunkedFramingIsExact) {
  // The decoded body, or "!" when the input is refused or incomplete.
  auto decode = [](std::string_view in) -> std::string {
    ChunkedDecoder d;
    std::string out;
    auto used = d.feed(in, out);
    return used.is_ok() && d.done() && used.value() == in.size() ? out : "!";
  };
  EXPECT_EQ(decode("0000000000000000000003\r\nabc\r\n0\r\n\r\n"), "abc");
  EXPECT_EQ(decode("3 \t;name=v\r\nabc\r\n00\r\n\r\n"), "abc");
  EXPECT_EQ(decode("2 zz\r\nab\r\n0\r\n\r\n"), "!");
  EXPECT_EQ(decode("2 2\r\nab\r\n0\r\n\r\n"), "!");
  EXPECT_EQ(decode("1000000000000000\r\n"), "!");  // 16 significant digits
  auto h = parse_request_head("POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n");
  ASSERT_TRUE(h.is_ok());
  auto f = body_framing(h.value());
  ASSERT_TRUE(f.is_ok());
  EXPECT_EQ(f->kind, BodyFraming::Kind::Chunked);
  EXPECT_FALSE(f->keep_alive);
}

BodyFraming framing_of(const std::string& head) {
  auto h = parse_request_head(head);
  EXPECT_TRUE(h.is_ok()) << head;
  auto f = body_framing(h.value());
  EXPECT_TRUE(f.is_ok()) << head << ": " << f.status().message();
  return f.is_ok() ? f.value() : BodyFraming{};
}

TEST(HttpParse, BodyFraming) {
  auto f = framing_of("POST / HTTP/1.1\r\nContent-Length: 12\r\nExpect: 100-continue\r\n");
  EXPECT_EQ(f.kind, BodyFraming::Kind::Length);
  EXPECT_EQ(f.length, 12u);
  EXPECT_TRUE(f.expect_continue);
  EXPECT_TRUE(f.keep_alive);
  EXPECT_EQ(framing_of("POST / HTTP/1.1\r\nContent-Length: 0\r\n").kind, BodyFraming::Kind::None);
  EXPECT_EQ(framing_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n").kind, BodyFraming::Kind::Chunked);
  EXPECT_FALSE(framing_of("GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n").keep_alive);
  EXPECT_FALSE(framing_of("GET / HTTP/1.0\r\n").keep_alive);
  EXPECT_TRUE(framing_of("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n").keep_alive);
  // Repeated identical lengths are tolerated; conflicting ones and mixed framings are refused.
  EXPECT_EQ(framing_of("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n").length, 3u);
  for (const char* bad : {"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n",
                          "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n",
                          "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n", "POST / HTTP/1.1\r\nContent-Length: -1\r\n",
                          "POST / HTTP/1.1\r\nContent-Length: 1e3\r\n", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n",
                          "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"}) {
    auto h = parse_request_head(bad);
    ASSERT_TRUE(h.is_ok()) << bad;
    EXPECT_FALSE(body_framing(h.value()).is_ok()) << bad;
  }
}

// Decodes `wire` fed in pieces of `step` bytes; returns the body, or the error.
Result<std::string> decode_in_steps(const std::string& wire, size_t step, size_t* consumed_total = nullptr) {
  ChunkedDecoder d;
  std::string out;
  size_t pos = 0;
  while (pos < wire.size() && !d.done()) {
    std::string_view piece = std::string_view(wire).substr(pos, step);
    STRATA_ASSIGN_OR_RETURN(size_t used, d.feed(piece, out));
    EXPECT_LE(used, piece.size());
    pos += used;
    if (used < piece.size() && !d.done()) return error("decoder stopped early");
  }
  if (consumed_total) *consumed_total = pos;
  if (!d.done()) return error("incomplete");
  return out;
}

TEST(HttpParse, ChunkedDecoderAnySplit) {
  const std::string wire = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  for (size_t step = 1; step <= wire.size(); ++step) {
    size_t consumed = 0;
    auto body = decode_in_steps(wire, step, &consumed);
    ASSERT_TRUE(body.is_ok()) << "step " << step << ": " << body.status().message();
    EXPECT_EQ(body.value(), "hello, world");
    EXPECT_EQ(wire.substr(consumed), "NEXT") << "step " << step << ": the next request's bytes are left alone";
  }
  EXPECT_EQ(decode_in_steps("A\n0123456789\n0\n\n", 3).value(), "0123456789");  // bare LF and upper-case hex
}

TEST(HttpParse, ChunkedDecoderRejectsMalformedInput) {
  for (const char* bad : {"zz\r\n", "5\r\nhelloXX\r\n", "\r\n", "5\rx", "ffffffffffffffffff\r\n"}) {
    auto body = decode_in_steps(bad, 100);
    EXPECT_FALSE(body.is_ok()) << bad;
  }
  std::string long_ext = "5;" + std::string(5000, 'e') + "\r\nhello\r\n0\r\n\r\n";
  EXPECT_FALSE(decode_in_steps(long_ext, 64).is_ok());
}

TEST(HttpParse, Helpers) {
  EXPECT_TRUE(equals_ignore_case("Content-Length", "content-length"));
  EXPECT_FALSE(equals_ignore_case("abc", "abd"));
  EXPECT_EQ(status_reason(404), "Not Found");
  EXPECT_EQ(status_reason(503), "Service Unavailable");
  EXPECT_EQ(percent_decode("a%20b+c").value(), "a b+c");
}

// Seeded mutations of valid requests: the parser must return (ok or error) without crashing, and the
// decoder must never claim more bytes than it was given. Run under ASan in the sanitizer build.
TEST(HttpParse, MutationsNeverCrash) {
  const std::string seeds[] = {
      "POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1:11434\r\nContent-Type: application/json\r\nContent-Length: 17\r\n",
      "GET /v1/models/x%3Ay HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n",
      "POST /api/blobs/sha256:00 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"};
  const std::string chunked = "4\r\nwiki\r\n5;a=b\r\npedia\r\n0\r\nX: y\r\n\r\n";
  std::mt19937 rng(1234);
  int parsed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s = seeds[iter % 3];
    std::string c = chunked;
    std::string* target = iter % 2 ? &s : &c;
    const int n_mut = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < n_mut && !target->empty(); ++m) {
      size_t at = rng() % target->size();
      switch (rng() % 4) {
        case 0: (*target)[at] = static_cast<char>(rng() & 0xff); break;
        case 1: target->erase(at, 1 + rng() % 3); break;
        case 2: target->insert(at, 1, "\r\n:; %0aF\t"[rng() % 10]); break;
        default: target->insert(at, target->substr(at, rng() % 8)); break;
      }
    }
    auto h = parse_request_head(s);
    if (h.is_ok()) {
      ++parsed;
      (void)body_framing(h.value());
    }
    ChunkedDecoder d;
    std::string out;
    auto used = d.feed(c, out);
    if (used.is_ok()) {
      EXPECT_LE(used.value(), c.size());
      EXPECT_LE(out.size(), c.size());
    }
  }
  EXPECT_GT(parsed, 100);  // the mutations are not all rejected: the accepting paths were exercised
}

}  // namespace
}  // namespace strata::http
