// tests/server/server_test.cc: the server in-process on a loopback port, spoken to over raw sockets:
// disconnects cancel work, a full queue answers 503, keep-alive unloads, limits and timeouts answer
// the right status, stop() ends live streams, and mutated requests never take the server down.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server/server.h"
#include "support/test_support.h"

namespace strata::server {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A blocking loopback client that reads with deadlines.
class Client {
 public:
  explicit Client(int port, const char* from = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (from) {  // a chosen source address (127.0.0.2 is another peer on the loopback network)
      sockaddr_in src{};
      src.sin_family = AF_INET;
      ::inet_pton(AF_INET, from, &src.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof(src));
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~Client() { close(); }
  bool connected() const { return connected_; }
  void send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      s.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads until `needle` appears (true) or EOF/timeout (false).
  bool read_until(std::string_view needle, std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = Clock::now() + timeout;
    while (got_.find(needle) == std::string::npos) {
      if (!read_some(deadline)) return false;
    }
    return true;
  }
  // Reads to EOF (true) or gives up at the timeout (false).
  bool read_to_eof(std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = Clock::now() + timeout;
    while (read_some(deadline)) {
    }
    return eof_;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Hands the socket to the caller (who closes it).
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  const std::string& got() const { return got_; }

 private:
  bool read_some(Clock::time_point deadline) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0 || eof_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) return false;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    got_.append(buf, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string got_;
};

std::string post(std::string_view path, std::string_view body, std::string_view extra = "") {
  return fmt::format("POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n{}\r\n{}", path, body.size(), extra, body);
}

// The body of a complete Connection: close response.
std::string body_of(const std::string& response) {
  size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    o.store.paths = {testing::shared_path("models/stories260K.gguf")};
    o.store.store_dir = testing::temp_dir() + "/store";
    o.scheduler.runner.n_threads = 1;
    auto s = Server::create(o);
    ASSERT_TRUE(s.is_ok()) << s.status().message();
    server_ = std::move(s).value();
    auto port = server_->start();
    ASSERT_TRUE(port.is_ok()) << port.status().message();
    port_ = port.value();
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  // One request on its own connection; the whole response.
  std::string request(const std::string& raw, std::chrono::milliseconds timeout = 10000ms) {
    Client c(port_);
    EXPECT_TRUE(c.connected());
    c.send(raw);
    c.read_to_eof(timeout);
    return c.got();
  }
  nlohmann::json stats() {
    return nlohmann::json::parse(body_of(request("GET /api/strata/stats HTTP/1.1\r\nConnection: close\r\n\r\n")));
  }
  template <typename Pred>
  bool wait_for(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return pred();
  }
  std::string long_generate(std::string_view extra_headers = "Connection: close\r\n") {
    return post("/api/generate",
                R"({"model":"stories260k","prompt":"Once upon a time","options":{"num_predict":100,"temperature":1,"top_k":0,"seed":3}})",
                extra_headers);
  }

  std::unique_ptr<Server> server_;
  int port_ = 0;
};

TEST_F(ServerTest, DisconnectStopsGeneration) {
  ServerOptions o;
  o.scheduler.runner.token_delay = 20ms;
  start(o);
  Client c(port_);
  c.send(long_generate());
  ASSERT_TRUE(c.read_until("\"done\":false")) << c.got();
  c.close();
  ASSERT_TRUE(wait_for([&] { return stats()["jobs_cancelled"] == 1; })) << stats().dump();
  auto s = stats();
  EXPECT_LT(s["tokens_generated"].get<int>(), 30) << "stopped within a few tokens of the disconnect";
  EXPECT_EQ(s["jobs_pending"], 0);
}

TEST_F(ServerTest, FullQueueAnswers503AndQueuedDisconnectsAreSkipped) {
  ServerOptions o;
  o.scheduler.runner.token_delay = 20ms;
  o.scheduler.runner.max_queue = 1;
  start(o);
  Client running(port_), queued(port_);
  running.send(long_generate());
  ASSERT_TRUE(running.read_until("\"done\":false"));
  queued.send(long_generate());
  ASSERT_TRUE(wait_for([&] { return stats()["jobs_pending"] == 2; }));
  const std::string refused = request(long_generate());
  EXPECT_EQ(refused.rfind("HTTP/1.1 503 ", 0), 0u) << refused;
  EXPECT_NE(refused.find("application/json"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(body_of(refused))["error"],
            "server busy, please try again.  maximum pending requests exceeded");
  queued.close();   // leaves while waiting: never runs
  running.close();  // leaves mid-stream: stops
  ASSERT_TRUE(wait_for([&] { return stats()["jobs_pending"] == 0; }));
  auto s = stats();
  EXPECT_EQ(s["jobs_cancelled"], 2);
  EXPECT_EQ(s["rejected_busy"], 1);
  EXPECT_EQ(s["jobs_started"], 2);
}

TEST_F(ServerTest, KeepAliveExpiryUnloads) {
  ServerOptions o;
  o.scheduler.runner.default_keep_alive = 300ms;
  start(o);
  const std::string r = request(post("/api/generate", R"({"model":"stories260k","prompt":"Hi","stream":false,"options":{"num_predict":2}})",
                                     "Connection: close\r\n"));
  ASSERT_EQ(r.rfind("HTTP/1.1 200 ", 0), 0u) << r;
  auto ps = [&] { return nlohmann::json::parse(body_of(request("GET /api/ps HTTP/1.1\r\nConnection: close\r\n\r\n")))["models"]; };
  EXPECT_EQ(ps().size(), 1u);
  ASSERT_TRUE(wait_for([&] { return ps().empty(); }, 3000ms));
  EXPECT_EQ(stats()["unloads"], 1);
  // A per-request keep_alive overrides the default: -1 keeps it loaded.
  request(post("/api/generate", R"({"model":"stories260k","prompt":"","keep_alive":-1})", "Connection: close\r\n"));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(ps().size(), 1u);
}

TEST_F(ServerTest, LimitsAndTimeouts) {
  ServerOptions o;
  o.max_body_bytes = 1024;
  o.http.io_timeout_ms = 300;
  o.http.idle_timeout_ms = 300;
  start(o);
  std::string big = post("/api/chat", std::string(2000, ' '), "Connection: close\r\n");
  EXPECT_EQ(request(big).rfind("HTTP/1.1 413 ", 0), 0u);
  // Chunked past the limit: 413 once the limit is crossed.
  std::string chunked = "POST /api/chat HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) chunked += "200\r\n" + std::string(512, 'x') + "\r\n";
  chunked += "0\r\n\r\n";
  EXPECT_EQ(request(chunked).rfind("HTTP/1.1 413 ", 0), 0u);
  EXPECT_EQ(request("GET / HTTP/1.1\r\nX: " + std::string(70000, 'a') + "\r\n\r\n").rfind("HTTP/1.1 431 ", 0), 0u);
  // A client that stops halfway through its head (or body) is timed out; an idle keep-alive is closed.
  Client slow(port_);
  slow.send("POST /api/chat HTTP/1.1\r\nContent-Le");
  EXPECT_TRUE(slow.read_to_eof(3000ms));
  EXPECT_EQ(slow.got().rfind("HTTP/1.1 408 ", 0), 0u) << slow.got();
  Client short_body(port_);
  short_body.send("POST /api/chat HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"model\"");
  EXPECT_TRUE(short_body.read_to_eof(3000ms));
  EXPECT_EQ(short_body.got().rfind("HTTP/1.1 400 ", 0), 0u) << short_body.got();
  Client idle(port_);
  idle.send("GET /api/version HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(idle.read_to_eof(3000ms)) << "an idle keep-alive connection is closed";
  EXPECT_NE(idle.got().find("\"version\""), std::string::npos);
}

TEST_F(ServerTest, ConnectionCap) {
  ServerOptions o;
  o.http.max_connections = 2;
  start(o);
  // Two idle keep-alives hold both slots: a third client reclaims the older one and is served.
  // A connection's thread marks it idle just after its response's last write, which the client may read first:
  // each is confirmed idle before the next step, so `a` is idle first (the older) and both are idle, not busy,
  // when the third client arrives, however loaded the machine.
  Client a(port_), b(port_);
  a.send("GET /api/version HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(a.read_until("version"));
  ASSERT_TRUE(wait_for([&] { return server_->idle_connections() == 1; }));
  b.send("GET /api/version HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(b.read_until("version"));
  ASSERT_TRUE(wait_for([&] { return server_->idle_connections() == 2; }));
  std::string r = request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_NE(r.find("Ollama is running"), std::string::npos) << r;
  EXPECT_TRUE(a.read_to_eof(2000ms)) << "the oldest idle keep-alive was closed to make room";
}

TEST_F(ServerTest, ConnectionCapRefusesWhenEveryConnectionIsBusy) {
  ServerOptions o;
  o.http.max_connections = 2;
  start(o);
  // Two requests in progress (bodies still arriving) are never reclaimed: a third client gets 503. A fresh
  // server: no connection of an earlier request is still winding down and holding a slot.
  // Each asks for 100 Continue, which the server sends once it has read the head and is reading the body: after
  // it, the connection is busy (no sleep to guess when, which under load was not always long enough).
  Client busy1(port_), busy2(port_);
  for (Client* b : {&busy1, &busy2}) {
    b->send("POST /api/show HTTP/1.1\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n");
    ASSERT_TRUE(b->read_until("100 Continue")) << b->got();
    b->send("{");
  }
  Client c(port_);
  c.read_to_eof(2000ms);
  EXPECT_EQ(c.got().rfind("HTTP/1.1 503 ", 0), 0u) << c.got();
  busy1.close();
  busy2.close();
  ASSERT_TRUE(wait_for([&] { return request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").find("Ollama is running") != std::string::npos; }));
}

TEST_F(ServerTest, Http10StreamsEndWithTheConnection) {
  start();
  Client c(port_);
  const std::string body = R"({"model":"stories260k","prompt":"Once upon a time","options":{"num_predict":5}})";
  c.send(fmt::format("POST /api/generate HTTP/1.0\r\nContent-Length: {}\r\n\r\n{}", body.size(), body));
  ASSERT_TRUE(c.read_to_eof());
  EXPECT_EQ(c.got().rfind("HTTP/1.0 200 ", 0), 0u) << c.got();
  EXPECT_EQ(c.got().find("Transfer-Encoding"), std::string::npos);
  EXPECT_NE(c.got().find("\"done\":true"), std::string::npos);
}

TEST_F(ServerTest, StopEndsLiveStreamsPromptly) {
  ServerOptions o;
  o.scheduler.runner.token_delay = 50ms;
  start(o);
  Client c(port_);
  c.send(long_generate(""));
  ASSERT_TRUE(c.read_until("\"done\":false"));
  auto t0 = Clock::now();
  server_->stop();
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_TRUE(c.read_to_eof(2000ms));
}

TEST_F(ServerTest, MutatedRequestsNeverTakeTheServerDown) {
  ServerOptions o;
  o.http.io_timeout_ms = 200;
  start(o);
  const std::string seeds[] = {
      post("/api/chat", R"({"model":"stories260k","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_predict":2}})"),
      post("/api/generate", R"({"model":"stories260k","prompt":"x","options":{"num_predict":1,"stop":["a"]},"keep_alive":"5m"})"),
      post("/v1/chat/completions", R"({"model":"stories260k","messages":[{"role":"user","content":"x"}],"max_tokens":2,"stream":true})"),
      post("/api/show", R"({"name":"stories260k","verbose":true})"),
      post("/api/embed", R"({"model":"stories260k","input":["a","b"],"dimensions":3})"),
      "GET /api/tags HTTP/1.1\r\n\r\n"};
  std::mt19937 rng(99);
  int answered = 0;
  for (int iter = 0; iter < 150; ++iter) {
    std::string s = seeds[iter % 6];
    for (int m = 0, n = 1 + static_cast<int>(rng() % 3); m < n; ++m) {
      size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0: s[at] = static_cast<char>(rng() & 0xff); break;
        case 1: s.erase(at, 1 + rng() % 4); break;
        default: s.insert(at, 1, "{}[]\",:0\r\n"[rng() % 10]); break;
      }
    }
    Client c(port_);
    c.send(s + "\r\n\r\n");
    c.read_until("\r\n\r\n", 1500ms);
    if (c.got().rfind("HTTP/1.", 0) == 0) ++answered;
    c.close();
  }
  EXPECT_GT(answered, 100);
  EXPECT_NE(request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").find("Ollama is running"), std::string::npos);
}

// A web page on another site (Origin) or reached through DNS rebinding (Host) cannot run anything.
TEST_F(ServerTest, CrossSiteRequestsAreRefused) {
  start();
  const std::string copy = R"({"source":"stories260k","destination":"stolen"})";
  std::string r = request(post("/api/copy", copy, "Origin: http://evil.example\r\nConnection: close\r\n"));
  EXPECT_EQ(r.rfind("HTTP/1.1 403 ", 0), 0u) << r;
  EXPECT_EQ(r.find("Access-Control-Allow-Origin"), std::string::npos);
  r = request(fmt::format("POST /api/copy HTTP/1.1\r\nHost: rebound.evil.example:11434\r\nContent-Length: {}\r\n"
                          "Connection: close\r\n\r\n{}", copy.size(), copy));
  EXPECT_EQ(r.rfind("HTTP/1.1 403 ", 0), 0u) << r;
  r = request("OPTIONS /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 403 ", 0), 0u) << r;
  r = request("GET /api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.find("stolen"), std::string::npos) << "the refused copy never ran";
  // Local pages and local host names still work, with the CORS header.
  r = request("GET /api/version HTTP/1.1\r\nHost: localhost:11434\r\nOrigin: http://localhost:3000\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 ", 0), 0u) << r;
  EXPECT_NE(r.find("Access-Control-Allow-Origin: http://localhost:3000"), std::string::npos);
  r = request("GET /api/version HTTP/1.1\r\nHost: [::1]:11434\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 ", 0), 0u) << r;
}

// A head that ends with a bare-LF header line followed by CRLF is complete (and the other mix too).
TEST_F(ServerTest, MixedLineEndsEndAHead) {
  start();
  for (const char* head : {"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\nConnection: close\n\r\n",
                           "GET /api/version HTTP/1.1\nConnection: close\r\n\n"}) {
    Client c(port_);
    c.send(head);
    ASSERT_TRUE(c.read_to_eof(3000ms)) << head;
    EXPECT_EQ(c.got().rfind("HTTP/1.1 200 ", 0), 0u) << c.got();
  }
}

// 1,000 connections trickling a byte at a time (half in their head, half in their body) cannot lock a
// normal client out: it is answered within 1 s, and every trickling connection is closed by its total
// deadline (scaled down here: 2 s instead of 30 s, a byte every 500 ms instead of every 10 s).
TEST_F(ServerTest, TricklingConnectionsAreCutOffAndNeverLockOthersOut) {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 8192);
  ::setrlimit(RLIMIT_NOFILE, &lim);
  // Both ends of every connection live in this process; scale down where descriptors are scarce.
  const int n = static_cast<int>(std::min<rlim_t>(1000, (lim.rlim_cur - 200) / 2));
  ASSERT_GT(n, 100);
  ServerOptions o;
  o.http.max_connections = n / 2;
  o.http.max_connections_per_peer = n / 4;
  o.http.head_timeout_ms = 2000;
  o.http.body_timeout_ms = 2000;
  o.http.io_timeout_ms = 30000;  // each byte is "progress": only the total deadlines can end these
  start(o);

  struct Trickler {
    int fd = -1;
    Clock::time_point closed_at{};
  };
  std::vector<Trickler> t(static_cast<size_t>(n));
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    Client c(port_);  // connect, then take the descriptor over
    ASSERT_TRUE(c.connected()) << i;
    c.send(i % 2 ? "POST /api/show HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{" : "POST /api/show HTTP/1.1\r\nX-Slow: ");
    t[static_cast<size_t>(i)].fd = c.release();
  }
  const auto opened = Clock::now();
  // A normal client (another address on the loopback network) is answered at once, several times over.
  for (int k = 0; k < 3; ++k) {
    auto q0 = Clock::now();
    Client normal(port_, "127.0.0.2");
    ASSERT_TRUE(normal.connected());
    normal.send("GET /api/version HTTP/1.1\r\nConnection: close\r\n\r\n");
    ASSERT_TRUE(normal.read_to_eof(2000ms));
    EXPECT_EQ(normal.got().rfind("HTTP/1.1 200 ", 0), 0u) << normal.got();
    EXPECT_LT(Clock::now() - q0, 1s) << "request " << k;
    std::this_thread::sleep_for(300ms);
  }
  // Trickle until every connection is closed (or give up well past the deadlines).
  auto next_byte = Clock::now();
  int open = n;
  while (open > 0 && Clock::now() - opened < 8s) {
    if (Clock::now() >= next_byte) {
      for (auto& c : t)
        if (c.closed_at == Clock::time_point{}) (void)::send(c.fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      next_byte += 500ms;
    }
    std::vector<pollfd> fds;
    std::vector<size_t> which;
    for (size_t i = 0; i < t.size(); ++i)
      if (t[i].closed_at == Clock::time_point{}) fds.push_back({t[i].fd, POLLIN, 0}), which.push_back(i);
    ::poll(fds.data(), fds.size(), 50);
    for (size_t j = 0; j < fds.size(); ++j) {
      if (!(fds[j].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t r = ::recv(fds[j].fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (r <= 0) {
        t[which[j]].closed_at = Clock::now();
        --open;
      }
    }
  }
  EXPECT_EQ(open, 0) << "trickling connections still open 8 s after they were opened";
  Clock::duration latest{};
  for (auto& c : t) {
    if (c.closed_at != Clock::time_point{}) latest = std::max(latest, c.closed_at - t0);
    ::close(c.fd);
  }
  // Deadline 2 s after each connection's start, plus the time to open them all and scheduling slack.
  EXPECT_LT(latest, (opened - t0) + 4s);
  EXPECT_NE(request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").find("Ollama is running"), std::string::npos);
}

// One embedding request cannot queue unbounded work: more than 2,048 inputs is a 400.
TEST_F(ServerTest, EmbeddingInputsAreCappedPerRequest) {
  start();
  nlohmann::json inputs = nlohmann::json::array();
  for (int i = 0; i < 2049; ++i) inputs.push_back("a");
  const std::string body = nlohmann::json{{"model", "stories260k"}, {"input", inputs}}.dump();
  std::string r = request(post("/api/embed", body, "Connection: close\r\n"));
  EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << r.substr(0, 200);
  EXPECT_NE(r.find("at most 2048"), std::string::npos);
  r = request(post("/v1/embeddings", body, "Connection: close\r\n"));
  EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << r.substr(0, 200);
}

// A `format` schema that no JSON value satisfies is the client's error, answered 400 before any generation
// (it was a 500 once the constraint found no token to allow), on the native and the OpenAI routes.
TEST_F(ServerTest, UnsatisfiableSchemasAre400) {
  start();
  const char* schemas[] = {
      R"({"type":"string","minLength":5,"maxLength":2})",
      R"({"type":"integer","minimum":3,"maximum":1})",
      R"({"allOf":[{"type":"string"},{"type":"integer"}]})",
      R"({"enum":[]})",
      R"({"type":"array","minItems":3,"maxItems":1})",
      R"({"type":"object","properties":{"a":{"$ref":"#"}},"required":["a"]})",
      R"({"type":"array","minItems":1,"items":{"$ref":"#"}})",
      R"({"anyOf":[{"$ref":"#"}]})",
      R"({"type":"object","properties":{"x":{"$ref":"#/$defs/loop"}},"required":["x"],)"
      R"("$defs":{"loop":{"type":"array","minItems":2,"items":{"$ref":"#/$defs/loop"}}}})",
  };
  for (const char* text : schemas) {
    const nlohmann::json schema = nlohmann::json::parse(text);
    for (bool stream : {false, true}) {
      const std::string body = nlohmann::json{{"model", "stories260k"}, {"prompt", "Once upon a time"},
                                              {"format", schema}, {"stream", stream},
                                              {"options", {{"num_predict", 8}}}}.dump();
      std::string r = request(post("/api/generate", body, "Connection: close\r\n"));
      EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << text << " stream " << stream << ": " << r.substr(0, 300);
      EXPECT_NE(body_of(r).find("\"error\""), std::string::npos) << r;
    }
    const std::string body =
        nlohmann::json{{"model", "stories260k"},
                       {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                       {"max_tokens", 8},
                       {"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", schema}}}}}}
            .dump();
    std::string r = request(post("/v1/chat/completions", body, "Connection: close\r\n"));
    EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << text << ": " << r.substr(0, 300);
  }
  // A satisfiable recursive schema still generates (the way out is the null alternative).
  const std::string ok = nlohmann::json{
      {"model", "stories260k"}, {"prompt", "Once upon a time"}, {"stream", false},
      {"format", nlohmann::json::parse(R"({"anyOf":[{"type":"null"},{"type":"array","items":{"$ref":"#"}}]})")},
      {"options", {{"num_predict", 8}}}}.dump();
  std::string r = request(post("/api/generate", ok, "Connection: close\r\n"));
  EXPECT_EQ(r.rfind("HTTP/1.1 200 ", 0), 0u) << r.substr(0, 300);
}

// The `strata serve` front end: bad settings are one-line errors with exit code 1, not a crash.
TEST(ServeCommand, BadSettingsAreCleanErrors) {
  const std::string bin = testing::strata_binary();
  const std::string model = testing::shared_path("models/stories260K.gguf") + " --store " + testing::temp_dir();
  for (const std::string& cmd : {"OLLAMA_HOST=127.0.0.1:notaport " + bin + " serve " + model + " --no-ollama",
                                 bin + " serve " + model + " --no-ollama --keep-alive 5parsecs --port 0",
                                 bin + " serve " + model + " --no-ollama --host 203.0.113.1 --port 0",
                                 "OLLAMA_MAX_QUEUE=-3 " + bin + " serve " + model + " --no-ollama --port 0"}) {
    auto r = testing::run_command(cmd);
    EXPECT_EQ(r.exit_code, 1) << cmd << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("strata: error:", 0), 0u) << r.err;
  }
}

}  // namespace
}  // namespace strata::server
