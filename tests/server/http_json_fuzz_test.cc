// tests/server/http_json_fuzz_test.cc: seeded, structure-aware fuzzing of the HTTP parser (pure functions,
// checked against properties: a split search or split chunked feed agrees with the whole) and of every JSON
// route through a live in-process server (every request answered with a well-formed response, no hang, the
// server alive at the end). Deterministic: the seeds are fixed. Built twice: here, and under ASan+UBSan as
// http_json_fuzz_asan_test.cc, where a bad read, an overflow or a leak fails the run.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/http_parse.h"
#include "http/request_guard.h"
#include "server/server.h"
#include "support/test_support.h"

namespace strata::server {
namespace {

using Rng = std::mt19937_64;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

size_t pick(Rng& rng, size_t n) { return static_cast<size_t>(rng() % n); }
template <typename T, size_t N>
const T& pick(Rng& rng, const T (&items)[N]) {
  return items[pick(rng, N)];
}

// Byte-level damage applied after the structure is built: flips, cuts, duplications, control bytes.
void damage(Rng& rng, std::string& s, int n) {
  static const char kBytes[] = {'\r', '\n', ':', ' ', '\t', '\0', '\x7f', '\xff', '%', ';', '0', 'f', '"', '{', '['};
  for (int i = 0; i < n && !s.empty(); ++i) {
    const size_t at = pick(rng, s.size());
    switch (pick(rng, 5)) {
      case 0: s[at] = static_cast<char>(rng()); break;
      case 1: s.erase(at, 1 + pick(rng, 8)); break;
      case 2: s.insert(at, 1, pick(rng, kBytes)); break;
      case 3: s.insert(at, s.substr(at, 1 + pick(rng, 16))); break;
      default: s.resize(at); break;
    }
  }
}

// ---- Part 1: the request head, framing and chunked body, as bytes.

std::string chunked_body(Rng& rng, std::string& decoded) {
  std::string out;
  for (int n = static_cast<int>(pick(rng, 5)); n > 0; --n) {
    std::string data(pick(rng, 40), 'a' + static_cast<char>(pick(rng, 26)));
    decoded += data;
    std::string size = fmt::format("{:x}", data.size());
    if (pick(rng, 4) == 0) size = std::string(pick(rng, 4), '0') + size;  // leading zeros
    if (pick(rng, 4) == 0) size = fmt::format("{:X}", data.size());
    out += size;
    if (pick(rng, 6) == 0) out += ";ext=" + std::string(pick(rng, 10), 'e');
    out += pick(rng, 5) ? "\r\n" : "\n";
    out += data + (pick(rng, 5) ? "\r\n" : "\n");
  }
  out += std::string(pick(rng, 3), '0') + "0\r\n";
  if (pick(rng, 4) == 0) out += "Trailer-Field: x\r\n";
  out += "\r\n";
  return out;
}

std::string random_head(Rng& rng, std::string& body, std::string& decoded) {
  static const char* kMethods[] = {"GET", "POST", "HEAD", "OPTIONS", "DELETE", "PUT", "G@T", "", "post"};
  static const char* kTargets[] = {"/", "/api/chat", "/api/blobs/sha256:00", "/v1/models/a%3Ab", "/%zz", "*",
                                   "http://127.0.0.1:11434/api/tags", "relative", "/a?b=c#d", "/\x01"};
  static const char* kVersions[] = {"HTTP/1.1", "HTTP/1.0", "HTTP/1.9", "HTTP/2.0", "http/1.1", "HTTP/1."};
  static const char* kNames[] = {"Host", "Content-Length", "Transfer-Encoding", "Connection", "Expect", "Origin",
                                 "X-Any", "content-length", "Bad Name", ""};
  static const char* kValues[] = {"0", "5", "12", "-1", "1,1", "00012", "99999999999999999999", " 7", "chunked",
                                  "chunked, gzip", " Chunked ", "identity", "close", "keep-alive", "100-continue",
                                  "http://evil.example", "localhost:11434", "[::1]:1", "a\x01b", ""};
  const char* eol = pick(rng, 4) ? "\r\n" : "\n";
  std::string h = fmt::format("{} {} {}{}", pick(rng, kMethods), pick(rng, kTargets), pick(rng, kVersions), eol);
  for (int n = static_cast<int>(pick(rng, 7)); n > 0; --n) {
    if (pick(rng, 3) == 0) eol = pick(rng, 2) ? "\r\n" : "\n";  // mixed line ends
    h += fmt::format("{}:{}{}{}", pick(rng, kNames), pick(rng, 2) ? " " : "", pick(rng, kValues), eol);
  }
  h += pick(rng, 2) ? "\r\n" : "\n";
  body = pick(rng, 2) ? chunked_body(rng, decoded) : std::string(pick(rng, 20), 'b');
  return h;
}

// Feeds `in` to a fresh decoder in pieces cut at `cuts`; the result must not depend on the cuts.
struct Decoded {
  bool ok = true;
  bool done = false;
  size_t used = 0;
  std::string out;
};
Decoded feed_split(std::string_view in, Rng& rng, bool split) {
  Decoded d;
  http::ChunkedDecoder dec;
  while (d.used < in.size() && !dec.done()) {
    size_t n = split ? 1 + pick(rng, in.size() - d.used) : in.size() - d.used;
    auto r = dec.feed(in.substr(d.used, n), d.out);
    if (!r) {
      d.ok = false;
      break;
    }
    EXPECT_LE(r.value(), n);
    d.used += r.value();
    if (r.value() < n) break;  // the body ended inside this piece
  }
  d.done = dec.done();
  return d;
}

void fuzz_one_request(Rng& rng) {
  std::string body, decoded;
  std::string raw = random_head(rng, body, decoded);
  raw += body;
  damage(rng, raw, static_cast<int>(pick(rng, 4)));

  // The head's end is the same whether searched at once or as bytes trickle in.
  auto whole = http::find_head_end(raw);
  size_t scanned = 0;
  std::optional<http::HeadExtent> split;
  for (size_t have = 0; have < raw.size() && !split;) {
    have = std::min(raw.size(), have + 1 + pick(rng, 64));
    split = http::find_head_end(std::string_view(raw).substr(0, have), scanned);
    scanned = have;
  }
  ASSERT_EQ(whole.has_value(), split.has_value()) << raw;
  if (!whole) return;
  ASSERT_EQ(whole->head_bytes, split->head_bytes) << raw;
  ASSERT_EQ(whole->total_bytes, split->total_bytes);
  ASSERT_LE(whole->total_bytes, raw.size());

  auto head = http::parse_request_head(std::string_view(raw).substr(0, whole->head_bytes));
  if (!head) return;
  ASSERT_LE(head->headers.size(), http::kMaxHeaders);
  ASSERT_FALSE(head->path.empty());
  if (const std::string* host = head->header("host"))
    (void)http::host_allowed(*host, "127.0.0.1", {"box"});
  if (const std::string* origin = head->header("origin")) (void)http::origin_allowed(*origin, "127.0.0.1:11434", {"*.x"});
  auto framing = http::body_framing(head.value());
  if (!framing || framing->kind != http::BodyFraming::Kind::Chunked) return;
  const std::string_view rest = std::string_view(raw).substr(whole->total_bytes);
  Rng split_rng(rng());
  Decoded a = feed_split(rest, split_rng, false), b = feed_split(rest, split_rng, true);
  ASSERT_EQ(a.ok, b.ok) << rest;
  if (a.ok) {
    ASSERT_EQ(a.out, b.out);
    ASSERT_EQ(a.done, b.done);
    ASSERT_EQ(a.used, b.used);
    ASSERT_LE(a.out.size(), rest.size());
  }
}

TEST(HttpJsonFuzz, RequestHeadsFramingAndChunks) {
  Rng rng(20261206);
  for (int i = 0; i < 80'000; ++i) {
    fuzz_one_request(rng);
    if (::testing::Test::HasFatalFailure()) FAIL() << "case " << i;
  }
}

// ---- Part 2: every JSON route, through a live server.

using Json = nlohmann::ordered_json;

const char* const kKeys[] = {"model", "name", "prompt", "messages", "role", "content", "options", "num_predict", "num_ctx",
                             "stream", "format", "keep_alive", "think", "tools", "images", "input", "dimensions",
                             "truncate", "system", "template", "suffix", "raw", "context", "source", "destination",
                             "files", "parameters", "license", "from", "temperature", "top_k", "top_p", "stop", "seed",
                             "max_tokens", "n", "response_format", "json_schema", "schema", "type", "properties",
                             "required", "items", "enum", "tool_calls", "function", "arguments", "verbose"};

Json random_value(Rng& rng, int depth) {
  switch (pick(rng, depth > 3 ? 8 : 11)) {
    case 0: return nullptr;
    case 1: return pick(rng, 2) == 0;
    case 2: return static_cast<int64_t>(pick(rng, 9)) - 2;  // small numbers: generation stays short
    case 3: return static_cast<double>(pick(rng, 1000)) / 7.0;
    case 4: {
      static const int64_t kEdges[] = {-1, 0, 1, 64, 4096, 1 << 30, INT64_MAX, INT64_MIN};
      return pick(rng, kEdges);
    }
    case 5: {
      static const double kEdges[] = {-0.0, 1e-300, 1e300, -1e300, 0.5, 2.5};
      return pick(rng, kEdges);
    }
    case 6: return std::string(pick(rng, 12), static_cast<char>('a' + pick(rng, 26)));
    case 7: {
      static const char* kStrings[] = {"stories260k", "json", "user", "system", "assistant", "5m", "0", "-1", "10",
                                       "sha256:" "0000000000000000000000000000000000000000000000000000000000000000",
                                       "{{ messages[0]['content'] }}", "{% for m in messages %}{{ m.content }}{% endfor %}",
                                       "\xff\xfe", "high", "object", "string", "integer", "array", ""};
      return pick(rng, kStrings);
    }
    case 8: {
      Json a = Json::array();
      for (size_t n = pick(rng, 4); n > 0; --n) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      Json o = Json::object();
      for (size_t n = pick(rng, 4); n > 0; --n) o[pick(rng, kKeys)] = random_value(rng, depth + 1);
      return o;
    }
  }
}

// One structural change somewhere in the tree: replace a value, drop or add a key, wrap, duplicate.
void mutate(Rng& rng, Json& j, int depth = 0) {
  if ((j.is_object() || j.is_array()) && !j.empty() && depth < 6 && pick(rng, 3) != 0) {
    auto it = j.begin();
    std::advance(it, static_cast<long>(pick(rng, j.size())));
    return mutate(rng, *it, depth + 1);
  }
  switch (pick(rng, 5)) {
    case 0: j = random_value(rng, depth); break;
    case 1:
      if (j.is_object()) j[pick(rng, kKeys)] = random_value(rng, depth + 1);
      else j = random_value(rng, depth);
      break;
    case 2:
      if (j.is_object() && !j.empty()) j.erase(j.begin().key());
      else if (j.is_array() && !j.empty()) j.erase(j.begin());
      break;
    case 3: j = pick(rng, 2) ? Json::array({j}) : Json{{pick(rng, kKeys), j}}; break;
    default:
      if (j.is_array() && !j.empty()) j.push_back(j.front());
      break;
  }
}

struct Seed {
  const char* method;
  const char* path;
  const char* body;
};
const Seed kSeeds[] = {
    {"POST", "/api/generate", R"({"model":"stories260k","prompt":"Once","options":{"num_predict":2,"num_ctx":64},"stream":false})"},
    {"POST", "/api/generate", R"({"model":"stories260k","prompt":"a","format":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},"options":{"num_predict":3}})"},
    {"POST", "/api/chat", R"({"model":"stories260k","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":2},"keep_alive":"5m"})"},
    {"POST", "/api/chat", R"({"model":"stories260k","messages":[{"role":"system","content":"s"},{"role":"user","content":"x","images":[]}],"think":false,"tools":[],"stream":false,"options":{"num_predict":1}})"},
    {"POST", "/api/embed", R"({"model":"stories260k","input":["a","b"],"truncate":true})"},
    {"POST", "/api/embeddings", R"({"model":"stories260k","prompt":"a"})"},
    {"POST", "/api/show", R"({"model":"stories260k","verbose":false})"},
    {"POST", "/api/pull", R"({"model":"stories260k","stream":false})"},
    {"POST", "/api/push", R"({"model":"stories260k"})"},
    {"POST", "/api/copy", R"({"source":"stories260k","destination":"fuzzcopy"})"},
    {"DELETE", "/api/delete", R"({"model":"fuzzcopy"})"},
    {"POST", "/api/create", R"({"model":"fuzzmade","from":"stories260k","system":"s","parameters":{"temperature":0.5},"stream":false})"},
    {"POST", "/v1/chat/completions", R"({"model":"stories260k","messages":[{"role":"user","content":"x"}],"max_tokens":2})"},
    {"POST", "/v1/chat/completions", R"({"model":"stories260k","messages":[{"role":"user","content":"x"}],"max_tokens":2,"stream":true,"response_format":{"type":"json_object"}})"},
    {"POST", "/v1/completions", R"({"model":"stories260k","prompt":"x","max_tokens":2})"},
    {"POST", "/v1/embeddings", R"({"model":"stories260k","input":"x"})"},
    {"POST", "/api/chat", R"({"model":"stories260k","messages":[{"role":"user","content":"x"},{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]},{"role":"tool","content":"r","tool_name":"f"}],"options":{"num_predict":1},"stream":false})"},
    {"POST", "/v1/messages", R"({"model":"stories260k","max_tokens":2,"system":"s","messages":[{"role":"user","content":[{"type":"text","text":"x"}]},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"r"}]}],"stream":true})"},
    {"POST", "/v1/responses", R"({"model":"stories260k","max_output_tokens":2,"instructions":"i","input":[{"role":"user","content":"x"},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"r"}],"stream":true})"},
    {"POST", "/api/blobs/sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "hello"},
};

// A keep-alive client that reads whole responses (by length, chunked, or to the close).
class Client {
 public:
  explicit Client(int port) : port_(port) {}
  ~Client() { close(); }
  // Sends `raw` and reads one response; returns its status (0: no well-formed response in time).
  int exchange(const std::string& raw, bool head_request) {
    if (fd_ < 0 && !connect()) return 0;
    for (std::string_view s = raw; !s.empty();) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) break;  // the server may answer and close before reading everything: still read
      s.remove_prefix(static_cast<size_t>(n));
    }
    const auto deadline = Clock::now() + 20s;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!read_more(deadline)) return 0;
    const std::string head = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12) return 0;
    const int status = std::atoi(head.c_str() + 9);
    auto header = [&](std::string_view name) -> std::string {
      for (size_t at = head.find("\r\n"); at != std::string::npos; at = head.find("\r\n", at + 2)) {
        std::string_view line = std::string_view(head).substr(at + 2);
        line = line.substr(0, line.find("\r\n"));
        if (line.size() > name.size() && http::equals_ignore_case(line.substr(0, name.size()), name) && line[name.size()] == ':')
          return std::string(line.substr(name.size() + 2));
      }
      return "";
    };
    const bool close_after = http::equals_ignore_case(header("Connection"), "close");
    if (head_request || status == 204 || status == 304 || status / 100 == 1) {
      if (close_after) close();
      return status;
    }
    if (std::string len = header("Content-Length"); !len.empty()) {
      const size_t n = std::stoul(len);
      while (buf_.size() < n)
        if (!read_more(deadline)) return 0;
      buf_.erase(0, n);
    } else if (http::equals_ignore_case(header("Transfer-Encoding"), "chunked")) {
      http::ChunkedDecoder dec;
      std::string out;
      while (!dec.done()) {
        if (buf_.empty() && !read_more(deadline)) return 0;
        auto used = dec.feed(buf_, out);
        if (!used) return 0;
        buf_.erase(0, used.value());
      }
    } else {
      while (read_more(deadline)) {
      }
      if (!eof_) return 0;
    }
    if (close_after || eof_) close();
    return status;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
    eof_ = false;
  }

 private:
  bool connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  bool read_more(Clock::time_point deadline) {
    if (eof_) return false;
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    pollfd p{fd_, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, left) <= 0) return false;
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int port_;
  int fd_ = -1;
  bool eof_ = false;
  std::string buf_;
};

