// http/http_server.cc: sockets, the accept loop, the per-connection request loop, body reading and
// response writing (whole or chunked), with timeouts and a lingering close so error replies arrive.
#include "http/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "http/http_parse.h"

namespace strata::http {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr int kLingerMs = 2000;                     // how long a closing connection drains unread input
constexpr uint64_t kLingerBytes = 256ull << 20;      // and at most this much of it

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace

// What the accept loop reads of a live connection to choose which one to reclaim.
struct ConnStatus {
  std::atomic<int> phase{static_cast<int>(ConnPhase::Head)};
  std::atomic<int64_t> since_ns{0};  // steady-clock time the phase began
  void set(ConnPhase p) {
    since_ns.store(Clock::now().time_since_epoch().count());
    phase.store(static_cast<int>(p));
  }
};

// One accepted socket and the bytes read from it but not yet consumed.
class Connection {
 public:
  Connection(int fd, const HttpServerOptions& options, ConnStatus* status = nullptr)
      : fd_(fd), options_(options), status_(status) {}
  void set_phase(ConnPhase p) {
    if (status_) status_->set(p);
  }
  // Waits for a complete request head in buf_; false when the connection should just end.
  bool wait_for_head(bool first, HeadExtent& extent);

  void serve(const HttpHandler& handler, const std::atomic<bool>& stopping);

  bool send_all(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;  // includes the SO_SNDTIMEO timeout (EAGAIN)
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Appends what arrives within `timeout_ms` to buf_. Returns bytes read, 0 at EOF, -1 on error or timeout.
  ssize_t read_some(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r <= 0) return -1;
    char tmp[kReadChunk];
    ssize_t n;
    do n = ::recv(fd_, tmp, sizeof(tmp), 0);
    while (n < 0 && errno == EINTR);
    if (n > 0) buf_.append(tmp, static_cast<size_t>(n));
    return n < 0 ? -1 : n;
  }

  bool peer_closed() const {
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
    if (p.revents & POLLIN) {
      char c;
      ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
      return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
    return false;
  }

  // Sends a minimal response outside any exchange (protocol errors before a request exists).
  void send_simple(int status, std::string_view message) {
    std::string body = nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    send_all(fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n"
                         "Connection: close\r\n\r\n{}",
                         status, status_reason(status), body.size(), body));
  }

  // Half-closes and drains the peer's remaining input for a while, so a reply sent before the request
  // body was read is not destroyed by a reset when we close with unread data.
  void linger_close() {
    ::shutdown(fd_, SHUT_WR);
    auto deadline = Clock::now() + std::chrono::milliseconds(kLingerMs);
    uint64_t drained = 0;
    while (drained < kLingerBytes) {
      buf_.clear();
      ssize_t n = read_some(ms_left(deadline));
      if (n <= 0) break;
      drained += static_cast<uint64_t>(n);
    }
  }

