// http/http_server.h: a small HTTP/1.1 server: one thread per connection (bounded), keep-alive, bodies
// by length or chunked, Expect: 100-continue, chunked streaming responses and peer-disconnect detection.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/status.h"
#include "http/http_parse.h"

namespace strata::http {

struct HttpServerOptions {
  size_t max_head_bytes = 64 * 1024;  // request line + headers; more is answered 431
  int max_connections = 512;          // past this, an idle or still-unsent connection is reclaimed, else 503
  int max_connections_per_peer = 256;  // the same, counted per peer address (0: no per-peer limit)
  int io_timeout_ms = 30'000;         // a read or write of a started request that makes no progress
  int idle_timeout_ms = 30'000;       // how long a keep-alive connection may wait for its next request
  int head_timeout_ms = 30'000;       // total time for a request head, from its first byte (or the accept)
  int body_timeout_ms = 60'000;       // total time for a request body, plus what min_body_bytes_per_s allows
  uint64_t min_body_bytes_per_s = 64 * 1024;  // so a large upload at a fair rate never hits the deadline
};

class Connection;

// Where a connection is in its life; idle and head-waiting connections are the ones reclaimed first.
enum class ConnPhase : int { Idle, Head, Busy };

// One request and its response. Handlers read the body (if they want it) and answer exactly once,
// either whole (respond) or as a stream (begin_stream, write, end_stream).
class HttpExchange {
 public:
  const HttpRequestHead& head() const { return head_; }
  const std::string& method() const { return head_.method; }
  const std::string& path() const { return head_.path; }
  bool is_head() const { return head_.method == "HEAD"; }

  // Reads the whole body. A body over `limit` bytes fails with status 413 (and closes the connection);
  // malformed framing or a stalled peer with 400. `error_status` receives the status on failure.
  Result<std::string> read_body(uint64_t limit, int& error_status);
  // Streams the body to `sink` in pieces (for uploads of any size); stops at the first sink error.
  Status read_body_to(const std::function<Status(std::string_view)>& sink, int& error_status);
  bool has_body() const { return framing_.kind != BodyFraming::Kind::None; }

  // Adds a header to the response (before it starts).
  void add_header(std::string name, std::string value);
  // A complete response. For HEAD requests the body is left out but its length is still announced.
  void respond(int status, std::string_view content_type, std::string_view body);
  // Starts a streamed response (chunked on HTTP/1.1). Returns false if the peer is gone.
  bool begin_stream(int status, std::string_view content_type);
  // Sends one piece of a streamed response at once (no buffering). Returns false if the peer is gone.
  bool write(std::string_view data);
  void end_stream();

  bool responded() const { return responded_; }
  // True when the peer has closed its side (or the socket failed). Never blocks.
  bool peer_closed() const;

 private:
  friend class Connection;

// Where a connection is in its life; idle and head-waiting connections are the ones reclaimed first.
enum class ConnPhase : int { Idle, Head, Busy };
  HttpExchange(Connection& conn, HttpRequestHead head, BodyFraming framing)
      : conn_(conn), head_(std::move(head)), framing_(framing) {}
  bool send_head(int status, std::string_view content_type, std::string_view length_or_chunked);
  Status send_continue_if_needed();

  Connection& conn_;
  HttpRequestHead head_;
  BodyFraming framing_;
  std::vector<std::pair<std::string, std::string>> extra_headers_;
  bool responded_ = false;
  bool streaming_ = false;
  bool stream_failed_ = false;
  bool continue_sent_ = false;
  bool body_consumed_ = false;  // the body was read to its end (so the connection can be reused)
  bool close_after_ = false;    // the response must end the connection
};

using HttpHandler = std::function<void(HttpExchange&)>;

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; port 0 picks a free port. Returns the bound port.
  Result<int> listen(const std::string& host, int port);
  // Accepts connections on a background thread until stop().
  void start();
  // Stops accepting, ends every connection and joins every thread. Idempotent.
  void stop();

  int active_connections() const { return n_active_.load(); }
  // Connections waiting for their next request on a kept-alive socket (the first ones reclaimed).
  int idle_connections() const;

 private:
  struct ConnSlot;
  void accept_loop();
  void reap(bool all);
  // Admits a connection from `peer`, reclaiming an idle or head-waiting one if the limits are reached.
  // False: every slot is busy with a request in progress (the caller answers 503).
  bool admit(const std::string& peer);

  HttpServerOptions options_;
  HttpHandler handler_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};  // written by stop() to wake the accept loop's poll
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> n_active_{0};
  mutable std::mutex conns_mutex_;  // guards conns_
  std::list<std::unique_ptr<ConnSlot>> conns_;
};

}  // namespace strata::http