std::string frame(Rng& rng, const Seed& seed, const std::string& body) {
  std::string h = fmt::format("{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\n", seed.method, seed.path);
  if (pick(rng, 4) == 0) {  // chunked, cut at random places
    h += "Transfer-Encoding: chunked\r\n\r\n";
    for (size_t at = 0; at < body.size();) {
      size_t n = std::min(body.size() - at, 1 + pick(rng, 64));
      h += fmt::format("{:x}\r\n{}\r\n", n, body.substr(at, n));
      at += n;
    }
    return h + "0\r\n\r\n";
  }
  return h + fmt::format("Content-Length: {}\r\n\r\n{}", body.size(), body);
}

TEST(HttpJsonFuzz, EveryJsonRouteAnswersEveryMutation) {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.store.paths = {testing::shared_path("models/stories260K.gguf")};
  o.store.store_dir = testing::temp_dir() + "/store";
  o.scheduler.runner.n_threads = 1;
  o.scheduler.runner.default_num_ctx = 64;
  o.max_body_bytes = 1 << 20;
  o.http.io_timeout_ms = 2000;
  auto server = Server::create(o);
  ASSERT_TRUE(server.is_ok()) << server.status().message();
  auto port = server.value()->start();
  ASSERT_TRUE(port.is_ok());

  Rng rng(1206);
  Client client(port.value());
  std::map<int, int> statuses;
  constexpr int kCases = 20'000;
  for (int i = 0; i < kCases; ++i) {
    const Seed& seed = kSeeds[pick(rng, std::size(kSeeds))];
    std::string body = seed.body;
    if (Json j = Json::parse(body, nullptr, false); !j.is_discarded()) {
      for (size_t n = 1 + pick(rng, 3); n > 0; --n) mutate(rng, j);
      body = j.dump(-1, ' ', false, Json::error_handler_t::replace);
    }
    if (pick(rng, 5) == 0) damage(rng, body, 1 + static_cast<int>(pick(rng, 3)));
    const int status = client.exchange(frame(rng, seed, body), false);
    ASSERT_NE(status, 0) << "case " << i << ": no well-formed answer to " << seed.path << " " << body;
    ASSERT_TRUE(status >= 200 && status < 600) << status;
    ++statuses[status];
  }
  std::string summary;
  for (auto [s, n] : statuses) summary += fmt::format(" {}:{}", s, n);
  std::printf("route cases: %d, statuses:%s\n", kCases, summary.c_str());
  EXPECT_GT(statuses[200], kCases / 10) << "the mutations still reach the routes' accepting paths";
  EXPECT_GT(statuses[400], kCases / 10) << "and their error paths";
  EXPECT_EQ(statuses[500], 0) << "bad input is the client's error, never an internal one";
  // The server is alive and well after all of it.
  client.close();
  EXPECT_EQ(client.exchange("GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", false), 200);
  server.value()->stop();
}

}  // namespace
}  // namespace strata::server