  int fd_;
  const HttpServerOptions& options_;
  ConnStatus* status_;
  std::string buf_;
};

bool Connection::wait_for_head(bool first, HeadExtent& extent) {
  // Waiting for the first byte is bounded by the idle timeout (keep-alive) or the head timeout (a new
  // connection); once a head has begun, the whole head must arrive within the head timeout.
  set_phase(first ? ConnPhase::Head : ConnPhase::Idle);
  auto deadline = Clock::now() + std::chrono::milliseconds(first ? options_.head_timeout_ms : options_.idle_timeout_ms);
  bool started = first;
  size_t scanned = 0;  // bytes already searched for the blank line, so a trickled head costs linear time
  while (true) {
    // Leading blank lines (between pipelined requests) are allowed before a request line.
    size_t lead = 0;
    while (lead < buf_.size() && (buf_[lead] == '\n' || (buf_[lead] == '\r' && lead + 1 < buf_.size() && buf_[lead + 1] == '\n')))
      lead += buf_[lead] == '\n' ? 1 : 2;
    if (lead > 0) {
      buf_.erase(0, lead);
      scanned = 0;
    }
    if (!started && !buf_.empty()) {
      started = true;
      set_phase(ConnPhase::Head);
      deadline = Clock::now() + std::chrono::milliseconds(options_.head_timeout_ms);
    }
    if (auto e = find_head_end(buf_, scanned)) {
      extent = *e;
      set_phase(ConnPhase::Busy);
      return true;
    }
    scanned = buf_.size();
    if (buf_.size() > options_.max_head_bytes) {
      send_simple(431, "request header fields too large");
      linger_close();
      return false;
    }
    int left = std::min(ms_left(deadline), options_.io_timeout_ms);
    ssize_t n = left > 0 ? read_some(left) : -1;
    if (n <= 0) {
      if (n < 0 && !buf_.empty()) send_simple(408, "request timeout");
      return false;  // EOF, timeout or error between requests: just close
    }
  }
}

void Connection::serve(const HttpHandler& handler, const std::atomic<bool>& stopping) {
  bool first = true;
  while (!stopping.load()) {
    HeadExtent extent;
    if (!wait_for_head(first, extent)) return;
    first = false;
    if (extent.head_bytes > options_.max_head_bytes) {
      send_simple(431, "request header fields too large");
      linger_close();
      return;
    }
    auto head = parse_request_head(std::string_view(buf_).substr(0, extent.head_bytes));
    if (!head) {
      send_simple(400, head.status().message());
      linger_close();
      return;
    }
    buf_.erase(0, extent.total_bytes);
    auto framing = body_framing(head.value());
    if (!framing) {
      send_simple(400, framing.status().message());
      linger_close();
      return;
    }

    HttpExchange ex(*this, std::move(head).value(), framing.value());
    handler(ex);
    if (!ex.responded_) ex.respond(500, "application/json; charset=utf-8", "{\"error\":\"no response\"}");
    if (ex.streaming_) ex.end_stream();
    const bool body_left = ex.framing_.kind != BodyFraming::Kind::None && !ex.body_consumed_;
    if (ex.close_after_ || !ex.framing_.keep_alive || body_left || ex.stream_failed_) {
      if (body_left && !ex.stream_failed_) linger_close();
      return;
    }
  }
}

Status HttpExchange::send_continue_if_needed() {
  if (!framing_.expect_continue || continue_sent_ || responded_) return Status::ok();
  continue_sent_ = true;
  if (!conn_.send_all("HTTP/1.1 100 Continue\r\n\r\n")) return error("peer went away");
  return Status::ok();
}

Status HttpExchange::read_body_to(const std::function<Status(std::string_view)>& sink, int& error_status) {
  error_status = 400;
  if (body_consumed_ || framing_.kind == BodyFraming::Kind::None) {
    body_consumed_ = true;
    return Status::ok();
  }
  STRATA_RETURN_IF_ERROR(send_continue_if_needed());
  auto& buf = conn_.buf_;
  // A total deadline for the body that grows with what has arrived, so a trickling peer is cut off
  // while an upload at a fair rate never is.
  const auto& o = conn_.options_;
  const auto start = Clock::now();
  uint64_t received = 0;
  auto fill = [&]() -> Status {
    const uint64_t allowance_ms = o.min_body_bytes_per_s ? received * 1000 / o.min_body_bytes_per_s : 0;
    auto deadline = start + std::chrono::milliseconds(o.body_timeout_ms) +
                    std::chrono::milliseconds(std::min<uint64_t>(allowance_ms, uint64_t{1} << 40));
    int left = std::min(ms_left(deadline), o.io_timeout_ms);
    ssize_t n = left > 0 ? conn_.read_some(left) : -1;
    if (n > 0) {
      received += static_cast<uint64_t>(n);
      return Status::ok();
    }
    close_after_ = true;
    return Status::error(n == 0 ? "request body ended early" : "timed out reading the request body");
  };
  if (framing_.kind == BodyFraming::Kind::Length) {
    uint64_t remaining = framing_.length;
    while (remaining > 0) {
      if (buf.empty()) STRATA_RETURN_IF_ERROR(fill());
      size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, buf.size()));
      Status s = sink(std::string_view(buf).substr(0, take));
      buf.erase(0, take);
      remaining -= take;
      if (!s.is_ok()) {
        close_after_ = remaining > 0;
        error_status = 0;  // the sink's own failure: the caller picks the status
        return s;
      }
    }
    body_consumed_ = true;
    return Status::ok();
  }
  ChunkedDecoder decoder;
  std::string piece;
  while (true) {
    if (buf.empty()) STRATA_RETURN_IF_ERROR(fill());
    piece.clear();
    auto used = decoder.feed(buf, piece);
    if (!used) {
      close_after_ = true;
      return used.status();
    }
    buf.erase(0, used.value());
    if (!piece.empty()) {
      Status s = sink(piece);
      if (!s.is_ok()) {
        close_after_ = true;
        error_status = 0;
        return s;
      }
    }
    if (decoder.done()) break;
  }
  body_consumed_ = true;
  return Status::ok();
}

Result<std::string> HttpExchange::read_body(uint64_t limit, int& error_status) {
  if (framing_.kind == BodyFraming::Kind::Length && framing_.length > limit) {
    // Refuse before reading (and before any 100 Continue, so a waiting client never sends it).
    error_status = 413;
    close_after_ = true;
    return error("request body too large ({} bytes; the limit is {})", framing_.length, limit);
  }
  std::string body;
  Status s = read_body_to(
      [&](std::string_view piece) {
        if (body.size() + piece.size() > limit) return error("request body too large (the limit is {} bytes)", limit);
        body.append(piece);
        return Status::ok();
      },
      error_status);
  if (!s.is_ok()) {
    if (error_status == 0) error_status = 413;
    return s;
  }
  return body;
}

void HttpExchange::add_header(std::string name, std::string value) {
  extra_headers_.emplace_back(std::move(name), std::move(value));
}

bool HttpExchange::send_head(int status, std::string_view content_type, std::string_view framing_line) {
  std::string h = fmt::format("HTTP/1.{} {} {}\r\n", head_.version_minor == 0 ? 0 : 1, status, status_reason(status));
  if (!content_type.empty()) h += fmt::format("Content-Type: {}\r\n", content_type);
  h += framing_line;
  for (const auto& [name, value] : extra_headers_) h += fmt::format("{}: {}\r\n", name, value);
  const bool body_left = framing_.kind != BodyFraming::Kind::None && !body_consumed_;
  if (body_left || !framing_.keep_alive) close_after_ = true;
  if (close_after_) h += "Connection: close\r\n";
  else if (head_.version_minor == 0) h += "Connection: keep-alive\r\n";
  h += "\r\n";
  return conn_.send_all(h);
}

void HttpExchange::respond(int status, std::string_view content_type, std::string_view body) {
  if (responded_) return;
  responded_ = true;
  std::string framing_line;
  if (status != 204 && status != 304) framing_line = fmt::format("Content-Length: {}\r\n", body.size());
  if (!send_head(status, status == 204 ? std::string_view() : content_type, framing_line)) {
    stream_failed_ = true;
    return;
  }
  if (!is_head() && status != 204 && !body.empty() && !conn_.send_all(body)) stream_failed_ = true;
}

bool HttpExchange::begin_stream(int status, std::string_view content_type) {
  if (responded_) return false;
  responded_ = true;
  streaming_ = true;
  // HTTP/1.0 has no chunked coding: the end of the stream is the end of the connection.
  if (head_.version_minor == 0) close_after_ = true;
  if (!send_head(status, content_type, head_.version_minor == 0 ? "" : "Transfer-Encoding: chunked\r\n"))
    stream_failed_ = true;
  return !stream_failed_;
}

bool HttpExchange::write(std::string_view data) {
  if (!streaming_ || stream_failed_) return false;
  if (data.empty() || is_head()) return true;
  bool ok = head_.version_minor == 0 ? conn_.send_all(data)
                                     : conn_.send_all(fmt::format("{:x}\r\n{}\r\n", data.size(), data));
  if (!ok) stream_failed_ = true;
  return ok;
}

void HttpExchange::end_stream() {
  if (!streaming_) return;
  streaming_ = false;
  if (stream_failed_ || is_head() || head_.version_minor == 0) return;
  if (!conn_.send_all("0\r\n\r\n")) stream_failed_ = true;
}

bool HttpExchange::peer_closed() const { return stream_failed_ || conn_.peer_closed(); }

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : options_(options), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { stop(); }

Result<int> HttpServer::listen(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port_text = std::to_string(port);
  const std::string bind_host = host.size() > 2 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  int rc = ::getaddrinfo(bind_host.empty() ? nullptr : bind_host.c_str(), port_text.c_str(), &hints, &res);
  if (rc != 0) return error("cannot resolve listen address \"{}\": {}", host, gai_strerror(rc));
  std::string last_error = "no addresses";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    // Non-blocking, so an accept after a poll never blocks when the peer reset in between.
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 512) == 0) {
      listen_fd_ = fd;
      break;
    }
    last_error = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (listen_fd_ < 0) return error("cannot listen on {}:{}: {}", host, port, last_error);
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  if (addr.ss_family == AF_INET6) return static_cast<int>(ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port));
  return static_cast<int>(ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port));
}

void HttpServer::start() {
  if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) wake_pipe_[0] = wake_pipe_[1] = -1;
  accept_thread_ = std::thread([this] { accept_loop(); });
}

struct HttpServer::ConnSlot {
  int fd = -1;
  std::string peer;  // the peer's address, for the per-peer limit
  std::thread thread;
  ConnStatus status;
  std::atomic<bool> finished{false};
  bool reclaimed = false;  // shut down to make room (guarded by conns_mutex_)
};

namespace {

std::string peer_address(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    // An IPv4 peer on a dual-stack socket counts as that IPv4 address.
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) ::inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], text, sizeof(text));
    else ::inet_ntop(AF_INET6, &a6->sin6_addr, text, sizeof(text));
  } else if (addr.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, text, sizeof(text));
  }
  return text;
}

}  // namespace

int HttpServer::idle_connections() const {
  std::lock_guard lock(conns_mutex_);
  int n = 0;
  for (const auto& c : conns_)
    if (!c->finished.load() && !c->reclaimed && c->status.phase.load() == static_cast<int>(ConnPhase::Idle)) ++n;
  return n;
}

bool HttpServer::admit(const std::string& peer) {
  std::lock_guard lock(conns_mutex_);
  int total = 0, mine = 0;
  for (const auto& c : conns_) {
    if (c->finished.load() || c->reclaimed) continue;
    ++total;
    if (c->peer == peer) ++mine;
  }
  const bool peer_full = options_.max_connections_per_peer > 0 && mine >= options_.max_connections_per_peer;
  if (total < options_.max_connections && !peer_full) return true;
  // Reclaim the connection that costs least to drop: idle keep-alives first, then the one that has
  // waited longest for its head (a client that sends its head at once spends microseconds there).
  // Over the per-peer limit, only that peer's own connections are candidates.
  ConnSlot* victim = nullptr;
  auto rank = [](const ConnSlot& c) {
    return std::make_pair(c.status.phase.load(), c.status.since_ns.load());
  };
  for (const auto& c : conns_) {
    if (c->finished.load() || c->reclaimed) continue;
    if (peer_full && c->peer != peer) continue;
    if (c->status.phase.load() == static_cast<int>(ConnPhase::Busy)) continue;
    if (!victim || rank(*c) < rank(*victim)) victim = c.get();
  }
  if (!victim) return false;
  victim->reclaimed = true;
  ::shutdown(victim->fd, SHUT_RDWR);  // wakes its thread, which ends the connection
  log(LogLevel::Debug, "strata serve: reclaimed a {} connection from {} for {}",
      victim->status.phase.load() == static_cast<int>(ConnPhase::Idle) ? "idle" : "head-waiting", victim->peer, peer);
  return true;
}

void HttpServer::accept_loop() {
  while (!stopping_.load()) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int r = ::poll(p, wake_pipe_[0] >= 0 ? 2 : 1, 1000);
    reap(false);
    if (r <= 0 || !(p[0].revents & POLLIN)) continue;
    sockaddr_storage addr{};
    socklen_t addr_len = sizeof(addr);
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &addr_len, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{options_.io_timeout_ms / 1000, (options_.io_timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    std::string peer = peer_address(addr);
    if (!admit(peer)) {
      Connection c(fd, options_);
      c.send_simple(503, "server busy, please try again.  too many connections");
      ::close(fd);
      continue;
    }
    auto slot = std::make_unique<ConnSlot>();
    slot->fd = fd;
    slot->peer = std::move(peer);
    slot->status.set(ConnPhase::Head);
    ConnSlot* s = slot.get();
    ++n_active_;
    {
      std::lock_guard lock(conns_mutex_);
      conns_.push_back(std::move(slot));
    }
    s->thread = std::thread([this, s] {
      Connection conn(s->fd, options_, &s->status);
      conn.serve(handler_, stopping_);
      // The peer sees the end now; the fd itself is closed by reap() after the join, so its number
      // cannot be reused while stop() might still shut it down.
      ::shutdown(s->fd, SHUT_RDWR);
      --n_active_;
      s->finished.store(true);
    });
  }
}

void HttpServer::reap(bool all) {
  std::list<std::unique_ptr<ConnSlot>> done;
  {
    std::lock_guard lock(conns_mutex_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (all || (*it)->finished.load()) {
        done.push_back(std::move(*it));
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // The fd is closed only after its thread is joined, so shutdown() in stop() never hits a reused fd.
  for (auto& s : done) {
    if (s->thread.joinable()) s->thread.join();
    ::close(s->fd);
  }
}

void HttpServer::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_pipe_[1] >= 0) (void)!::write(wake_pipe_[1], "x", 1);
  if (accept_thread_.joinable()) accept_thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  {
    std::lock_guard lock(conns_mutex_);
    for (auto& s : conns_) ::shutdown(s->fd, SHUT_RDWR);  // wakes every blocked read, write and poll
  }
  reap(true);
  for (int& fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

}  // namespace strata::http
